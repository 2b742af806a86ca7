"""ThreadPlanner: databay-core's own planner, on Python's threads alone.

It is what a pipeline file without a ``[planner]`` table runs on when neither ApsPlanner
nor SchedulePlanner (databay-planners) is installed, so that core alone runs pipelines.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from databay.base_planner import BasePlanner
from databay.delivery import StateStore
from databay.errors import ScheduleIntervalError
from databay.link import Link
from databay.schedules import Interval

__all__ = ["ThreadPlanner"]

_LOGGER = logging.getLogger("databay.ThreadPlanner")
_UTC = datetime.timezone.utc

#: Shortest interval accepted: a thread woken by the OS cannot keep a finer grid.
MIN_INTERVAL = datetime.timedelta(milliseconds=1)
#: How long the main thread waits at most before it looks at signals again.
_MAIN_THREAD_SLICE = 0.2


class _Job:
    """One link's place on the schedule: when it is due next (monotonic clock)."""

    __slots__ = ("due", "fire", "link", "nominal", "period")

    def __init__(self, link: Link, period: float | None) -> None:
        self.link = link
        self.period = period  # seconds of a plain interval; None: a calendar schedule
        self.due: float | None = None  # None: not queued (stopped, or past its end)
        self.nominal: datetime.datetime | None = None  # calendar: fire without jitter
        self.fire: datetime.datetime | None = None  # calendar: fire with jitter (UTC)


