"""The planner contract: checks a planner must pass, for third-party planner authors.

A planner is given by a factory ``factory(links, **options)`` that returns a new,
unstarted planner scheduling ``links``; ``options`` are BasePlanner keywords the checks
set (``ignore_exceptions``, ``immediate_transfer``). Two ways to run the checks; both
raise :class:`AssertionError` naming the check that failed, and neither needs pytest:

* One function, for any test::

      from databay.testing.planners import check_planner

      def test_my_planner():
          check_planner(lambda links, **options: MyPlanner(links, **options))

* A base class, one test per check::

      from databay.testing.planners import PlannerContract

      class TestMyPlanner(PlannerContract):
          def make_planner(self, links, **options):
              return MyPlanner(links, **options)

What is checked: the links API (``links``, ``add_links``/``remove_links``/``purge``,
errors for non-Links and unknown links); transfers repeat on the interval and never
overlap for one link; immediate transfers; ``start()`` blocks in a thread and
``shutdown(wait=True)`` ends it, after which no transfer starts; ``on_start`` and
``on_shutdown`` run once per node, even for nodes shared by links; a failing immediate
transfer or ``on_start`` stops the planner cleanly (``start()`` returns, ``running`` is
False, started nodes are shut down); ``ignore_exceptions`` keeps going; links added and
removed while running; ``force_transfer``; ``pause``/``resume``; ``shutdown()`` before
``start()`` and twice; the ``databay_planner_started``/``_stopped`` hooks.

Nothing hangs: every wait is bounded (``timeout`` seconds), ``shutdown()`` and
``start()`` included, and each check as a whole gets ``CHECK_BUDGET * timeout`` seconds,
so planner code that blocks (a ``_shutdown_planner`` that does not make
``_start_planner`` return, a ``_schedule`` that never returns) fails the check, named,
instead of hanging the test run. Every planner started is shut down and its thread
joined, even when a check fails (a planner that cannot be stopped is left in a daemon
thread).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from databay import plugins
from databay.base_planner import BasePlanner
from databay.errors import MissingLinkError
from databay.hookspecs import hookimpl
from databay.inlet import Inlet
from databay.link import Link, Update
from databay.outlet import Outlet
from databay.record import Record

__all__ = [
    "CHECKS",
    "PlannerContract",
    "PlannerFactory",
    "RecordingInlet",
    "RecordingOutlet",
    "check_planner",
    "planner_tests",
    "run_check",
    "wait_until",
]

PlannerFactory = Callable[..., BasePlanner]

#: Interval of the links the checks schedule, in seconds.
INTERVAL = 0.05
#: The longest any single wait of a check lasts, in seconds.
TIMEOUT = 5.0


class RecordingInlet(Inlet):
    """Records when it is pulled and started; can be slow or fail on demand."""

    def __init__(self, *, duration: float = 0.0, fail_pull: bool = False,
                 fail_start: bool = False) -> None:
        super().__init__()
        self.duration = duration
        self.fail_pull = fail_pull
        self.fail_start = fail_start
        self.pulls: list[float] = []
        self.starts = 0
        self.shutdowns = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()
        self._pause = threading.Event()

    def on_start(self) -> None:
        self.starts += 1
        if self.fail_start:
            raise RuntimeError("RecordingInlet.on_start failed on purpose")

    def on_shutdown(self) -> None:
        self.shutdowns += 1

    def pull(self, update: Update) -> Any:
        with self._lock:
            self.pulls.append(time.monotonic())
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if self.duration:
                self._pause.wait(self.duration)  # a transfer that takes this long
            if self.fail_pull:
                raise RuntimeError("RecordingInlet.pull failed on purpose")
            return [len(self.pulls)]
        finally:
            with self._lock:
                self.concurrent -= 1

    @property
    def count(self) -> int:
        return len(self.pulls)


class RecordingOutlet(Outlet):
    """Counts pushes, starts and shutdowns."""

    def __init__(self) -> None:
        super().__init__()
        self.pushed: list[Record] = []
        self.starts = 0
        self.shutdowns = 0
        self._lock = threading.Lock()

    def on_start(self) -> None:
        self.starts += 1

    def on_shutdown(self) -> None:
        self.shutdowns += 1

    def push(self, records: list[Record], update: Update) -> None:
        with self._lock:
            self.pushed.extend(records)


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT,
               what: str = "condition") -> None:
    """Return as soon as ``predicate()`` is true; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(0.005)


