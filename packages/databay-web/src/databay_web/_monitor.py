"""What the web service knows: per-link counts kept up to date by core's hooks.

A transfer costs the monitor one hook call (``databay_transfer_finished``: core fires no
start hook to a monitor, which implements none) doing a few additions to its link's
counts, without a lock: the transfers of one link do not overlap (the planner claims
each), and the scrape and page threads only read. Results with errors, retries or
dead-lettered records, failed transfers, and the links of a planner with
``allow_overlap``, are counted under the lock (rare, or concurrent). Running transfers
are the link's started ones (``link.transfer_number``) less those seen to end; lateness
comes from ``update.due``, which planners set on scheduled transfers. The JSON, the page
and the Prometheus exposition read the counts when someone asks.
"""

from __future__ import annotations

import bisect
import datetime
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from time import time as _now
from typing import Any

from databay.base_planner import BasePlanner
from databay.hookspecs import hookimpl
from databay.link import Link
from databay.redact import redact_text
from databay.update import TransferResult, Update

__all__ = ["DURATION_BUCKETS", "LATENESS_BUCKETS", "Histogram", "LinkState", "Monitor"]

#: Upper bounds (seconds) of the transfer duration histogram's buckets.
DURATION_BUCKETS: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
#: Upper bounds (seconds) of the scheduling lateness histogram's buckets.
LATENESS_BUCKETS: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
_FIRST_DURATION = DURATION_BUCKETS[0]
_FIRST_LATENESS = LATENESS_BUCKETS[0]

class Histogram:
    """Counts per bucket (not cumulative), a sum and a count."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: +Inf
        self.sum = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, cumulative count)`` pairs, ``+Inf`` last."""
        out, total = [], 0
        for bound, count in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out


def _outlet_labels(link: Link) -> dict[Any, str]:
    """A label per outlet: its class name, ``#2``, ``#3``... for repeats. Never its repr
    (which may hold a URL or a path)."""
    labels: dict[Any, str] = {}
    seen: dict[str, int] = {}
    nodes = [*link.outlets]
    dead_letter = getattr(link, "dead_letter", None)
    if dead_letter is not None:
        nodes.append(dead_letter)
    for outlet in nodes:
        name = type(outlet).__name__
        seen[name] = seen.get(name, 0) + 1
        labels[outlet] = name if seen[name] == 1 else f"{name}#{seen[name]}"
    return labels


