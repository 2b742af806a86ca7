"""The Prometheus metrics, made by ``prometheus_client`` from the monitor at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

from databay_web._monitor import DURATION_BUCKETS, LATENESS_BUCKETS, Monitor

__all__ = ["METRICS", "MonitorCollector", "registry_for"]

#: Every metric name (without the ``_total``/``_bucket`` suffixes) and what it counts.
METRICS: dict[str, str] = {
    "databay_transfers": "Transfers per link by outcome (succeeded, errors: finished with "
                         "errors the link ignored, failed: raised)",
    "databay_records_pulled": "Records the link's inlets produced",
    "databay_records_pushed": "Records each outlet accepted",
    "databay_retries": "Retries of pushes, per outlet",
    "databay_records_dead_lettered": "Records sent to the dead-letter outlet, per outlet "
                                     "that refused them",
    "databay_transfer_duration_seconds": "Duration of transfers",
    "databay_schedule_lateness_seconds": "How late the planner started scheduled transfers "
                                         "after their fire time",
    "databay_last_success_timestamp_seconds": "Unix time of the link's last transfer without "
                                              "errors",
    "databay_transfers_running": "Transfers of the link in flight (absent while none)",
    "databay_link_paused": "1 while the link's scheduled transfers are skipped (absent "
                           "while not paused)",
    "databay_planner_up": "1: the planner's process serves metrics",
    "databay_planner_running": "1 while the planner schedules transfers",
}


class MonitorCollector(Collector):
    """A ``prometheus_client`` collector reading a :class:`Monitor` when scraped.

    The families are ``prometheus_client``'s own (``Metric`` and ``Sample``), filled
    directly (their ``add_metric`` helpers re-check every label of every sample, which
    costs a scrape of many links more than the encoding). The encoder's cost is per
    sample, so a link has few: the ``errors`` and ``failed`` outcomes, per-outlet retry
    and dead-letter series appear once non-zero (as labelled ``prometheus_client``
    counters do once first used), the running and paused gauges only while non-zero, and
    scheduling lateness is one histogram per planner.
    The counts are copied under the monitor's lock, the samples built after it."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        # label dicts per link name, made once (a scrape of many links made them anew)
        self._labels: dict[str, _LinkLabels] = {}

    def _labels_of(self, name: str) -> _LinkLabels:
        labels = self._labels.get(name)
        if labels is None:
            labels = self._labels[name] = _LinkLabels(name)
        return labels

    def collect(self) -> Iterator[Metric]:
        monitor = self.monitor
        planner = type(monitor.planner).__name__
        states = monitor.states()
        link_paused = monitor.planner.link_paused
        lateness_counts = [0] * (len(LATENESS_BUCKETS) + 1)
        lateness_sum = 0.0
        copied = []
        with monitor._lock:  # only copies: the samples are built without the lock
            for state in states:
                late = state.lateness
                if late.count:
                    for i, count in enumerate(list(late.counts)):
                        lateness_counts[i] += count
                    lateness_sum += late.sum
                duration = state.duration
                pushed_now = state.pushed_labelled()
                outcomes = state.transfers
                copied.append((
                    state.name, state.link, outcomes["succeeded"],
                    outcomes["errors"], outcomes["failed"], state.pulled,
                    [(label, pushed_now.get(label, 0), state.retries.get(label, 0),
                      state.dead_lettered.get(label, 0)) for label in state.outlets.values()],
                    list(duration.counts), 0, duration.sum,
                    state.last_success, monitor.running(state)))
        families = {name: Metric(name, METRICS[name], kind) for name, kind in _KINDS.items()}
        targets = [families[name].samples for name in _PER_LINK]
        for entry in copied:
            labels = self._labels_of(entry[0])
            key = (*entry[2:], link_paused(entry[1]))
            if labels.key != key:  # changed since the last scrape: its samples anew
                labels.key, labels.samples = key, _link_samples(labels, *key)
            for target, samples in zip(targets, labels.samples, strict=True):
                if samples:
                    target += samples
        lateness_count = sum(lateness_counts)  # the +Inf bucket's, whatever raced
        of_planner = {"planner": planner}
        lateness = families["databay_schedule_lateness_seconds"].samples
        cumulative = 0
        for bound, bucket in zip((*map(repr, LATENESS_BUCKETS), "+Inf"), lateness_counts,
                                 strict=True):
            cumulative += bucket
            lateness.append(Sample("databay_schedule_lateness_seconds_bucket",
                                   {"planner": planner, "le": bound}, cumulative))
        lateness.append(Sample("databay_schedule_lateness_seconds_count", of_planner,
                               lateness_count))
        lateness.append(Sample("databay_schedule_lateness_seconds_sum", of_planner,
                               lateness_sum))
        families["databay_planner_up"].samples.append(
            Sample("databay_planner_up", of_planner, 1))
        families["databay_planner_running"].samples.append(
            Sample("databay_planner_running", of_planner,
                   1 if monitor.planner.running else 0))
        yield from families.values()


