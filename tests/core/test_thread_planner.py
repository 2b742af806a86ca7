"""ThreadPlanner: databay-core's own planner (no plugin needed), registered as a built-in."""

from __future__ import annotations

import datetime
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import databay.plugins as plugins
import pytest
from databay import BasePlanner, Link
from databay.planners.thread_planner import ThreadPlanner
from databay.schedules import Cron
from databay.testing.planners import (
    INTERVAL,
    PlannerContract,
    RecordingInlet,
    RecordingOutlet,
    wait_until,
)


class TestThreadPlannerContract(PlannerContract):
    def make_planner(self, links: list[Link], **options: Any) -> BasePlanner:
        return ThreadPlanner(links, threads=4, **options)


class Starter:
    """Starts planners in threads; every one is shut down and joined in teardown."""

    def __init__(self) -> None:
        self.planners: list[ThreadPlanner] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, planner: ThreadPlanner) -> ThreadPlanner:
        thread = threading.Thread(target=planner.start)
        thread.start()
        self.planners.append(planner)
        self.threads.append(thread)
        wait_until(lambda: planner.running, what="the planner to run")
        return planner

    def stop(self) -> None:
        for planner in self.planners:
            assert planner.shutdown(timeout=10)
        for thread in self.threads:
            thread.join(10)
            assert not thread.is_alive()


@pytest.fixture
def started() -> Iterator[Starter]:
    starter = Starter()
    try:
        yield starter
    finally:
        starter.stop()


def test_it_is_a_builtin_of_core() -> None:
    assert plugins.registry("planner")["ThreadPlanner"].plugin == "builtins"
    from databay.planners import ThreadPlanner as named  # type: ignore[attr-defined]

    assert named is ThreadPlanner


def test_a_cron_link_fires_on_its_schedule(started: Starter) -> None:
    inlet, outlet = RecordingInlet(), RecordingOutlet()
    link = Link(inlet, outlet, schedule=Cron("* * * * * *"), immediate_transfer=False)
    planner = started(ThreadPlanner(link))
    upcoming = planner.next_fire_time(link)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert upcoming is not None and now < upcoming <= now + datetime.timedelta(seconds=1.01)
    wait_until(lambda: inlet.count >= 2, timeout=10, what="two fires, a second apart")


def test_links_keep_their_own_intervals(started: Starter) -> None:
    fast, slow = RecordingInlet(), RecordingInlet()
    planner = ThreadPlanner([Link(fast, RecordingOutlet(), INTERVAL),
                             Link(slow, RecordingOutlet(), 20 * INTERVAL)],
                            immediate_transfer=False)
    started(planner)
    wait_until(lambda: fast.count >= 5, what="five ticks of the fast link")
    assert slow.count <= 1


@pytest.mark.parametrize("threads, error", [(0, ValueError), ("2", TypeError),
                                            (True, TypeError)])
def test_threads_must_be_a_positive_int(threads: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"ThreadPlanner\(threads=\.\.\.\) must be a positive int"):
        ThreadPlanner(threads=threads)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_main_thread_shuts_it_down(signum: int) -> None:
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signum)
    slow = RecordingInlet(duration=3 * INTERVAL)
    outlet = RecordingOutlet()
    planner = ThreadPlanner(Link(slow, outlet, INTERVAL), immediate_transfer=False)

    def send() -> None:
        wait_until(lambda: slow.concurrent == 1, what="a transfer in flight")
        os.kill(os.getpid(), signum)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        planner.start()  # returns once the signal has shut the planner down
    finally:
        sender.join(5)
        planner.shutdown(timeout=10)
    assert not planner.running
    assert slow.concurrent == 0
    assert len(outlet.pushed) == slow.count, "the transfer in flight was cut short"
    assert slow.shutdowns == 1 and outlet.shutdowns == 1
    assert signal.getsignal(signum) is before, "the previous handler was not restored"


class DueInlet(RecordingInlet):
    """Records each transfer's ``update.due`` and when its pull began."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float | None, float]] = []

    def pull(self, update: Any) -> Any:
        import time

        self.seen.append((update.due, time.time()))
        return super().pull(update)


def test_a_scheduled_transfer_knows_when_its_tick_was_due(started: Starter) -> None:
    inlet = DueInlet()
    link = Link(inlet, RecordingOutlet(), INTERVAL, immediate_transfer=False)
    planner = started(ThreadPlanner(link))
    wait_until(lambda: len(inlet.seen) >= 2, what="two ticks")
    planner.force_transfer(link)  # not a tick: no due time
    assert inlet.seen[-1][0] is None
    for due, began in inlet.seen[:2]:
        assert due is not None and due - 0.05 <= began <= due + 5  # Unix time, then late