@dataclass
class LinkState:
    """The counts and the last events of one link."""

    name: str
    link: Link
    outlets: dict[Any, str]
    #: outcomes of the transfers counted under the lock (the others succeeded)
    slow: dict[str, int] = field(default_factory=lambda: {
        "succeeded": 0, "errors": 0, "failed": 0})
    pulled: int = 0
    #: records pushed per outlet object (labelled when shown: :meth:`pushed_labelled`)
    pushed: dict[Any, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    #: transfers started before the monitor knew the link (``link.transfer_number``)
    before: int = 0
    #: transfers that ended and had started before the monitor knew the link
    early: int = 0
    last_run: float | None = None  # time.time() of the last transfer's end
    last_duration: float | None = None
    slow_outcome: str | None = None  # of the last transfer counted under the lock
    slow_end: float | None = None  # and when it ended
    last_success: float | None = None
    last_error: str | None = None
    start_failed: str | None = None
    duration: Histogram = field(default_factory=lambda: Histogram(DURATION_BUCKETS))
    lateness: Histogram = field(default_factory=lambda: Histogram(LATENESS_BUCKETS))

    @property
    def transfers(self) -> dict[str, int]:
        """Transfers by outcome: every one is in the duration histogram."""
        slow = dict(self.slow)
        slow["succeeded"] += self.duration.count - sum(slow.values())
        return slow

    @property
    def last_outcome(self) -> str | None:
        if self.last_run is None:
            return None
        return self.slow_outcome if self.last_run == self.slow_end else "succeeded"

    def pushed_labelled(self) -> dict[str, int]:
        """Records pushed per outlet label."""
        out: dict[str, int] = {}
        _label(out, self.outlets, dict(self.pushed))
        return out


def _error_text(error: BaseException) -> str:
    return redact_text(f"{type(error).__name__}: {error}")[:500]


def _label(counts: dict[str, int], outlets: Mapping[Any, str],
           found: Mapping[Any, int]) -> None:
    for outlet, count in found.items():
        label = outlets.get(outlet) or type(outlet).__name__
        counts[label] = counts.get(label, 0) + count


class Monitor:
    """Follows one planner's links through core's hooks (register it with
    :func:`databay.plugins.register`). ``names`` gives each link its name (a pipeline's
    link names); links without one are named by their tags, or ``link-N``."""

    def __init__(self, planner: BasePlanner, names: Mapping[Link, str] | None = None) -> None:
        self.planner = planner
        self._names = dict(names or {})
        self._lock = threading.Lock()
        self._links: dict[Link, LinkState] = {}
        # the links counted without the lock (all, unless transfers of a link overlap)
        self._fast: dict[Link, LinkState] = {} if planner.allow_overlap else self._links
        self.planner_started = False
        self.planner_stopped = False
        for link in list(planner.links):
            self._state(link)

    # -- bookkeeping ----------------------------------------------------------------

    def _state(self, link: Link) -> LinkState:
        state = self._links.get(link)
        if state is None:
            name = self._names.get(link) or ".".join(link.tags) or f"link-{len(self._links) + 1}"
            taken = {s.name for s in self._links.values()}
            base, n = name, 1
            while name in taken:
                n += 1
                name = f"{base}-{n}"
            outlets = _outlet_labels(link)
            state = LinkState(name, link, outlets, before=link.transfer_number,
                              pushed=dict.fromkeys(outlets, 0))
            self._links[link] = state
        return state

    def _ours(self, link: Link) -> bool:
        return link in self._links or link in self.planner.links

    def running(self, state: LinkState) -> int:
        """Transfers of the link in flight."""
        ended = state.duration.count - state.early
        return max(state.link.transfer_number - state.before - ended, 0)

    # -- hooks ----------------------------------------------------------------------

    @hookimpl
    def databay_planner_started(self, planner: BasePlanner) -> None:
        if planner is not self.planner:
            return
        with self._lock:
            self.planner_started, self.planner_stopped = True, False
            for link in list(planner.links):
                self._state(link)

    @hookimpl
    def databay_planner_stopped(self, planner: BasePlanner) -> None:
        if planner is self.planner:
            self.planner_stopped = True

    @hookimpl
    def databay_link_start_failed(self, link: Link, error: BaseException) -> None:
        if not self._ours(link):
            return
        with self._lock:
            state = self._state(link)
            state.start_failed = state.last_error = _error_text(error)

    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Update,
                                  result: TransferResult) -> None:
        # once per transfer: a few additions (see the module's doc)
        state = self._fast.get(link)
        if state is None or result.errors or result.retried or result.dead_lettered \
                or update.transfer_number < state.before:
            self._ended(link, result, None)
            return
        state.pulled += result.pulled
        pushed = state.pushed
        for outlet, count in result.pushed.items():
            try:
                pushed[outlet] += count
            except KeyError:  # an outlet added since
                self._new_outlet(state, outlet, count)
        duration = result.duration
        histogram = state.duration
        if duration <= _FIRST_DURATION:  # the usual bucket, without bisect's call
            histogram.counts[0] += 1
        else:
            histogram.counts[bisect.bisect_left(DURATION_BUCKETS, duration)] += 1
        histogram.sum += duration
        state.last_success = state.last_run = end = _now()
        state.last_duration = duration
        due = update.due
        if due is not None:
            late = end - duration - due
            histogram = state.lateness
            if late <= _FIRST_LATENESS:
                histogram.counts[0] += 1
                if late > 0.0:
                    histogram.sum += late
            else:
                histogram.counts[bisect.bisect_left(LATENESS_BUCKETS, late)] += 1
                histogram.sum += late

    def _new_outlet(self, state: LinkState, outlet: Any, count: int) -> None:
        with self._lock:
            state.outlets = {**_outlet_labels(state.link), **state.outlets}
            state.pushed[outlet] = state.pushed.get(outlet, 0) + count

    @hookimpl
    def databay_transfer_failed(self, link: Link, update: Update, error: BaseException,
                                result: TransferResult) -> None:
        self._ended(link, result, error)

    def _ended(self, link: Link, result: TransferResult, error: BaseException | None) -> None:
        if not self._ours(link):
            return
        with self._lock:
            state = self._state(link)
            end = time.time()
            if error is not None:
                outcome = "failed"
                state.last_error = _error_text(error)
            elif result.errors:
                outcome = "errors"
                state.last_error = _error_text(result.errors[-1])
            else:
                outcome = "succeeded"
            if outcome == "succeeded":
                state.last_success = end
            state.slow[outcome] += 1
            if result.update.transfer_number < state.before:
                state.early += 1
            state.slow_outcome, state.slow_end = outcome, end
            state.pulled += result.pulled
            for outlet, count in result.pushed.items():
                state.pushed[outlet] = state.pushed.get(outlet, 0) + count
            if result.retried:
                _label(state.retries, state.outlets, result.retried)
            if result.dead_lettered:
                _label(state.dead_lettered, state.outlets, result.dead_lettered)
            state.duration.observe(result.duration)
            due = result.update.due
            if due is not None:
                state.lateness.observe(max(end - result.duration - due, 0.0))
            state.last_duration = result.duration
            state.last_run = end

    # -- what is shown ----------------------------------------------------------------

    def states(self) -> list[LinkState]:
        """The links' states, in the planner's order (links it no longer has last),
        """
        with self._lock:
            for link in list(self.planner.links):
                self._state(link)
            return list(self._links.values())

    def find(self, name: str) -> LinkState | None:
        for state in self.states():
            if state.name == name:
                return state
        return None

    def readiness(self) -> str | None:
        """None when ready; otherwise why not."""
        failed = [s for s in self.states() if s.start_failed is not None]
        if failed:
            return f"link {failed[0].name!r} failed to start: {failed[0].start_failed}"
        if not self.planner.running:
            if self.planner_stopped:
                return "the planner has stopped"
            return "the planner is not running yet"
        return None

    def link_state(self, state: LinkState) -> str:
        if self.running(state):
            return "running"
        if self.planner.link_paused(state.link):
            return "paused"
        if state.start_failed is not None or state.last_outcome in ("failed", "errors"):
            return "failing"
        return "waiting"

    def next_run(self, state: LinkState) -> float | None:
        if not self.planner.running:
            return None
        try:
            when = self.planner.next_fire_time(state.link)
        except Exception:
            return None
        return when.timestamp() if when is not None else None

    def as_json(self) -> dict[str, Any]:
        """The planner and every link, as the JSON of ``/api/links``."""
        links = []
        for state in self.states():
            with self._lock:
                counts = {
                    "transfers": sum(state.transfers.values()),
                    **{key: value for key, value in state.transfers.items()},
                    "pulled": state.pulled,
                    "pushed": sum(state.pushed.values()),
                    "pushed_per_outlet": state.pushed_labelled(),
                    "retries": sum(state.retries.values()),
                    "dead_lettered": sum(state.dead_lettered.values()),
                }
                entry: dict[str, Any] = {
                    "name": state.name,
                    "schedule": redact_text(str(state.link.schedule)),
                    "running": self.running(state),
                    "last_run": _iso(state.last_run),
                    "last_duration": state.last_duration,
                    "last_outcome": state.last_outcome,
                    "last_success": _iso(state.last_success),
                    "last_error": state.last_error,
                    "counts": counts,
                }
            entry["state"] = self.link_state(state)
            entry["paused"] = self.planner.link_paused(state.link)
            entry["next_run"] = _iso(self.next_run(state))
            links.append(entry)
        reason = self.readiness()
        return {
            "planner": {"name": type(self.planner).__name__,
                        "running": bool(self.planner.running),
                        "paused": bool(self.planner.paused),
                        "ready": reason is None, "reason": reason,
                        "role": getattr(self.planner, "role", None)},
            "links": links,
        }


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    moment = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds")
