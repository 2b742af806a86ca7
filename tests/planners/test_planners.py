"""ApsPlanner and SchedulePlanner: API, fixed grid, errors, signals, plugin registration."""

from __future__ import annotations

import datetime
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schedule
from databay import BasePlanner, Link
from databay.errors import ScheduleIntervalError
from databay.planners import ApsPlanner, SchedulePlanner
from databay.testing.planners import RecordingInlet, RecordingOutlet, wait_until

INTERVAL = 0.05
PLANNERS = [ApsPlanner, SchedulePlanner]


class Runner:
    """Runs planner.start() in threads; shuts down and joins every one in teardown."""

    def __init__(self) -> None:
        self.items: list[tuple[BasePlanner, threading.Thread]] = []

    def start(self, planner: BasePlanner, wait_running: bool = True) -> threading.Thread:
        thread = threading.Thread(target=planner.start, daemon=True)
        thread.start()
        self.items.append((planner, thread))
        if wait_running:
            wait_until(lambda: planner.running, what=f"{planner!r} running")
        return thread

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


def link(inlet: RecordingInlet | None = None, interval: Any = INTERVAL, **kw: Any) -> Link:
    return Link(inlet or RecordingInlet(), RecordingOutlet(), interval, **kw)


# -- registration and the original's names ---------------------------------------------


def test_planners_resolve_through_the_namespace() -> None:
    import databay.planners as ns
    from databay.planners.aps_planner import ApsPlanner as Aps2
    from databay.planners.schedule_planner import ScheduleIntervalError as Err
    from databay.planners.schedule_planner import SchedulePlanner as Sched2

    assert Aps2 is ApsPlanner and Sched2 is SchedulePlanner
    assert Err is ScheduleIntervalError
    assert {"ApsPlanner", "APSPlanner", "SchedulePlanner"} <= set(ns.available())
    import databay_planners

    assert databay_planners.ApsPlanner is ApsPlanner
    assert databay_planners.ScheduleIntervalError is ScheduleIntervalError


def test_aps_planner_alias_warns_and_works(runner: Runner) -> None:
    from databay.planners import APSPlanner

    inlet = RecordingInlet()
    with pytest.warns(DeprecationWarning, match="ApsPlanner"):
        planner = APSPlanner(link(inlet), threads=2)
    assert isinstance(planner, ApsPlanner)
    runner.start(planner)
    wait_until(lambda: inlet.count >= 2, what="transfers")


def test_loading_the_plugin_imports_neither_scheduler_library() -> None:
    code = (
        "import sys, databay.plugins as p\n"
        "p.registry('planner')\n"
        "import databay_planners.plugin\n"
        "print('apscheduler' in sys.modules, 'schedule' in sys.modules)\n"
        "from databay.planners import SchedulePlanner\n"
        "print('apscheduler' in sys.modules, 'schedule' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, check=True).stdout.split()
    assert out == ["False", "False", "False", "True"]


# -- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", PLANNERS)
def test_defaults_and_repr(cls: type[BasePlanner]) -> None:
    planner: Any = cls()
    assert planner.threads == 30
    assert planner.ignore_exceptions is False
    assert planner.immediate_transfer is True
    assert planner.shutdown_at_exit is False
    assert planner.allow_overlap is False
    assert planner.running is False
    assert planner.links == []
    if cls is SchedulePlanner:
        assert planner.refresh_interval == 1.0
        assert repr(planner) == "SchedulePlanner(threads:30, refresh_interval:1.0)"
    else:
        assert repr(planner) == "ApsPlanner(threads:30)"


@pytest.mark.parametrize("cls", PLANNERS)
@pytest.mark.parametrize(("kwargs", "error", "named"), [
    ({"threads": 0}, ValueError, "threads"),
    ({"threads": 2.5}, TypeError, "threads"),
    ({"threads": True}, TypeError, "threads"),
    ({"ignore_exceptions": 1}, TypeError, "ignore_exceptions"),
    ({"thread": 4}, TypeError, "thread"),
    ({"links": [object()]}, TypeError, "Link"),
])
def test_bad_arguments_are_named(cls: type[BasePlanner], kwargs: dict[str, Any],
                                 error: type[Exception], named: str) -> None:
    with pytest.raises(error, match=named):
        cls(**kwargs)


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"refresh_interval": 0}, ValueError),
    ({"refresh_interval": "1"}, TypeError),
    ({"refresh_interval": float("nan")}, ValueError),
])
def test_bad_refresh_interval(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match="refresh_interval"):
        SchedulePlanner(**kwargs)


