"""SchedulePlanner: schedules links with the ``schedule`` library."""

from __future__ import annotations

import datetime
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import schedule
from databay import Link
from databay.delivery import StateStore
from databay.schedules import Schedule

from databay_planners._common import (
    PooledPlanner,
    plain_seconds,
    positive_int,
    positive_seconds,
)

__all__ = ["SchedulePlanner"]

_LOGGER = logging.getLogger("databay.SchedulePlanner")
_UTC = datetime.timezone.utc


class _Calendar:
    """A job on a calendar schedule: the fire it waits for (wall clock, UTC, jitter
    included) and that fire without jitter."""

    __slots__ = ("fire", "nominal", "schedule")

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.nominal: datetime.datetime | None = None
        self.fire: datetime.datetime | None = None

    def advance(self, after: datetime.datetime,
                memo: dict[Any, datetime.datetime | None] | None = None
                ) -> datetime.datetime | None:
        """Move to the first fire after ``after`` (and after the current one). ``memo``
        shares the answer between links of one schedule handed over together."""
        if self.nominal is not None and self.nominal > after:
            after = self.nominal
        if memo is None:
            nominal = self.schedule.next_after(after)
        else:
            key = (self.schedule.key, after)
            if key in memo:
                nominal = memo[key]
            else:
                nominal = memo[key] = self.schedule.next_after(after)
        if nominal is None:
            self.nominal = self.fire = None
            return None
        self.nominal = nominal.astimezone(_UTC)
        delay = self.schedule.jitter_delay()
        self.fire = self.nominal + datetime.timedelta(seconds=delay) if delay else self.nominal
        return self.fire


