"""Compatibility path of the original Databay: ``ApsPlanner`` (and its deprecated alias
``APSPlanner``) from their plugin."""

from __future__ import annotations

from databay._namespace import make_getattr as _make_getattr

__getattr__, __dir__ = _make_getattr("planner", __name__, globals(),
                                     only=("ApsPlanner", "APSPlanner"))