@pytest.mark.parametrize("arg", ["executors_override", "job_defaults_override"])
def test_aps_overrides_must_be_dicts(arg: str) -> None:
    with pytest.raises(TypeError, match=arg):
        ApsPlanner(**{arg: ["default"]})


@pytest.mark.parametrize("cls", PLANNERS)
@pytest.mark.parametrize("interval", [0.0001, datetime.timedelta(days=20000)])
def test_interval_the_planner_cannot_honour(cls: type[BasePlanner], interval: Any) -> None:
    planner = cls()
    bad = link(interval=interval, tags="odd")
    with pytest.raises(ScheduleIntervalError, match="odd") as info:
        planner.add_links(bad)
    assert "accepted" in str(info.value)
    assert planner.links == [], "a link that failed to be scheduled stays out of links"
    assert bad.job is None


@pytest.mark.parametrize("cls", PLANNERS)
def test_catch_exceptions_alias(cls: type[BasePlanner]) -> None:
    with pytest.warns(DeprecationWarning):
        planner = cls(catch_exceptions=True)
    assert planner.ignore_exceptions is True


# -- timing ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", PLANNERS)
def test_fixed_grid_does_not_drift_with_transfer_time(cls: type[BasePlanner],
                                                      runner: Runner) -> None:
    # each transfer takes 60 % of the interval: a planner that sleeps after work drifts
    # to 5 x 1.6 = 8 intervals; on the grid it is 5 (1.5 intervals of slack for load)
    interval = 0.2
    inlet = RecordingInlet(duration=0.6 * interval)
    planner = cls(link(inlet, interval), threads=2, immediate_transfer=False)
    runner.start(planner)
    wait_until(lambda: inlet.count >= 6, what="6 transfers")
    pulls = inlet.pulls[:6]
    span = pulls[5] - pulls[0]
    assert span < 5 * interval + 1.5 * interval, (
        f"5 intervals took {span:.3f} s: the grid drifts")
    assert span > 5 * interval - 0.5 * interval


@pytest.mark.parametrize("cls", PLANNERS)
def test_first_scheduled_run_is_one_interval_after_start(cls: type[BasePlanner],
                                                         runner: Runner) -> None:
    inlet = RecordingInlet()
    planner = cls(link(inlet, 1.0), immediate_transfer=False)
    started = threading.Event()
    stamps: list[float] = []

    from databay import plugins
    from databay.hookspecs import hookimpl

    class Stamp:
        @hookimpl
        def databay_planner_started(self, planner: BasePlanner) -> None:
            import time

            stamps.append(time.monotonic())
            started.set()

    name = plugins.register(Stamp(), name="test-first-run-stamp")
    try:
        runner.start(planner)
        wait_until(lambda: inlet.count >= 1, what="the first transfer")
    finally:
        plugins.unregister(name)
    assert started.is_set()
    # one interval after start, not at once and not two intervals later
    assert 0.95 <= inlet.pulls[0] - stamps[0] <= 1.7


def test_schedule_planner_wakes_for_a_new_link_without_polling(runner: Runner) -> None:
    # refresh_interval caps the sleep; due jobs must not wait for it
    planner = SchedulePlanner(refresh_interval=30.0, immediate_transfer=False)
    runner.start(planner)
    inlet = RecordingInlet()
    planner.add_links(link(inlet))
    wait_until(lambda: inlet.count >= 3, timeout=2.0, what="3 transfers of the added link")


def test_schedule_planner_shutdown_wakes_the_sleeping_thread(runner: Runner) -> None:
    planner = SchedulePlanner(link(interval=60.0), refresh_interval=30.0)
    thread = runner.start(planner)
    planner.shutdown(wait=False)
    thread.join(2.0)
    assert not thread.is_alive(), "the scheduling thread slept through shutdown()"


# -- SchedulePlanner: its own scheduler ------------------------------------------------


def test_schedule_planners_have_their_own_schedulers_and_run_side_by_side(
        runner: Runner) -> None:
    a, b = RecordingInlet(), RecordingInlet()
    pa = SchedulePlanner(link(a), threads=2)
    pb = SchedulePlanner(link(b), threads=2)
    assert pa.scheduler is not pb.scheduler
    assert isinstance(pa.scheduler, schedule.Scheduler)
    assert schedule.default_scheduler.jobs == [], "the global scheduler must stay untouched"
    runner.start(pa)
    runner.start(pb)
    wait_until(lambda: a.count >= 3 and b.count >= 3, what="both planners transferring")
    pa.shutdown()
    assert pa.scheduler.jobs == [], "shutdown() should cancel the planner's jobs"
    assert pa.links[0].job is None
    count = b.count
    wait_until(lambda: b.count >= count + 2, what="the other planner going on")
    assert pb.running and not pa.running


