"""The Celery app configured from the environment, for Celery's own command line::

    export DATABAY_CELERY_BROKER=redis://redis.internal:6379/0
    export DATABAY_PIPELINE=/etc/databay/pipeline.toml
    celery -A databay_celery.app worker --pool threads --concurrency 4

Each worker process builds the links of ``$DATABAY_PIPELINE`` once, starts their nodes,
runs the ticks beat sends, and shuts the nodes down when it stops. The file's
``[planner]`` settings (``queue``, ``prefix``, ``settings = {...}``) apply here too.
"""

from __future__ import annotations

import os

from databay_celery._app import make_app
from databay_celery._registry import PIPELINE_ENV
from databay_celery._settings import Settings, pipeline_settings

__all__ = ["app"]

_path = os.environ.get(PIPELINE_ENV)
# the pipeline file's [planner] settings (queue, prefix...) win over the environment,
# as they do for `databay run` and `python -m databay_celery`
app = make_app(Settings.from_env(**(pipeline_settings(_path) if _path else {})))
