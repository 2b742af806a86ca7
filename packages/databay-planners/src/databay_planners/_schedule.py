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

from databay_planners._common import (
    PooledPlanner,
    check_interval,
    positive_int,
    positive_seconds,
)

__all__ = ["SchedulePlanner"]

_LOGGER = logging.getLogger("databay.SchedulePlanner")


class SchedulePlanner(PooledPlanner):
    """Runs links on intervals with a ``schedule.Scheduler`` of its own.

    ``start()`` blocks: its thread sleeps until the next job is due (woken early when
    links are added or removed and at shutdown) and hands due transfers to a pool of
    ``threads`` threads. Each link keeps a fixed grid (start + n * interval, on the
    monotonic clock), however long its transfers take. A tick that finds the link's
    previous transfer still running is skipped and logged (unless ``allow_overlap``);
    ticks missed because the planner could not run them in time are coalesced into one.
    ``shutdown()`` cancels every job of this planner.

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
        self._seq = itertools.count()
        self._running = False
        self._stop_requested = False
        super().__init__(
            links, ignore_exceptions, immediate_transfer, shutdown_at_exit,
            catch_exceptions=catch_exceptions, allow_overlap=allow_overlap,
            handle_signals=handle_signals, state_store=state_store,
        )

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
        seconds = check_interval(link, type(self).__name__)
        with self._lock:
            job = self._jobs.get(link)
            if job is None:
                job = self._new_job(link, seconds)
            if self._running:
                self._push(job, time.monotonic() + seconds, seconds)
        link.set_job(job)
        self._wake.set()

    def _new_job(self, link: Link, seconds: float) -> schedule.Job:
        every: Any = self._scheduler.every(seconds)  # type: ignore[arg-type]  # typed int
        job: schedule.Job = every.seconds.do(self._tick, link)
        if link.tags:
            job.tag(*link.tags)
        self._jobs[link] = job
        return job

    def _push(self, job: schedule.Job, due: float, seconds: float) -> None:
        self._due[job] = due
        heapq.heappush(self._heap, (due, next(self._seq), job))
        job.next_run = datetime.datetime.now() + datetime.timedelta(
            seconds=due - time.monotonic())

    def _unschedule(self, link: Link) -> None:
        with self._lock:
            job = self._jobs.pop(link, None)
            if job is not None:
                self._scheduler.cancel_job(job)
                self._due.pop(job, None)
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
                seconds = link.interval.total_seconds()
                job = self._jobs.get(link) or self._new_job(link, seconds)
                link.set_job(job)
                self._push(job, anchor + seconds, seconds)
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
                while heap and heap[0][0] <= now:
                    due, _, job = heapq.heappop(heap)
                    if self._due.get(job) != due:
                        continue  # removed or rescheduled
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
                    func = job.job_func
                    if func is not None:
                        try:
                            func()  # _tick: claims and hands the transfer to the pool
                        except Exception as exc:  # the other links must go on
                            _LOGGER.exception("%r: handing over a tick of %s raised: %r",
                                              self, job.job_func, exc)
                # measured after the hand-offs, so that they do not delay the next tick
                timeout = heap[0][0] - time.monotonic() if heap else self._refresh_interval
            if missed:
                _LOGGER.warning("%r ran up to %.3f s late: %d missed tick(s) were coalesced "
                                "into the runs just made", self, behind, missed)
            timeout = min(timeout, self._refresh_interval, threading.TIMEOUT_MAX)
            if timeout > 0:
                self._wake.wait(timeout)

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

    def __repr__(self) -> str:
        return (f"SchedulePlanner(threads:{self._threads}, "
                f"refresh_interval:{self._refresh_interval})")
