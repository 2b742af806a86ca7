"""The tick task: run one tick of one link at most once, never beside itself."""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from typing import Any

import redis
from celery.exceptions import Reject

from databay_celery._guard import Guard, identity
from databay_celery._outage import Outage
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

#: How long before its due time a tick published ahead leaves the worker's timer (its
#: message's ETA): time to claim it, so that at the due time only the transfer is left.
#: Ticks due at the same moment each hold a pool thread for at most this long.
WAKE_MS = 250

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


def run_tick(task: Any, link_name: Any, tick: Any, due: Any = None) -> str:
    """The body of the ``databay.tick`` task; returns what happened (for logs/tests).

    ``due``: the due time of a tick published ahead (its tick time plus jitter): the
    transfer starts then, once the tick is claimed."""
    settings: Settings = task.databay_settings
    try:
        when = parse_tick(tick)
        due_at = None if due is None else parse_tick(due).timestamp()
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
    guard = guard_for(settings)
    while True:
        try:
            status = _guarded(guard, link, link_name, tick, when, due_at)
        except Wait as wait:
            guard.outage.recovered()
            _LOGGER.debug("tick %s of link %r waits %.2f s: %s", tick, link_name,
                          wait.countdown, wait)
            try:
                raise task.retry(countdown=wait.countdown, max_retries=None) from None
            except Reject as rejected:
                # Celery could not send the retry (the broker is unreachable) and would
                # drop the message: keep the tick here and try again when it answers
                _wait_out(_broker_outage, rejected.reason, f"re-sending tick {tick} of "
                          f"link {link_name!r}", max(wait.countdown, 0.1), tick, link_name)
        except redis.RedisError as exc:
            # nothing of the tick is given up: wait here until Redis answers
            _wait_out(guard.outage, exc, f"running tick {tick} of link {link_name!r}",
                      None, tick, link_name)
        else:
            guard.outage.recovered()
            _broker_outage.recovered()
            return status


_broker_outage = Outage("the broker")


def _stopping() -> bool:
    from celery.worker import state

    # a warm shutdown sets should_stop to 0 (EX_OK): compare with None, not truth
    return state.should_stop is not None or state.should_terminate is not None


def _wait_out(outage: Outage, exc: Any, doing: str, at_least: float | None, tick: str,
              name: str) -> None:
    """Wait before the next try of a tick (backoff while ``outage`` lasts); when the
    worker stops meanwhile, hand the message back to the broker instead."""
    delay = outage.failed(exc if isinstance(exc, BaseException) else RuntimeError(exc),
                          doing)
    if at_least is not None:
        delay = max(delay, at_least)
    deadline = time.monotonic() + delay
    while True:
        if _stopping():
            # requeued when the broker answers; else it stays unacknowledged, and the
            # broker delivers it again (RabbitMQ at once, Redis after visibility_timeout)
            _LOGGER.warning("tick %s of link %r handed back to the broker: the worker stops "
                            "while %s is unreachable", tick, name, outage.what)
            raise Reject(f"worker stopping during an outage of {outage.what}", requeue=True)
        left = deadline - time.monotonic()
        if left <= 0:
            return
        outage.pause(min(left, 0.25))


def _until(due_at: float | None) -> None:
    """Wait for a claimed tick's due time (at most WAKE_MS after its ETA, unless the
    worker was late itself)."""
    if due_at is None:
        return
    left = due_at - time.time()
    if left > 0:
        time.sleep(left)


def _guarded(guard: Guard, link: Any, name: str, tick: str, when: datetime.datetime,
             due_at: float | None = None) -> str:
    claim = guard.claim(name, tick)  # lock, records and "started" in one round trip
    lease = claim.lease
    if lease is None:
        if claim.done is not None:
            _LOGGER.info("tick %s of link %r already ran: redelivery ignored", tick, name)
            return "duplicate"
        return _busy(guard, link, name, tick, when, claim.holder)
    try:
        lease.keep()
        if claim.done is not None:
            _LOGGER.info("tick %s of link %r already ran: redelivery ignored", tick, name)
            return "duplicate"
        before = claim.started
        if before is not None:
            _LOGGER.warning("tick %s of link %r: its transfer on %s did not finish (worker "
                            "lost): running it again", tick, name, before.get("worker"))
        _until(due_at)
        status, info = _transfer(link, name, tick, when)
        info.update(status=status, redo=before is not None)
        try:
            guard.finish(name, tick, lease, **info)  # done record and release, one trip
        except redis.RedisError:
            _record_done(guard, name, tick, **info)  # waits through the outage
        return status if before is None else f"{status} (redone)"
    finally:
        lease.release()  # nothing left to do when finish() released it


def _record_done(guard: Guard, name: str, tick: str, **info: Any) -> None:
    """Record a tick that ran. While Redis is unreachable this waits (holding the link's
    lock, which is taken back if it expired meanwhile): a tick without its record would
    run again if its message came again. Only a worker that stops gives up, logged."""
    while True:
        try:
            guard.mark_done(name, tick, **info)
            guard.outage.recovered()
            return
        except redis.RedisError as exc:
            if _stopping():
                _LOGGER.error("tick %s of link %r ran (%s) but could not be recorded before "
                              "the worker stopped (Redis unreachable), so a redelivered "
                              "message would run it again: %r", tick, name,
                              info.get("status"), exc)
                return
            guard.outage.pause(guard.outage.failed(exc, f"recording tick {tick} of link "
                                                        f"{name!r}"))


def _busy(guard: Guard, link: Any, name: str, tick: str, when: datetime.datetime,
          holder: dict[str, Any] | None) -> str:
    """The link's lock is held (by ``holder``, as the claim read it): wait for it, or
    skip this tick as an overlap."""
    settings = guard.settings
    if holder is None:  # released in between
        raise Wait(min(settings.poll, 0.1), "the lock was just released")
    if holder.get("tick") == tick:
        raise Wait(settings.poll, f"the same tick runs on {holder.get('worker')}")
    if guard.started(name, tick) is not None:
        # an interrupted transfer of this very tick: it must run, after the current one
        raise Wait(settings.poll, f"redo waits for tick {holder.get('tick')}")
    # until the link's next tick (its interval's, or its cron schedule's next fire)
    nxt = link.schedule.next_after(when)
    left = (nxt.timestamp() if nxt is not None else when.timestamp()) - time.time()
    if left > 0:
        # halving the wait: a previous transfer that ends before the next tick leaves
        # this tick time to run (a retry at the next tick itself would race with it)
        wait = left + 0.01 if left <= 0.05 else left / 2
        raise Wait(min(settings.poll, wait),
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
