"""ApsPlanner: schedules links with APScheduler 3.x."""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

from apscheduler.executors.debug import DebugExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from databay import Link
from databay.delivery import StateStore
from databay.schedules import Schedule

from databay_planners._common import (
    PooledPlanner,
    next_fire,
    optional_dict,
    plain_seconds,
    positive_int,
)

__all__ = ["APSPlanner", "ApsPlanner"]

_LOGGER = logging.getLogger("databay.ApsPlanner")
_UTC = datetime.timezone.utc


class ScheduleTrigger(BaseTrigger):  # type: ignore[misc]  # apscheduler is untyped
    """An APScheduler trigger firing at a :mod:`databay.schedules` schedule's
    ``next_after`` (cron with its daylight-saving rules, start, end), jitter added."""

    __slots__ = ("schedule",)

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(self, previous_fire_time: datetime.datetime | None,
                           now: datetime.datetime) -> datetime.datetime | None:
        return next_fire(self.schedule, previous_fire_time or now)

    def __str__(self) -> str:
        return f"databay {self.schedule}"

    def __repr__(self) -> str:
        return f"<ScheduleTrigger ({self.schedule!r})>"


_Key = tuple[Any, ...]


class _Group:
    """Links that fire together (one interval and start, or one schedule without jitter):
    one APScheduler job ticks them all."""

    __slots__ = ("job", "key", "links")

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.links: dict[Link, None] = {}  # ordered set
        self.job: Job | None = None


