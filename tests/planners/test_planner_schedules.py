"""ApsPlanner and SchedulePlanner on calendar schedules: real per-second cron fires, end,
no overlap, coalescing after a stall, next fire times. Bounded in time (a few seconds)."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from databay import BasePlanner, Inlet, Link, Update
from databay.planners import ApsPlanner, SchedulePlanner
from databay.schedules import Cron, Interval
from databay.testing.planners import RecordingOutlet, wait_until

PLANNERS = [ApsPlanner, SchedulePlanner]
UTC = datetime.timezone.utc
EVERY_SECOND = "* * * * * *"


class WallInlet(Inlet):
    """Records the wall-clock time of each pull; can take a while."""

    def __init__(self, duration: float = 0.0) -> None:
        super().__init__()
        self.duration = duration
        self.pulls: list[float] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()

    def pull(self, update: Update) -> Any:
        with self._lock:
            self.pulls.append(time.time())
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if self.duration:
                threading.Event().wait(self.duration)
            return []
        finally:
            with self._lock:
                self.concurrent -= 1

    @property
    def count(self) -> int:
        return len(self.pulls)


class Runner:
    def __init__(self) -> None:
        self.items: list[tuple[BasePlanner, threading.Thread]] = []

    def start(self, planner: BasePlanner) -> None:
        thread = threading.Thread(target=planner.start, daemon=True)
        thread.start()
        self.items.append((planner, thread))
        wait_until(lambda: planner.running, what=f"{planner!r} running")

    def close(self) -> None:
        for planner, thread in self.items:
            planner.shutdown(wait=True)
            thread.join(5)
            assert not thread.is_alive(), f"{planner!r} did not stop"


@pytest.fixture
def runner() -> Iterator[Runner]:
    r = Runner()
    yield r
    r.close()


def cron_link(inlet: Inlet, schedule: Any = EVERY_SECOND, **kw: Any) -> Link:
    if isinstance(schedule, str):
        schedule = Cron(schedule, "UTC")
    return Link(inlet, RecordingOutlet(), schedule=schedule, tags="cron",
                immediate_transfer=False, **kw)


def offsets(pulls: list[float]) -> list[float]:
    """How long after its whole second each pull ran."""
    return [t - int(t) for t in pulls]


@pytest.mark.parametrize("cls", PLANNERS)
def test_per_second_cron_fires_on_each_whole_second(cls: type[BasePlanner],
                                                    runner: Runner) -> None:
    inlet = WallInlet()
    planner = cls(cron_link(inlet, Cron(EVERY_SECOND, "Europe/Berlin")),
                  immediate_transfer=False)
    assert planner.supports_schedules
    runner.start(planner)
    wait_until(lambda: inlet.count >= 3, timeout=10, what="three cron fires")
    seconds = [int(t) for t in inlet.pulls[:3]]
    assert seconds == sorted(set(seconds)), f"one fire per second: {inlet.pulls}"
    # fires belong to whole seconds (room for a loaded machine; benchmarks measure it)
    assert all(o < 0.5 for o in offsets(inlet.pulls[:3])), offsets(inlet.pulls[:3])
    nxt = planner.next_fire_time(planner.links[0])
    now = datetime.datetime.now(UTC)
    assert nxt is not None and nxt.tzinfo is not None
    assert now - datetime.timedelta(seconds=1) < nxt <= now + datetime.timedelta(seconds=2)
    assert nxt.microsecond == 0


@pytest.mark.parametrize("cls", PLANNERS)
def test_cron_and_interval_links_side_by_side(cls: type[BasePlanner], runner: Runner) -> None:
    cron, plain = WallInlet(), WallInlet()
    planner = cls([cron_link(cron), Link(plain, RecordingOutlet(), 0.2, tags="plain",
                                         immediate_transfer=False)])
    runner.start(planner)
    wait_until(lambda: cron.count >= 2 and plain.count >= 6, timeout=10,
               what="both links transferring")


@pytest.mark.parametrize("cls", PLANNERS)
def test_no_fire_after_end(cls: type[BasePlanner], runner: Runner) -> None:
    inlet = WallInlet()
    end = datetime.datetime.now(UTC).replace(microsecond=0) + datetime.timedelta(seconds=2)
    link = cron_link(inlet, Cron(EVERY_SECOND, "UTC", end=end))
    planner = cls(link)
    runner.start(planner)
    wait_until(lambda: datetime.datetime.now(UTC) > end + datetime.timedelta(seconds=1.2),
               timeout=6, what="the end to pass")
    assert 1 <= inlet.count <= 2, inlet.pulls
    assert all(t <= end.timestamp() + 0.9 for t in inlet.pulls), (inlet.pulls, end)
    assert planner.next_fire_time(link) is None


@pytest.mark.parametrize("cls", PLANNERS)
def test_cron_link_added_while_running(cls: type[BasePlanner], runner: Runner) -> None:
    planner = cls(Link(WallInlet(), RecordingOutlet(), 60, tags="slow"))
    runner.start(planner)
    inlet = WallInlet()
    planner.add_links(cron_link(inlet))
    wait_until(lambda: inlet.count >= 2, timeout=10, what="the added cron link firing")
    planner.remove_links(planner.links[1])
    count = inlet.count
    threading.Event().wait(1.5)
    assert inlet.count <= count + 1  # at most a fire already handed over


@pytest.mark.parametrize("cls", PLANNERS)
def test_overlapping_cron_fire_is_skipped(cls: type[BasePlanner], runner: Runner,
                                          caplog: pytest.LogCaptureFixture) -> None:
    inlet = WallInlet(duration=1.5)
    planner = cls(cron_link(inlet), immediate_transfer=False)
    runner.start(planner)
    wait_until(lambda: any("skipped" in r.getMessage() for r in caplog.records),
               timeout=10, what="a skipped fire logged")
    assert inlet.max_concurrent == 1


@pytest.mark.parametrize("cls", PLANNERS)
def test_allow_overlap_runs_cron_fires_beside_each_other(cls: type[BasePlanner],
                                                         runner: Runner) -> None:
    inlet = WallInlet(duration=1.6)
    planner = cls(cron_link(inlet), immediate_transfer=False, allow_overlap=True)
    runner.start(planner)
    wait_until(lambda: inlet.max_concurrent >= 2, timeout=10, what="two fires at once")


def _stall(planner: BasePlanner) -> Any:
    """A lock whose holder keeps the planner's scheduling thread from running."""
    if isinstance(planner, SchedulePlanner):
        return planner._lock
    assert isinstance(planner, ApsPlanner)
    return planner.scheduler._jobstores_lock