def test_schedule_planner_restart_schedules_its_links_again(runner: Runner) -> None:
    inlet = RecordingInlet()
    planner = SchedulePlanner(link(inlet), threads=2)
    thread = runner.start(planner)
    wait_until(lambda: inlet.count >= 2, what="transfers")
    planner.shutdown()
    thread.join(5)
    count = inlet.count
    runner.start(planner)
    assert len(planner.scheduler.jobs) == 1
    wait_until(lambda: inlet.count >= count + 2, what="transfers after restart")


def test_schedule_planner_jobs_are_schedule_jobs_with_the_links_tags() -> None:
    lk = link(tags=["a", "b"])
    planner = SchedulePlanner(lk)
    assert isinstance(lk.job, schedule.Job)
    assert lk.job.tags == {"a", "b"}
    assert planner.scheduler.jobs == [lk.job]
    planner.remove_links(lk)
    assert planner.scheduler.jobs == [] and lk.job is None


# -- ApsPlanner -------------------------------------------------------------------------


def test_aps_planner_job_defaults_and_override(runner: Runner) -> None:
    inlet = RecordingInlet()
    planner = ApsPlanner(link(inlet), threads=2,
                         job_defaults_override={"misfire_grace_time": 5})
    runner.start(planner)
    job = planner.links[0].job
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 5
    assert list(planner.links_by_jobid.values()) == [planner.links]
    wait_until(lambda: inlet.count >= 2, what="transfers")


def test_aps_planner_executors_override(runner: Runner) -> None:
    from apscheduler.executors.pool import ThreadPoolExecutor

    inlet = RecordingInlet()
    planner = ApsPlanner(link(inlet), threads=2,
                         executors_override={"default": ThreadPoolExecutor(2)})
    runner.start(planner)
    wait_until(lambda: inlet.count >= 3, what="transfers dispatched by the overridden executor")


def test_aps_planner_links_with_one_interval_share_one_job(runner: Runner) -> None:
    links = [link(), link(), link(interval=0.07)]
    planner = ApsPlanner(links, threads=2)
    runner.start(planner)
    assert links[0].job is links[1].job
    assert links[2].job is not links[0].job
    assert len(planner.scheduler.get_jobs()) == 2
    planner.remove_links(links[0])
    assert len(planner.scheduler.get_jobs()) == 2
    planner.remove_links(links[1])
    assert len(planner.scheduler.get_jobs()) == 1
    planner.shutdown()
    assert planner.scheduler.get_jobs() == [] and links[2].job is None


def test_aps_planner_restart_uses_a_fresh_scheduler(runner: Runner) -> None:
    inlet = RecordingInlet()
    planner = ApsPlanner(link(inlet), threads=2)
    thread = runner.start(planner)
    first = planner.scheduler
    wait_until(lambda: inlet.count >= 2, what="transfers")
    planner.shutdown()
    thread.join(5)
    count = inlet.count
    runner.start(planner)
    assert planner.scheduler is not first
    wait_until(lambda: inlet.count >= count + 2, what="transfers after restart")


# -- errors and lifecycle, both planners ---------------------------------------------


@pytest.mark.parametrize("cls", PLANNERS)
def test_scheduled_failure_is_logged_with_its_link_and_stops(
        cls: type[BasePlanner], runner: Runner, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="databay")
    good = RecordingInlet()
    planner = cls([link(good), link(RecordingInlet(fail_pull=True), tags="broken")],
                  threads=2, immediate_transfer=False)
    thread = runner.start(planner, wait_running=False)
    thread.join(5)
    assert not thread.is_alive() and not planner.running
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("broken" in m and "failed on purpose" in m for m in errors), errors
    assert good.shutdowns == 1


@pytest.mark.parametrize("cls", PLANNERS)
def test_shutdown_wait_false_returns_promptly_and_nothing_starts_after(
        cls: type[BasePlanner], runner: Runner) -> None:
    inlets = [RecordingInlet() for _ in range(20)]
    planner = cls([link(i, 0.02) for i in inlets], threads=4, immediate_transfer=False)
    thread = runner.start(planner)
    wait_until(lambda: all(i.count >= 2 for i in inlets), what="every link transferring")
    planner.shutdown(wait=False)
    thread.join(5)
    assert not thread.is_alive()
    # transfers claimed before shutdown() returned may still pull (they were in flight);
    # once start() has returned they are done, and nothing new may start
    counts = [i.count for i in inlets]
    threading.Event().wait(0.1)  # an observation window: nothing may start now
    assert [i.count for i in inlets] == counts, "a transfer started after shutdown() returned"
    assert all(i.shutdowns == 1 for i in inlets)


