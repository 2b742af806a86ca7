"""Registers CeleryPlanner and RedisStateStore with databay.

A lazy reference only: celery and redis are imported when the planner is first used.
"""

from __future__ import annotations

from databay.hookspecs import hookimpl


@hookimpl
def databay_register_planners() -> list[str]:
    return ["databay_celery._planner:CeleryPlanner"]


@hookimpl
def databay_register_state_stores() -> list[str]:
    return ["databay_celery._state:RedisStateStore"]
