"""The Celery application: JSON only, late acknowledgement, one task."""

from __future__ import annotations

import datetime
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, bootsteps, signals
from databay.redact import install_log_filter

from databay_celery._registry import registry
from databay_celery._settings import Settings
from databay_celery._worker import TASK_NAME, run_tick

__all__ = ["make_app"]

_LOGGER = logging.getLogger("databay.CeleryPlanner")
# the loggers that write broker URLs
_DRIVER_LOGGERS = ("celery.worker.consumer.connection", "celery.worker.consumer.consumer",
                   "celery.worker.consumer.mingle", "celery.beat", "celery.app.trace",
                   "kombu.connection", "kombu.mixins")


#: timers (ticks that fell due) the worker's event loop fires before it polls again
_TIMERS_PER_PASS = 10_000


class _WakeHub(bootsteps.StartStopStep):  # type: ignore[misc]
    """Wake the worker's event loop every second, so that a stop request is seen at
    once: on RabbitMQ an idle loop otherwise waits up to 10 s before it checks.

    And let the loop start every tick that fell due at once: kombu's hub fires at most
    10 timers per pass, then polls the broker's socket (up to 1 s when nothing is
    readable) before the next 10, so 100 ticks held until the same second (published
    ahead with an ETA, see ``Settings.lead``) started over 100-400 ms."""

    requires = {"celery.worker.components:Hub"}

    def start(self, worker: Any) -> None:
        hub = worker.hub
        if hub is not None:
            hub.call_repeatedly(1.0, lambda: None)
            # an attribute of this hub only; create_loop() reads self.fire_timers
            fire = type(hub).fire_timers
            hub.fire_timers = functools.partial(fire, hub, max_timers=_TIMERS_PER_PASS)


class _HeldTicks:
    """The ticks this worker process holds in Celery's timer (published ahead, their ETA
    not reached): Celery cancels them when its connection to the broker breaks, leaving
    their messages unacknowledged in the broker, which delivers them again only after
    ``visibility_timeout``. They are published again when the consumer is back, so they
    still run when due (once: the tick records; the old message, when it comes back,
    finds the tick done)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[list[Any], dict[str, Any]]] = {}

    def received(self, request: Any = None, **kwargs: Any) -> None:
        if request is not None and request.name == TASK_NAME and request.eta:
            with self._lock:
                self._held[request.id] = (list(request.args), dict(request.kwargs or {}))

    def started(self, task_id: Any = None, **kwargs: Any) -> None:
        if self._held:
            with self._lock:
                self._held.pop(task_id, None)

    def take(self) -> list[tuple[list[Any], dict[str, Any]]]:
        with self._lock:
            held, self._held = list(self._held.values()), {}
        return held


_held_ticks = _HeldTicks()


class _Republish(bootsteps.StartStopStep):  # type: ignore[misc]
    """On each (re)start of the worker's consumer, publish the held ticks a broken
    connection cancelled (see :class:`_HeldTicks`)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, consumer: Any) -> None:
        held = _held_ticks.take()
        if not held:
            return
        from databay_celery._registry import parse_tick
        from databay_celery._worker import WAKE_MS

        settings: Settings = consumer.app.tasks[TASK_NAME].databay_settings
        now = time.time()
        for args, kwargs in held:
            eta = None
            due = kwargs.get("due")
            if isinstance(due, str):
                try:
                    at = parse_tick(due).timestamp() - WAKE_MS / 1000
                except ValueError:
                    at = now
                if at > now:
                    eta = datetime.datetime.fromtimestamp(at, datetime.timezone.utc)
            consumer.app.send_task(TASK_NAME, args=args, kwargs=kwargs or None,
                                   queue=settings.queue, eta=eta)
        _LOGGER.warning("%d tick(s) this worker held until due were published again: the "
                        "connection to the broker broke while it held them", len(held))


