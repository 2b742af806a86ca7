"""Beat: one process publishes one message per link per tick.

Ticks sit on a grid shared by every beat: multiples of the link's interval since the
Unix epoch (UTC). A beat that takes over (standby) or restarts continues the same grid,
so tick names match and the tick records keep each tick to one run.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from databay.errors import DatabayError

from databay_celery._guard import Guard, Lease
from databay_celery._registry import format_tick
from databay_celery._settings import Settings, redact
from databay_celery._worker import TASK_NAME

__all__ = ["Beat", "BeatLockLostError", "BeatLockedError", "Schedule"]

_LOGGER = logging.getLogger("databay.CeleryPlanner")


class BeatLockedError(DatabayError, RuntimeError):
    """Another beat already publishes the ticks of this pipeline."""


class BeatLockLostError(DatabayError, RuntimeError):
    """This beat lost its lock (it could not renew it in time) and stopped."""


@dataclass(frozen=True)
class Schedule:
    """What beat needs of a link: its name, interval and immediate-transfer flag."""

    name: str
    interval_ms: int
    immediate: bool = True

    @classmethod
    def of(cls, name: str, interval: datetime.timedelta, immediate: bool) -> Schedule:
        ms = round(interval.total_seconds() * 1000)
        if ms < 1:
            raise ValueError(f"link {name!r}: interval {interval} is below the 1 ms "
                             f"resolution of CeleryPlanner ticks")
        return cls(name, ms, immediate)


def _now_ms() -> int:
    return int(time.time() * 1000)


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
        lease = self.guard.lock_beat(self.pipeline)
        if lease is not None:
            return lease
        if not self.standby:
            raise BeatLockedError(self._refusal())
        _LOGGER.warning("beat on standby: %s", self._refusal().split(". A second")[0])
        step = min(self.settings.beat_lease / 3, 1.0)
        while lease is None:
            if stop.wait(step):
                return None
            lease = self.guard.lock_beat(self.pipeline)
        _LOGGER.warning("beat took over: it now publishes the ticks")
        return lease

    def run(self, stop: threading.Event) -> None:
        """Hold the beat lock and publish ticks until ``stop`` is set."""
        lease = self._acquire(stop)
        if lease is None:
            return
        lease.keep()
        self.leading.set()
        try:
            self._loop(stop, lease)
        finally:
            self.leading.clear()
            lease.release()

    @property
    def catch_up_ms(self) -> int:
        """How late a tick may still be published: ticks missed during a takeover or a
        stall shorter than this are published late; older ones are logged as missed."""
        return int(self.settings.beat_lease * 2000)

    def _catch_up(self, name: str, at: int, interval: int, now: int) -> int:
        oldest = now - self.catch_up_ms
        if at >= oldest:
            return at
        missed = -(-(oldest - at) // interval)
        _LOGGER.warning("link %r: %d tick(s) from %s were not published in time (no beat "
                        "ran, or beat was stalled) and are dropped", name, missed,
                        format_tick(at))
        return at + missed * interval

    def _start_points(self) -> dict[str, int]:
        now = _now_ms()
        points: dict[str, int] = {}
        for name, s in self.schedules.items():
            current = now // s.interval_ms * s.interval_ms
            last = self.guard.last_published(name)
            if last is not None:  # continue the previous beat's ticks
                points[name] = self._catch_up(name, last + s.interval_ms, s.interval_ms, now)
            else:
                points[name] = current if s.immediate else current + s.interval_ms
        return points

    def _loop(self, stop: threading.Event, lease: Lease) -> None:
        points = self._start_points()
        _LOGGER.info("beat publishes %d link(s) to queue %r: %s", len(points),
                     self.settings.queue, ", ".join(points))
        renew_every = self.settings.beat_lease / 3
        while not stop.is_set():
            if lease.lost.is_set():
                raise BeatLockLostError(
                    "beat lost its lock (it could not renew it within beat_lease): another "
                    "beat may have taken over; stopping so that ticks are not published twice")
            now = _now_ms()
            due = [name for name, at in points.items() if at <= now]
            if not due:
                wait = (min(points.values()) - now) / 1000 if points else renew_every
                stop.wait(min(wait, renew_every))
                continue
            for name in due:
                s = self.schedules[name]
                at = points[name]
                try:
                    if self._paused():
                        _LOGGER.info("tick %s of link %r not published: paused",
                                     format_tick(at), name)
                    else:
                        self.publish(name, at)
                except Exception as exc:
                    _LOGGER.error("beat could not publish tick %s of link %r (trying again "
                                  "in %.1f s): %r", format_tick(at), name, self.settings.poll,
                                  exc)
                    stop.wait(self.settings.poll)
                    break
                points[name] = self._catch_up(name, at + s.interval_ms, s.interval_ms,
                                              _now_ms())

    def publish(self, name: str, at: int) -> None:
        """Send one tick message, then note it as the link's last published tick."""
        self.app.send_task(TASK_NAME, args=[name, format_tick(at)], queue=self.settings.queue)
        self.guard.set_published(name, at)
        self.published += 1