class ThreadPlanner(BasePlanner):
    """Runs links on their schedules with the standard library alone (databay-core).

    ``start()`` blocks: its thread sleeps until the next link is due (woken early when
    links are added or removed and at shutdown) and hands due transfers to a pool of
    ``threads`` threads. A link on an interval keeps a fixed grid (start + n * interval,
    on the monotonic clock) however long its transfers take; ticks the planner could not
    run in time are coalesced into one, and logged. A link on a calendar schedule (cron,
    see :mod:`databay.schedules`) fires at its schedule's ``next_after``. A tick that
    finds the link's previous transfer still running is skipped and logged (unless
    ``allow_overlap``). Signals, node start/shutdown, immediate transfers and error
    handling are BasePlanner's, as on every planner.

    :param links: a Link or a list of them.
    :param threads: size of the transfer thread pool.
    :param ignore_exceptions: log failing transfers and go on, instead of shutting down.
    :param immediate_transfer: transfer each link once at start (if the link agrees).
    :param shutdown_at_exit: shut the planner down when the interpreter exits.
    :param catch_exceptions: deprecated alias of ``ignore_exceptions``.
    :param allow_overlap: let a link transfer again while its previous transfer runs.
    :param handle_signals: in the main thread, SIGINT/SIGTERM shut down gracefully.
    :param state_store: checkpoint store for links that have none of their own.
    """

    supports_schedules = True

    def __init__(
        self,
        links: Link | Sequence[Link] | None = None,
        threads: int = 4,
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
        if isinstance(threads, bool) or not isinstance(threads, int):
            raise TypeError(f"{owner}(threads=...) must be a positive int, got "
                            f"{type(threads).__name__}: {threads!r}")
        if threads < 1:
            raise ValueError(f"{owner}(threads=...) must be a positive int, got {threads!r}")
        self._threads = threads
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: dict[Link, _Job] = {}
        self._heap: list[tuple[float, int, _Job]] = []  # stale entries skipped when popped
        self._seq = itertools.count()
        self._running = False
        self._stop_requested = False
        self._pool: ThreadPoolExecutor | None = None
        self._last_pool: ThreadPoolExecutor | None = None
        super().__init__(
            links, ignore_exceptions, immediate_transfer, shutdown_at_exit,
            catch_exceptions=catch_exceptions, allow_overlap=allow_overlap,
            handle_signals=handle_signals, state_store=state_store,
        )

    @property
    def threads(self) -> int:
        """Size of the transfer thread pool."""
        return self._threads

    @property
    def running(self) -> bool:
        return self._running

    # -- scheduling -------------------------------------------------------------------

    def _period(self, link: Link) -> float | None:
        schedule = link.schedule
        if not (isinstance(schedule, Interval) and schedule.is_plain_interval):
            return None
        if link.interval < MIN_INTERVAL:
            raise ScheduleIntervalError(
                f"{type(self).__name__} cannot honour the interval of {link!r}: "
                f"{link.interval.total_seconds()!r} s; the shortest is "
                f"{MIN_INTERVAL.total_seconds()} s")
        return link.interval.total_seconds()

    def _schedule(self, link: Link) -> None:
        job = _Job(link, self._period(link))
        with self._lock:
            self._jobs[link] = job
            if self._running:
                self._queue_first(job, time.monotonic())
            self._wake.notify_all()
        link.set_job(job)

    def _unschedule(self, link: Link) -> None:
        with self._lock:
            job = self._jobs.pop(link, None)
            if job is not None:
                job.due = None
            self._wake.notify_all()
        link.set_job(None)

    def _queue_first(self, job: _Job, anchor: float) -> None:
        """Queue the job's first tick: one interval after ``anchor``, or its schedule's
        first fire from now. Called with ``self._lock`` held."""
        if job.period is not None:
            self._push(job, anchor + job.period)
        else:
            job.nominal = None
            self._queue_calendar(job, time.monotonic())

    def _queue_calendar(self, job: _Job, now: float) -> None:
        # the clocks read together: the fire's wall time becomes a monotonic due time
        # (``now``, read earlier in the pass, would make it early by the pass so far)
        now, wall = time.monotonic(), datetime.datetime.now(_UTC)
        after = wall if job.nominal is None or job.nominal < wall else job.nominal
        nominal = job.link.schedule.next_after(after)
        if nominal is None:  # past its end: it does not fire again
            job.due = job.nominal = job.fire = None
            return
        job.nominal = nominal.astimezone(_UTC)
        delay = job.link.schedule.jitter_delay()
        job.fire = job.nominal + datetime.timedelta(seconds=delay) if delay else job.nominal
        self._push(job, now + max(0.0, (job.fire - wall).total_seconds()))

    def _push(self, job: _Job, due: float) -> None:
        job.due = due
        heapq.heappush(self._heap, (due, next(self._seq), job))

    def _next_fire(self, link: Link) -> datetime.datetime | None:
        with self._lock:
            job = self._jobs.get(link)
            if job is None or job.due is None:
                return None
            if job.fire is not None:
                return job.fire.astimezone(link.schedule.timezone)
            due = job.due
        return datetime.datetime.now(_UTC) + datetime.timedelta(seconds=due - time.monotonic())

    # -- running ----------------------------------------------------------------------

    def _start_planner(self) -> None:
        with self._links_lock, self._lock:
            if self._stopping:  # shutdown() came first
                return
            self._stop_requested = False
            self._pool = self._last_pool = ThreadPoolExecutor(
                self._threads, thread_name_prefix=f"databay-{type(self).__name__}")
            self._heap.clear()
            anchor = time.monotonic()  # one grid for every link: first tick one interval on
            for link in self._links:
                job = self._jobs.get(link)
                if job is None:
                    job = self._jobs[link] = _Job(link, self._period(link))
                    link.set_job(job)
                self._queue_first(job, anchor)
            self._running = True
        try:
            self._loop()
        finally:
            with self._links_lock, self._lock:
                self._running = False
                for link in self._jobs:
                    link.set_job(None)
                self._jobs.clear()
                self._heap.clear()
                pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=False)

    def _loop(self) -> None:
        in_main = threading.current_thread() is threading.main_thread()
        while True:
            due: list[tuple[Link, float]] = []
            with self._lock:
                while not due:
                    if self._stop_requested:
                        return
                    now = time.monotonic()
                    due = self._pop_due(now)
                    if due:
                        break
                    timeout = self._heap[0][0] - now if self._heap else None
                    if in_main:  # a signal handed to another thread waits for this one
                        timeout = _MAIN_THREAD_SLICE if timeout is None \
                            else min(timeout, _MAIN_THREAD_SLICE)
                    elif timeout is not None:
                        timeout = min(timeout, threading.TIMEOUT_MAX)
                    self._wake.wait(timeout)
            wall = time.time() - time.monotonic()  # a due time as the Update's Unix time
            for link, when in due:  # outside the lock: claiming takes BasePlanner's
                self._hand_over(link, when + wall)

    def _pop_due(self, now: float) -> list[tuple[Link, float]]:
        """The links due by ``now`` with when each was due, each queued again for its
        next tick."""
        due: list[tuple[Link, float]] = []
        missed, behind = 0, 0.0
        while self._heap and self._heap[0][0] <= now:
            when, _, job = heapq.heappop(self._heap)
            if job.due != when or self._jobs.get(job.link) is not job:
                continue  # removed or queued anew
            if job.period is None:
                self._queue_calendar(job, now)  # fires missed meanwhile coalesce into this
            else:
                nxt = when + job.period
                if nxt <= now:  # fell behind: coalesce the missed ticks into this one
                    skipped = int((now - nxt) // job.period) + 1
                    nxt += skipped * job.period
                    missed += skipped
                    behind = max(behind, now - when)
                self._push(job, nxt)
            due.append((job.link, when))
        if missed:
            _LOGGER.warning("%r ran up to %.3f s late: %d missed tick(s) were coalesced into "
                            "the runs just made", self, behind, missed)
        return due

    def _hand_over(self, link: Link, due: float | None = None) -> None:
        """A due tick (due at ``due``, Unix time): claim the transfer now, run it on the
        pool."""
        self._run_on_pool(self._pool, link, due)

    def _shutdown_planner(self, wait: bool = True) -> None:
        with self._lock:
            self._stop_requested = True
            self._running = False
            self._wake.notify_all()
            pool = self._last_pool
        if wait and pool is not None:
            pool.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(threads:{self._threads})"