@pytest.mark.parametrize("cls", PLANNERS)
def test_sigint_in_the_main_thread_shuts_down_gracefully(cls: type[BasePlanner]) -> None:
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT)
    slow = RecordingInlet(duration=0.15)
    outlet = RecordingOutlet()
    planner = cls(Link(slow, outlet, INTERVAL), threads=2, immediate_transfer=False)

    def send() -> None:
        wait_until(lambda: slow.concurrent == 1, what="a transfer in flight")
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        planner.start()
    finally:
        sender.join(5)
        planner.shutdown()
    assert not planner.running
    assert slow.concurrent == 0 and len(outlet.pushed) == slow.count
    assert slow.shutdowns == 1 and outlet.shutdowns == 1
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("cls", PLANNERS)
def test_sigint_handed_to_another_thread_still_stops_the_planner(
        cls: type[BasePlanner]) -> None:
    # the kernel may deliver a process signal to any thread; there it only sets a flag
    # that the main thread must notice although it is blocked in start()
    assert threading.current_thread() is threading.main_thread()
    inlet = RecordingInlet()
    planner = cls(Link(inlet, RecordingOutlet(), INTERVAL), immediate_transfer=False)
    stopped = threading.Event()
    forced: list[bool] = []

    def send() -> None:
        wait_until(lambda: inlet.count >= 1, what="a transfer")
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # to this thread only
        if not stopped.wait(10):  # a bound for the test, noted: not the signal's doing
            forced.append(True)
            planner.shutdown(wait=False)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        planner.start()
        stopped.set()
    finally:
        sender.join(15)
        planner.shutdown()
    assert not forced, "start() did not return on a SIGINT delivered to another thread"
    assert not planner.running


def test_schedule_planner_coalesces_ticks_it_could_not_run_in_time(
        runner: Runner, caplog: pytest.LogCaptureFixture) -> None:
    inlet = RecordingInlet()
    planner = SchedulePlanner(link(inlet), threads=2, immediate_transfer=False)
    runner.start(planner)
    wait_until(lambda: inlet.count >= 1, what="a first transfer")
    with planner._lock:  # the scheduling thread cannot run: 4 ticks fall due meanwhile
        count = inlet.count
        threading.Event().wait(4.5 * INTERVAL)
        released = time.monotonic()
    wait_until(lambda: inlet.count >= count + 3, what="runs after the stall")
    wait_until(lambda: any("coalesced" in r.getMessage() for r in caplog.records),
               what="the coalescing logged")
    # one run for the missed ticks (plus perhaps the next grid tick), not a burst of four
    burst = [t for t in inlet.pulls[count:] if t < released + 0.5 * INTERVAL]
    assert 1 <= len(burst) <= 2, f"{len(burst)} runs right after the stall"


@pytest.mark.parametrize("cls", PLANNERS)
def test_failing_on_start_is_ignored_when_asked(cls: type[BasePlanner], runner: Runner,
                                                caplog: pytest.LogCaptureFixture) -> None:
    good = RecordingInlet()
    bad = RecordingInlet(fail_start=True)
    planner = cls([link(bad, tags="badstart"), link(good)], threads=2, ignore_exceptions=True)
    runner.start(planner)
    wait_until(lambda: good.count >= 2, what="the good link transferring")
    assert planner.running
    assert any("badstart" in r.getMessage() for r in caplog.records if r.levelno >= 40)


@pytest.mark.parametrize("cls", PLANNERS)
def test_purge_while_running_stops_every_link(cls: type[BasePlanner], runner: Runner) -> None:
    inlets = [RecordingInlet(), RecordingInlet()]
    planner = cls([link(i) for i in inlets], threads=2, immediate_transfer=False)
    runner.start(planner)
    wait_until(lambda: all(i.count >= 1 for i in inlets), what="transfers")
    planner.purge()
    assert planner.links == []
    wait_until(lambda: all(i.concurrent == 0 for i in inlets), what="transfers in flight")
    counts = [i.count for i in inlets]
    threading.Event().wait(3 * INTERVAL)  # an observation window
    assert [i.count for i in inlets] == counts
    assert planner.running
