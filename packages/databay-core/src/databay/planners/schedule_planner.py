"""Compatibility path of the original Databay: ``SchedulePlanner`` from its plugin, and
``ScheduleIntervalError``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from databay._namespace import make_getattr as _make_getattr
from databay.errors import ScheduleIntervalError

__all__ = ["ScheduleIntervalError"]

if TYPE_CHECKING:  # types only: the plugin's own classes
    from databay_planners import SchedulePlanner as SchedulePlanner
else:
    __getattr__, __dir__ = _make_getattr("planner", __name__, globals(),
                                         only="SchedulePlanner")
