"""The tick task: run one tick of one link at most once, never beside itself."""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from typing import Any

import redis

from databay_celery._guard import Guard, identity
from databay_celery._registry import (
    Tick,
    _reset_current,
    _set_current,
    parse_tick,
    registry,
)
from databay_celery._settings import Settings

__all__ = ["TASK_NAME", "guard_for", "run_tick"]

_LOGGER = logging.getLogger("databay.CeleryPlanner")

#: The Celery task beat sends: ``databay.tick(link_name, tick_time)``.
TASK_NAME = "databay.tick"

_guards: dict[tuple[int, Settings], Guard] = {}
_guards_lock = threading.Lock()


def guard_for(settings: Settings) -> Guard:
    """One Redis client per settings per process (a fork gets its own)."""
    key = (os.getpid(), settings)
    with _guards_lock:
        guard = _guards.get(key)
        if guard is None:
            guard = _guards[key] = Guard(settings)
        return guard


class Wait(Exception):
    """Try the tick again in ``countdown`` seconds."""

    def __init__(self, countdown: float, why: str) -> None:
        super().__init__(why)
        self.countdown = countdown


def run_tick(task: Any, link_name: Any, tick: Any) -> str:
    """The body of the ``databay.tick`` task; returns what happened (for logs/tests)."""
    settings: Settings = task.databay_settings
    try:
        when = parse_tick(tick)
    except ValueError as exc:
        _LOGGER.error("tick message refused (not sent by databay beat?): %s", exc)
        return "invalid"
    if not isinstance(link_name, str):
        _LOGGER.error("tick message refused: the link name must be a string, got %r",
                      link_name)
        return "invalid"
    link = registry.get(link_name)
    if link is None:
        _LOGGER.error("tick %s of link %r refused: this worker has no enabled link of that "
                      "name (links: %s; source: %s). Do beat and workers run the same "
                      "pipeline file?", tick, link_name, ", ".join(registry.names()) or "none",
                      registry.source)
        return "unknown"
    try:
        return _guarded(guard_for(settings), link, link_name, tick, when)
    except Wait as wait:
        _LOGGER.debug("tick %s of link %r waits %.2f s: %s", tick, link_name,
                      wait.countdown, wait)
        raise task.retry(countdown=wait.countdown, max_retries=None) from None
    except redis.RedisError as exc:
        _LOGGER.warning("tick %s of link %r: Redis is unreachable, trying again in %.1f s: "
                        "%r", tick, link_name, settings.poll, exc)
        raise task.retry(countdown=settings.poll, max_retries=None) from None


def _guarded(guard: Guard, link: Any, name: str, tick: str, when: datetime.datetime) -> str:
    lease = guard.lock_link(name, tick)
    if lease is None:
        if guard.done(name, tick) is not None:
            _LOGGER.info("tick %s of link %r already ran: redelivery ignored", tick, name)
            return "duplicate"
        return _busy(guard, link, name, tick, when)
    try:
        lease.keep()
        done, before = guard.records(name, tick)
        if done is not None:
            _LOGGER.info("tick %s of link %r already ran: redelivery ignored", tick, name)
            return "duplicate"
        if before is not None:
            _LOGGER.warning("tick %s of link %r: its transfer on %s did not finish (worker "
                            "lost): running it again", tick, name, before.get("worker"))
        guard.mark_started(name, tick)
        status, info = _transfer(link, name, tick, when)
        _record_done(guard, name, tick, status=status, redo=before is not None, **info)
        return status if before is None else f"{status} (redone)"
    finally:
        lease.release()


def _record_done(guard: Guard, name: str, tick: str, **info: Any) -> None:
    """Record a tick that ran; Redis gets a few tries (while we still hold the lock), since
    a tick without its record would run again if its message came again."""
    deadline = time.monotonic() + guard.settings.lock_lease / 2
    while True:
        try:
            guard.mark_done(name, tick, **info)
            return
        except redis.RedisError as exc:
            if time.monotonic() > deadline:
                _LOGGER.error("tick %s of link %r ran (%s) but could not be recorded, so a "
                              "redelivered message would run it again: %r", tick, name,
                              info.get("status"), exc)
                return
            time.sleep(min(guard.settings.poll, 0.5))


def _busy(guard: Guard, link: Any, name: str, tick: str, when: datetime.datetime) -> str:
    """The link's lock is held: wait for it, or skip this tick as an overlap."""
    settings = guard.settings
    holder = guard.holder(name)
    if holder is None:  # released in between
        raise Wait(min(settings.poll, 0.1), "the lock was just released")
    if holder.get("tick") == tick:
        raise Wait(settings.poll, f"the same tick runs on {holder.get('worker')}")
    if guard.started(name, tick) is not None:
        # an interrupted transfer of this very tick: it must run, after the current one
        raise Wait(settings.poll, f"redo waits for tick {holder.get('tick')}")
    interval = link.interval.total_seconds()
    left = when.timestamp() + interval - time.time()
    if left > 0:
        raise Wait(min(settings.poll, left + 0.01),
                   f"tick {holder.get('tick')} still runs on {holder.get('worker')}")
    _LOGGER.warning("tick %s of link %r skipped: its previous transfer (tick %s on %s) was "
                    "still running when the next tick came", tick, name, holder.get("tick"),
                    holder.get("worker"))
    guard.mark_done(name, tick, status="skipped", behind=holder.get("tick"))
    return "skipped"


def _transfer(link: Any, name: str, tick: str, when: datetime.datetime
              ) -> tuple[str, dict[str, Any]]:
    """Run the transfer; a failure is logged with the link and tick, never retried by
    Celery (the link's own RetryPolicy and dead-letter outlet apply inside it)."""
    if link.state_store is not None:
        # another worker may have committed cursors since: resume from the store
        link.reload_cursors()
    token = _set_current(Tick(name, when))
    try:
        link.on_start()
        result = link.transfer()
    except Exception as exc:
        _LOGGER.error("tick %s of link %r failed on %s: %s: %s", tick, name, identity(),
                      type(exc).__name__, exc, exc_info=exc)
        return "failed", {"error": f"{type(exc).__name__}: {exc}"[:500]}
    finally:
        _reset_current(token)
    info: dict[str, Any] = {"pulled": result.pulled,
                            "pushed": sum(result.pushed.values()),
                            "duration": round(result.duration, 6)}
    if result.errors:
        info["errors"] = len(result.errors)
    return "ok", info
