"""Every installed planner, by name: ``from databay.planners import ApsPlanner``.

Names resolve lazily through the plugin registry; ``available()`` lists them. For type
checkers, the first-party names are their distribution's classes and any other name is
a ``BasePlanner`` subclass of unknown signature: import a third-party class from its own
distribution to have its signature checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from databay import plugins as _plugins
from databay._namespace import make_getattr as _make_getattr

if TYPE_CHECKING:
    # Types only: the first-party classes by their own modules (never imported at run
    # time, where the registry resolves every name).
    from databay_celery import CeleryPlanner as CeleryPlanner
    from databay_planners import APSPlanner as APSPlanner
    from databay_planners import ApsPlanner as ApsPlanner
    from databay_planners import SchedulePlanner as SchedulePlanner

    from databay._namespace import PluginPlanner
    from databay.planners.thread_planner import ThreadPlanner as ThreadPlanner

    def __getattr__(name: str) -> type[PluginPlanner]:
        """Any other installed planner: a class whose constructor type checkers cannot
        know; import it from its distribution for that."""

    def __dir__() -> list[str]: ...
else:
    __getattr__, __dir__ = _make_getattr("planner", __name__, globals())


def available() -> list[str]:
    """Names of the installed planners."""
    return _plugins.available("planner")
