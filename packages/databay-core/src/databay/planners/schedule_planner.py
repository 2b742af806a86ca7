"""Compatibility path of the original Databay: ``SchedulePlanner`` from its plugin, and
``ScheduleIntervalError``."""

from __future__ import annotations

from databay._namespace import make_getattr as _make_getattr
from databay.errors import ScheduleIntervalError

__all__ = ["ScheduleIntervalError"]

__getattr__, __dir__ = _make_getattr("planner", __name__, globals(),
                                     only="SchedulePlanner")