def _patch_kombu_redis() -> None:
    """Make kombu's Redis transport report a torn-down connection as a connection error,
    and reuse one client per channel.

    When the Redis broker goes away while a worker holds unacknowledged messages, the
    consumer closes its connection, and closing the channel tries to restore those
    messages through a connection kombu has already dropped: an ``AttributeError``
    (``'NoneType' object has no attribute 'hostname'``) that Celery treats as
    unrecoverable, so the worker exits instead of reconnecting. As a connection error it
    is ignored like the others; the messages stay unacknowledged in Redis and are
    delivered again after ``visibility_timeout`` (the tick records make that harmless).

    kombu builds a new ``redis.Redis`` (on the channel's connection pool) for every
    publish and every acknowledgement: about 0.3 ms of Python each (redis-py fills a
    table of 170 response callbacks), most of what beat spends per tick it publishes. A
    client on a pool is safe to share between threads, so each channel keeps one, made
    again when the channel's pool is.
    """
    from kombu.transport import redis as transport

    channel = transport.Channel
    if getattr(channel, "_databay_patched", False):
        return
    original: Callable[..., Any] = channel._connparams

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if self.connection is None or self.connection.client is None:
            import redis

            raise redis.ConnectionError("the connection to the Redis broker was closed")
        return original(self, asynchronous=asynchronous)

    create: Callable[..., Any] = channel._create_client

    def _create_client(self: Any, asynchronous: bool = False) -> Any:
        if asynchronous:
            return create(self, asynchronous=True)
        pool = self.pool
        cached = self.__dict__.get("_databay_client")
        if cached is not None and cached[0] is pool:
            return cached[1]
        client = create(self, asynchronous=False)
        self.__dict__["_databay_client"] = (pool, client)
        return client

    channel._connparams = _connparams  # type: ignore[method-assign]
    channel._create_client = _create_client  # type: ignore[method-assign]
    setattr(channel, "_databay_patched", True)  # noqa: B010 - not a declared attribute


def make_app(settings: Settings | None = None, **given: Any) -> Celery:
    """A Celery app for ``settings`` (by default :meth:`Settings.from_env`) with the
    ``databay.tick`` task. Only JSON crosses the wire: a link name and a tick time."""
    if settings is None:
        settings = Settings.from_env(**given)
    elif given:
        raise TypeError("make_app() takes settings or keyword arguments, not both")
    # Celery and kombu hide a URL's password, not credentials in its query string
    install_log_filter(*_DRIVER_LOGGERS)
    if settings.broker_url.partition("://")[0].lower() in ("redis", "rediss", "sentinel"):
        _patch_kombu_redis()
    app = Celery("databay", broker=settings.broker_url, set_as_current=False)
    app.steps["worker"].add(_WakeHub)
    app.steps["consumer"].add(_Republish)
    options: dict[str, Any] = {
        "visibility_timeout": settings.visibility_timeout,
        "unacked_restore_interval": settings.restore_interval,
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue,
        broker_transport_options=options,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    app.task(bind=True, name=TASK_NAME, shared=False, acks_late=True,
             reject_on_worker_lost=True,
             ignore_result=True, max_retries=None, serializer="json",
             databay_settings=settings)(run_tick)
    return app


# -- worker lifecycle: links built once per process, shut down when it stops ------------

_IN_PROCESS_POOLS = ("solo", "threads", "thread", "gevent", "eventlet")


def _pool_name(worker: Any) -> str:
    pool = getattr(worker, "pool_cls", "")
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return str(name).rsplit(".", 1)[-1].lower()


def _on_worker_init(sender: Any = None, **kwargs: Any) -> None:
    if not _is_databay(sender) or registry.owned:
        return
    registry.load()  # a bad pipeline file stops the worker here, before it consumes
    if _pool_name(sender) in _IN_PROCESS_POOLS:
        registry.start()


def _on_process_init(**kwargs: Any) -> None:
    if registry.owned or (registry.source is None and not _has_pipeline()):
        return
    registry.start()  # a prefork child builds and starts its own links


def _on_shutting_down(**kwargs: Any) -> None:
    registry.interrupt()


def _on_process_shutdown(**kwargs: Any) -> None:
    registry.shutdown()


def _on_worker_shutdown(sender: Any = None, **kwargs: Any) -> None:
    registry.shutdown()


def _is_databay(worker: Any) -> bool:
    app = getattr(worker, "app", None)
    if app is None or TASK_NAME not in app.tasks:
        return False
    return getattr(app.tasks[TASK_NAME], "databay_settings", None) is not None


signals.task_received.connect(_held_ticks.received, weak=False)
signals.task_prerun.connect(_held_ticks.started, weak=False)
signals.worker_init.connect(_on_worker_init, weak=False)
signals.worker_process_init.connect(_on_process_init, weak=False)
signals.worker_shutting_down.connect(_on_shutting_down, weak=False)
signals.worker_process_shutdown.connect(_on_process_shutdown, weak=False)
signals.worker_shutdown.connect(_on_worker_shutdown, weak=False)


def _has_pipeline() -> bool:
    import os

    from databay_celery._registry import PIPELINE_ENV

    return bool(os.environ.get(PIPELINE_ENV))