def _quiet_window(seconds: float) -> None:
    """Observe for ``seconds`` (checks that something does *not* happen)."""
    threading.Event().wait(seconds)


def _call_bounded(what: str, func: Callable[[], Any], timeout: float) -> Any:
    """``func()`` in a thread of its own, waited for at most ``timeout`` s: planner code
    that never returns fails the check instead of hanging the test run."""
    outcome: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(func())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="contract-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"{what} did not return within {timeout} s")
    if errors:
        raise errors[0]
    return outcome[0] if outcome else None


def _shutdown(planner: BasePlanner, timeout: float, wait: bool = True) -> None:
    """``planner.shutdown(wait)``, bounded: AssertionError when it blocks or, with
    ``wait``, returns before the planner has stopped."""
    what = f"{planner!r}: shutdown(wait={wait})"
    if type(planner).shutdown is BasePlanner.shutdown and wait:
        stopped = _call_bounded(what, lambda: planner.shutdown(wait=True, timeout=timeout),
                                timeout + 1.0)
        if stopped is False:
            raise AssertionError(
                f"{what} did not stop the planner within {timeout} s: its "
                "_shutdown_planner() must make _start_planner() return, and transfers in "
                "flight must end")
    else:
        _call_bounded(what, lambda: planner.shutdown(wait=wait), timeout)


class _Started:
    def __init__(self, planner: BasePlanner, thread: threading.Thread,
                 errors: list[BaseException]) -> None:
        self.planner = planner
        self.thread = thread
        self.errors = errors