@pytest.mark.parametrize("cls", PLANNERS)
def test_missed_cron_fires_coalesce_into_one(cls: type[BasePlanner], runner: Runner,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    inlet = WallInlet()
    planner = cls(cron_link(inlet), immediate_transfer=False)
    runner.start(planner)
    wait_until(lambda: inlet.count >= 1, timeout=10, what="a first fire")
    with _stall(planner):  # four fires fall due meanwhile
        count = inlet.count
        threading.Event().wait(4.2)
        released = time.time()
    wait_until(lambda: inlet.pulls[-1] > released + 0.6, timeout=10,
               what="fires after the stall")
    # one run for the missed fires (plus perhaps the fire the stall caught in flight,
    # which then runs late), not a burst of four
    burst = [t for t in inlet.pulls[count:] if t < released + 0.4]
    assert 1 <= len(burst) <= 2, f"{len(burst)} runs right after the stall: {inlet.pulls}"
    # and the schedule goes on on whole seconds
    later = [t for t in inlet.pulls[count:] if t > released + 0.4]
    assert later and all(o < 0.5 for o in offsets(later)), offsets(later)


@pytest.mark.parametrize("cls", PLANNERS)
def test_jittered_interval_with_start(cls: type[BasePlanner], runner: Runner) -> None:
    inlet = WallInlet()
    start = datetime.datetime.now(UTC).replace(microsecond=0) + datetime.timedelta(seconds=1)
    schedule = Interval(0.5, start=start, jitter=0.2)
    planner = cls(cron_link(inlet, schedule))
    runner.start(planner)
    wait_until(lambda: inlet.count >= 3, timeout=10, what="three fires")
    assert inlet.pulls[0] >= start.timestamp() - 0.01
    # each fire lies at start + n * 0.5 s plus at most 0.2 s of jitter (and load)
    phases = [((t - start.timestamp()) % 0.5) for t in inlet.pulls[:3]]
    assert all(p <= 0.45 for p in phases), phases
