"""Compatibility path of the original Databay: ``ApsPlanner`` (and its deprecated alias
``APSPlanner``) from their plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from databay._namespace import make_getattr as _make_getattr

if TYPE_CHECKING:  # types only: the plugin's own classes
    from databay_planners import APSPlanner as APSPlanner
    from databay_planners import ApsPlanner as ApsPlanner
else:
    __getattr__, __dir__ = _make_getattr("planner", __name__, globals(),
                                         only=("ApsPlanner", "APSPlanner"))
