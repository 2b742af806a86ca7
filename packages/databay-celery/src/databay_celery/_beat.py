"""Beat: one process publishes one message per link per tick.

Ticks sit on a grid shared by every beat: multiples of the link's interval since the
Unix epoch (UTC). A beat that takes over (standby) or restarts continues the same grid,
so tick names match and the tick records keep each tick to one run.

Ticks beat could not publish in time (the broker or Redis was unreachable, no beat ran
during a takeover, beat was stalled) are **coalesced** into one run, as on every databay
planner: the latest tick that fell due is published, and the ones before it are logged
and recorded in Redis (``PREFIX:coalesced:LINK:TICK``), so that no tick goes silently.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from databay.errors import DatabayError
from databay.schedules import Interval
from databay.schedules import Schedule as CalendarSchedule

from databay_celery._guard import Guard, Lease
from databay_celery._outage import Outage
from databay_celery._registry import format_tick
from databay_celery._settings import Settings, redact
from databay_celery._worker import TASK_NAME, WAKE_MS

__all__ = ["Beat", "BeatLockLostError", "BeatLockedError", "Schedule"]

_LOGGER = logging.getLogger("databay.CeleryPlanner")


class BeatLockedError(DatabayError, RuntimeError):
    """Another beat already publishes the ticks of this pipeline."""


class BeatLockLostError(DatabayError, RuntimeError):
    """This beat lost its lock (it could not renew it in time) and stopped."""


#: "no next tick" (a schedule past its end): later than any real tick
NEVER = 2 ** 62


def _ms(moment: datetime.datetime | None) -> int:
    return NEVER if moment is None else round(moment.timestamp() * 1000)


def _moment(ms: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(milliseconds=ms)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@functools.lru_cache(maxsize=4096)
def _next_ms(calendar: CalendarSchedule, at: int) -> int:
    # shared by the links of one schedule: one evaluation per tick, not one per link
    return _ms(calendar.next_after(_moment(at)))


@dataclass(frozen=True)
class Schedule:
    """What beat needs of a link: its name, when it fires and its immediate-transfer flag.

    Intervals tick on a grid of multiples of ``interval_ms`` since the Unix epoch (or since
    ``start``); a calendar schedule (cron) ticks at its ``next_after``. Tick times are
    milliseconds since the epoch; :data:`NEVER` once the schedule has ended.
    """

    name: str
    interval_ms: int
    immediate: bool = True
    #: a :mod:`databay.schedules` Cron (or other non-interval schedule); None: the grid
    calendar: CalendarSchedule | None = field(default=None, compare=False)
    offset_ms: int = 0
    start_ms: int | None = None
    end_ms: int | None = None
    jitter_ms: int = 0

    @classmethod
    def of(cls, name: str, when: datetime.timedelta | CalendarSchedule,
           immediate: bool) -> Schedule:
        """From a link's interval (a timedelta) or its :mod:`databay.schedules` schedule."""
        if isinstance(when, CalendarSchedule) and not isinstance(when, Interval):
            return cls(name, 0, immediate, calendar=when, jitter_ms=round(when.jitter * 1000))
        extras: dict[str, Any] = {}
        if isinstance(when, Interval):
            extras = {"start_ms": None if when.start is None else _ms(when.start),
                      "end_ms": None if when.end is None else _ms(when.end),
                      "jitter_ms": round(when.jitter * 1000)}
            when = when.every
        ms = round(when.total_seconds() * 1000)
        if ms < 1:
            raise ValueError(f"link {name!r}: interval {when} is below the 1 ms "
                             f"resolution of CeleryPlanner ticks")
        if extras.get("start_ms") is not None:
            extras["offset_ms"] = extras["start_ms"] % ms
        return cls(name, ms, immediate, **extras)

    def first(self, now: int) -> int:
        """The first tick of a beat starting at ``now`` with no previous beat's ticks."""
        if self.calendar is not None:
            # an immediate transfer is a tick of its own, now (within start and end)
            began = self.calendar.start is None or _ms(self.calendar.start) <= now
            ended = self.calendar.end is not None and _ms(self.calendar.end) < now
            return now if self.immediate and began and not ended else self.after(now)
        if self.start_ms is not None and now < self.start_ms:
            return self.start_ms
        current = self.latest(now)
        return self._bounded(current if self.immediate else self.after(current))

    def latest(self, now: int, since: int | None = None) -> int:
        """The latest tick at or before ``now`` (and not before ``since``, the pending
        tick that fell due)."""
        if self.calendar is not None:
            at = since if since is not None else now
            while True:  # forward from the pending tick: few steps but after an outage
                nxt = _next_ms(self.calendar, at)
                if nxt > now:
                    return at
                at = nxt
        if self.end_ms is not None:
            now = min(now, self.end_ms)  # the last tick is the last one before the end
        found = (now - self.offset_ms) // self.interval_ms * self.interval_ms + self.offset_ms
        return found if since is None else max(found, since)

    def after(self, at: int) -> int:
        """The tick after the tick ``at``; :data:`NEVER` past the end."""
        if self.calendar is not None:
            return _next_ms(self.calendar, at)
        return self._bounded(at + self.interval_ms)

    def _bounded(self, at: int) -> int:
        return NEVER if self.end_ms is not None and at > self.end_ms else at

    def count(self, first: int, last: int) -> int:
        """How many ticks lie in ``[first, last)``."""
        if self.calendar is not None:
            n, at = 0, first
            while at < last:
                n += 1
                at = _next_ms(self.calendar, at)
            return n
        return max(0, -(-(last - first) // self.interval_ms))

    def delay(self) -> int:
        """Random milliseconds of jitter for one tick."""
        return round(random.uniform(0, self.jitter_ms)) if self.jitter_ms else 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _outage_errors(app: Any) -> tuple[type[BaseException], ...]:
    """The errors that mean the broker cannot be reached (an outage), not a bug."""
    from kombu.exceptions import OperationalError

    errors: tuple[type[BaseException], ...] = (OperationalError, OSError,
                                               redis.ConnectionError, redis.TimeoutError)
    try:
        with app.connection_for_write() as connection:  # not connected: only its errors
            errors += tuple(connection.connection_errors)
    except Exception:  # the broker's transport cannot even load: not an outage
        pass
    return errors


class Beat:
    """Publishes the ticks of ``schedules`` until ``stop`` is set.

    :param standby: when another beat holds the lock, wait and take over when it
        stops or dies, instead of refusing with :class:`BeatLockedError`.
    """

    def __init__(self, app: Any, settings: Settings, schedules: Mapping[str, Schedule],
                 pipeline: str, *, standby: bool = False, guard: Guard | None = None,
                 paused: Callable[[], bool] | None = None) -> None:
        self.app = app
        self.settings = settings
        self.schedules = dict(schedules)
        self.pipeline = pipeline
        self.standby = standby
        self._paused = paused or (lambda: False)
        self.guard = guard if guard is not None else Guard(settings)
        #: set once this beat holds the lock and publishes
        self.leading = threading.Event()
        self.published = 0
        # the backoff stays well below beat_lease: beat takes its lock back after an
        # outage before a standby may (see _acquire)
        cap = min(5.0, self.settings.beat_lease / 3)
        self._redis = self.guard.outage
        self._redis.cap = min(self._redis.cap, cap)
        self._broker = (self._redis if settings.broker_url == settings.redis_url
                        else Outage(f"the broker {redact(settings.broker_url)}", cap=cap))
        self._outage_errors = _outage_errors(app)
        self._notes: list[tuple[str, int, tuple[int, int] | None]] = []
        self._noted: dict[str, int] = {}  # the last tick noted in Redis, by link
        self._delays: dict[str, int] = {}  # jitter of each link's pending tick (ms)
        #: each link's pending tick (ms since the epoch) while this beat leads
        self.points: dict[str, int] = {}

    def _refusal(self) -> str:
        holder = self.guard.beat_holder() or {}
        since = holder.get("since")
        when = (datetime.datetime.fromtimestamp(since, datetime.timezone.utc)
                .isoformat(timespec="seconds") if isinstance(since, (int, float)) else "?")
        return (f"another beat already runs for this pipeline (Redis "
                f"{redact(self.settings.redis_url)}, key prefix {self.settings.prefix!r}): "
                f"{holder.get('worker', '?')} since {when}, pipeline "
                f"{holder.get('pipeline', '?')}. A second beat would publish every tick "
                f"twice, so this one refuses to start. Stop the other beat, or start this "
                f"one as a standby (--standby / standby=True) to take over when it stops")

    def _acquire(self, stop: threading.Event) -> Lease | None:
        """The beat lock; None when stopped first. Waits through Redis outages.

        After an outage a standby keeps off the lock for ``beat_lease`` seconds of Redis
        answering: the running beat (which retries every second) takes its lock back
        first, so an outage that hit every beat does not move the lead."""
        step = min(self.settings.beat_lease / 3, 1.0)
        quiet_until = 0.0
        announced = False
        run_id: str | None = None
        while True:
            try:
                if self.standby:
                    # a restart too quick to be seen failing still changes the run id
                    seen, run_id = run_id, self.guard.server_run()
                    if seen is not None and run_id != seen:
                        quiet_until = time.monotonic() + self.settings.beat_lease
                if time.monotonic() < quiet_until:
                    self.guard.ping()
                else:
                    lease = self.guard.lock_beat(self.pipeline)
                    if lease is not None:
                        self._redis.recovered()
                        if announced:
                            _LOGGER.warning("beat took over: it now publishes the ticks")
                        return lease
                    if not self.standby:
                        raise BeatLockedError(self._refusal())
                    if not announced:
                        _LOGGER.warning("beat on standby: %s",
                                        self._refusal().split(". A second")[0])
                        announced = True
                self._redis.recovered()
                wait = step
            except redis.RedisError as exc:
                wait = self._redis.failed(exc, "beat, taking the beat lock")
                if self.standby:
                    quiet_until = time.monotonic() + self.settings.beat_lease
            if self._redis.active:
                self._redis.pause(wait, stop)  # or less: another try as soon as it answers
            else:
                stop.wait(wait)
            if stop.is_set():
                return None

    def run(self, stop: threading.Event) -> None:
        """Hold the beat lock and publish ticks until ``stop`` is set.

        A standby that loses the lock to another beat goes back to standby; any other
        beat raises :class:`BeatLockLostError`."""
        while not stop.is_set():
            lease = self._acquire(stop)
            if lease is None:
                return
            lease.keep()
            self.leading.set()
            try:
                self._loop(stop, lease)
            except BeatLockLostError:
                if not self.standby:
                    raise
                _LOGGER.warning("beat lost its lock to another beat: back to standby")
            finally:
                self.leading.clear()
                lease.release()

    def _start_points(self, stop: threading.Event) -> dict[str, int]:
        """The next tick of each link: after the last one a beat published, else the
        first of the grid."""
        while True:
            try:
                now = _now_ms()
                points: dict[str, int] = {}
                for name, s in self.schedules.items():
                    last = self.guard.last_published(name)
                    points[name] = s.first(now) if last is None else s.after(last)
                self._redis.recovered()
                return points
            except redis.RedisError as exc:
                self._redis.pause(self._redis.failed(exc, "beat, reading the last published "
                                                         "ticks"), stop)

    def _due_at(self, name: str, at: int) -> int:
        return at + self._delays.get(name, 0)

    def _set_point(self, points: dict[str, int], name: str, at: int) -> None:
        points[name] = at
        delay = self.schedules[name].delay()
        if delay:
            self._delays[name] = delay
        else:
            self._delays.pop(name, None)

    def _loop(self, stop: threading.Event, lease: Lease) -> None:
        points = self.points = self._start_points(stop)
        for name, at in list(points.items()):
            self._set_point(points, name, at)
        _LOGGER.info("beat publishes %d link(s) to queue %r: %s", len(points),
                     self.settings.queue, ", ".join(points))
        renew_every = self.settings.beat_lease / 3
        lead = round(self.settings.lead * 1000)
        while not stop.is_set():
            if lease.lost.is_set():
                raise BeatLockLostError(
                    "beat lost its lock (it could not renew it within beat_lease): another "
                    "beat has taken over; stopping so that ticks are not published twice")
            self._flush_notes()
            now = _now_ms()
            horizon = now + lead  # published ahead: the worker holds each tick until due
            due = [name for name, at in points.items() if self._due_at(name, at) <= horizon]
            if not due:
                wait = (min(self._due_at(n, at) for n, at in points.items()) - horizon) \
                    / 1000 if points else renew_every
                stop.wait(min(wait, renew_every))
                continue
            if not lease.valid:
                # not surely leading (Redis unreachable for longer than the lease): publish
                # nothing until the lock is renewed; the ticks due by then are coalesced
                stop.wait(min(1.0, self.settings.beat_lease / 10))
                continue
            self._publish_due(due, now, points, stop)

    def _publish_due(self, due: list[str], now: int, points: dict[str, int],
                     stop: threading.Event) -> None:
        """Publish the due ticks through one producer, batched where the transport can
        (kombu's ``Producer.batch``: one Redis pipeline for all of them), then note them
        in Redis in one round trip. A tick whose message could not be sent stays due:
        when the broker answers again, the ticks that fell due meanwhile coalesce.

        ``due`` holds the links whose pending tick is due within ``lead``: a tick not yet
        due is sent as it is, with its due time as the message's ETA; one already past
        is coalesced with the ticks that fell due after it, into the latest of them."""
        sent: list[tuple[str, int, int]] = []  # name, tick, first pending tick
        failure: tuple[BaseException, str] | None = None
        doing = "beat, connecting to the broker to publish ticks"
        with contextlib.ExitStack() as stack:
            try:
                producer = stack.enter_context(self.app.producer_or_acquire())
                batch = getattr(producer, "batch", None)  # kombu >= 5.7
                with batch() if batch is not None else contextlib.nullcontext():
                    for name in due:
                        s = self.schedules[name]
                        first = points[name]
                        # >= first: the latest tick that fell due, or one still ahead
                        at = s.latest(now, first) if first <= now else first
                        if self._paused():
                            _LOGGER.info("tick %s of link %r not published: paused",
                                         format_tick(at), name)
                            self._set_point(points, name, s.after(at))
                            continue
                        doing = f"beat, publishing tick {format_tick(at)} of link {name!r}"
                        delay = self._delays.get(name, 0) if at == first else 0
                        self._send(name, at, producer, due=at + delay, now=now)
                        sent.append((name, at, first))
                    doing = f"beat, publishing {len(sent)} tick(s) (one batch)"
            except Exception as exc:
                # a failed send: the batch is discarded; a failed flush: none counts as
                # sent (a message the broker kept anyway runs once: the tick records)
                failure, sent = (exc, doing), []
        for name, at, first in sent:
            s = self.schedules[name]
            self.published += 1
            missed = s.count(first, at)
            if missed:
                _LOGGER.warning("link %r: %d tick(s) from %s could not be published in "
                                "time (broker or Redis unreachable, no beat running, or "
                                "beat stalled) and were coalesced into tick %s",
                                name, missed, format_tick(first), format_tick(at))
            self._notes.append((name, at, (first, missed) if missed else None))
            self._set_point(points, name, s.after(at))
        if failure is not None:
            error, doing = failure
            if isinstance(error, self._outage_errors):
                self._broker.pause(self._broker.failed(error, doing), stop)
            else:  # not an outage: a bug or a broken install, said every time
                _LOGGER.error("%s failed (trying again in %.1f s): %s: %s", doing,
                              self.settings.poll, type(error).__name__, error,
                              exc_info=error)
                stop.wait(self.settings.poll)
        elif sent:
            self._broker.recovered()
        self._flush_notes()

    def _send(self, name: str, at: int, producer: Any = None, due: int | None = None,
              now: int | None = None) -> None:
        """Send tick ``at``; one ``due`` later than ``now`` (published ahead) carries its
        due time, and an ETA of WAKE_MS before it: the worker holds it in its timer until
        the ETA, claims it, and starts the transfer at ``due`` (see run_tick)."""
        kwargs: dict[str, Any] = {}
        eta = None
        if due is not None and now is not None and due > now:
            kwargs["due"] = format_tick(due)
            if due - WAKE_MS > now:
                eta = _moment(due - WAKE_MS)
        self.app.send_task(TASK_NAME, args=[name, format_tick(at)], kwargs=kwargs or None,
                           queue=self.settings.queue, producer=producer, eta=eta)

    def _flush_notes(self) -> None:
        """Write the noted ticks to Redis, all in one round trip; kept for the next try
        while Redis cannot be reached."""
        if not self._notes:
            return
        notes = list(self._notes)
        try:
            previous = self.guard.note_many([(name, at, coalesced, format_tick(at))
                                             for name, at, coalesced in notes])
        except redis.RedisError as exc:
            self._redis.failed(exc, "beat, noting the published ticks")
            return
        self._redis.recovered()
        del self._notes[:len(notes)]
        for (name, at, _coalesced), before in zip(notes, previous, strict=True):
            noted = self._noted.get(name)
            if noted is not None and before is None:
                self._data_lost(name, noted)
            self._noted[name] = at

    def _data_lost(self, name: str, noted: int) -> None:
        """Redis forgot a tick this beat had noted: it restarted without its data."""
        broker_too = self.settings.broker_url == self.settings.redis_url
        _LOGGER.error(
            "link %r: Redis %s lost its data (it restarted without persistence): %s the tick "
            "records are gone, so tick %s and those published shortly before it may not "
            "run%s. Beat goes on. Run Redis with appendonly yes to keep ticks across a "
            "restart", name, redact(self.settings.redis_url),
            "the tick messages waiting in its queue and" if broker_too else "",
            format_tick(noted),
            "" if broker_too else ", and a redelivered message of a finished tick runs again")

    def publish(self, name: str, at: int) -> None:
        """Send one tick message, then note it as the link's last published tick."""
        self._send(name, at)
        self.published += 1
        self.guard.set_published(name, at)