#: the per-link families, in the order of :func:`_link_samples`' lists
_PER_LINK = ("databay_transfers", "databay_records_pulled", "databay_records_pushed",
             "databay_retries", "databay_records_dead_lettered",
             "databay_transfer_duration_seconds", "databay_last_success_timestamp_seconds",
             "databay_transfers_running", "databay_link_paused")


def _link_samples(labels: _LinkLabels, succeeded: int, errors: int, failed: int,
                  records: int, outlets: list[tuple[str, int, int, int]], counts: list[int],
                  _count: int, total: float, last_success: float | None, in_flight: int,
                  paused: bool) -> tuple[list[Sample], ...]:
    """One link's samples, a list per family of :data:`_PER_LINK`."""
    one = labels.one
    transfers = [Sample("databay_transfers_total", labels.succeeded, succeeded)]
    if errors:
        transfers.append(Sample("databay_transfers_total", labels.errors, errors))
    if failed:
        transfers.append(Sample("databay_transfers_total", labels.failed, failed))
    pushed, retries, dead = [], [], []
    for label, pushes, retried, dead_lettered in outlets:
        two = labels.outlet(label)
        pushed.append(Sample("databay_records_pushed_total", two, pushes))
        if retried:
            retries.append(Sample("databay_retries_total", two, retried))
        if dead_lettered:
            dead.append(Sample("databay_records_dead_lettered_total", two, dead_lettered))
    duration = []
    cumulative = 0
    for le, bucket in zip(labels.duration_le, counts, strict=True):
        cumulative += bucket
        duration.append(Sample("databay_transfer_duration_seconds_bucket", le, cumulative))
    duration.append(Sample("databay_transfer_duration_seconds_count", one,
                           cumulative))  # = +Inf, whatever raced
    duration.append(Sample("databay_transfer_duration_seconds_sum", one, total))
    success = [] if last_success is None else [
        Sample("databay_last_success_timestamp_seconds", one, last_success)]
    running = [Sample("databay_transfers_running", one, in_flight)] if in_flight else []
    paused_now = [Sample("databay_link_paused", one, 1)] if paused else []
    return (transfers, [Sample("databay_records_pulled_total", one, records)], pushed,
            retries, dead, duration, success, running, paused_now)


class _LinkLabels:
    """One link's label dicts, shared by its samples scrape after scrape, and its
    samples of the last scrape with the values they were made from (samples are
    immutable: a link whose values did not change gives the same ones again)."""

    __slots__ = ("duration_le", "errors", "failed", "key", "one", "outlets", "samples",
                 "succeeded")

    def __init__(self, name: str) -> None:
        self.one = {"link": name}
        self.succeeded = {"link": name, "outcome": "succeeded"}
        self.errors = {"link": name, "outcome": "errors"}
        self.failed = {"link": name, "outcome": "failed"}
        self.duration_le = [{"link": name, "le": bound}
                            for bound in (*map(repr, DURATION_BUCKETS), "+Inf")]
        self.outlets: dict[str, dict[str, str]] = {}
        self.key: tuple[Any, ...] | None = None
        self.samples: tuple[list[Sample], ...] = ()

    def outlet(self, label: str) -> dict[str, str]:
        two = self.outlets.get(label)
        if two is None:
            two = self.outlets[label] = {"link": self.one["link"], "outlet": label}
        return two


_KINDS = {
    "databay_transfers": "counter", "databay_records_pulled": "counter",
    "databay_records_pushed": "counter", "databay_retries": "counter",
    "databay_records_dead_lettered": "counter",
    "databay_transfer_duration_seconds": "histogram",
    "databay_schedule_lateness_seconds": "histogram",
    "databay_last_success_timestamp_seconds": "gauge", "databay_transfers_running": "gauge",
    "databay_link_paused": "gauge", "databay_planner_up": "gauge",
    "databay_planner_running": "gauge",
}


def registry_for(monitor: Monitor) -> CollectorRegistry:
    """A registry of its own (not the global one) holding the monitor's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(monitor))
    return registry
