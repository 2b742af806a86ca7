"""Every dead-lettered record says why, whatever path led there (issue 14.3).

The dead-letter outlet is a real FileOutlet writing JSON lines; each test reads the file
back. Paths: sync and async links x retries exhausted, a permanent error, an outlet's
processor that raised, a link processor that raised, a grouper that raised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from core_nodes import AsyncInlet, CollectOutlet, ListInlet
from databay import Link, Outlet, Record, Update
from databay.delivery import DEAD_LETTER, FileStateStore, RetryPolicy, dead_letter_warning
from databay.errors import PermanentError
from databay.inlets.file_inlet import FileInlet
from databay.outlets.file_outlet import FileOutlet
from databay.outlets.null_outlet import NullOutlet
from databay.outlets.print_outlet import PrintOutlet

FAST = RetryPolicy(attempts=3, backoff=0.001, jitter=False)
KEYS = {"link", "outlet", "error", "error_type", "attempts"}


class Refusing(Outlet):
    """Refuses every push with ``error``."""

    def __init__(self, error: Exception, processors: Any = None) -> None:
        super().__init__(processors)
        self.error = error
        self.calls = 0

    def push(self, records: list[Record], update: Update) -> None:
        self.calls += 1
        raise self.error

    def __repr__(self) -> str:
        return "Refusing()"


def broken(records: list[Record]) -> list[Record]:
    raise ValueError("processor broke")


def broken_grouper(batches: list[list[Record]]) -> list[list[Record]]:
    raise KeyError("grouper broke")


def dead_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(link: Link, use_async: bool) -> Any:
    if use_async:
        import asyncio

        return asyncio.run(link.atransfer())
    return link.transfer()


def inlet(use_async: bool) -> Any:
    return AsyncInlet(["a", "b"]) if use_async else ListInlet(["a", "b"])


PATHS = {
    # name: (outlet factory, link keyword arguments, expected details but 'link')
    "retries exhausted": (lambda: Refusing(ConnectionError("down")), {"retry": FAST},
                          {"outlet": "Refusing()", "error": "ConnectionError('down')",
                           "error_type": "ConnectionError", "attempts": 3}),
    "permanent error": (lambda: Refusing(PermanentError("bad data")), {"retry": FAST},
                        {"outlet": "Refusing()", "error": "PermanentError('bad data')",
                         "error_type": "PermanentError", "attempts": 1}),
    "outlet processor raised": (lambda: Refusing(ConnectionError("never"), processors=broken),
                                {"retry": FAST},
                                {"outlet": "Refusing()", "error": "ValueError('processor broke')",
                                 "error_type": "ValueError", "attempts": 0}),
    "link processor raised": (CollectOutlet, {"processors": broken},
                              {"outlet": None, "error": "ValueError('processor broke')",
                               "error_type": "ValueError", "attempts": 0}),
    "grouper raised": (CollectOutlet, {"groupers": broken_grouper},
                       {"outlet": None, "error": "KeyError('grouper broke')",
                        "error_type": "KeyError", "attempts": 0}),
}


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("path", list(PATHS))
def test_every_dead_lettered_record_carries_why(tmp_path: Path, path: str,
                                                use_async: bool) -> None:
    make_outlet, options, expected = PATHS[path]
    outlet = make_outlet()
    file = tmp_path / "dead.jsonl"
    dead = FileOutlet(file, json_lines=True)
    link = Link(inlet(use_async), outlet, 1, tags=["shop", "orders"], dead_letter=dead,
                **options)
    result = run(link, use_async)  # handled: the transfer does not raise
    lines = dead_lines(file)
    assert [line["payload"] for line in lines] == ["a", "b"]
    for line in lines:
        info = line["metadata"][DEAD_LETTER]
        assert set(info) == KEYS
        assert info == {"link": "shop.orders", **expected}
        assert "__inlet__" in line["metadata"], "the record's own metadata is kept"
    key = dead if expected["outlet"] is None else outlet
    assert result.dead_lettered == {key: 2}
    assert result.unhandled_errors == 0 and not result.undelivered
    assert [type(e).__name__ for e in result.errors] == [expected["error_type"]]
    if isinstance(outlet, CollectOutlet):  # the other outlets still got their (empty) push
        assert outlet.records == []


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_only_the_outlet_whose_processor_raised_misses_the_batch(use_async: bool,
                                                                  tmp_path: Path) -> None:
    steady, picky = CollectOutlet(), CollectOutlet(processors=broken)
    dead = FileOutlet(tmp_path / "dead.jsonl", json_lines=True)
    result = run(Link(inlet(use_async), [steady, picky], 1, tags="t", dead_letter=dead),
                 use_async)
    assert [r.payload for r in steady.records] == ["a", "b"]
    assert picky.records == []
    assert result.dead_lettered == {picky: 2} and result.pushed == {steady: 2}
    lines = dead_lines(tmp_path / "dead.jsonl")
    assert [line["metadata"][DEAD_LETTER]["outlet"] for line in lines] == ["CollectOutlet()"] * 2


def test_dead_lettered_processing_errors_commit_the_checkpoint(tmp_path: Path) -> None:
    source = tmp_path / "events.log"
    source.write_text("one\ntwo\n", encoding="utf-8")
    state = tmp_path / "state.json"

    def make(processors: Any) -> tuple[Link, CollectOutlet]:
        out = CollectOutlet()
        dead = FileOutlet(tmp_path / "dead.jsonl", json_lines=True)
        return Link(FileInlet(source), out, 1, tags="events", processors=processors,
                    dead_letter=dead, state_store=FileStateStore(state)), out

    link, _ = make(broken)
    link.on_start()
    first = link.transfer()  # "one" is refused by the processor, dead-lettered: handled
    link.on_shutdown()
    assert first.committed and first.dead_lettered
    assert [line["payload"] for line in dead_lines(tmp_path / "dead.jsonl")] == ["one\n"]
    restarted, out = make(None)
    restarted.on_start()
    restarted.transfer()
    restarted.on_shutdown()
    assert [r.payload for r in out.records] == ["two\n"], "resumed after the handled line"


def test_without_a_dead_letter_a_processor_error_still_raises_or_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    out = CollectOutlet()
    with pytest.raises(ValueError, match="processor broke"):
        Link(ListInlet([1]), out, 1, processors=broken).transfer()
    result = Link(ListInlet([1]), out, 1, processors=broken, ignore_exceptions=True).transfer()
    assert [r.payload for r in out.records] == [1]  # unprocessed, as before
    assert result.unhandled_errors == 1


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_a_failing_dead_letter_for_processing_errors_raises_the_original(
        use_async: bool, caplog: pytest.LogCaptureFixture) -> None:
    link = Link(inlet(use_async), CollectOutlet(), 1, processors=broken,
                dead_letter=Refusing(OSError("disk full")))
    with pytest.raises(ValueError, match="processor broke"):
        run(link, use_async)
    assert "the dead-letter outlet Refusing() refused 2 record(s) too" in caplog.text


def test_a_raising_processor_of_the_dead_letter_outlet_loses_nothing_silently(
        caplog: pytest.LogCaptureFixture) -> None:
    dead = CollectOutlet(processors=broken)
    outlet = Refusing(PermanentError("no"))
    result = Link(ListInlet([1, 2]), outlet, 1, dead_letter=dead,
                  ignore_exceptions=True).transfer()
    assert result.undelivered == {outlet: 2} and not result.dead_lettered
    assert "refused 2 record(s) too: ValueError('processor broke')" in caplog.text


def test_outlets_say_whether_they_keep_metadata(tmp_path: Path) -> None:
    assert FileOutlet(tmp_path / "a", json_lines=True).stores_metadata is True
    assert FileOutlet(tmp_path / "a").stores_metadata is False
    assert NullOutlet().stores_metadata is False
    assert PrintOutlet().stores_metadata is True
    assert PrintOutlet(only_payload=True).stores_metadata is False
    assert CollectOutlet().stores_metadata is None  # says nothing: no warning

    def warning(dead: Outlet | None) -> str | None:
        return dead_letter_warning(Link(ListInlet(), CollectOutlet(), 1, dead_letter=dead))

    assert warning(None) is None
    assert warning(FileOutlet(tmp_path / "d.jsonl", json_lines=True)) is None
    assert warning(CollectOutlet()) is None
    text = warning(FileOutlet(tmp_path / "d.txt"))
    assert text is not None and "stores payloads only" in text and "json_lines" in text
    # a processor of its own may copy the details into the payload: no warning
    assert warning(FileOutlet(tmp_path / "d.txt", processors=lambda r: r)) is None
