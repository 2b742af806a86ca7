"""What makes a tick run once: records and leased locks in Redis.

Keys (``P`` is the settings' prefix):

``P:done:LINK:TICK``     the tick finished (ok, failed or skipped): a redelivery does nothing
``P:started:LINK:TICK``  a transfer of the tick began: if it is not done, it was interrupted
``P:lock:LINK``          the link's lock, with a lease renewed while its transfer runs
``P:beat``               the beat lock, with a lease renewed while beat runs
``P:last:LINK``          the last tick beat published for the link
``P:coalesced:LINK:TICK`` ticks beat could not publish in time, coalesced into TICK
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

from databay_celery._outage import Outage
from databay_celery._settings import Settings, redact

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
    released.

    While Redis is unreachable the renewal is retried (logged once per outage). When
    Redis answers again and the lock is no longer ours (it expired during a long outage,
    or Redis restarted without its data) but nobody else holds it, it is taken back with
    the same token; only a lock another process holds now counts as :attr:`lost`.
    """

    def __init__(self, lock: Any, what: str, lease: float, token: str,
                 outage: Outage | None = None) -> None:
        self._lock = lock
        self._what = what
        self._lease = lease
        self._token = token
        self.renew_at = time.monotonic() + lease / 3
        #: until when (monotonic) the lock is surely ours: the last renewal plus the lease
        self.valid_until = time.monotonic() + lease
        self.lost = threading.Event()
        self._released = False
        self._mutex = threading.Lock()
        self._outage = outage if outage is not None else Outage("Redis")

    @property
    def valid(self) -> bool:
        """Whether the lock is surely still ours (renewed less than a lease ago)."""
        return not self.lost.is_set() and time.monotonic() < self.valid_until

    def keep(self) -> Lease:
        """Renew the lease in the background until :meth:`release`."""
        _renewer.add(self)
        return self

    def renew(self) -> bool:
        """Reset the lease now (taking the lock back when it is free); False when it was
        lost (expired and taken by another holder). Raises ``redis.RedisError`` when
        Redis cannot be reached."""
        started = time.monotonic()
        try:
            self._lock.reacquire()
        except LockError:
            # not ours any more: expired during an outage longer than the lease, or Redis
            # came back without its data; take it back unless someone else holds it
            if not self._lock.acquire(blocking=False, token=self._token):
                self.lost.set()
                return False
            _LOGGER.warning("the lock of %s had expired (Redis restarted without its data, "
                            "or it was unreachable for longer than the lease) and nobody "
                            "else held it: taken back", self._what)
        self.valid_until = started + self._lease
        return True

    def _renew_once(self) -> None:
        with self._mutex:
            if self._released:
                self._release_later()
                return
            self.renew_at = time.monotonic() + self._lease / 3
            try:
                if self.renew():
                    self._outage.recovered()
                    return
            except redis.RedisError as exc:
                # retried every second at most, so the lock is taken back at once
                self.renew_at = time.monotonic() + self._outage.failed(
                    exc, f"renewing the lock of {self._what}", cap=self._retry)
                return
        _renewer.discard(self)
        _LOGGER.error("the lock of %s expired before it was renewed (this process was "
                      "paused, or could not reach Redis, for longer than its lease) and "
                      "another process holds it now", self._what)

    @property
    def _retry(self) -> float:
        return min(1.0, self._lease / 10)

    def release(self) -> None:
        """Stop renewing and release the lock (if still held). While Redis is unreachable
        the renewal thread releases it as soon as Redis answers (a tick redelivered
        meanwhile would otherwise wait for the lease to expire)."""
        with self._mutex:
            self._released = True
            self._release_later(first=True)

    def _release_later(self, first: bool = False) -> None:
        try:
            self._lock.release()
        except LockError:
            if first and not self.lost.is_set():
                _LOGGER.warning("the lock of %s had expired when it was released", self._what)
        except redis.RedisError as exc:
            self.renew_at = time.monotonic() + self._outage.failed(
                exc, f"releasing the lock of {self._what}", cap=self._retry)
            if first:
                _renewer.add(self)
            return
        else:
            self._outage.recovered()
        _renewer.discard(self)


class Guard:
    """Tick records and locks of one pipeline (one key prefix) in Redis."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self.client: Any = client if client is not None else redis.Redis.from_url(
            settings.redis_url, decode_responses=True, health_check_interval=30,
            socket_timeout=10, socket_connect_timeout=10)
        self._p = settings.prefix
        #: the outages of this Redis, logged once each for every user of this guard
        self.outage = Outage(f"Redis {redact(settings.redis_url)}")

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
        return Lease(lock, f"link {link!r}", lease, token, self.outage)

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
        return Lease(lock, "beat", lease, token, self.outage)

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

    def note_published(self, link: str, tick_ms: int, coalesced: tuple[int, int] | None,
                       into: str) -> int | None:
        """Note a published tick (and the ticks coalesced into it) in one round trip; the
        link's last published tick before this one (None: none noted, or Redis lost it)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.getset(self._key("last", link), str(tick_ms))
        if coalesced is not None:
            first, count = coalesced
            ttl = int(self.settings.record_ttl * 1000)
            record = json.dumps({"first": first, "count": count, "into": tick_ms,
                                 "beat": identity(), "at": time.time()})
            pipe.set(self._key("coalesced", link, into), record, px=ttl)
        previous = pipe.execute()[0]
        try:
            return None if previous is None else int(previous)
        except ValueError:
            return None

    def coalesced(self, link: str, tick: str) -> dict[str, Any] | None:
        """The record of the ticks beat coalesced into ``tick``: ``first`` (ms since the
        epoch), ``count`` (ticks before ``tick`` that did not run on their own)."""
        raw = self.client.get(self._key("coalesced", link, tick))
        return None if raw is None else _loads(raw)

    def ping(self) -> bool:
        return bool(self.client.ping())

    def server_run(self) -> str | None:
        """The Redis server's ``run_id``: it changes when the server restarts."""
        info = self.client.info("server")
        run_id = info.get("run_id") if isinstance(info, dict) else None
        return str(run_id) if run_id is not None else None

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing is best effort
            self.client.close()


def _loads(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"raw": raw}
    return value if isinstance(value, dict) else {"raw": value}
