"""What makes a tick run once: records and leased locks in Redis.

Keys (``P`` is the settings' prefix):

``P:done:LINK:TICK``     the tick finished (ok, failed or skipped): a redelivery does nothing
``P:started:LINK:TICK``  a transfer of the tick began: if it is not done, it was interrupted
``P:lock:LINK``          the link's lock, with a lease renewed while its transfer runs
``P:beat``               the beat lock, with a lease renewed while beat runs
``P:last:LINK``          the last tick beat published for the link
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from typing import Any

import redis
from redis.exceptions import LockError

from databay_celery._settings import Settings

__all__ = ["Guard", "Lease", "identity"]

_LOGGER = logging.getLogger("databay.CeleryPlanner")


def identity() -> str:
    """``host:pid``, naming this process in locks and records."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _Renewer:
    """One daemon thread per process renewing every held lease every third of it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: set[Lease] = set()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, lease: Lease) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="databay-leases",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def discard(self, lease: Lease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                due = [lease for lease in self._leases if lease.renew_at <= now]
                pending = [lease.renew_at for lease in self._leases if lease.renew_at > now]
                if not due:
                    self._wake.wait(min(pending, default=now + 5.0) - now)
                    continue
            for lease in due:
                lease._renew_once()


_renewer = _Renewer()


class Lease:
    """A held Redis lock, renewed every third of its lease (by one shared thread) until
    released."""

    def __init__(self, lock: Any, what: str, lease: float) -> None:
        self._lock = lock
        self._what = what
        self._lease = lease
        self.renew_at = time.monotonic() + lease / 3
        self.lost = threading.Event()
        self._released = False
        self._mutex = threading.Lock()

    def keep(self) -> Lease:
        """Renew the lease in the background until :meth:`release`."""
        _renewer.add(self)
        return self

    def renew(self) -> bool:
        """Reset the lease now; False when the lock was lost (expired and taken)."""
        try:
            self._lock.reacquire()
        except LockError:
            self.lost.set()
            return False
        return True

    def _renew_once(self) -> None:
        with self._mutex:
            if self._released:
                return
            self.renew_at = time.monotonic() + self._lease / 3
            try:
                if self.renew():
                    return
            except redis.RedisError as exc:
                _LOGGER.warning("renewing the lock of %s failed, retrying: %r", self._what, exc)
                self.renew_at = time.monotonic() + min(1.0, self._lease / 10)
                return
        _renewer.discard(self)
        _LOGGER.error("the lock of %s expired before it was renewed (was this process paused "
                      "for longer than its lease?): another process may hold it now",
                      self._what)

    def release(self) -> None:
        """Stop renewing and release the lock (if still held)."""
        _renewer.discard(self)
        with self._mutex:
            self._released = True
        try:
            self._lock.release()
        except LockError:
            if not self.lost.is_set():
                _LOGGER.warning("the lock of %s had expired when it was released", self._what)
        except redis.RedisError as exc:
            _LOGGER.warning("releasing the lock of %s failed (it expires by itself): %r",
                            self._what, exc)


class Guard:
    """Tick records and locks of one pipeline (one key prefix) in Redis."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self.client: Any = client if client is not None else redis.Redis.from_url(
            settings.redis_url, decode_responses=True, health_check_interval=30,
            socket_timeout=10, socket_connect_timeout=10)
        self._p = settings.prefix

    # -- keys --------------------------------------------------------------------------

    def _key(self, kind: str, link: str, tick: str | None = None) -> str:
        return f"{self._p}:{kind}:{link}" if tick is None else f"{self._p}:{kind}:{link}:{tick}"

    @property
    def beat_key(self) -> str:
        return f"{self._p}:beat"

    # -- tick records --------------------------------------------------------------------

    def done(self, link: str, tick: str) -> dict[str, Any] | None:
        """The record of a finished tick, or None."""
        raw = self.client.get(self._key("done", link, tick))
        return None if raw is None else _loads(raw)

    def records(self, link: str, tick: str) -> tuple[dict[str, Any] | None,
                                                     dict[str, Any] | None]:
        """The tick's done and started records, in one round trip."""
        done, started = self.client.mget(self._key("done", link, tick),
                                         self._key("started", link, tick))
        return (None if done is None else _loads(done),
                None if started is None else _loads(started))

    def mark_done(self, link: str, tick: str, **info: Any) -> None:
        ttl = int(self.settings.record_ttl * 1000)
        record = json.dumps({"worker": identity(), "at": time.time(), **info})
        self.client.set(self._key("done", link, tick), record, px=ttl)

    def started(self, link: str, tick: str) -> dict[str, Any] | None:
        raw = self.client.get(self._key("started", link, tick))
        return None if raw is None else _loads(raw)

    def mark_started(self, link: str, tick: str) -> None:
        ttl = int(self.settings.record_ttl * 1000)
        record = json.dumps({"worker": identity(), "at": time.time()})
        self.client.set(self._key("started", link, tick), record, px=ttl)

    # -- link locks ----------------------------------------------------------------------

    def lock_link(self, link: str, tick: str) -> Lease | None:
        """The link's lock for ``tick``, or None when another transfer holds it."""
        lease = self.settings.lock_lease
        lock = self.client.lock(self._key("lock", link), timeout=lease, blocking=False,
                                thread_local=False)
        token = json.dumps({"tick": tick, "worker": identity()})
        if not lock.acquire(token=token):
            return None
        return Lease(lock, f"link {link!r}", lease)

    def holder(self, link: str) -> dict[str, Any] | None:
        """Who holds the link's lock (``tick``, ``worker``), or None."""
        raw = self.client.get(self._key("lock", link))
        return None if raw is None else _loads(raw)

    # -- beat ------------------------------------------------------------------------------

    def lock_beat(self, pipeline: str) -> Lease | None:
        """The beat lock, or None when another beat holds it."""
        lease = self.settings.beat_lease
        lock = self.client.lock(self.beat_key, timeout=lease, blocking=False,
                                thread_local=False)
        token = json.dumps({"worker": identity(), "since": time.time(), "pipeline": pipeline})
        if not lock.acquire(token=token):
            return None
        return Lease(lock, "beat", lease)

    def beat_holder(self) -> dict[str, Any] | None:
        raw = self.client.get(self.beat_key)
        return None if raw is None else _loads(raw)

    def last_published(self, link: str) -> int | None:
        raw = self.client.get(self._key("last", link))
        try:
            return None if raw is None else int(raw)
        except ValueError:
            return None

    def set_published(self, link: str, tick_ms: int) -> None:
        self.client.set(self._key("last", link), str(tick_ms))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing is best effort
            self.client.close()


def _loads(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"raw": raw}
    return value if isinstance(value, dict) else {"raw": value}
