"""The links of this worker process, by name, and the tick being run.

Each worker process builds its links once from the pipeline file (or is handed them by
:class:`~databay_celery.CeleryPlanner`), starts their nodes once and shuts them down
when the process stops. A forked child builds its own.
"""

from __future__ import annotations

import contextvars
import datetime
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

from databay.link import Link

__all__ = ["PIPELINE_ENV", "Tick", "current_tick", "format_tick", "parse_tick", "registry"]

_LOGGER = logging.getLogger("databay.CeleryPlanner")

#: The environment variable naming the pipeline file workers build their links from.
PIPELINE_ENV = "DATABAY_PIPELINE"

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class Tick(NamedTuple):
    """One scheduled run of a link: its name and scheduled time (UTC)."""

    link: str
    time: datetime.datetime


_current: contextvars.ContextVar[Tick | None] = contextvars.ContextVar(
    "databay_celery_tick", default=None)


def current_tick() -> Tick | None:
    """The tick whose transfer runs in this thread (in a worker), else None.

    Synchronous nodes can read it during ``pull``/``push``, e.g. to query the window
    that ends at the scheduled time rather than at the moment the worker got to it.
    """
    return _current.get()


def format_tick(ms: int) -> str:
    """The wire form of a tick time: ISO 8601 in UTC with milliseconds."""
    moment = _EPOCH + datetime.timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds")


def parse_tick(text: Any) -> datetime.datetime:
    """A tick time from its wire form; ValueError naming what was received."""
    if not isinstance(text, str):
        raise ValueError(f"a tick time must be an ISO 8601 string, got {text!r}")
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"a tick time must be an ISO 8601 string, got {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"a tick time must carry its UTC offset, got {text!r}")
    return moment


class _Registry:
    """Name -> Link for this process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pid: int | None = None
        self._links: dict[str, Link] = {}
        self._owner: object | None = None
        self._started = False
        self.source: str | None = None

    def install(self, links: Mapping[str, Link], owner: object) -> None:
        """Use ``links`` (already started by ``owner``, which also shuts them down)."""
        with self._lock:
            self._pid = os.getpid()
            self._links = dict(links)
            self._owner = owner
            self._started = True
            self.source = repr(owner)

    def uninstall(self, owner: object) -> None:
        with self._lock:
            if self._owner is owner:
                self._reset()

    def _reset(self) -> None:
        self._pid = None
        self._links = {}
        self._owner = None
        self._started = False
        self.source = None

    @property
    def owned(self) -> bool:
        """Whether a planner in this process handed over the links."""
        with self._lock:
            return self._owner is not None and self._pid == os.getpid()

    def load(self, path: str | None = None) -> None:
        """Build the links from the pipeline file (``$DATABAY_PIPELINE`` by default),
        unless this process has them already. Raises on a bad or missing file."""
        with self._lock:
            if self._pid == os.getpid() and (self._links or self._owner is not None):
                return
            if self._pid is not None and self._pid != os.getpid():
                self._reset()  # inherited through fork: the parent's nodes are not ours
            path = path or os.environ.get(PIPELINE_ENV)
            if not path:
                raise RuntimeError(f"no pipeline file: set {PIPELINE_ENV} to the pipeline "
                                   f"file the workers run (the same file beat uses)")
            from databay.pipeline import load_pipeline

            pipeline = load_pipeline(path, need_planner=False)
            pipeline.lend_state_store()  # [planner.state_store], e.g. a RedisStateStore
            self._links = {spec.name: spec.link for spec in pipeline.enabled_links}
            self._pid = os.getpid()
            self.source = path
            _LOGGER.info("worker %d: %d link(s) from %s: %s", self._pid, len(self._links),
                         path, ", ".join(self._links))

    def start(self) -> None:
        """Start every link's nodes once (a link that fails is retried on its next tick)."""
        with self._lock:
            self.load()
            if self._started:
                return
            self._started = True
            links = dict(self._links)
        for name, link in links.items():
            try:
                link.on_start()
            except Exception as exc:
                _LOGGER.error("link %r: starting its nodes failed (retried at its next "
                              "tick): %r", name, exc, exc_info=exc)

    def get(self, name: str) -> Link | None:
        """The link named ``name`` with its nodes started, or None when unknown."""
        with self._lock:
            if self._pid != os.getpid() or not self._started:
                self.start()
            return self._links.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._links)

    def interrupt(self) -> None:
        """Cut retry waits short: the worker is stopping."""
        with self._lock:
            links = list(self._links.values()) if self._pid == os.getpid() else []
        for link in links:
            link.interrupt()

    def shutdown(self) -> None:
        """Shut down the nodes this process started (not a planner's: it does that)."""
        with self._lock:
            if self._pid != os.getpid() or self._owner is not None or not self._started:
                return
            links = dict(self._links)
            self._reset()
        for name, link in links.items():
            link.interrupt()
            try:
                link.on_shutdown()
            except Exception as exc:
                _LOGGER.error("link %r: shutting down its nodes failed: %r", name, exc,
                              exc_info=exc)


registry = _Registry()


def _set_current(tick: Tick | None) -> contextvars.Token[Tick | None]:
    return _current.set(tick)


def _reset_current(token: contextvars.Token[Tick | None]) -> None:
    _current.reset(token)
