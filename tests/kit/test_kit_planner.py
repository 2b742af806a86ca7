"""The planner kit never hangs, and a planner taking ``**kwargs`` keeps ``databay run``'s
signal handling (issue 13, points 6 and 7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databay import BasePlanner, Link
from databay.testing.planners import (
    PlannerContract,
    RecordingInlet,
    check_planner,
    wait_until,
)

#: A third-party-style planner that forwards ``**kwargs`` to BasePlanner: one loop in
#: ``_start_planner`` ticks every link on its interval. Used here and, as source, by the
#: ``databay run`` subprocess.
LOOP_PLANNER = '''
import threading
import time

from databay import BasePlanner, Outlet


class LoopPlanner(BasePlanner):
    def __init__(self, links=None, **kwargs):
        self._stop = threading.Event()
        self._run = False
        super().__init__(links, **kwargs)

    @property
    def running(self):
        return self._run

    def _schedule(self, link):
        link.set_job(("loop", id(link)))

    def _unschedule(self, link):
        link.set_job(None)

    def _start_planner(self):
        if self._stopping:
            return
        self._run = True
        due = {}
        try:
            while not self._stop.wait(0.005):
                now = time.monotonic()
                with self._links_lock:
                    links = list(self.links)
                for link in links:
                    step = link.interval.total_seconds()
                    if due.setdefault(link, now + step) <= now:
                        due[link] = now + step
                        self._run_tick(link)
        finally:
            self._run = False
            self._stop.clear()

    def _shutdown_planner(self, wait=True):
        self._stop.set()


class MarkerOutlet(Outlet):
    def __init__(self, marker, processors=None):
        super().__init__(processors)
        self.marker = marker

    def push(self, records, update):
        with open(self.marker, "a") as f:
            f.write(f"push {len(records)}\\n")
'''

_namespace: dict[str, Any] = {"__name__": "loop_planner"}
exec(compile(LOOP_PLANNER, "loop_planner", "exec"), _namespace)
LoopPlanner: type[BasePlanner] = _namespace["LoopPlanner"]


class HangingPlanner(LoopPlanner):  # type: ignore[misc,valid-type]
    """Its ``_shutdown_planner`` forgets to make ``_start_planner`` return."""

    made: list[HangingPlanner] = []

    def __init__(self, links: Any = None, **kwargs: Any) -> None:
        super().__init__(links, **kwargs)
        HangingPlanner.made.append(self)

    def _shutdown_planner(self, wait: bool = True) -> None:
        pass


class BlockingSchedulePlanner(LoopPlanner):  # type: ignore[misc,valid-type]
    """Its ``_schedule`` blocks until released: planner code the kit calls that hangs."""

    release = threading.Event()

    def _schedule(self, link: Link) -> None:
        self.release.wait()
        super()._schedule(link)


@pytest.fixture
def hanging() -> Iterator[list[HangingPlanner]]:
    HangingPlanner.made.clear()
    yield HangingPlanner.made
    for planner in HangingPlanner.made:  # let every start() the kit left behind return
        planner._stop.set()
        assert planner.shutdown(wait=True, timeout=10), f"{planner!r} did not stop"
    HangingPlanner.made.clear()


def test_a_planner_taking_kwargs_passes_the_contract() -> None:
    check_planner(LoopPlanner)


@pytest.mark.timeout(60)
def test_a_shutdown_that_does_not_stop_the_planner_fails_the_check_instead_of_hanging(
        hanging: list[HangingPlanner]) -> None:
    began = time.monotonic()
    with pytest.raises(AssertionError) as caught:
        check_planner(HangingPlanner, timeout=0.5)
    message = str(caught.value)
    assert message.startswith("planner contract check 'transfers_on_interval' failed:")
    assert "shutdown(wait=True) did not stop the planner within 0.5 s" in message
    assert "_shutdown_planner() must make _start_planner() return" in message
    assert time.monotonic() - began < 20
    assert hanging


class HangingContract(PlannerContract):
    timeout = 0.5

    def make_planner(self, links: list[Link], **options: Any) -> BasePlanner:
        return HangingPlanner(links, **options)


@pytest.mark.timeout(60)
def test_the_contract_class_names_the_check_that_hung(hanging: list[HangingPlanner]) -> None:
    with pytest.raises(AssertionError, match=r"^planner contract check 'immediate_transfer' "
                                             r"failed: .*did not stop the planner"):
        HangingContract().test_immediate_transfer()


@pytest.mark.timeout(60)
def test_planner_code_that_blocks_fails_the_check_within_its_budget() -> None:
    BlockingSchedulePlanner.release.clear()
    try:
        began = time.monotonic()
        with pytest.raises(AssertionError, match=r"^planner contract check 'links_api' "
                                                 r"failed: the check \(planner code blocked; "
                                                 r"budget 1\.6 s\) did not return within 1\.6 s"):
            check_planner(BlockingSchedulePlanner, timeout=0.2)
        assert time.monotonic() - began < 15
    finally:
        BlockingSchedulePlanner.release.set()


def test_shutdown_timeout_says_whether_the_planner_stopped(
        hanging: list[HangingPlanner]) -> None:
    stuck = HangingPlanner([Link(RecordingInlet(), [], 0.05)])
    thread = threading.Thread(target=stuck.start, daemon=True)
    thread.start()
    wait_until(lambda: stuck.running, what="the planner running")
    began = time.monotonic()
    assert stuck.shutdown(wait=True, timeout=0.3) is False
    assert 0.25 <= time.monotonic() - began < 10
    stuck._stop.set()
    assert stuck.shutdown(wait=True, timeout=10) is True
    thread.join(10)
    assert not thread.is_alive()

    good = LoopPlanner([Link(RecordingInlet(), [], 0.05)])
    assert good.shutdown(timeout=0) is True  # never started: nothing to wait for
    with pytest.raises(ValueError, match=r"LoopPlanner.shutdown\(timeout=...\) must be a "
                                         r"number of seconds >= 0 or None, got -1"):
        good.shutdown(timeout=-1)


def test_handle_signals_is_settable_whatever_the_constructor_takes() -> None:
    planner = LoopPlanner()
    assert planner.handle_signals is True
    planner.handle_signals = False
    assert planner.handle_signals is False
    with pytest.raises(TypeError, match="LoopPlanner.*handle_signals"):
        planner.handle_signals = "no"  # type: ignore[assignment]


PIPELINE = """
[planner]
type = "loop_planner:LoopPlanner"

[[links]]
name = "numbers"
interval = "50ms"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "loop_planner:MarkerOutlet"
marker = "{marker}"
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.timeout(90)
def test_databay_run_stops_a_kwargs_planner_gracefully_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "loop_planner.py").write_text(textwrap.dedent(LOOP_PLANNER))
    marker = tmp_path / "marker.txt"
    (tmp_path / "pipeline.toml").write_text(PIPELINE.format(marker=marker.as_posix()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABAY_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "databay", "run", "pipeline.toml"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: marker.exists() and marker.read_text().count("push") >= 2, 30,
                   "two transfers of the running pipeline")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    assert "stopped by SIGTERM" in out, out
    assert "stopped on its own" not in out + err
