"""Retries, dead letters and checkpoints, with real files and processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from core_nodes import AsyncInlet, CollectOutlet, ListInlet
from databay import Link, Outlet, Record, Update
from databay.delivery import DEAD_LETTER, FileStateStore, MemoryStateStore, RetryPolicy
from databay.errors import PermanentError, TransientError
from databay.inlets.file_inlet import FileInlet

FAST = RetryPolicy(attempts=4, backoff=0.001, jitter=False)


class Flaky(CollectOutlet):
    """Fails ``failures`` times with ``error``, then accepts."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        super().__init__()
        self.failures = failures
        self.error = error or ConnectionError("down")
        self.calls = 0
        self.called = threading.Event()

    def push(self, records: list[Record], update: Update) -> None:
        self.calls += 1
        self.called.set()
        if self.calls <= self.failures:
            raise self.error
        super().push(records, update)


@pytest.mark.parametrize("use_async", [False, True])
def test_retries_reach_only_the_failed_outlet(use_async: bool) -> None:
    flaky, steady = Flaky(2), CollectOutlet()
    inlet = AsyncInlet([1, 2, 3]) if use_async else ListInlet([1, 2, 3])
    result = Link(inlet, [flaky, steady], 1, retry=FAST).transfer()
    assert [r.payload for r in flaky.records] == [1, 2, 3]
    assert [r.payload for r in steady.records] == [1, 2, 3], "the steady outlet got each once"
    assert flaky.calls == 3
    assert result.retried == {flaky: 2} and result.pushed == {flaky: 3, steady: 3}
    assert result.ok


def test_permanent_errors_are_not_retried() -> None:
    flaky = Flaky(1, PermanentError("bad data"))
    with pytest.raises(PermanentError):
        Link(ListInlet([1]), flaky, 1, retry=FAST).transfer()
    assert flaky.calls == 1
    other = Flaky(1, ValueError("not transient"))
    with pytest.raises(ValueError):
        Link(ListInlet([1]), other, 1, retry=FAST).transfer()
    assert other.calls == 1
    custom = Flaky(1, ValueError("retry me"))
    policy = RetryPolicy(attempts=2, backoff=0, retry_on=(ValueError,))
    Link(ListInlet([1]), custom, 1, retry=policy).transfer()
    assert custom.calls == 2


def test_transient_flag_on_any_error() -> None:
    error = KeyError("k")
    error.transient = True  # type: ignore[attr-defined]
    flaky = Flaky(1, error)
    Link(ListInlet([1]), flaky, 1, retry=FAST).transfer()
    assert flaky.calls == 2
    assert TransientError.transient is True


def test_outlet_policy_overrides_the_link_policy() -> None:
    flaky = Flaky(5)
    flaky.retry_policy = RetryPolicy(attempts=6, backoff=0, jitter=False)  # type: ignore[attr-defined]
    Link(ListInlet([1]), flaky, 1, retry=RetryPolicy(attempts=2, backoff=0)).transfer()
    assert flaky.calls == 6


@pytest.mark.parametrize("use_async", [False, True])
def test_exhausted_retries_go_to_the_dead_letter_outlet(use_async: bool) -> None:
    broken, steady, dead = Flaky(100), CollectOutlet(), CollectOutlet()
    inlet = AsyncInlet(["a", "b"]) if use_async else ListInlet(["a", "b"])
    link = Link(inlet, [broken, steady], 1, tags="orders", retry=FAST, dead_letter=dead)
    result = link.transfer()
    assert [r.payload for r in dead.records] == ["a", "b"]
    info = dead.records[0].metadata[DEAD_LETTER]
    assert info == {"link": "orders", "outlet": "Flaky()", "error": "ConnectionError('down')",
                    "error_type": "ConnectionError", "attempts": 4}
    assert "__inlet__" in dead.records[0].metadata
    assert result.dead_lettered == {broken: 2} and result.undelivered == {}
    assert [r.payload for r in steady.records] == ["a", "b"]


def test_without_dead_letter_the_failure_is_raised_or_logged_with_the_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ConnectionError):
        Link(ListInlet([1, 2]), Flaky(100), 1, retry=FAST).transfer()
    result = Link(ListInlet([1, 2]), Flaky(100), 1, retry=FAST, ignore_exceptions=True).transfer()
    assert list(result.undelivered.values()) == [2]
    assert "2 record(s) not delivered to Flaky()" in caplog.text


def test_a_failing_dead_letter_outlet_still_loses_nothing_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ConnectionError):
        Link(ListInlet([1]), Flaky(100), 1, retry=FAST, dead_letter=Flaky(100)).transfer()
    assert "the dead-letter outlet Flaky() refused 1 record(s) too" in caplog.text


