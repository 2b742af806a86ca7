"""databay on Celery: :class:`CeleryPlanner` runs links across many machines, each tick
exactly once. Usually used as ``from databay.planners import CeleryPlanner`` or from a
pipeline file (``[planner] type = "CeleryPlanner"``).

Celery and redis are imported on first access to a class, not by importing this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from databay_celery.__about__ import __version__

if TYPE_CHECKING:
    from databay_celery._app import make_app
    from databay_celery._beat import Beat, BeatLockedError, BeatLockLostError, Schedule
    from databay_celery._planner import CeleryPlanner, WorkerStoppedError
    from databay_celery._registry import PIPELINE_ENV, Tick, current_tick
    from databay_celery._settings import Settings
    from databay_celery._state import RedisStateStore, StateStoreError

__all__ = [
    "PIPELINE_ENV",
    "Beat",
    "BeatLockLostError",
    "BeatLockedError",
    "CeleryPlanner",
    "RedisStateStore",
    "Schedule",
    "Settings",
    "StateStoreError",
    "Tick",
    "WorkerStoppedError",
    "__version__",
    "current_tick",
    "make_app",
]

_LAZY = {
    "make_app": "databay_celery._app",
    "Beat": "databay_celery._beat",
    "BeatLockedError": "databay_celery._beat",
    "BeatLockLostError": "databay_celery._beat",
    "Schedule": "databay_celery._beat",
    "CeleryPlanner": "databay_celery._planner",
    "WorkerStoppedError": "databay_celery._planner",
    "PIPELINE_ENV": "databay_celery._registry",
    "Tick": "databay_celery._registry",
    "current_tick": "databay_celery._registry",
    "Settings": "databay_celery._settings",
    "RedisStateStore": "databay_celery._state",
    "StateStoreError": "databay_celery._state",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'databay_celery' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