@contextmanager
def _started(planner: BasePlanner, timeout: float, *,
             wait_running: bool = True) -> Iterator[_Started]:
    """Run ``planner.start()`` in a thread; shut down and join it on exit, each bounded
    by ``timeout``."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            planner.start()
        except BaseException as exc:  # reported by the check
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"contract-{type(planner).__name__}",
                              daemon=True)
    thread.start()
    try:
        if wait_running:
            wait_until(lambda: planner.running or not thread.is_alive(), timeout,
                       f"{type(planner).__name__}.running after start()")
        yield _Started(planner, thread, errors)
    finally:
        _shutdown(planner, timeout)
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError(f"{planner!r}: start() did not return within {timeout} s "
                                 f"of shutdown(wait=True): _shutdown_planner() must make "
                                 f"_start_planner() return")
    if errors:
        raise AssertionError(f"{planner!r}: start() raised {errors[0]!r}") from errors[0]


def _link(inlet: Inlet, outlet: Outlet | None = None, interval: float = INTERVAL,
          **kwargs: Any) -> Link:
    return Link(inlet, outlet if outlet is not None else RecordingOutlet(), interval, **kwargs)


# -- the checks ---------------------------------------------------------------------


def check_links_api(factory: PlannerFactory, interval: float = INTERVAL,
                    timeout: float = TIMEOUT) -> None:
    """``links``, ``add_links``/``remove_links``/``purge`` and their errors."""
    a, b, c = (_link(RecordingInlet(), interval=interval) for _ in range(3))
    planner = factory([a])
    assert isinstance(planner, BasePlanner), f"{planner!r} is not a BasePlanner"
    assert planner.links == [a], f"links should be [a], got {planner.links!r}"
    planner.add_links([b, c])
    assert planner.links == [a, b, c], "add_links([b, c]) should append both links"
    assert b.job is not None, "_schedule should set link.job"
    planner.remove_links(b)
    assert planner.links == [a, c], "remove_links(b) should remove b"
    assert b.job is None, "_unschedule should reset link.job"
    for bad in (object(), "link", [a, 1]):
        try:
            planner.add_links(bad)  # type: ignore[arg-type]
        except TypeError as exc:
            assert "Link" in str(exc), f"TypeError for a non-Link should say so: {exc}"
        else:
            raise AssertionError(f"add_links({bad!r}) should raise TypeError")
    try:
        planner.remove_links(b)
    except MissingLinkError:
        pass
    else:
        raise AssertionError("remove_links of an unknown link should raise MissingLinkError")
    planner.purge()
    assert planner.links == [], "purge() should remove every link"
    _shutdown(planner, timeout)


def check_transfers_on_interval(factory: PlannerFactory, interval: float = INTERVAL,
                                timeout: float = TIMEOUT) -> None:
    """Transfers repeat on the interval; after shutdown(wait=True) none starts."""
    inlet, outlet = RecordingInlet(), RecordingOutlet()
    planner = factory([_link(inlet, outlet, interval)], immediate_transfer=False)
    with _started(planner, timeout) as run:
        started = time.monotonic()
        assert run.thread.is_alive(), "start() should block while the planner runs"
        assert planner.running, "running should be True while the planner runs"
        wait_until(lambda: inlet.count >= 4, timeout, "4 transfers")
        first, last = inlet.pulls[0], inlet.pulls[3]
        assert first - started > -0.01, "with immediate_transfer=False, no transfer at start"
        spacing = (last - first) / 3
        assert 0.5 * interval <= spacing <= 3 * interval, (
            f"transfers should come every {interval} s, came every {spacing:.3f} s")
        _shutdown(planner, timeout)
        assert not planner.running, "running should be False after shutdown()"
        after = inlet.count
        _quiet_window(3 * interval)
        assert inlet.count == after, "a transfer started after shutdown() returned"
    assert len(outlet.pushed) == inlet.count, "every pulled record should be pushed"


def check_immediate_transfer(factory: PlannerFactory, interval: float = INTERVAL,
                             timeout: float = TIMEOUT) -> None:
    """With immediate_transfer, each link transfers once at start (if the link agrees)."""
    now_inlet, later_inlet = RecordingInlet(), RecordingInlet()
    links = [_link(now_inlet, interval=60.0),
             _link(later_inlet, interval=60.0, immediate_transfer=False)]
    planner = factory(links)
    with _started(planner, timeout):
        wait_until(lambda: now_inlet.count == 1, timeout, "the immediate transfer")
    assert later_inlet.count == 0, "a link with immediate_transfer=False transferred at start"


def check_nodes_start_and_shutdown_once(factory: PlannerFactory, interval: float = INTERVAL,
                                        timeout: float = TIMEOUT) -> None:
    """on_start and on_shutdown run once per node, even for a node shared by links."""
    shared = RecordingOutlet()
    inlets = [RecordingInlet(), RecordingInlet()]
    planner = factory([_link(i, shared, interval) for i in inlets])
    with _started(planner, timeout):
        wait_until(lambda: all(i.count >= 2 for i in inlets), timeout, "2 transfers per link")
        nodes: list[RecordingInlet | RecordingOutlet] = [*inlets, shared]
        for node in nodes:
            assert node.starts == 1, f"{node!r}.on_start ran {node.starts} times, not once"
            assert node.shutdowns == 0, f"{node!r} was shut down while running"
    for node in nodes:
        assert node.shutdowns == 1, f"{node!r}.on_shutdown ran {node.shutdowns} times, not once"
        assert not node.active, f"{node!r} is still active after shutdown"


def check_failing_immediate_transfer_stops(factory: PlannerFactory,
                                           interval: float = INTERVAL,
                                           timeout: float = TIMEOUT) -> None:
    """A failing immediate transfer (not ignored) stops the planner cleanly."""
    good, bad = RecordingInlet(), RecordingInlet(fail_pull=True)
    outlet = RecordingOutlet()
    planner = factory([_link(good, outlet, interval), _link(bad, outlet, interval)])
    with _started(planner, timeout, wait_running=False) as run:
        run.thread.join(timeout)
        assert not run.thread.is_alive(), "start() should return after a failed start"
        assert not planner.running, "running should be False after a failed start"
        for node in (good, bad, outlet):
            assert node.shutdowns == 1, f"{node!r} was started but not shut down"
        count = good.count
        _quiet_window(3 * interval)
        assert good.count == count, "a link transferred after the planner stopped"


def check_failing_on_start_stops(factory: PlannerFactory, interval: float = INTERVAL,
                                 timeout: float = TIMEOUT) -> None:
    """A failing on_start (not ignored) stops the planner; started nodes get on_shutdown."""
    first, failing = RecordingInlet(), RecordingInlet(fail_start=True)
    planner = factory([_link(first, interval=interval), _link(failing, interval=interval)])
    with _started(planner, timeout, wait_running=False) as run:
        run.thread.join(timeout)
        assert not run.thread.is_alive(), "start() should return after on_start failed"
        assert not planner.running, "running should be False after on_start failed"
        assert first.starts == 1 and first.shutdowns == 1, (
            "a node started before the failure should be shut down")
        assert first.count == 0 and failing.count == 0, "no transfer after on_start failed"


def check_ignore_exceptions(factory: PlannerFactory, interval: float = INTERVAL,
                            timeout: float = TIMEOUT) -> None:
    """With ignore_exceptions, a failing link keeps its schedule and the others go on."""
    good, bad = RecordingInlet(), RecordingInlet(fail_pull=True)
    planner = factory([_link(good, interval=interval), _link(bad, interval=interval)],
                      ignore_exceptions=True)
    with _started(planner, timeout):
        wait_until(lambda: bad.count >= 3 and good.count >= 3, timeout,
                   "3 transfers of each link despite failures")
        assert planner.running, "the planner should still run when exceptions are ignored"


def check_no_overlap(factory: PlannerFactory, interval: float = INTERVAL,
                     timeout: float = TIMEOUT) -> None:
    """A link whose transfer outlasts its interval never runs twice at once."""
    slow = RecordingInlet(duration=2.5 * interval)
    planner = factory([_link(slow, interval=interval)], immediate_transfer=False)
    with _started(planner, timeout):
        wait_until(lambda: slow.count >= 3, timeout, "3 slow transfers")
    assert slow.max_concurrent == 1, (
        f"a link ran {slow.max_concurrent} transfers at once; by default it must not overlap")


def check_add_and_remove_while_running(factory: PlannerFactory, interval: float = INTERVAL,
                                       timeout: float = TIMEOUT) -> None:
    """Links added while running are started and scheduled; removed ones stop."""
    first, added = RecordingInlet(), RecordingInlet()
    link = _link(first, interval=interval)
    planner = factory([link], immediate_transfer=False)
    with _started(planner, timeout):
        wait_until(lambda: first.count >= 1, timeout, "the first link's transfer")
        new = _link(added, interval=interval)
        planner.add_links(new)
        assert added.active, "a link added while running should have its nodes started"
        wait_until(lambda: added.count >= 2, timeout, "2 transfers of the added link")
        planner.remove_links(link)
        assert link not in planner.links
        wait_until(lambda: first.concurrent == 0, timeout, "the removed link's last transfer")
        count = first.count
        _quiet_window(3 * interval)
        assert first.count == count, "a removed link kept transferring"
    assert first.shutdowns == 1 and added.shutdowns == 1, "every started node is shut down"


def check_force_transfer(factory: PlannerFactory, interval: float = INTERVAL,
                         timeout: float = TIMEOUT) -> None:
    """force_transfer() transfers every link once, in the calling thread."""
    inlets = [RecordingInlet(), RecordingInlet()]
    planner = factory([_link(i, interval=60.0) for i in inlets])
    planner.force_transfer()
    assert [i.count for i in inlets] == [1, 1], "force_transfer should transfer each link once"
    _shutdown(planner, timeout)


def check_pause_resume(factory: PlannerFactory, interval: float = INTERVAL,
                       timeout: float = TIMEOUT) -> None:
    """While paused no scheduled transfer starts; resume() brings them back."""
    inlet = RecordingInlet()
    planner = factory([_link(inlet, interval=interval)], immediate_transfer=False)
    with _started(planner, timeout):
        wait_until(lambda: inlet.count >= 1, timeout, "a transfer")
        planner.pause()
        wait_until(lambda: inlet.concurrent == 0, timeout, "the transfer in flight")
        count = inlet.count
        _quiet_window(3 * interval)
        assert inlet.count == count, "a transfer started while paused"
        planner.resume()
        wait_until(lambda: inlet.count >= count + 2, timeout, "transfers after resume()")


def check_pause_link(factory: PlannerFactory, interval: float = INTERVAL,
                     timeout: float = TIMEOUT) -> None:
    """pause_link(a) skips a's ticks while b runs on; force_transfer(a) still runs it;
    resume_link(a) brings its ticks back."""
    a_in, b_in = RecordingInlet(), RecordingInlet()
    a, b = _link(a_in, interval=interval), _link(b_in, interval=interval)
    planner = factory([a, b], immediate_transfer=False)
    with _started(planner, timeout):
        wait_until(lambda: a_in.count >= 1, timeout, "a transfer of a")
        planner.pause_link(a)
        assert planner.link_paused(a) and not planner.link_paused(b), \
            "link_paused should be True for the paused link only"
        wait_until(lambda: a_in.concurrent == 0, timeout, "a's transfer in flight")
        count, others = a_in.count, b_in.count
        _quiet_window(3 * interval)
        assert a_in.count == count, "a paused link's tick started a transfer"
        wait_until(lambda: b_in.count >= others + 2, timeout, "the other link's transfers")
        planner.force_transfer(a)
        assert a_in.count == count + 1, "force_transfer(link) should run a paused link once"
        planner.resume_link(a)
        assert not planner.link_paused(a)
        wait_until(lambda: a_in.count >= count + 3, timeout, "a's transfers after resume_link")


def check_shutdown_is_harmless(factory: PlannerFactory, interval: float = INTERVAL,
                               timeout: float = TIMEOUT) -> None:
    """shutdown() before start() and twice after is harmless; start() works after."""
    inlet = RecordingInlet()
    planner = factory([_link(inlet, interval=interval)])
    _shutdown(planner, timeout)
    _shutdown(planner, timeout, wait=False)
    assert not planner.running
    with _started(planner, timeout):
        wait_until(lambda: inlet.count >= 2, timeout, "2 transfers")
        _shutdown(planner, timeout, wait=False)
        _shutdown(planner, timeout)
        assert not planner.running
    _shutdown(planner, timeout)
    assert inlet.shutdowns == 1, "on_shutdown should run once however often shutdown() is called"


class _HookRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, BasePlanner]] = []

    @hookimpl
    def databay_planner_started(self, planner: BasePlanner) -> None:
        self.events.append(("started", planner))

    @hookimpl
    def databay_planner_stopped(self, planner: BasePlanner) -> None:
        self.events.append(("stopped", planner))


def check_planner_hooks(factory: PlannerFactory, interval: float = INTERVAL,
                        timeout: float = TIMEOUT) -> None:
    """databay_planner_started and databay_planner_stopped fire once per run."""
    recorder = _HookRecorder()
    name = plugins.register(recorder, name=f"planner-contract-{id(recorder)}")
    try:
        planner = factory([_link(RecordingInlet(), interval=interval)])
        with _started(planner, timeout):
            wait_until(lambda: ("started", planner) in recorder.events, timeout,
                       "databay_planner_started")
        mine = [event for event, p in recorder.events if p is planner]
        assert mine == ["started", "stopped"], f"hooks fired {mine}, not [started, stopped]"
    finally:
        plugins.unregister(name)


#: Every check, by name.
CHECKS: dict[str, Callable[..., None]] = {
    "links_api": check_links_api,
    "transfers_on_interval": check_transfers_on_interval,
    "immediate_transfer": check_immediate_transfer,
    "nodes_start_and_shutdown_once": check_nodes_start_and_shutdown_once,
    "failing_immediate_transfer_stops": check_failing_immediate_transfer_stops,
    "failing_on_start_stops": check_failing_on_start_stops,
    "ignore_exceptions": check_ignore_exceptions,
    "no_overlap": check_no_overlap,
    "add_and_remove_while_running": check_add_and_remove_while_running,
    "force_transfer": check_force_transfer,
    "pause_resume": check_pause_resume,
    "pause_link": check_pause_link,
    "shutdown_is_harmless": check_shutdown_is_harmless,
    "planner_hooks": check_planner_hooks,
}


#: A check as a whole gets this many ``timeout`` s before it fails as hung (each of its
#: waits is bounded by ``timeout`` too; this also bounds planner code the check calls).
CHECK_BUDGET = 8


def run_check(name: str, factory: PlannerFactory, interval: float = INTERVAL,
              timeout: float = TIMEOUT) -> None:
    """Run the check ``name`` of :data:`CHECKS`; AssertionError naming it when it fails
    or does not finish within ``CHECK_BUDGET * timeout`` s."""
    check = CHECKS[name]
    budget = CHECK_BUDGET * timeout
    try:
        _call_bounded(f"the check (planner code blocked; budget {budget:g} s)",
                      lambda: check(factory, interval, timeout), budget)
    except AssertionError as exc:
        raise AssertionError(f"planner contract check {name!r} failed: {exc}") from exc


def check_planner(factory: PlannerFactory, interval: float = INTERVAL,
                  timeout: float = TIMEOUT) -> None:
    """Run every check against planners made by ``factory(links, **options)``."""
    for name in CHECKS:
        run_check(name, factory, interval, timeout)


class PlannerContract:
    """Base class of a test class that runs each check as its own test.

    Override :meth:`make_planner`; set ``interval`` and ``timeout`` to tune the checks.
    """

    interval: float = INTERVAL
    timeout: float = TIMEOUT

    def make_planner(self, links: list[Link], **options: Any) -> BasePlanner:
        raise NotImplementedError("PlannerContract subclasses implement make_planner()")

    def _check(self, name: str) -> None:
        run_check(name, self.make_planner, self.interval, self.timeout)

    def test_links_api(self) -> None:
        self._check("links_api")

    def test_transfers_on_interval(self) -> None:
        self._check("transfers_on_interval")

    def test_immediate_transfer(self) -> None:
        self._check("immediate_transfer")

    def test_nodes_start_and_shutdown_once(self) -> None:
        self._check("nodes_start_and_shutdown_once")

    def test_failing_immediate_transfer_stops(self) -> None:
        self._check("failing_immediate_transfer_stops")

    def test_failing_on_start_stops(self) -> None:
        self._check("failing_on_start_stops")

    def test_ignore_exceptions(self) -> None:
        self._check("ignore_exceptions")

    def test_no_overlap(self) -> None:
        self._check("no_overlap")

    def test_add_and_remove_while_running(self) -> None:
        self._check("add_and_remove_while_running")

    def test_force_transfer(self) -> None:
        self._check("force_transfer")

    def test_pause_resume(self) -> None:
        self._check("pause_resume")

    def test_shutdown_is_harmless(self) -> None:
        self._check("shutdown_is_harmless")

    def test_planner_hooks(self) -> None:
        self._check("planner_hooks")


def planner_tests(factory: PlannerFactory, *, name: str | None = None,
                  interval: float = INTERVAL, timeout: float = TIMEOUT) -> type[PlannerContract]:
    """A test class running the whole planner contract (one test per check) on planners
    made by ``factory(links, **options)``; assign it to a ``Test...`` name in a test
    module. Other parameters of ``factory`` without a default name pytest fixtures."""
    from databay.testing._suites import _name, fixture_names, with_fixtures

    try:
        import inspect

        params = inspect.signature(factory).parameters.values()
        first = next(iter(params)).name if params else None
    except (TypeError, ValueError):
        first = None
    passed = {"links"} if first is None else {"links", first}
    fixtures = fixture_names(factory, passed)

    class Suite(PlannerContract):
        def make_planner(self, links: list[Link], **options: Any) -> BasePlanner:
            values = getattr(self, "_databay_fixtures", {})
            return factory(links, **values, **options)

    Suite.interval = interval
    Suite.timeout = timeout
    with_fixtures(Suite, fixtures)
    _name(Suite, name, factory, "Planner")
    return Suite
