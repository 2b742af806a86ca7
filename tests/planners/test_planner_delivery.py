"""Planners and delivery: shutdown interrupts retry waits; a planner-wide state store."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from databay import Inlet, Link, Outlet, Record, Update
from databay.delivery import MemoryStateStore, RetryPolicy
from databay.inlets.file_inlet import FileInlet
from databay.planners import ApsPlanner, SchedulePlanner  # type: ignore[attr-defined]

PLANNERS = [ApsPlanner, SchedulePlanner]


class Ones(Inlet):
    def pull(self, update: Update) -> int:
        return 1


class AlwaysDown(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.calls = threading.Event()

    def push(self, records: list[Record], update: Update) -> None:
        if records:
            self.calls.set()
            raise ConnectionError("down")


class Collect(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.payloads: list[object] = []
        self.got = threading.Event()

    def push(self, records: list[Record], update: Update) -> None:
        self.payloads.extend(r.payload for r in records)
        if records:
            self.got.set()


@pytest.mark.parametrize("planner_cls", PLANNERS)
def test_shutdown_during_a_backoff_wait_returns_promptly(planner_cls: type) -> None:
    outlet = AlwaysDown()
    link = Link(Ones(), outlet, 0.05, retry=RetryPolicy(attempts=10, backoff=30),
                ignore_exceptions=True)
    planner = planner_cls(link, immediate_transfer=False, handle_signals=False)
    runner = threading.Thread(target=planner.start)
    runner.start()
    try:
        assert outlet.calls.wait(10), "the link never pushed"
        started = time.monotonic()
        planner.shutdown(wait=True)
        elapsed = time.monotonic() - started
    finally:
        planner.shutdown(wait=False)
        runner.join(10)
    assert not runner.is_alive()
    assert elapsed < 10, f"shutdown waited {elapsed:.1f} s for a 30 s backoff"


@pytest.mark.parametrize("planner_cls", PLANNERS)
def test_planner_state_store_checkpoints_its_links(planner_cls: type, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("a\nb\n")
    store = MemoryStateStore()
    outlet = Collect()
    link = Link(FileInlet(source), outlet, 60, tags="lines")
    untagged = Link(Ones(), Collect(), 60)
    planner = planner_cls([link, untagged], state_store=store, handle_signals=False)
    runner = threading.Thread(target=planner.start)
    runner.start()
    try:
        assert outlet.got.wait(10)
    finally:
        planner.shutdown(wait=True)
        runner.join(10)
    assert link.state_store is store and untagged.state_store is None
    assert outlet.payloads == ["a\n"]
    assert store.get("lines/0:FileInlet") == 2
    with pytest.raises(TypeError, match="state_store"):
        planner_cls(state_store="state.json")


def test_aps_alias_at_its_original_path() -> None:
    with pytest.warns(DeprecationWarning):
        from databay.planners.aps_planner import APSPlanner  # type: ignore[attr-defined]

        APSPlanner().shutdown()
