"""CeleryPlanner: one planner class, two roles (beat publishes ticks, workers run them)."""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from databay.base_planner import BasePlanner
from databay.delivery import StateStore
from databay.errors import DatabayError
from databay.link import Link

from databay_celery._beat import NEVER, Beat, Schedule
from databay_celery._registry import PIPELINE_ENV, registry
from databay_celery._settings import Settings, pipeline_settings

__all__ = ["ROLES", "CeleryPlanner", "WorkerStoppedError"]

_LOGGER = logging.getLogger("databay.CeleryPlanner")

ROLES = ("worker", "beat")
#: the most worker threads ``concurrency`` defaults to (one per link up to this)
DEFAULT_MAX_CONCURRENCY = 30
POOLS = ("threads", "solo")


class WorkerStoppedError(DatabayError, RuntimeError):
    """The embedded Celery worker stopped on its own (see the log above)."""


def _positive_int(value: Any, owner: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}({name}=...) must be a positive int, got {value!r}")
    return value


class CeleryPlanner(BasePlanner):
    """Runs links on Celery, across any number of machines, each tick exactly once.

    Every host runs the same pipeline file. One process runs ``role="beat"``: it
    publishes one message per link per tick (the link's name and the tick's scheduled
    time, JSON). Any number of processes run ``role="worker"``: each builds the links
    once, starts their nodes once, and runs the ticks it receives. Guarantees (Redis):
    a tick that finished is not run again when its message comes again; a link never
    runs beside itself on two workers (a lock with a lease); a tick whose worker died
    mid-transfer runs again on another worker; a second beat refuses to start.

    Links are known by name: the pipeline file's names (``pipeline=`` or
    :meth:`name_links`), else the link's tags joined by dots.

    :param links: links to run; with none, the enabled links of ``pipeline``.
    :param role: ``"worker"`` (runs transfers) or ``"beat"`` (publishes ticks).
    :param pipeline: the pipeline file (default ``$DATABAY_PIPELINE``): the links
        when none are given, and the name beat shows in its lock.
    :param broker_url: the Celery broker; by default ``$DATABAY_CELERY_BROKER`` or
        ``$CELERY_BROKER_URL``. Keep credentials in the environment.
    :param redis_url: the Redis for locks and tick records (default: the broker, or
        ``$DATABAY_CELERY_REDIS``).
    :param queue: the Celery queue (default ``"databay"``).
    :param prefix: the prefix of the Redis keys; one per pipeline (default ``"databay"``).
    :param standby: beat only: wait for the running beat to stop or die, then take
        over, instead of refusing to start (high availability).
    :param pool: worker only: ``"threads"`` (default) or ``"solo"``.
    :param concurrency: worker only: transfers run at once by this process; by default
        one per link, at most :data:`DEFAULT_MAX_CONCURRENCY` (30), so that the ticks of
        links due together run together (a link never runs beside itself, so more
        slots than links do not help).
    :param hostname: worker only: the Celery node name (default
        ``databay@HOST-PID``).
    :param settings: advanced settings (``lock_lease``, ``beat_lease``, ``record_ttl``,
        ``visibility_timeout``, ``restore_interval``, ``poll``; see
        :class:`databay_celery.Settings`).
    :param immediate_transfer: beat publishes each link's current tick at start (for
        the links that agree) instead of waiting for the next one.
    :param ignore_exceptions: accepted for compatibility; on workers a failed transfer
        is logged and recorded with its tick, and the worker goes on.
    :param state_store: lent to every link without one, as on every planner; workers on
        several hosts need a shared one (:class:`databay_celery.RedisStateStore`).
    """

    #: beat publishes ticks of cron schedules too (see databay.schedules)
    supports_schedules = True

    def __init__(
        self,
        links: Link | Sequence[Link] | None = None,
        ignore_exceptions: bool = False,
        immediate_transfer: bool = True,
        shutdown_at_exit: bool = False,
        *,
        role: str = "worker",
        pipeline: str | os.PathLike[str] | None = None,
        broker_url: str | None = None,
        redis_url: str | None = None,
        queue: str | None = None,
        prefix: str | None = None,
        standby: bool = False,
        pool: str = "threads",
        concurrency: int | None = None,
        hostname: str | None = None,
        settings: Mapping[str, float] | None = None,
        catch_exceptions: bool | None = None,
        handle_signals: bool = True,
        state_store: StateStore | None = None,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"CeleryPlanner(role=...) must be one of {', '.join(ROLES)}, "
                             f"got {role!r}")
        if pool not in POOLS:
            raise ValueError(f"CeleryPlanner(pool=...) must be one of {', '.join(POOLS)}, "
                             f"got {pool!r} (for prefork, run 'celery -A "
                             f"databay_celery.app worker')")
        if pipeline is not None and not isinstance(pipeline, (str, os.PathLike)):
            raise TypeError(f"CeleryPlanner(pipeline=...) must be a path, got {pipeline!r}")
        if not isinstance(standby, bool):
            raise TypeError(f"CeleryPlanner(standby=...) must be a bool, got {standby!r}")
        if hostname is not None and (not isinstance(hostname, str) or not hostname):
            raise TypeError(f"CeleryPlanner(hostname=...) must be a non-empty string, "
                            f"got {hostname!r}")
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError(f"CeleryPlanner(settings=...) must be a table of settings, "
                            f"got {settings!r}")
        self._role = role
        self._pipeline = os.fspath(pipeline) if pipeline is not None else None
        self._concurrency = (None if concurrency is None
                             else _positive_int(concurrency, "CeleryPlanner", "concurrency"))
        self._pool = pool
        self._standby = standby
        self._hostname = hostname
        self._given: dict[str, Any] = {"broker_url": broker_url, "redis_url": redis_url,
                                       "queue": queue, "prefix": prefix, **(settings or {})}
        self._check_settings()
        self._names: dict[Link, str] = {}
        self._publish_immediately = immediate_transfer
        self._running = False
        self._stop = threading.Event()
        self._worker: Any = None
        self.beat: Beat | None = None
        # transfers never run in this process on the planner's own schedule: ticks come
        # from beat (immediate_transfer is beat publishing the current tick)
        super().__init__(links, ignore_exceptions, False, shutdown_at_exit,
                         catch_exceptions=catch_exceptions, handle_signals=handle_signals,
                         state_store=state_store)
        self._publish_immediately = bool(immediate_transfer)

    @classmethod
    def from_pipeline(cls, path: str | os.PathLike[str], **kwargs: Any) -> CeleryPlanner:
        """A planner with the enabled links of the pipeline file, named as in the file."""
        return cls(pipeline=path, **kwargs)

    def _check_settings(self) -> None:
        # URLs usually come from the environment at start; check what was given now
        placeholder = "redis://localhost:6379/0"
        given = {k: v for k, v in self._given.items() if v is not None}
        try:
            Settings(**{"broker_url": placeholder, "redis_url": placeholder, **given})
        except TypeError:
            known = ", ".join(f for f in Settings.__dataclass_fields__)
            raise TypeError(f"CeleryPlanner(settings=...) accepts: {known}; got "
                            f"{', '.join(sorted(given))}") from None

    @property
    def role(self) -> str:
        return self._role

    @property
    def runs_transfers(self) -> bool:
        """False for beat: it only publishes ticks, so its links' nodes need not start."""
        return self._role == "worker"

    def concurrency(self) -> int:
        """The worker's transfer slots: as given, else one per link up to
        :data:`DEFAULT_MAX_CONCURRENCY`."""
        if self._concurrency is not None:
            return self._concurrency
        with self._links_lock:
            return max(1, min(len(self.links), DEFAULT_MAX_CONCURRENCY))

    @property
    def pipeline(self) -> str | None:
        return self._pipeline

    @property
    def running(self) -> bool:
        return self._running

    def settings(self) -> Settings:
        """The settings in effect: the arguments, then the environment."""
        given = {k: v for k, v in self._given.items() if v is not None}
        return Settings.from_env(**given)

    # -- names ---------------------------------------------------------------------------

    def name_links(self, names: Mapping[str, Link]) -> None:
        """Name links as their pipeline file does (``{name: link}``); the command line
        calls it with the file's link names."""
        for name, link in names.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"link names must be non-empty strings, got {name!r}")
            self._names[link] = name

    def link_names(self) -> dict[str, Link]:
        """``{name: link}`` for every link; ValueError for a nameless or shared name."""
        named: dict[str, Link] = {}
        with self._links_lock:
            links = list(self.links)
        for link in links:
            name = self._names.get(link) or ".".join(link.tags)
            if not name:
                raise ValueError(f"CeleryPlanner: {link!r} has no name: give it tags, or "
                                 f"name it with name_links() (pipeline files name links)")
            if name in named:
                raise ValueError(f"CeleryPlanner: two links are named {name!r}; beat and "
                                 f"workers find links by name, so names must be unique")
            named[name] = link
        return named

    def _load_pipeline_links(self) -> None:
        path = self._pipeline or os.environ.get(PIPELINE_ENV)
        if not path:
            raise ValueError(f"CeleryPlanner has no links: give links, pipeline=PATH, or "
                             f"set {PIPELINE_ENV}")
        from databay.pipeline import load_pipeline

        pipeline = load_pipeline(path, need_planner=False)
        self._pipeline = path
        # the file's [planner] settings (queue, prefix...) unless given as arguments
        for key, value in pipeline_settings(path).items():
            if self._given.get(key) is None:
                self._given[key] = value
        self._check_settings()
        if self.state_store is None:  # [planner.state_store], lent to links at start
            self.state_store = pipeline.planner_kwargs.get("state_store")
        specs = pipeline.enabled_links
        self.name_links({spec.name: spec.link for spec in specs})
        self.add_links([spec.link for spec in specs])

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Run the role until :meth:`shutdown` (or SIGINT/SIGTERM in the main thread).

        Raises :class:`~databay_celery.BeatLockedError` when another beat runs (and
        ``standby`` is off), ValueError for links without unique names."""
        if not self.links:
            self._load_pipeline_links()
        self._stop.clear()
        self.link_names()  # fail before anything starts
        super().start()

    def _start_links(self) -> bool:
        if self._role == "beat":
            return True  # beat runs no transfer: the nodes stay closed
        return super()._start_links()

    def _schedule(self, link: Link) -> None:
        if self._running:
            raise RuntimeError("CeleryPlanner: links cannot be added while it runs; every "
                               "host must run the same links (change the pipeline file "
                               "and restart beat and workers)")
        link.set_job(self)

    def _unschedule(self, link: Link) -> None:
        if self._running:
            raise RuntimeError("CeleryPlanner: links cannot be removed while it runs")
        link.set_job(None)

    def _start_planner(self) -> None:
        if self._stop.is_set():  # shut down before it began
            return
        settings = self.settings()
        names = self.link_names()
        self._running = True
        try:
            if self._role == "beat":
                self._run_beat(settings, names)
            else:
                self._run_worker(settings, names)
        finally:
            self._running = False
        if not self._stop.is_set():
            # the role ended on its own: stop the planner cleanly, then say why
            self.shutdown(wait=False)
            if self._role == "worker":
                raise WorkerStoppedError("the Celery worker stopped on its own (exit code "
                                         f"{getattr(self._worker, 'exitcode', None)}); see "
                                         "the log above")

    def _run_beat(self, settings: Settings, names: dict[str, Link]) -> None:
        from databay_celery._app import make_app

        schedules = {
            name: Schedule.of(name, link.schedule,
                              self._publish_immediately and link.immediate_transfer)
            for name, link in names.items()
        }
        app = make_app(settings)
        self.beat = Beat(app, settings, schedules, self._pipeline or "(in-process links)",
                         standby=self._standby, paused=lambda: self.paused)
        try:
            self.beat.run(self._stop)
        finally:
            self.beat.guard.close()
            app.close()

    def _next_fire(self, link: Link) -> datetime.datetime | None:
        """Beat: the link's pending tick (jitter not included); else from the schedule."""
        beat = self.beat
        if beat is None or not beat.leading.is_set():
            return None
        at = beat.points.get(self._names.get(link) or ".".join(link.tags))
        if at is None or at >= NEVER:
            return None
        return datetime.datetime.fromtimestamp(at / 1000, datetime.timezone.utc).astimezone(
            link.schedule.timezone)

    def _run_worker(self, settings: Settings, names: dict[str, Link]) -> None:
        from celery.worker import state

        from databay_celery._app import make_app

        app = make_app(settings)
        # pool threads look tasks up (and send retries) through the default app, as
        # under Celery's own command line
        app.set_default()
        app.set_current()
        hostname = self._hostname or f"databay@{socket.gethostname()}-{os.getpid()}"
        registry.install(names, owner=self)
        try:
            self._worker = app.WorkController(
                hostname=hostname, pool_cls=self._pool, concurrency=self.concurrency(),
                queues=[settings.queue], without_mingle=True, without_gossip=True,
                without_heartbeat=True, loglevel=logging.getLogger("databay").level or "WARNING",
            )
            _LOGGER.info("worker %s runs %d link(s) from queue %r: %s", hostname, len(names),
                         settings.queue, ", ".join(names))
            if not self._stop.is_set():
                self._worker.start()
        finally:
            state.should_stop = None
            registry.uninstall(self)
            app.close()

    def _shutdown_planner(self, wait: bool = True) -> None:
        self._stop.set()
        for link in list(self.links):
            link.interrupt()
        if self._role == "worker":
            from celery.worker import state

            # the worker's loop checks this flag: a warm shutdown, transfers finish
            state.should_stop = 0

    def __repr__(self) -> str:
        return f"CeleryPlanner(role={self._role!r}, links={len(self.links)})"