class ApsPlanner(PooledPlanner):
    """Runs links on intervals and calendar schedules with an APScheduler 3.x scheduler
    of its own.

    ``start()`` blocks until the planner is shut down. APScheduler keeps the time: links
    that share an interval and a start share one interval job (at ``start()``, all links
    with the same interval), so a tick costs one APScheduler job however many links it
    serves. The job hands each link's transfer to a pool of ``threads`` threads. Each link
    fires on a fixed grid (start + n * interval). A tick that finds the link's previous
    transfer still running (or queued) is skipped and logged (unless ``allow_overlap``);
    ticks missed while the scheduler could not run them are coalesced into one.
    A link on a calendar schedule (cron, see :mod:`databay.schedules`) fires at its
    schedule's ``next_after`` through a :class:`ScheduleTrigger`; links with one schedule
    (and no jitter) share one job, a jittered link has a job of its own.

    :param links: a Link or a list of them.
    :param threads: size of the transfer thread pool.
    :param executors_override: APScheduler executors, merged over
        ``{'default': DebugExecutor()}``: they run the planner's interval jobs, which
        only hand transfers to the pool, so by default they run in the scheduler thread.
    :param job_defaults_override: APScheduler job defaults, merged over
        ``{'coalesce': True, 'max_instances': 1, 'misfire_grace_time': None}``.
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
        executors_override: dict[str, Any] | None = None,
        job_defaults_override: dict[str, Any] | None = None,
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
        self._executors_override = optional_dict(executors_override, owner, "executors_override")
        self._job_defaults_override = optional_dict(
            job_defaults_override, owner, "job_defaults_override")
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._groups: dict[_Key, _Group] = {}
        self._group_of: dict[Link, _Group] = {}
        self._stop_requested = False
        self._used = False
        self._scheduler = self._new_scheduler()
        super().__init__(
            links, ignore_exceptions, immediate_transfer, shutdown_at_exit,
            catch_exceptions=catch_exceptions, allow_overlap=allow_overlap,
            handle_signals=handle_signals, state_store=state_store,
        )

    def _new_scheduler(self) -> BackgroundScheduler:
        executors: dict[str, Any] = {"default": DebugExecutor()}
        executors.update(self._executors_override)
        job_defaults: dict[str, Any] = {
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None,
        }
        job_defaults.update(self._job_defaults_override)
        return BackgroundScheduler(executors=executors, job_defaults=job_defaults,
                                   timezone=_UTC, daemon=True)

    @property
    def scheduler(self) -> BackgroundScheduler:
        """This planner's APScheduler scheduler."""
        return self._scheduler

    @property
    def links_by_jobid(self) -> dict[str, list[Link]]:
        """APScheduler job id -> the links that job ticks."""
        with self._lock:
            return {g.job.id: list(g.links) for g in self._groups.values() if g.job is not None}

    @property
    def running(self) -> bool:
        return self._scheduler.running and not self._stop_requested

    # -- scheduling -------------------------------------------------------------------

    supports_schedules = True

    def _join_schedule(self, link: Link) -> None:
        schedule = link.schedule
        # a jittered link draws its own delay per fire: a job of its own
        key = ("schedule", schedule.key if not schedule.jitter else id(link))
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key)
            group.job = self._scheduler.add_job(
                self._dispatch, ScheduleTrigger(schedule), args=[group],
                name=f"databay {schedule}")
        group.links[link] = None
        self._group_of[link] = group
        link.set_job(group.job)

    def _next_fire(self, link: Link) -> datetime.datetime | None:
        with self._lock:
            group = self._group_of.get(link)
            job = group.job if group is not None else None
        if job is None or self._scheduler.get_job(job.id) is None:
            return None  # not scheduled, or APScheduler dropped it: its schedule ended
        when = getattr(job, "next_run_time", None)
        if not isinstance(when, datetime.datetime):
            return None
        return when.astimezone(link.schedule.timezone)

    def _join(self, link: Link, key: _Key) -> None:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key)
            seconds, anchor = key
            start = None if anchor is None else datetime.datetime.fromtimestamp(
                anchor + seconds, _UTC)
            trigger = IntervalTrigger(seconds=seconds, start_date=start, timezone=_UTC)
            # an explicit first run: APScheduler would skip it if it were already past
            # when the scheduler starts, instead of running it late
            first: dict[str, Any] = {} if start is None else {"next_run_time": start}
            group.job = self._scheduler.add_job(
                self._dispatch, trigger, args=[group],
                name=f"databay every {seconds} s", **first)
        group.links[link] = None
        self._group_of[link] = group
        link.set_job(group.job)

    def _dispatch(self, group: _Group) -> None:
        for link in list(group.links):
            self._tick(link)

    def _schedule(self, link: Link) -> None:
        seconds = plain_seconds(link, type(self).__name__)
        with self._lock:
            if link in self._group_of:
                return
            if seconds is None:
                self._join_schedule(link)
                return
            # a link added while running starts its own grid now
            self._join(link, (seconds, time.time() if self._scheduler.running else None))

    def _unschedule(self, link: Link) -> None:
        with self._lock:
            group = self._group_of.pop(link, None)
            if group is not None:
                group.links.pop(link, None)
                if not group.links:
                    del self._groups[group.key]
                    if group.job is not None:
                        with contextlib.suppress(LookupError):  # JobLookupError: gone
                            group.job.remove()
        link.set_job(None)

    # -- running ----------------------------------------------------------------------

    def _start_planner(self) -> None:
        with self._links_lock, self._lock:
            if self._stopping:  # shutdown() came first
                return
            self._stop_requested = False
            if self._used:  # a shut-down scheduler cannot be restarted
                self._scheduler = self._new_scheduler()
            else:
                self._scheduler.remove_all_jobs()
            self._used = True
            self._groups.clear()
            self._group_of.clear()
            # one grid for every link, from now: first run one interval after start
            anchor = time.time()
            self._open_pool()  # after the anchor: starting threads takes time
            for link in self._links:
                seconds = plain_seconds(link, type(self).__name__)
                if seconds is None:
                    self._join_schedule(link)
                else:
                    self._join(link, (seconds, anchor))
            self._done.clear()
            self._scheduler.start()
        self._block_until(self._done)
        self._teardown(wait=False)

    def _shutdown_planner(self, wait: bool = True) -> None:
        with self._links_lock, self._lock:
            self._stop_requested = True
            if self._scheduler.running:
                self._scheduler.remove_all_jobs()  # nothing is due any more
            for link in self._group_of:
                link.set_job(None)
            self._groups.clear()
            self._group_of.clear()
        self._done.set()
        if wait:
            self._teardown(wait=True)
        # else start()'s thread tears down: shutdown(wait=False) must return at once

    def _teardown(self, wait: bool) -> None:
        with self._lock:
            scheduler = self._scheduler
        if scheduler.running:
            with contextlib.suppress(RuntimeError):  # SchedulerNotRunningError: done
                scheduler.shutdown(wait=False)  # its jobs only hand transfers over
        self._close_pool(wait)

    def __repr__(self) -> str:
        return f"ApsPlanner(threads:{self._threads})"


class APSPlanner(ApsPlanner):
    """Deprecated alias of :class:`ApsPlanner` (renamed in the original's 0.1.7)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("APSPlanner is deprecated, use ApsPlanner", DeprecationWarning,
                      stacklevel=2)
        super().__init__(*args, **kwargs)
