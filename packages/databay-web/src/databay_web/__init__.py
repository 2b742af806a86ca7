"""databay-web: Prometheus metrics, health and readiness endpoints, a JSON API with
pause/resume/run actions and a live status page for a databay planner.

``databay run PIPELINE --http [HOST:]PORT`` starts it; in Python, :class:`WebService`::

    service = WebService(planner, port=8000, token="a long secret")
    service.start()   # serves in a thread; close() stops it
"""

from databay_web.__about__ import __version__
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
