"""Every installed planner, by name: ``from databay.planners import ApsPlanner``.

Names resolve lazily through the plugin registry; ``available()`` lists them.
"""

from __future__ import annotations

from databay import plugins as _plugins
from databay._namespace import make_getattr as _make_getattr

__getattr__, __dir__ = _make_getattr("planner", __name__, globals())


def available() -> list[str]:
    """Names of the installed planners."""
    return _plugins.available("planner")
