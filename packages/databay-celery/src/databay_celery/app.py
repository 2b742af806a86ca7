"""The Celery app configured from the environment, for Celery's own command line::

    export DATABAY_CELERY_BROKER=redis://redis.internal:6379/0
    export DATABAY_PIPELINE=/etc/databay/pipeline.toml
    celery -A databay_celery.app worker --pool threads --concurrency 4

Each worker process builds the links of ``$DATABAY_PIPELINE`` once, starts their nodes,
runs the ticks beat sends, and shuts the nodes down when it stops.
"""

from __future__ import annotations

from databay_celery._app import make_app

__all__ = ["app"]

app = make_app()
