"""databay planners: :class:`ApsPlanner` (APScheduler 3.x) and :class:`SchedulePlanner`
(schedule). Usually imported as ``from databay.planners import ApsPlanner``.

The planner classes are imported on first access, so importing this package (which
databay's plugin loading does) does not import apscheduler or schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from databay.errors import ScheduleIntervalError

from databay_planners.__about__ import __version__

if TYPE_CHECKING:
    from databay_planners._aps import APSPlanner, ApsPlanner
    from databay_planners._schedule import SchedulePlanner

__all__ = ["APSPlanner", "ApsPlanner", "ScheduleIntervalError", "SchedulePlanner", "__version__"]

_LAZY = {
    "ApsPlanner": "databay_planners._aps",
    "APSPlanner": "databay_planners._aps",
    "SchedulePlanner": "databay_planners._schedule",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'databay_planners' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
