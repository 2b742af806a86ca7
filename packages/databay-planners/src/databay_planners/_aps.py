"""ApsPlanner: schedules links with APScheduler 3.x."""

from __future__ import annotations

import datetime
import logging
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from databay import BasePlanner, Link

from databay_planners._common import check_interval, optional_dict, positive_int

__all__ = ["APSPlanner", "ApsPlanner"]

_LOGGER = logging.getLogger("databay.ApsPlanner")
_UTC = datetime.timezone.utc


class ApsPlanner(BasePlanner):
    """Runs links on intervals with an APScheduler 3.x scheduler of its own.

    ``start()`` blocks until the planner is shut down. Transfers run on an APScheduler
    thread pool of ``threads`` threads. Each link fires on a fixed grid (start + n *
    interval). A tick that finds the link's previous transfer still running is skipped
    and logged (unless ``allow_overlap``); ticks missed while the scheduler could not run
    them are coalesced into one (``coalesce=True``, no misfire limit).

    :param links: a Link or a list of them.
    :param threads: size of the transfer thread pool.
    :param executors_override: APScheduler executors, merged over
        ``{'default': ThreadPoolExecutor(threads)}``.
    :param job_defaults_override: APScheduler job defaults, merged over
        ``{'coalesce': True, 'max_instances': 1, 'misfire_grace_time': None}``
        (``max_instances`` is ``threads`` with ``allow_overlap``).
    :param ignore_exceptions: log failing transfers and go on, instead of shutting down.
    :param catch_exceptions: deprecated alias of ``ignore_exceptions``.
    :param immediate_transfer: transfer each link once at start (if the link agrees).
    :param shutdown_at_exit: shut the planner down when the interpreter exits.
    :param allow_overlap: let a link transfer again while its previous transfer runs.
    :param handle_signals: in the main thread, SIGINT/SIGTERM shut down gracefully.
    """

    def __init__(
        self,
        links: Link | Sequence[Link] | None = None,
        threads: int = 30,
        executors_override: dict[str, Any] | None = None,
        job_defaults_override: dict[str, Any] | None = None,
        ignore_exceptions: bool = False,
        catch_exceptions: bool | None = None,
        immediate_transfer: bool = True,
        shutdown_at_exit: bool = False,
        *,
        allow_overlap: bool = False,
        handle_signals: bool = True,
    ) -> None:
        owner = type(self).__name__
        self._threads = positive_int(threads, owner, "threads")
        self._executors_override = optional_dict(executors_override, owner, "executors_override")
        self._job_defaults_override = optional_dict(
            job_defaults_override, owner, "job_defaults_override")
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._jobs: dict[Link, Job] = {}
        self._stop_requested = False
        self._used = False
        self._overlap = allow_overlap is True
        self._scheduler = self._new_scheduler()
        super().__init__(
            links, ignore_exceptions, immediate_transfer, shutdown_at_exit,
            catch_exceptions=catch_exceptions, allow_overlap=allow_overlap,
            handle_signals=handle_signals,
        )

    def _new_scheduler(self) -> BackgroundScheduler:
        executors: dict[str, Any] = {"default": ThreadPoolExecutor(
            self._threads, pool_kwargs={"thread_name_prefix": "databay-ApsPlanner"})}
        executors.update(self._executors_override)
        job_defaults: dict[str, Any] = {
            "coalesce": True,
            "max_instances": self._threads if self._overlap else 1,
            "misfire_grace_time": None,
        }
        job_defaults.update(self._job_defaults_override)
        return BackgroundScheduler(executors=executors, job_defaults=job_defaults,
                                   timezone=_UTC, daemon=True)

    @property
    def threads(self) -> int:
        return self._threads

    @property
    def scheduler(self) -> BackgroundScheduler:
        """This planner's APScheduler scheduler."""
        return self._scheduler

    @property
    def links_by_jobid(self) -> dict[str, Link]:
        """Job id -> link, for the links scheduled now."""
        with self._lock:
            return {job.id: link for link, job in self._jobs.items()}

    @property
    def running(self) -> bool:
        return self._scheduler.running and not self._stop_requested

    # -- scheduling -------------------------------------------------------------------

    def _add_job(self, link: Link, seconds: float, start: datetime.datetime | None) -> Job:
        trigger = IntervalTrigger(seconds=seconds, start_date=start, timezone=_UTC)
        job = self._scheduler.add_job(self._run_tick, trigger, args=[link],
                                      name=f"databay {link!r}")
        self._jobs[link] = job
        link.set_job(job)
        return job

    def _schedule(self, link: Link) -> None:
        seconds = check_interval(link, type(self).__name__)
        with self._lock:
            if link not in self._jobs:
                self._add_job(link, seconds, None)

    def _unschedule(self, link: Link) -> None:
        with self._lock:
            job = self._jobs.pop(link, None)
            if job is not None:
                try:
                    job.remove()
                except LookupError:  # JobLookupError: already gone
                    pass
        link.set_job(None)

    # -- running ----------------------------------------------------------------------

    def _start_planner(self) -> None:
        with self._links_lock, self._lock:
            if self._stop_requested:
                self._stop_requested = False
                return
            if self._used:  # a shut-down scheduler's executors cannot be restarted
                self._scheduler = self._new_scheduler()
            else:
                self._scheduler.remove_all_jobs()
            self._used = True
            self._jobs.clear()
            # one grid for every link, from now: first run one interval after start
            anchor = datetime.datetime.now(_UTC)
            for link in self._links:
                seconds = link.interval.total_seconds()
                self._add_job(link, seconds, anchor + link.interval)
            self._done.clear()
            self._scheduler.start()
        try:
            self._done.wait()
        finally:
            with self._lock:
                self._stop_requested = False

    def _shutdown_planner(self, wait: bool = True) -> None:
        with self._links_lock, self._lock:
            self._stop_requested = True
            scheduler = self._scheduler
            started = scheduler.running
            if started:
                # nothing is due any more: the scheduler thread submits nothing after this
                scheduler.remove_all_jobs()
            for link in self._jobs:
                link.set_job(None)
            self._jobs.clear()
        try:
            if started:
                scheduler.shutdown(wait=wait)
        finally:
            self._done.set()

    def __repr__(self) -> str:
        return f"ApsPlanner(threads:{self._threads})"


class APSPlanner(ApsPlanner):
    """Deprecated alias of :class:`ApsPlanner` (renamed in the original's 0.1.7)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("APSPlanner is deprecated, use ApsPlanner", DeprecationWarning,
                      stacklevel=2)
        super().__init__(*args, **kwargs)
