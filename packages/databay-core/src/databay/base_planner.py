"""BasePlanner: the interface every planner implements, and the lifecycle they share.

Extending BasePlanner
---------------------
A planner implements four hooks and one property; BasePlanner does everything else
(node start/shutdown, immediate transfers, error handling, non-overlap, signals, hooks):

``_schedule(link)``
    Start calling ``self._run_tick(link)`` on the link's schedule and
    ``link.set_job(handle)``. Called with ``self._links_lock`` held, by ``add_links``
    (also before ``start()``).
``_unschedule(link)``
    Stop scheduling ``link`` and ``link.set_job(None)``. Called with ``self._links_lock`` held.
``_start_planner()``
    Begin scheduling. The built-in planners block here until ``_shutdown_planner`` is
    called. A shutdown may race with it: ``self._stopping`` is True once ``shutdown()``
    was called for this run (it is set before ``_shutdown_planner`` is called), so
    ``_start_planner`` checks it under the lock ``_shutdown_planner`` takes, and returns
    at once when it is set.
``_shutdown_planner(wait)``
    Stop scheduling and make ``_start_planner`` return. Ticks that still arrive are
    refused by BasePlanner. With ``wait``, wait for running ticks. Called once per run
    that reached ``_start_planner``, from any thread (from a transfer's own thread with
    ``wait=False``); ``shutdown(wait=False)`` returns as soon as it does, so slow
    tidying up belongs at the end of ``_start_planner``, in the thread of ``start()``.
``running``
    True while the planner schedules.

Schedules
---------
``link.schedule`` is a :class:`databay.schedules.Schedule`: an ``Interval`` for links
made with ``interval=`` (``link.interval`` is its timedelta), or a ``Cron``, or an
``Interval`` with ``start``/``end``/``jitter``. A planner written for intervals only
(``supports_schedules = False``, the default) is given only plain-interval links:
``add_links`` refuses any other with :class:`~databay.errors.UnsupportedScheduleError`
naming the link and its schedule. A planner that sets ``supports_schedules = True``
fires each link at ``link.schedule.next_after(previous fire)`` (plus
``schedule.jitter_delay()``), coalescing fires it missed into one, and reports when a
link fires next by overriding :meth:`BasePlanner._next_fire` (``next_fire_time`` shows it).

Each tick calls :meth:`BasePlanner._run_tick` (or :meth:`BasePlanner._claim` when the
tick is queued, then :meth:`BasePlanner._run_claimed` when it runs). Those refuse ticks
after ``shutdown()``, while the planner or the tick's link is paused (``pause()``,
``pause_link(link)``: every planner gets both, with nothing to implement), and,
unless ``allow_overlap``, while the same link is still transferring: such a tick is
*skipped* and logged, never queued for later.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import signal
import threading
import time
import warnings
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar

from databay._hooks import fire as _fire
from databay._validate import flag
from databay.delivery import StateStore
from databay.errors import MissingLinkError, UnsupportedScheduleError
from databay.link import Link
from databay.schedules import Interval

if TYPE_CHECKING:
    from concurrent.futures import Executor

__all__ = ["BasePlanner"]

#: how often a main thread that waits looks at signals handed to other threads
_MAIN_THREAD_SLICE = 0.2

_LOGGER = logging.getLogger("databay.BasePlanner")

_IDLE, _STARTING, _SCHEDULING, _STOPPING = "idle", "starting", "scheduling", "stopping"

_SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class BasePlanner(ABC):
    """Schedules links. Subclasses implement the scheduling hooks (see the module doc).

    ``start()`` starts every link's nodes, runs the immediate transfers, then calls
    ``_start_planner()`` (which blocks in the built-in planners) and returns once the
    planner has fully stopped. In the main thread, SIGINT and SIGTERM shut it down
    gracefully while ``start()`` runs. ``shutdown()`` stops scheduling, lets transfers in
    flight finish, then calls ``on_shutdown`` once per node.

    When a link fails and ``ignore_exceptions`` is False, the error is logged with the
    link and the planner shuts down cleanly: ``start()`` returns and every node that
    was started gets ``on_shutdown``.

    :param links: a Link or a list of them.
    :param ignore_exceptions: log failing transfers and go on, instead of shutting down.
    :param immediate_transfer: transfer each link once at start (if the link agrees).
    :param shutdown_at_exit: shut the planner down when the interpreter exits.
    :param catch_exceptions: deprecated alias of ``ignore_exceptions``.
    :param allow_overlap: let a link transfer again while its previous transfer still
        runs. By default such a tick is skipped and logged.
    :param handle_signals: in the main thread, let SIGINT/SIGTERM shut the planner down
        gracefully while ``start()`` runs (a second signal gets the previous handler).
    """

    #: True when the planner runs any :mod:`databay.schedules` schedule (cron, intervals
    #: with start/end/jitter); False: only plain intervals, others are refused.
    supports_schedules: ClassVar[bool] = False

    def __init__(
        self,
        links: Link | Sequence[Link] | None = None,
        ignore_exceptions: bool = False,
        immediate_transfer: bool = True,
        shutdown_at_exit: bool = False,
        *,
        catch_exceptions: bool | None = None,
        allow_overlap: bool = False,
        handle_signals: bool = True,
        state_store: StateStore | None = None,
    ) -> None:
        owner = type(self).__name__
        if state_store is not None and not isinstance(state_store, StateStore):
            raise TypeError(f"{owner}(state_store=...) must be a databay.delivery.StateStore, "
                            f"got {state_store!r}")
        #: checkpoint store for links that have none of their own (and have tags)
        self.state_store = state_store
        if catch_exceptions is not None:
            warnings.warn(
                f"{owner}(catch_exceptions=...) is deprecated, use ignore_exceptions=...",
                DeprecationWarning, stacklevel=3,
            )
            ignore_exceptions = flag(catch_exceptions, owner, "catch_exceptions")
        self._links: list[Link] = []
        self._ignore_exceptions = flag(ignore_exceptions, owner, "ignore_exceptions")
        self.immediate_transfer = flag(immediate_transfer, owner, "immediate_transfer")
        self._shutdown_at_exit = flag(shutdown_at_exit, owner, "shutdown_at_exit")
        self._allow_overlap = flag(allow_overlap, owner, "allow_overlap")
        self._handle_signals = flag(handle_signals, owner, "handle_signals")
        #: Held while links are added or removed and while ``_schedule``/``_unschedule``
        #: run; a planner may take it to read ``links`` consistently.
        self._links_lock = threading.RLock()
        self._cond = threading.Condition(threading.Lock())
        self._phase = _IDLE
        self._stopping = False  # scheduled transfers refused (from shutdown() to start())
        self._planner_stop_called = False
        self._finishing = False
        self._started_fired = False
        self._paused = False
        self._paused_links: set[Link] = set()
        self._inflight = 0
        self._busy: set[Link] = set()
        self._started_links: list[Link] = []
        self._stopped = threading.Event()
        self._stopped.set()
        self._finisher: threading.Thread | None = None
        self._in_start_planner = False
        self._local = threading.local()
        if shutdown_at_exit:
            ref = weakref.ref(self)

            def _at_exit() -> None:
                planner = ref()
                if planner is not None and planner._phase != _IDLE:
                    planner.shutdown(True)

            # threading's exit hooks run before non-daemon threads are joined, so a
            # planner running in such a thread is stopped instead of blocking exit
            register = getattr(threading, "_register_atexit", None)
            try:
                if register is None:
                    raise RuntimeError
                register(_at_exit)
            except RuntimeError:
                atexit.register(_at_exit)
        if links is not None:
            self.add_links(links)

    @property
    def links(self) -> list[Link]:
        """The links this planner schedules."""
        return self._links

    @property
    def ignore_exceptions(self) -> bool:
        return self._ignore_exceptions

    @property
    def shutdown_at_exit(self) -> bool:
        return self._shutdown_at_exit

    @property
    def allow_overlap(self) -> bool:
        return self._allow_overlap

    @property
    def handle_signals(self) -> bool:
        """Whether ``start()``, in the main thread, lets SIGINT/SIGTERM shut the planner
        down. Settable before ``start()`` whatever the subclass's constructor takes: an
        application that handles signals itself (``databay run`` does) turns it off."""
        return self._handle_signals

    @handle_signals.setter
    def handle_signals(self, value: bool) -> None:
        self._handle_signals = flag(value, type(self).__name__, "handle_signals")

    @property
    def paused(self) -> bool:
        """True between ``pause()`` and ``resume()``: scheduled ticks are skipped."""
        return self._paused

    # -- links ----------------------------------------------------------------------

    @staticmethod
    def _as_links(links: Any) -> list[Link]:
        items = list(links) if isinstance(links, (list, tuple, set, frozenset)) else [links]
        for link in items:
            if not isinstance(link, Link):
                raise TypeError(
                    f"planner links must be Link instances (or a list of them), "
                    f"got {type(link).__name__}: {link!r}"
                )
        return items

    def add_links(self, links: Link | Sequence[Link]) -> None:
        """Add and schedule links; allowed while running (the link's nodes are started
        first). A link that cannot be scheduled is not kept, and the error is raised."""
        for link in self._as_links(links):
            with self._links_lock:
                if link in self._links:
                    raise ValueError(f"{link!r} is already in this planner")
                self._check_schedule(link)
                with self._cond:
                    live = self._phase in (_STARTING, _SCHEDULING)
                    if live and link not in self._started_links:
                        self._started_links.append(link)
                if live:
                    self._give_state_store(link)
                    try:
                        link.on_start()
                    except Exception as exc:
                        _fire("databay_link_start_failed", link=link, error=exc)
                        raise
                self._links.append(link)
                try:
                    self._schedule(link)
                except BaseException:
                    self._links.remove(link)
                    raise
            _LOGGER.info("Added link: %s", link)

    def _check_schedule(self, link: Link) -> None:
        schedule = link.schedule
        if type(self).supports_schedules or (isinstance(schedule, Interval)
                                             and schedule.is_plain_interval):
            return
        raise UnsupportedScheduleError(
            f"{type(self).__name__} runs links on plain intervals only, and {link!r} has the "
            f"schedule {schedule!r}: use a planner that runs calendar schedules (ApsPlanner, "
            f"SchedulePlanner, CeleryPlanner), or give the link interval=...")

    def next_fire_time(self, link: Link) -> datetime.datetime | None:
        """When ``link`` fires next (timezone-aware), as this planner knows it; None when
        it will not fire again. Before ``start()`` (or for a planner that does not say),
        the schedule's next fire after now."""
        try:
            found = self._next_fire(link)
        except Exception:  # a planner's own bookkeeping must not break a status line
            _LOGGER.debug("%r could not say when %r fires next", self, link, exc_info=True)
            found = None
        if found is not None:
            return found
        return link.schedule.next_after(datetime.datetime.now(datetime.timezone.utc))

    def _next_fire(self, link: Link) -> datetime.datetime | None:
        """Planners override: the link's next fire time in their scheduler, or None to let
        :meth:`next_fire_time` compute it from the schedule."""
        return None

    def remove_links(self, links: Link | Sequence[Link]) -> None:
        """Unschedule and remove links; allowed while running. A transfer in flight
        finishes; the link's nodes are shut down with the planner's."""
        for link in self._as_links(links):
            with self._links_lock:
                if link not in self._links:
                    raise MissingLinkError(f"{link!r} is not in this planner")
                if link.job is not None:
                    self._unschedule(link)
                self._links.remove(link)
                with self._cond:
                    self._paused_links.discard(link)
            _LOGGER.info("Removed link: %s", link)

    def purge(self) -> None:
        """Unschedule and remove every link."""
        with self._links_lock:
            for link in list(self._links):
                if link.job is not None:
                    self._unschedule(link)
                self._links.remove(link)

    # -- running --------------------------------------------------------------------

    def start(self) -> None:
        """Start the links' nodes, run the immediate transfers, then schedule.

        Blocks (in the built-in planners) until the planner is shut down and has fully
        stopped: transfers finished, nodes shut down. When a link fails at start and
        exceptions are not ignored, the error is logged, the planner shuts down cleanly
        and ``start()`` returns (it does not raise).
        """
        with self._cond:
            if self._phase != _IDLE:
                raise RuntimeError(f"{self!r} is already running ({self._phase})")
            self._phase = _STARTING
            self._stopping = False
            self._planner_stop_called = False
            self._finishing = False
            self._started_fired = False
            self._started_links = []
            self._finisher = None
            self._inflight += 1  # the start phase itself: shutdown waits for it
            self._stopped.clear()
        restore = self._install_signal_handlers()
        proceed = False
        try:
            self._local.working = True
            try:
                if self._start_links() and self.immediate_transfer:
                    self._immediate_transfers()
                with self._cond:
                    proceed = not self._stopping
                    if proceed:
                        self._phase = _SCHEDULING
                if proceed:
                    _fire("databay_planner_started", planner=self)
                    self._started_fired = True
            finally:
                self._local.working = False
                self._release(None)
            if proceed:
                with self._cond:
                    self._in_start_planner = True
                try:
                    self._start_planner()
                except BaseException:
                    self.shutdown(wait=False)
                    raise
                finally:
                    with self._cond:
                        self._in_start_planner = False
                        stopping = self._stopping
                        finish = (self._phase == _STOPPING and self._inflight == 0
                                  and not self._finishing)
                        if finish:
                            self._finishing = True
                    if finish:  # shutdown() left the tidying up to this thread
                        self._finish()
                if not stopping:  # a planner whose _start_planner does not block
                    return
            self._block_until(self._stopped)
            finisher = self._finisher
            if finisher is not None and finisher is not threading.current_thread():
                while finisher.is_alive():
                    finisher.join(_MAIN_THREAD_SLICE)
        finally:
            restore()

    @staticmethod
    def _block_until(event: threading.Event, timeout: float | None = None) -> bool:
        """``event.wait(timeout)``, in short slices in the main thread: a SIGINT/SIGTERM
        the kernel hands to another thread only sets a flag, which the main thread acts
        on (running the signal handlers) when it next runs Python code, not while it is
        blocked. Planners whose ``_start_planner`` blocks wait through this too."""
        if threading.current_thread() is not threading.main_thread():
            return event.wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _MAIN_THREAD_SLICE if deadline is None else deadline - time.monotonic()
            if event.wait(max(0.0, min(left, _MAIN_THREAD_SLICE))):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def shutdown(self, wait: bool = True, *, timeout: float | None = None) -> bool:
        """Stop scheduling, then shut down every node once.

        No transfer starts after this returns. With ``wait``, transfers in flight finish
        first and the nodes are shut down before it returns; without, it returns at once
        and the nodes are shut down when the last transfer in flight ends. Harmless when
        called twice or before ``start()``. Called from inside a transfer, it does not
        wait for that transfer.

        ``timeout`` (seconds, with ``wait``) bounds the wait for transfers in flight and
        for the planner to stop; it does not bound the planner's own
        ``_shutdown_planner``. Returns True once the planner has fully stopped, False
        when it is still stopping (the timeout passed, or ``wait`` is False and work is
        in flight); the nodes are then shut down when it stops.
        """
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float)) or timeout < 0):
            raise ValueError(f"{type(self).__name__}.shutdown(timeout=...) must be a number of "
                             f"seconds >= 0 or None, got {timeout!r}")
        inside = bool(getattr(self._local, "working", False))
        with self._cond:
            phase = self._phase
            if phase == _IDLE:
                idle = True
            else:
                idle = False
                self._stopping = True
                self._phase = _STOPPING
                call_planner = phase == _SCHEDULING and not self._planner_stop_called
                self._planner_stop_called = self._planner_stop_called or call_planner
        if idle:
            self._shutdown_nodes()
            return True
        with self._links_lock:
            links = list(self._links)
        for link in links:  # a transfer waiting to retry gives up at once
            link.interrupt()
        if call_planner:
            try:
                self._shutdown_planner(wait and not inside)
            except Exception as exc:
                _LOGGER.exception("%r: stopping the scheduler raised: %r", self, exc)
        if wait:
            self._release(None, count=False)
            if not inside:
                return self._block_until(self._stopped, timeout)
            return self._stopped.is_set()
        # without wait, shutting the nodes down must not hold the caller up either: the
        # last transfer in flight does it, or start()'s thread, or a thread of its own
        with self._cond:
            finish = (self._inflight == 0 and not self._finishing
                      and not self._in_start_planner)
            if finish:
                self._finishing = True
        if finish:
            finisher = threading.Thread(target=self._finish, name="databay-planner-stop",
                                        daemon=True)
            self._finisher = finisher
            finisher.start()
        return self._stopped.is_set()

    def pause(self) -> None:
        """Skip scheduled transfers until ``resume()``; the schedule keeps its grid."""
        self._paused = True
        _LOGGER.info("%r paused", self)

    def resume(self) -> None:
        """Let scheduled transfers run again, from the next tick on."""
        self._paused = False
        _LOGGER.info("%r resumed", self)

    def pause_link(self, link: Link) -> None:
        """Skip ``link``'s scheduled transfers until ``resume_link(link)``; its schedule
        keeps its grid and the other links run on. A transfer in flight finishes;
        ``force_transfer`` still runs a paused link."""
        self._known(link)
        with self._cond:
            self._paused_links.add(link)
        _LOGGER.info("%r paused %r", self, link)

    def resume_link(self, link: Link) -> None:
        """Let ``link``'s scheduled transfers run again, from its next tick on."""
        self._known(link)
        with self._cond:
            self._paused_links.discard(link)
        _LOGGER.info("%r resumed %r", self, link)

    def link_paused(self, link: Link) -> bool:
        """True while ``link``'s scheduled ticks are skipped: the planner or the link
        is paused."""
        return self._paused or link in self._paused_links

    def _known(self, link: Link) -> None:
        if link not in self._links:
            raise MissingLinkError(f"{link!r} is not in this planner")

    def force_transfer(self, links: Link | Sequence[Link] | None = None) -> None:
        """Transfer every link (or only ``links``) now, in the calling thread, paused
        or not. A link that is transferring is waited for (unless ``allow_overlap``);
        refused while shutting down."""
        chosen = list(self._links) if links is None else self._as_links(links)
        for link in chosen:
            self._known(link)
        for link in chosen:
            if not self._claim(link, tick=False, wait=True):
                _LOGGER.warning("%r is shutting down: force_transfer skipped %r", self, link)
                continue
            self._run_claimed(link, tick=False)

    def _on_exception(self, exception: BaseException, link: Link | None = None) -> None:
        """Log a failure with the link it came from; shut down unless ignoring."""
        where = f" when executing {link!r}" if link is not None else ""
        _LOGGER.error("%s raised%s: %r", type(exception).__name__, where, exception,
                      exc_info=exception)
        if not self._ignore_exceptions:
            with self._cond:
                live = self._phase in (_STARTING, _SCHEDULING)
            if live:
                self.shutdown(wait=False)

    # -- ticks: what planners call ------------------------------------------------------

    def _run_tick(self, link: Link, due: float | None = None) -> None:
        """One scheduled tick of ``link``: transfer now, in the calling thread, unless
        the tick is refused (shut down, paused, or the link still transferring).
        ``due``: when the tick was due (Unix time), given to the transfer's ``Update``."""
        if self._claim(link, tick=True):
            self._run_claimed(link, tick=True, due=due)

    def _claim(self, link: Link, *, tick: bool = True, wait: bool = False) -> bool:
        """Reserve a transfer of ``link``; a planner that queues ticks claims when it
        queues, so a link never has a transfer queued behind a running one. Every
        successful claim must be followed by exactly one ``_run_claimed(link)``."""
        skipped = False
        with self._cond:
            if self._refused(tick):
                return False
            if tick and (self._paused or link in self._paused_links):
                return False
            if not self._allow_overlap:
                while link in self._busy:
                    if not wait:
                        skipped = True
                        break
                    self._cond.wait()
                    if self._refused(tick):
                        return False
                if not skipped:
                    self._busy.add(link)
            if not skipped:
                self._inflight += 1
        if skipped:
            _LOGGER.warning("tick of %r skipped: its previous transfer is still running", link)
            return False
        return True

    def _refused(self, tick: bool) -> bool:
        # scheduled work stops at shutdown(); force_transfer only while stopping
        return self._stopping and (tick or self._phase != _IDLE)

    def _run_claimed(self, link: Link, *, tick: bool = True, due: float | None = None) -> None:
        """Run a transfer claimed by :meth:`_claim`, in the calling thread (``due``: see
        :meth:`_run_tick`)."""
        outer = getattr(self._local, "working", False)
        try:
            with self._cond:
                if self._refused(tick):
                    return
            self._local.working = True
            if due is not None:
                link._tick_due = due
            link.transfer()
        except Exception as exc:
            self._on_exception(exc, link)
        finally:
            self._local.working = outer
            self._release(link)

    def _run_on_pool(self, pool: Executor | None, link: Link, due: float | None = None) -> None:
        """A due tick of ``link`` for planners with a thread pool: claim the transfer now
        and run it on ``pool`` (``due``: see :meth:`_run_tick`). Nothing happens without a
        pool (stopped) or when the claim is refused; a pool shut down meanwhile gives the
        claim back."""
        if pool is None or not self._claim(link):
            return
        try:
            pool.submit(self._run_claimed, link, due=due)
        except RuntimeError:  # the pool was shut down meanwhile: nothing ran
            self._release(link)

    def _release(self, link: Link | None, count: bool = True) -> None:
        with self._cond:
            if count:
                self._inflight -= 1
                if link is not None and not self._allow_overlap:
                    self._busy.discard(link)
                self._cond.notify_all()
            # while start() is inside _start_planner, its thread finishes on the way out:
            # the planner may still be tidying up there
            finish = (self._phase == _STOPPING and self._inflight == 0 and not self._finishing
                      and not self._in_start_planner)
            if finish:
                self._finishing = True
        if finish:
            self._finish()

    def _finish(self) -> None:
        """Shut down every node that was started, fire the stopped hook, mark idle."""
        self._shutdown_nodes()
        if self._started_fired:
            _fire("databay_planner_stopped", planner=self)
        with self._cond:
            self._phase = _IDLE
            self._cond.notify_all()
        self._stopped.set()
        _LOGGER.info("%r stopped", self)

    def _shutdown_nodes(self) -> None:
        with self._links_lock:
            links = list(self._started_links)
            links += [link for link in self._links if link not in links]
        for link in links:
            for node in [*link.inlets, *link.outlets]:
                try:
                    node.try_shutdown()
                except Exception as exc:
                    _LOGGER.error("shutting down %r of %r raised: %r", node, link, exc,
                                  exc_info=exc)

    def _start_links(self) -> bool:
        with self._links_lock:
            links = list(self._links)
        for link in links:
            with self._cond:
                if self._stopping:
                    return False
                if link not in self._started_links:
                    self._started_links.append(link)
            self._give_state_store(link)
            try:
                link.on_start()
            except Exception as exc:
                _fire("databay_link_start_failed", link=link, error=exc)
                self._on_exception(exc, link)
                if not self._ignore_exceptions:
                    return False
        return True

    def _give_state_store(self, link: Link) -> None:
        """Lend the planner's state store to a link without one (links need tags to
        name their checkpoints; one without is left alone, with a warning)."""
        if self.state_store is None or link.state_store is not None:
            return
        if not link.tags:
            _LOGGER.warning("%r has no tags, so it cannot checkpoint in the planner's %r",
                            link, self.state_store)
            return
        link.state_store = self.state_store

    def _immediate_transfers(self) -> None:
        for link in list(self._links):
            if not link.immediate_transfer:
                continue
            if not self._claim(link, tick=False, wait=True):
                return
            self._run_claimed(link, tick=False)

    # -- signals ----------------------------------------------------------------------

    def _install_signal_handlers(self) -> Callable[[], None]:
        if not self._handle_signals or threading.current_thread() is not threading.main_thread():
            return _nothing
        previous: dict[int, _SignalHandler] = {}
        shutdown_threads: list[threading.Thread] = []

        def restore() -> None:
            for signum, handler in previous.items():
                if signal.getsignal(signum) is on_signal:
                    signal.signal(signum, handler)
            previous.clear()
            for thread in shutdown_threads:
                thread.join()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            _LOGGER.warning("%r received %s: shutting down", self, signal.Signals(signum).name)
            for num, handler in previous.items():  # a second signal acts as before
                signal.signal(num, handler)
            # shutdown takes locks the interrupted code may hold: run it in a thread
            thread = threading.Thread(target=self.shutdown, name="databay-planner-shutdown",
                                      daemon=True)
            shutdown_threads.append(thread)
            thread.start()

        for name in ("SIGINT", "SIGTERM"):
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            try:
                previous[signum] = signal.signal(signum, on_signal)
            except (ValueError, OSError):  # not settable here
                continue
        return restore

    # -- what a planner implements ---------------------------------------------------

    @property
    @abstractmethod
    def running(self) -> bool:
        """True while the planner schedules transfers."""

    @abstractmethod
    def _schedule(self, link: Link) -> None:
        """Schedule ``link`` on ``link.schedule`` (``link.interval`` for plain intervals);
        call ``link.set_job``."""

    @abstractmethod
    def _unschedule(self, link: Link) -> None:
        """Stop scheduling ``link``; call ``link.set_job(None)``."""

    @abstractmethod
    def _start_planner(self) -> None:
        """Begin scheduling. The built-in planners block here until shut down."""

    @abstractmethod
    def _shutdown_planner(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, let running transfers finish."""


def _nothing() -> None:
    return None
