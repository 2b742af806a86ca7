"""BasePlanner: lifecycle, non-overlap, signals and errors, through a tiny in-test planner."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from databay import BasePlanner, Link
from databay.errors import MissingLinkError
from databay.testing.planners import (
    RecordingInlet,
    RecordingOutlet,
    check_planner,
    wait_until,
)

INTERVAL = 0.05


class TinyPlanner(BasePlanner):
    """A third-party-style planner: one thread checks the links' grids every 5 ms and
    starts a thread per transfer (so that overlap is possible if allowed)."""

    def __init__(self, links: Any = None, **kwargs: Any) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._due: dict[Link, float | None] = {}
        self._run = False
        self._stop = False
        self.workers: list[threading.Thread] = []
        super().__init__(links, **kwargs)

    @property
    def running(self) -> bool:
        return self._run

    def _schedule(self, link: Link) -> None:
        with self._lock:
            due = time.monotonic() + link.interval.total_seconds() if self._run else None
            self._due[link] = due
        link.set_job(("tiny", id(link)))

    def _unschedule(self, link: Link) -> None:
        with self._lock:
            self._due.pop(link, None)
        link.set_job(None)

    def _start_planner(self) -> None:
        with self._lock:
            if self._stop:
                self._stop = False
                return
            now = time.monotonic()
            for link in self._due:
                self._due[link] = now + link.interval.total_seconds()
            self._run = True
        while True:
            with self._lock:
                if self._stop:
                    break
                now = time.monotonic()
                due = []
                for link, when in self._due.items():
                    if when is not None and when <= now:
                        due.append(link)
                        step = link.interval.total_seconds()
                        while when <= now:
                            when += step
                        self._due[link] = when
            for link in due:
                if self._claim(link):
                    worker = threading.Thread(target=self._run_claimed, args=(link,))
                    self.workers.append(worker)
                    worker.start()
            self._wake.wait(0.005)
        with self._lock:
            self._run = False
            self._stop = False

    def _shutdown_planner(self, wait: bool = True) -> None:
        with self._lock:
            self._stop = True
            self._run = False
        self._wake.set()
        if wait:
            for worker in list(self.workers):
                if worker is not threading.current_thread():
                    worker.join(5)


def tiny(links: Any, **options: Any) -> TinyPlanner:
    return TinyPlanner(links, **options)


class Runner:
    """Runs planner.start() in a thread; stops and joins it in teardown."""

    def __init__(self) -> None:
        self.items: list[tuple[BasePlanner, threading.Thread]] = []

    def start(self, planner: BasePlanner, wait_running: bool = True) -> threading.Thread:
        thread = threading.Thread(target=planner.start, daemon=True)
        thread.start()
        self.items.append((planner, thread))
        if wait_running:
            wait_until(lambda: planner.running, what="planner running")
        return thread

    def close(self) -> None:
        for planner, thread in self.items:
            planner.shutdown(wait=True)
            thread.join(5)
            assert not thread.is_alive(), f"{planner!r} did not stop"
            if isinstance(planner, TinyPlanner):
                for worker in planner.workers:
                    worker.join(5)


@pytest.fixture
def runner() -> Iterator[Runner]:
    r = Runner()
    yield r
    r.close()


def test_tiny_planner_passes_the_planner_contract() -> None:
    check_planner(tiny)


def test_allow_overlap_lets_a_link_run_concurrently(runner: Runner) -> None:
    slow = RecordingInlet(duration=4 * INTERVAL)
    planner = TinyPlanner(Link(slow, RecordingOutlet(), INTERVAL), allow_overlap=True,
                          immediate_transfer=False)
    assert planner.allow_overlap
    runner.start(planner)
    wait_until(lambda: slow.max_concurrent >= 2, what="two overlapping transfers")


def test_a_skipped_tick_is_logged_with_its_link(runner: Runner,
                                                caplog: pytest.LogCaptureFixture) -> None:
    slow = RecordingInlet(duration=3 * INTERVAL)
    link = Link(slow, RecordingOutlet(), INTERVAL, tags="slowlink")
    planner = TinyPlanner(link, immediate_transfer=False)
    runner.start(planner)
    wait_until(lambda: any("skipped" in r.getMessage() for r in caplog.records),
               what="a skipped tick logged")
    message = next(r.getMessage() for r in caplog.records if "skipped" in r.getMessage())
    assert "slowlink" in message
    assert slow.max_concurrent == 1


def test_shutdown_wait_true_lets_the_transfer_in_flight_finish(runner: Runner) -> None:
    slow = RecordingInlet(duration=6 * INTERVAL)
    outlet = RecordingOutlet()
    planner = TinyPlanner(Link(slow, outlet, INTERVAL), immediate_transfer=False)
    thread = runner.start(planner)
    wait_until(lambda: slow.concurrent == 1, what="a transfer in flight")
    planner.shutdown(wait=True)
    assert slow.concurrent == 0, "shutdown(wait=True) returned before the transfer ended"
    assert len(outlet.pushed) == slow.count, "the transfer in flight was not completed"
    assert slow.shutdowns == 1 and outlet.shutdowns == 1
    thread.join(5)
    assert not thread.is_alive()


def test_shutdown_wait_false_returns_at_once_and_shuts_nodes_down_after(
        runner: Runner) -> None:
    slow = RecordingInlet(duration=8 * INTERVAL)
    planner = TinyPlanner(Link(slow, RecordingOutlet(), INTERVAL), immediate_transfer=False)
    thread = runner.start(planner)
    wait_until(lambda: slow.concurrent == 1, what="a transfer in flight")
    planner.shutdown(wait=False)
    assert not planner.running
    assert slow.shutdowns == 0, "a node was shut down while its transfer was in flight"
    wait_until(lambda: slow.shutdowns == 1, what="on_shutdown after the transfer")
    assert slow.concurrent == 0
    thread.join(5)
    assert not thread.is_alive(), "start() should return once the planner has stopped"


def test_shutdown_from_inside_a_transfer_does_not_deadlock(runner: Runner) -> None:
    planner_box: list[BasePlanner] = []

    class StopOutlet(RecordingOutlet):
        def push(self, records: Any, update: Any) -> None:
            planner_box[0].shutdown(wait=True)

    inlet = RecordingInlet()
    planner = TinyPlanner(Link(inlet, StopOutlet(), INTERVAL), immediate_transfer=False)
    planner_box.append(planner)
    thread = runner.start(planner)
    thread.join(5)
    assert not thread.is_alive()
    assert inlet.shutdowns == 1


def test_start_twice_is_refused(runner: Runner) -> None:
    planner = TinyPlanner(Link(RecordingInlet(), RecordingOutlet(), INTERVAL))
    runner.start(planner)
    with pytest.raises(RuntimeError, match="already running"):
        planner.start()


def test_planner_can_start_again_after_shutdown(runner: Runner) -> None:
    inlet = RecordingInlet()
    planner = TinyPlanner(Link(inlet, RecordingOutlet(), INTERVAL))
    thread = runner.start(planner)
    wait_until(lambda: inlet.count >= 2, what="transfers")
    planner.shutdown()
    thread.join(5)
    count = inlet.count
    runner.start(planner)
    wait_until(lambda: inlet.count >= count + 2, what="transfers after restart")
    assert inlet.starts == 2


def test_link_added_while_running_is_started(runner: Runner) -> None:
    planner = TinyPlanner(immediate_transfer=False)
    runner.start(planner)
    inlet, outlet = RecordingInlet(), RecordingOutlet()
    planner.add_links(Link(inlet, outlet, INTERVAL))
    assert inlet.starts == 1 and outlet.starts == 1
    wait_until(lambda: inlet.count >= 1, what="the added link's transfer")


def test_a_link_that_cannot_be_scheduled_is_not_kept() -> None:
    class Refusing(TinyPlanner):
        def _schedule(self, link: Link) -> None:
            raise ValueError("cannot")

    planner = Refusing()
    link = Link(RecordingInlet(), RecordingOutlet(), INTERVAL)
    with pytest.raises(ValueError, match="cannot"):
        planner.add_links(link)
    assert planner.links == []


def test_a_failing_transfer_is_logged_with_its_link(runner: Runner,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="databay")
    bad = RecordingInlet(fail_pull=True)
    planner = TinyPlanner(Link(bad, RecordingOutlet(), INTERVAL, tags="badlink"),
                          immediate_transfer=False)
    thread = runner.start(planner)
    thread.join(5)
    assert not thread.is_alive(), "the planner should stop on an error it does not ignore"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("badlink" in m and "failed on purpose" in m for m in errors), errors


def test_force_transfer_waits_for_the_links_running_transfer(runner: Runner) -> None:
    slow = RecordingInlet(duration=4 * INTERVAL)
    planner = TinyPlanner(Link(slow, RecordingOutlet(), INTERVAL), immediate_transfer=False)
    runner.start(planner)
    wait_until(lambda: slow.concurrent == 1, what="a transfer in flight")
    planner.force_transfer()
    assert slow.max_concurrent == 1


def test_remove_unknown_link_and_bad_links() -> None:
    planner = TinyPlanner()
    link = Link(RecordingInlet(), RecordingOutlet(), INTERVAL)
    with pytest.raises(MissingLinkError):
        planner.remove_links(link)
    with pytest.raises(TypeError, match="Link instances.*int"):
        planner.add_links(3)  # type: ignore[arg-type]
    planner.add_links(link)
    with pytest.raises(ValueError, match="already"):
        planner.add_links(link)


@pytest.mark.parametrize("arg", ["ignore_exceptions", "immediate_transfer", "shutdown_at_exit",
                                 "allow_overlap", "handle_signals"])
def test_flags_must_be_bool(arg: str) -> None:
    with pytest.raises(TypeError, match=arg):
        TinyPlanner(**{arg: "yes"})


def test_catch_exceptions_is_a_deprecated_alias() -> None:
    with pytest.warns(DeprecationWarning, match="ignore_exceptions"):
        planner = TinyPlanner(catch_exceptions=True)
    assert planner.ignore_exceptions is True


def test_unknown_keyword_is_named() -> None:
    with pytest.raises(TypeError, match="ignore_exception"):
        TinyPlanner(ignore_exception=True)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_in_main_thread_shuts_down_gracefully(signum: int) -> None:
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signum)
    slow = RecordingInlet(duration=3 * INTERVAL)
    outlet = RecordingOutlet()
    planner = TinyPlanner(Link(slow, outlet, INTERVAL), immediate_transfer=False)

    def send() -> None:
        wait_until(lambda: slow.concurrent == 1, what="a transfer in flight")
        os.kill(os.getpid(), signum)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        planner.start()  # returns once the signal has shut the planner down
    finally:
        sender.join(5)
        planner.shutdown()
        for worker in planner.workers:
            worker.join(5)
    assert not planner.running
    assert slow.concurrent == 0
    assert len(outlet.pushed) == slow.count, "the transfer in flight was cut short"
    assert slow.shutdowns == 1 and outlet.shutdowns == 1
    assert signal.getsignal(signum) is before, "the previous handler was not restored"


def test_handle_signals_false_leaves_handlers_alone(runner: Runner) -> None:
    seen: list[Any] = []
    planner = TinyPlanner(Link(RecordingInlet(), RecordingOutlet(), INTERVAL),
                          handle_signals=False)

    def look() -> None:
        wait_until(lambda: planner.running, what="planner running")
        seen.append(signal.getsignal(signal.SIGTERM))
        planner.shutdown()

    before = signal.getsignal(signal.SIGTERM)
    looker = threading.Thread(target=look)
    looker.start()
    planner.start()
    looker.join(5)
    assert seen == [before]


def test_shutdown_at_exit_stops_a_planner_in_a_non_daemon_thread(tmp_path: Any) -> None:
    script = tmp_path / "at_exit.py"
    script.write_text(textwrap.dedent(f"""
        import sys, threading
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_base_planner import TinyPlanner
        from databay import Link
        from databay.testing.planners import RecordingInlet, RecordingOutlet, wait_until
        inlet = RecordingInlet()
        class Out(RecordingOutlet):
            def on_shutdown(self):
                print("on_shutdown", flush=True)
        planner = TinyPlanner(Link(inlet, Out(), 0.05), shutdown_at_exit=True)
        threading.Thread(target=planner.start).start()
        wait_until(lambda: inlet.count >= 1)
        print("leaving", flush=True)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["leaving", "on_shutdown"]


