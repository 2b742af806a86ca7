"""Registers ApsPlanner, APSPlanner and SchedulePlanner with databay.

Lazy references only: apscheduler and schedule are imported when a planner is first used.
"""

from __future__ import annotations

from databay.hookspecs import hookimpl


@hookimpl
def databay_register_planners() -> list[str]:
    return [
        "databay_planners._aps:ApsPlanner",
        "databay_planners._aps:APSPlanner",
        "databay_planners._schedule:SchedulePlanner",
    ]
