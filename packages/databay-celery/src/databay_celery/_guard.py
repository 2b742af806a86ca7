"""What makes a tick run once: records and leased locks in Redis.

Keys (``P`` is the settings' prefix):

``P:done:LINK:TICK``     the tick finished (ok, failed or skipped): a redelivery does nothing
``P:started:LINK:TICK``  a transfer of the tick began: if it is not done, it was interrupted
``P:lock:LINK``          the link's lock, with a lease renewed while its transfer runs
``P:beat``               the beat lock, with a lease renewed while beat runs
``P:last:LINK``          the last tick beat published for the link
``P:coalesced:LINK:TICK`` ticks beat could not publish in time, coalesced into TICK

A tick costs a worker two Redis round trips: :meth:`Guard.claim` (take the link's lock,
read the tick's records and mark it started, one Lua script) and :meth:`Guard.finish`
(record it done and release the lock, another); renewals come on top for a transfer
longer than a third of ``lock_lease``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import LockError

from databay_celery._outage import Outage
from databay_celery._settings import Settings, redact

__all__ = ["Claim", "Guard", "Lease", "identity"]

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
    def token(self) -> str:
        """The lock's value while this lease holds it."""
        return self._token

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
        meanwhile would otherwise wait for the lease to expire). Once released (here or by
        :meth:`release_with`), calling it again does nothing."""
        with self._mutex:
            if self._released:
                return
            self._released = True
            self._release_later(first=True)

    def release_with(self, script: Any, keys: list[str], args: list[Any]) -> None:
        """Run ``script`` (a Lua script that deletes the lock when it still holds this
        lease's token, returning 1 then) and count the lease released, as
        :meth:`release` does. A ``redis.RedisError`` leaves the lease held and renewed:
        the caller falls back to writing and releasing separately."""
        with self._mutex:
            released = script(keys=keys, args=args)
            self._released = True
            _renewer.discard(self)
        if not released and not self.lost.is_set():
            _LOGGER.warning("the lock of %s had expired when it was released", self._what)
        self._outage.recovered()

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


# take the link's lock; when taken, read the tick's records and mark it started (unless
# done); when not, return who holds it. KEYS: lock, done, started.
# ARGV: token, lease ms, started record, record ttl ms
_CLAIM = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local done = redis.call('get', KEYS[2])
  local started = redis.call('get', KEYS[3])
  if not done then redis.call('set', KEYS[3], ARGV[3], 'PX', ARGV[4]) end
  return {1, done, started}
end
return {0, redis.call('get', KEYS[2]), redis.call('get', KEYS[1])}
"""

# record the tick done, then release the lock if it is still ours (1: released).
# KEYS: done, lock. ARGV: record, record ttl ms, token
_FINISH = """
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('get', KEYS[2]) == ARGV[3] then
  redis.call('del', KEYS[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Claim:
    """What :meth:`Guard.claim` found: the lease (None: another transfer holds the
    link's lock, ``holder`` says which), and the tick's done and started records (as
    they were before this claim marked it started)."""

    lease: Lease | None
    done: dict[str, Any] | None
    started: dict[str, Any] | None = None
    holder: dict[str, Any] | None = None


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
        self._claim = self.client.register_script(_CLAIM)
        self._finish = self.client.register_script(_FINISH)

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

    def claim(self, link: str, tick: str) -> Claim:
        """Take the link's lock for ``tick`` and, when taken, read the tick's records
        and mark it started unless it is done: one round trip (a Lua script)."""
        lease = self.settings.lock_lease
        ttl = int(self.settings.record_ttl * 1000)
        token = json.dumps({"tick": tick, "worker": identity()})
        started = json.dumps({"worker": identity(), "at": time.time()})
        got, done, other = self._claim(
            keys=[self._key("lock", link), self._key("done", link, tick),
                  self._key("started", link, tick)],
            args=[token, int(lease * 1000), started, ttl])
        done_record = None if done is None else _loads(done)
        if not got:
            return Claim(None, done_record, holder=None if other is None else _loads(other))
        lock = self.client.lock(self._key("lock", link), timeout=lease, blocking=False,
                                thread_local=False)
        lock.local.token = self.client.get_encoder().encode(token)
        return Claim(Lease(lock, f"link {link!r}", lease, token, self.outage), done_record,
                     None if other is None else _loads(other))

    def finish(self, link: str, tick: str, lease: Lease, **info: Any) -> None:
        """Record the tick done (as :meth:`mark_done`) and release ``lease``: one round
        trip. Raises ``redis.RedisError`` (nothing done) when Redis cannot be reached."""
        ttl = int(self.settings.record_ttl * 1000)
        record = json.dumps({"worker": identity(), "at": time.time(), **info})
        lease.release_with(self._finish, [self._key("done", link, tick),
                                          self._key("lock", link)],
                           [record, ttl, lease.token])

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
        return self.note_many([(link, tick_ms, coalesced, into)])[0]

    def note_many(self, notes: list[tuple[str, int, tuple[int, int] | None, str]]
                  ) -> list[int | None]:
        """:meth:`note_published` for several ticks (link, tick, coalesced, into) in one
        round trip (beat notes every tick of a second at once)."""
        pipe = self.client.pipeline(transaction=False)
        ttl = int(self.settings.record_ttl * 1000)
        for link, tick_ms, coalesced, into in notes:
            pipe.getset(self._key("last", link), str(tick_ms))
            if coalesced is not None:
                first, count = coalesced
                record = json.dumps({"first": first, "count": count, "into": tick_ms,
                                     "beat": identity(), "at": time.time()})
                pipe.set(self._key("coalesced", link, into), record, px=ttl)
        replies = iter(pipe.execute())
        previous: list[int | None] = []
        for _link, _tick, coalesced, _into in notes:
            raw = next(replies)
            if coalesced is not None:
                next(replies)
            try:
                previous.append(None if raw is None else int(raw))
            except ValueError:
                previous.append(None)
        return previous

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