def test_shutdown_during_the_immediate_transfers_stops_before_scheduling() -> None:
    slow = RecordingInlet(duration=4 * INTERVAL)
    later = RecordingInlet()
    planner = TinyPlanner([Link(slow, RecordingOutlet(), INTERVAL),
                           Link(later, RecordingOutlet(), INTERVAL)])
    thread = threading.Thread(target=planner.start, daemon=True)
    thread.start()
    try:
        wait_until(lambda: slow.concurrent == 1, what="the immediate transfer")
        planner.shutdown(wait=True)
        assert slow.concurrent == 0, "shutdown(wait=True) returned during the transfer"
        thread.join(5)
        assert not thread.is_alive()
    finally:
        planner.shutdown()
        thread.join(5)
    assert later.count == 0, "an immediate transfer started after shutdown()"
    assert slow.count == 1 and slow.shutdowns == 1 and later.shutdowns == 1
    assert not planner.workers, "the planner scheduled after shutdown()"


def test_a_failing_start_planner_raises_and_leaves_nothing_running() -> None:
    class Broken(TinyPlanner):
        def _start_planner(self) -> None:
            raise RuntimeError("scheduler broke")

    inlet = RecordingInlet()
    planner = Broken(Link(inlet, RecordingOutlet(), INTERVAL), handle_signals=False)
    for _ in range(2):  # and it can be started again
        with pytest.raises(RuntimeError, match="scheduler broke"):
            planner.start()
        assert not planner.running
        assert inlet.shutdowns == inlet.starts, "a started node was left running"


def test_pause_link_refuses_a_link_not_in_the_planner() -> None:
    inside = Link(RecordingInlet(), RecordingOutlet(), INTERVAL)
    outside = Link(RecordingInlet(), RecordingOutlet(), INTERVAL)
    planner = TinyPlanner([inside])
    for call in (planner.pause_link, planner.resume_link, planner.force_transfer):
        with pytest.raises(MissingLinkError, match="not in this planner"):
            call(outside)
    planner.pause_link(inside)
    planner.remove_links(inside)
    planner.add_links(inside)
    assert not planner.link_paused(inside), "a removed link's pause is forgotten"