class SchedulePlanner(PooledPlanner):
    """Runs links on intervals and calendar schedules with a ``schedule.Scheduler`` of
    its own.

    ``start()`` blocks: its thread sleeps until the next job is due (woken early when
    links are added or removed and at shutdown) and hands due transfers to a pool of
    ``threads`` threads. Each link keeps a fixed grid (start + n * interval, on the
    monotonic clock), however long its transfers take. A tick that finds the link's
    previous transfer still running is skipped and logged (unless ``allow_overlap``);
    ticks missed because the planner could not run them in time are coalesced into one.
    ``shutdown()`` cancels every job of this planner. A link on a calendar schedule
    (cron, see :mod:`databay.schedules`) fires at its schedule's ``next_after``: each
    next fire is computed on the wall clock when the previous one runs (fires missed
    meanwhile coalesce into that one) and waited for on the monotonic clock.

    :param links: a Link or a list of them.
    :param threads: size of the transfer thread pool.
    :param refresh_interval: the longest the scheduling thread sleeps between checks
        (seconds). Due jobs never wait for it: the thread wakes for the next due job.
    :param ignore_exceptions: log failing transfers and go on, instead of shutting down.
    :param catch_exceptions: deprecated alias of ``ignore_exceptions``.
    :param immediate_transfer: transfer each link once at start (if the link agrees).
    :param shutdown_at_exit: shut the planner down when the interpreter exits.
    :param allow_overlap: let a link transfer again while its previous transfer runs.
    :param handle_signals: in the main thread, SIGINT/SIGTERM shut down gracefully.
    :param state_store: checkpoint store for links that have none of their own.
    """

    def __init__(
        self,
        links: Link | Sequence[Link] | None = None,
        threads: int = 30,
        refresh_interval: float = 1.0,
        ignore_exceptions: bool = False,
        catch_exceptions: bool | None = None,
        immediate_transfer: bool = True,
        shutdown_at_exit: bool = False,
        *,
        allow_overlap: bool = False,
        handle_signals: bool = True,
        state_store: StateStore | None = None,
    ) -> None:
        owner = type(self).__name__
        self._threads = positive_int(threads, owner, "threads")
        self._refresh_interval = positive_seconds(refresh_interval, owner, "refresh_interval")
        self._scheduler = schedule.Scheduler()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._jobs: dict[Link, schedule.Job] = {}
        # (due on the monotonic clock, tie-breaker, job); entries of removed or
        # rescheduled jobs stay until popped and are recognised by _due
        self._heap: list[tuple[float, int, schedule.Job]] = []
        self._due: dict[schedule.Job, float] = {}
        self._calendar: dict[schedule.Job, _Calendar] = {}
        self._seq = itertools.count()
        self._running = False
        self._stop_requested = False
        super().__init__(
            links, ignore_exceptions, immediate_transfer, shutdown_at_exit,
            catch_exceptions=catch_exceptions, allow_overlap=allow_overlap,
            handle_signals=handle_signals, state_store=state_store,
        )

    supports_schedules = True

    @property
    def refresh_interval(self) -> float:
        """The longest the scheduling thread sleeps between checks, in seconds."""
        return self._refresh_interval

    @property
    def scheduler(self) -> schedule.Scheduler:
        """This planner's own ``schedule.Scheduler``."""
        return self._scheduler

    @property
    def running(self) -> bool:
        return self._running

    # -- scheduling -------------------------------------------------------------------

    def _schedule(self, link: Link) -> None:
        seconds = plain_seconds(link, type(self).__name__)
        with self._lock:
            job = self._jobs.get(link)
            if job is None:
                job = self._new_job(link, seconds)
            if self._running:
                self._first(job, time.monotonic())
        link.set_job(job)
        self._wake.set()

    def _new_job(self, link: Link, seconds: float | None) -> schedule.Job:
        every: Any = self._scheduler.every(seconds or 1)  # type: ignore[arg-type]  # typed int
        job: schedule.Job = every.seconds.do(self._tick, link)
        if link.tags:
            job.tag(*link.tags)
        if seconds is None:
            self._calendar[job] = _Calendar(link.schedule)
        self._jobs[link] = job
        return job

    def _first(self, job: schedule.Job, anchor: float) -> None:
        """Queue the job's first tick: one interval after ``anchor``, or its schedule's
        first fire after now."""
        calendar = self._calendar.get(job)
        if calendar is None:
            self._push(job, anchor + float(job.interval))
            return
        calendar.nominal = None
        self._push_calendar(job, calendar, time.monotonic(), datetime.datetime.now(_UTC))

    def _push_calendar(self, job: schedule.Job, calendar: _Calendar, now: float,
                       wall: datetime.datetime,
                       memo: dict[Any, datetime.datetime | None] | None = None) -> None:
        """Queue the job's next fire after ``wall`` (read together with the monotonic
        ``now``: the fire's wall time becomes a monotonic due time)."""
        fire = calendar.advance(wall, memo)
        if fire is None:  # past its end: it will not fire again
            self._due.pop(job, None)
            job.next_run = None  # type: ignore[assignment]
            return
        self._push(job, now + (fire - wall).total_seconds())

    def _push(self, job: schedule.Job, due: float) -> None:
        self._due[job] = due
        heapq.heappush(self._heap, (due, next(self._seq), job))
        job.next_run = datetime.datetime.now() + datetime.timedelta(
            seconds=due - time.monotonic())

    def _next_fire(self, link: Link) -> datetime.datetime | None:
        with self._lock:
            job = self._jobs.get(link)
            if job is None or job not in self._due:
                return None
            calendar = self._calendar.get(job)
            if calendar is not None and calendar.fire is not None:
                return calendar.fire.astimezone(link.schedule.timezone)
            due = self._due[job]
        return datetime.datetime.now(_UTC) + datetime.timedelta(seconds=due - time.monotonic())

    def _unschedule(self, link: Link) -> None:
        with self._lock:
            job = self._jobs.pop(link, None)
            if job is not None:
                self._scheduler.cancel_job(job)
                self._due.pop(job, None)
                self._calendar.pop(job, None)
        link.set_job(None)
        self._wake.set()

    # -- running ----------------------------------------------------------------------

    def _start_planner(self) -> None:
        with self._links_lock, self._lock:
            if self._stopping:  # shutdown() came first
                return
            self._stop_requested = False
            # one grid for every link, from now: first run one interval after start
            anchor = time.monotonic()
            self._open_pool()  # after the anchor: starting threads takes time
            self._heap.clear()
            self._due.clear()
            for link in self._links:
                job = self._jobs.get(link) or self._new_job(
                    link, plain_seconds(link, type(self).__name__))
                link.set_job(job)
                self._first(job, anchor)
            self._running = True
        try:
            self._loop()
        finally:
            self._cancel_jobs()
            self._close_pool(wait=False)

    def _loop(self) -> None:
        heap = self._heap
        while True:
            self._wake.clear()
            with self._lock:
                if self._stop_requested:
                    return
                now = time.monotonic()
                wall = datetime.datetime.now()
                missed, behind = 0, 0.0
                handed: list[tuple[schedule.Job, _Calendar]] = []
                while heap and heap[0][0] <= now:
                    due, _, job = heapq.heappop(heap)
                    if self._due.get(job) != due:
                        continue  # removed or rescheduled
                    calendar = self._calendar.get(job)
                    if calendar is not None:  # its next fire is computed below
                        job.last_run = wall
                        self._hand_over(job)
                        handed.append((job, calendar))
                        continue
                    period = float(job.interval)
                    nxt = due + period
                    if nxt <= now:  # fell behind: coalesce the missed ticks into this one
                        skipped = int((now - nxt) // period) + 1
                        nxt += skipped * period
                        missed += skipped
                        behind = max(behind, now - due)
                    self._due[job] = nxt
                    heapq.heappush(heap, (nxt, next(self._seq), job))
                    job.last_run = wall
                    job.next_run = wall + datetime.timedelta(seconds=nxt - now)
                    self._hand_over(job)
                if handed:
                    # after every hand-over, so that computing fires delays none of them;
                    # fires due before now (a stall) coalesce into the one just handed over
                    memo: dict[Any, datetime.datetime | None] = {}
                    mono, utc = time.monotonic(), datetime.datetime.now(_UTC)
                    for job, calendar in handed:
                        self._push_calendar(job, calendar, mono, utc, memo)
                # measured after the hand-offs, so that they do not delay the next tick
                timeout = heap[0][0] - time.monotonic() if heap else self._refresh_interval
            if missed:
                _LOGGER.warning("%r ran up to %.3f s late: %d missed tick(s) were coalesced "
                                "into the runs just made", self, behind, missed)
            timeout = min(timeout, self._refresh_interval, threading.TIMEOUT_MAX)
            if timeout > 0:
                self._wake.wait(timeout)

    def _hand_over(self, job: schedule.Job) -> None:
        func = job.job_func
        if func is not None:
            try:
                func()  # _tick: claims and hands the transfer to the pool
            except Exception as exc:  # the other links must go on
                _LOGGER.exception("%r: handing over a tick of %s raised: %r",
                                  self, job.job_func, exc)

    def _shutdown_planner(self, wait: bool = True) -> None:
        with self._lock:
            self._stop_requested = True
            self._running = False
        self._wake.set()
        if wait:
            self._close_pool(wait=True)
        # the scheduling thread cancels the jobs as it leaves: shutdown(wait=False)
        # returns at once, and start() returns only after that

    def _cancel_jobs(self) -> None:
        with self._links_lock, self._lock:
            self._running = False
            self._scheduler.clear()
            for link in self._jobs:
                link.set_job(None)
            self._jobs.clear()
            self._heap.clear()
            self._due.clear()
            self._calendar.clear()

    def __repr__(self) -> str:
        return (f"SchedulePlanner(threads:{self._threads}, "
                f"refresh_interval:{self._refresh_interval})")