@pytest.mark.parametrize("use_async", [False, True])
def test_interrupt_ends_a_backoff_wait_promptly(use_async: bool) -> None:
    slow = RetryPolicy(attempts=5, backoff=60, jitter=False)
    inlet = AsyncInlet([1]) if use_async else ListInlet([1])
    flaky = Flaky(100)
    link = Link(inlet, flaky, 1, retry=slow, ignore_exceptions=True)
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = link.transfer()

    worker = threading.Thread(target=run)
    worker.start()
    assert flaky.called.wait(5), "the first push never happened"
    started = time.monotonic()
    link.interrupt()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 10  # not the 60 s backoff (a margin for load)
    assert flaky.calls == 1
    assert outcome["result"].undelivered == {flaky: 1}
    link.on_start()  # a new start clears the interruption
    assert not link._interrupted


def test_retry_policy_validation_and_delays() -> None:
    with pytest.raises(ValueError, match=r"RetryPolicy\(attempts=...\) must be an int >= 1"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="factor"):
        RetryPolicy(factor=0.5)
    with pytest.raises(TypeError, match="retry_on"):
        RetryPolicy(retry_on="ConnectionError")  # type: ignore[arg-type]
    policy = RetryPolicy(backoff=1, factor=2, max_delay=5, jitter=False)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    jittered = RetryPolicy(backoff=1, jitter=True)
    assert all(0.5 <= jittered.delay(1) <= 1 for _ in range(100))
    with pytest.raises(TypeError, match="RetryPolicy"):
        Link([], [], 1, retry=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs tags"):
        Link([], [], 1, state_store=MemoryStateStore())


# -- checkpoints -------------------------------------------------------------------


def lines_link(path: Path, store: Any, outlet: Outlet) -> Link:
    return Link(FileInlet(path), outlet, 1, tags="lines", state_store=store)


def test_cursor_committed_after_delivery_and_resumed(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("a\nb\nc\n")
    store = FileStateStore(tmp_path / "state" / "cursors.json")
    first = CollectOutlet()
    link = lines_link(source, store, first)
    assert link.transfer().committed
    assert link.transfer().committed
    assert [r.payload for r in first.records] == ["a\n", "b\n"]
    saved = json.loads((tmp_path / "state" / "cursors.json").read_text())
    assert saved == {"lines/0:FileInlet": 4}
    link.inlets[0].try_shutdown()
    # a new process: a new store object on the same file, a new inlet
    second = CollectOutlet()
    resumed = lines_link(source, FileStateStore(tmp_path / "state" / "cursors.json"), second)
    resumed.transfer()
    assert [r.payload for r in second.records] == ["c\n"]
    resumed.inlets[0].try_shutdown()


def test_undelivered_batch_is_read_again(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("a\nb\n")
    store = MemoryStateStore()
    flaky = Flaky(1)
    link = lines_link(source, store, flaky)
    with pytest.raises(ConnectionError):
        link.transfer()
    assert store.get("lines/0:FileInlet") is None
    assert link.transfer().committed
    assert [r.payload for r in flaky.records] == ["a\n"], "the failed line is delivered again"
    ignoring = Link(FileInlet(source), Flaky(1), 1, tags="x", state_store=store,
                    ignore_exceptions=True)
    assert not ignoring.transfer().committed
    assert ignoring.transfer().committed
    assert [r.payload for r in ignoring.outlets[0].records] == ["a\n"]  # type: ignore[attr-defined]
    for each in (link, ignoring):
        each.inlets[0].try_shutdown()


def test_dead_lettered_batch_is_committed(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("a\n")
    store = MemoryStateStore()
    dead = CollectOutlet()
    link = Link(FileInlet(source), Flaky(100), 1, tags="d", state_store=store, retry=FAST,
                dead_letter=dead)
    assert link.transfer().committed
    assert store.get("d/0:FileInlet") == 2
    link.inlets[0].try_shutdown()


@pytest.mark.parametrize("how", ["keyword", "attribute"])
def test_checkpoint_key_set_by_the_user_keys_the_cursor(tmp_path: Path, how: str) -> None:
    """docs/delivery.md: "set checkpoint_key on your inlets" so that the committed cursor
    does not depend on the inlet's position in the link."""
    logs, other = tmp_path / "events.log", tmp_path / "other.log"
    logs.write_text("a\nb\nc\n")
    other.write_text("x\ny\n")
    state = tmp_path / "state.json"

    def events_inlet() -> FileInlet:
        if how == "keyword":
            return FileInlet(logs, checkpoint_key="events")
        inlet = FileInlet(logs)
        inlet.checkpoint_key = "events"
        return inlet

    first = CollectOutlet()
    inlet = events_inlet()
    assert inlet.checkpoint_key == "events"
    link = Link(inlet, first, 1, tags="shop", state_store=FileStateStore(state))
    assert link.transfer().committed
    assert json.loads(state.read_text()) == {"shop/events": 2}
    inlet.try_shutdown()
    # restarted with another inlet put first: the key, not the position, finds the cursor
    second = CollectOutlet()
    resumed = Link([FileInlet(other), events_inlet()], second, 1, tags="shop",
                   state_store=FileStateStore(state))
    resumed.transfer()
    assert [r.payload for r in second.records] == ["x\n", "b\n"]
    assert json.loads(state.read_text()) == {"shop/events": 4, "shop/0:FileInlet": 2}
    for each in resumed.inlets:
        each.try_shutdown()


def test_checkpoint_key_is_checked_and_can_be_reset() -> None:
    inlet = ListInlet([1])
    assert inlet.checkpoint_key is None
    inlet.checkpoint_key = "k"
    assert inlet.checkpoint_key == "k"
    inlet.checkpoint_key = None
    assert inlet.checkpoint_key is None
    with pytest.raises(TypeError, match=r"ListInlet.checkpoint_key must be a str or None"):
        inlet.checkpoint_key = 5  # type: ignore[assignment]
    with pytest.raises(ValueError, match=r"FileInlet\(checkpoint_key=...\) must be a non-empty"):
        FileInlet("x", checkpoint_key=" ")


def test_a_subclass_property_checkpoint_key_still_wins() -> None:
    class Keyed(ListInlet):
        @property
        def checkpoint_key(self) -> str:
            return "fixed"

    assert Keyed([1]).checkpoint_key == "fixed"


def test_file_state_store_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold a JSON object"):
        FileStateStore(bad)
    store = FileStateStore(tmp_path / "ok.json")
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        store.set("k", object())
    assert store.get("k") is None
    assert [p.name for p in tmp_path.iterdir()] == ["bad.json"], "no temporary file left"


CRASHING = textwrap.dedent("""
    import os, signal, sys
    from databay import Link, Outlet
    from databay.delivery import FileStateStore
    from databay.inlets.file_inlet import FileInlet

    source, out, state, crash = sys.argv[1:5]

    class AppendOutlet(Outlet):
        def push(self, records, update):
            with open(out, "a") as f:
                f.writelines(r.payload for r in records)
                f.flush()
                os.fsync(f.fileno())
            if crash == "crash" and len(records) and records[0].payload == "c\\n":
                os.kill(os.getpid(), signal.SIGKILL)  # after the push, before the commit

    link = Link(FileInlet(source), AppendOutlet(), 1, tags="crashy",
                state_store=FileStateStore(state))
    for _ in range(5):
        link.transfer()
""")


def test_sigkill_between_push_and_commit_delivers_the_batch_again(tmp_path: Path) -> None:
    source, out, state = tmp_path / "in.txt", tmp_path / "out.txt", tmp_path / "state.json"
    source.write_text("a\nb\nc\nd\ne\n")
    script = tmp_path / "crashy.py"
    script.write_text(CRASHING)
    run = [sys.executable, str(script), str(source), str(out), str(state)]
    crashed = subprocess.run([*run, "crash"], timeout=60, capture_output=True)
    assert crashed.returncode == -signal.SIGKILL
    assert out.read_text() == "a\nb\nc\n"
    subprocess.run([*run, "no-crash"], timeout=60, check=True)
    lines = out.read_text().splitlines()
    assert lines == ["a", "b", "c", "c", "d", "e"], "c delivered again, nothing skipped"
    assert json.loads(state.read_text()) == {"crashy/0:FileInlet": 10}
    assert os.path.getsize(source) == 10


def test_async_retry_does_not_hold_up_other_links() -> None:
    slow_retry = RetryPolicy(attempts=2, backoff=1.5, jitter=False)
    stuck = Link(AsyncInlet([1]), Flaky(100), 1, retry=slow_retry, ignore_exceptions=True)
    quick_out = CollectOutlet()
    quick = Link(AsyncInlet([2]), quick_out, 1)

    async def main() -> float:
        task = asyncio.ensure_future(stuck.atransfer())
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await quick.atransfer()
        elapsed = time.monotonic() - started
        await task
        return elapsed

    assert asyncio.run(main()) < 1.0  # not held up by the other link's 1.5 s wait
    assert [r.payload for r in quick_out.records] == [2]


def test_dead_letters_as_json_lines_keep_why(tmp_path: Path) -> None:
    from databay.outlets.file_outlet import FileOutlet

    tagged: list[str] = []

    def tag(records: list[Record]) -> list[Record]:
        tagged.extend(str(r.payload) for r in records)
        return records

    path = tmp_path / "dead.jsonl"
    dead = FileOutlet(path, json_lines=True, processors=tag)
    Link(ListInlet([{"id": 1}]), Flaky(100), 1, tags="t", retry=FAST, dead_letter=dead).transfer()
    line = json.loads(path.read_text())
    assert line["payload"] == {"id": 1}
    assert line["metadata"][DEAD_LETTER]["attempts"] == 4
    assert tagged == ["{'id': 1}"], "the dead-letter outlet's processors ran"


def test_partial_delivery_counts_what_the_outlet_says() -> None:
    from databay.errors import TransferError

    class Partial(CollectOutlet):
        def push(self, records: list[Record], update: Update) -> None:
            raise TransferError("2 of 5 records were refused", undelivered=2)

    outlet = Partial()
    result = Link(ListInlet([1, 2, 3, 4, 5]), outlet, 1, ignore_exceptions=True).transfer()
    assert result.undelivered == {outlet: 2} and result.pushed == {outlet: 3}
