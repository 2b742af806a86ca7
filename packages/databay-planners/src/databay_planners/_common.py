"""Argument and interval checks shared by the planners."""

from __future__ import annotations

import datetime
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from databay import BasePlanner, Link
from databay.errors import ScheduleIntervalError
from databay.schedules import Interval, Schedule

#: Shortest interval a planner accepts: a thread woken by the OS cannot keep a finer grid.
MIN_INTERVAL = datetime.timedelta(milliseconds=1)
#: Longest interval a planner accepts (datetime arithmetic stays far from overflow).
MAX_INTERVAL = datetime.timedelta(days=3650)


def check_interval(link: Link, owner: str) -> float:
    """The link's interval in seconds, or ScheduleIntervalError naming the link."""
    interval = link.interval
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ScheduleIntervalError(
            f"{owner} cannot honour the interval of {link!r}: {interval.total_seconds()!r} s; "
            f"accepted: {MIN_INTERVAL.total_seconds()} s to {MAX_INTERVAL.total_seconds():.0f} s"
        )
    return interval.total_seconds()


def plain_seconds(link: Link, owner: str) -> float | None:
    """The link's interval in seconds when it has a plain interval (checked as by
    :func:`check_interval`), or None for a calendar schedule (cron, or an interval with
    start, end or jitter), which the planner fires at ``schedule.next_after``."""
    schedule = link.schedule
    if isinstance(schedule, Interval) and schedule.is_plain_interval:
        return check_interval(link, owner)
    return None


def next_fire(schedule: Schedule, after: datetime.datetime) -> datetime.datetime | None:
    """``schedule``'s next fire after ``after``, in UTC, jitter added."""
    found = schedule.next_after(after)
    if found is None:
        return None
    found = found.astimezone(datetime.timezone.utc)
    delay = schedule.jitter_delay()
    return found + datetime.timedelta(seconds=delay) if delay else found


def positive_int(value: Any, owner: str, arg: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}({arg}=...) must be a positive int, got {type(value).__name__}: "
                        f"{value!r}")
    if value < 1:
        raise ValueError(f"{owner}({arg}=...) must be a positive int, got {value!r}")
    return value


def positive_seconds(value: Any, owner: str, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}({arg}=...) must be a positive number of seconds, "
                        f"got {type(value).__name__}: {value!r}")
    if not value > 0:
        raise ValueError(f"{owner}({arg}=...) must be a positive number of seconds, got {value!r}")
    return float(value)


def optional_dict(value: Any, owner: str, arg: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{owner}({arg}=...) must be a dict or None, got {type(value).__name__}: "
                        f"{value!r}")
    return dict(value)


class PooledPlanner(BasePlanner):
    """A planner whose ticks hand transfers to a thread pool of its own.

    A tick claims the transfer when it is handed over, so a link never has a transfer
    queued behind a running one (see :meth:`BasePlanner._claim`).
    """

    _threads: int
    _pool: ThreadPoolExecutor | None = None
    _last_pool: ThreadPoolExecutor | None = None

    @property
    def threads(self) -> int:
        """Size of the transfer thread pool."""
        return self._threads

    def _open_pool(self) -> None:
        pool = ThreadPoolExecutor(self._threads,
                                  thread_name_prefix=f"databay-{type(self).__name__}")
        # start every thread now, not during the first ticks (where it would make them late)
        barrier = threading.Barrier(self._threads + 1)
        for _ in range(self._threads):
            pool.submit(barrier.wait)
        barrier.wait()
        self._pool = self._last_pool = pool

    def _close_pool(self, wait: bool) -> None:
        self._pool = None  # ticks hand nothing over from now on
        pool = self._last_pool
        if pool is not None:  # repeated: a later wait=True still joins the threads
            pool.shutdown(wait=wait)

    def _tick(self, link: Link) -> None:
        """A due tick of ``link``: claim the transfer now, run it on the pool. The
        transfer's ``update.due`` is the hand-over's time (the scheduler called this when
        the tick was due): its lateness is the wait for a pool thread."""
        self._run_on_pool(self._pool, link, time.time())
