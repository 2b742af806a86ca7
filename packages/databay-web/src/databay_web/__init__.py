"""databay-web: Prometheus metrics, health and readiness endpoints, a JSON API with
pause/resume/run actions and a live status page for a databay planner.

``databay run PIPELINE --http [HOST:]PORT`` starts it; in Python, :class:`WebService`::

    service = WebService(planner, port=8000, token="a long secret")
    service.start()   # serves in a thread; close() stops it

The names are imported on first use, so that discovering the plugin (``databay``'s
entry points) does not import ``prometheus_client`` or the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from databay_web.__about__ import __version__

if TYPE_CHECKING:
    from databay_web._address import parse_address
    from databay_web._metrics import METRICS, MonitorCollector, registry_for
    from databay_web._monitor import DURATION_BUCKETS, LATENESS_BUCKETS, LinkState, Monitor
    from databay_web._server import WebService

__all__ = [
    "DURATION_BUCKETS",
    "LATENESS_BUCKETS",
    "METRICS",
    "LinkState",
    "Monitor",
    "MonitorCollector",
    "WebService",
    "__version__",
    "parse_address",
    "registry_for",
]

_WHERE = {
    "parse_address": "_address", "METRICS": "_metrics", "MonitorCollector": "_metrics",
    "registry_for": "_metrics", "DURATION_BUCKETS": "_monitor", "LATENESS_BUCKETS": "_monitor",
    "LinkState": "_monitor", "Monitor": "_monitor", "WebService": "_server",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'databay_web' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"databay_web.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
