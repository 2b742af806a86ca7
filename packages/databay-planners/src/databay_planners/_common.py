"""Argument and interval checks shared by the planners."""

from __future__ import annotations

import datetime
from typing import Any

from databay import Link
from databay.errors import ScheduleIntervalError

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
