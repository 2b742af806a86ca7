"""The Prometheus metrics, made by ``prometheus_client`` from the monitor at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

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
                copied.append((
                    state.name, state.link, state.transfers["succeeded"],
                    state.transfers["errors"], state.transfers["failed"], state.pulled,
                    [(label, pushed_now.get(label, 0), state.retries.get(label, 0),
                      state.dead_lettered.get(label, 0)) for label in state.outlets.values()],
                    list(duration.counts), 0, duration.sum,
                    state.last_success, monitor.running(state)))
        families = {name: Metric(name, METRICS[name], kind) for name, kind in _KINDS.items()}
        transfers = families["databay_transfers"].samples
        pulled = families["databay_records_pulled"].samples
        pushed = families["databay_records_pushed"].samples
        retries = families["databay_retries"].samples
        dead = families["databay_records_dead_lettered"].samples
        duration_samples = families["databay_transfer_duration_seconds"].samples
        success = families["databay_last_success_timestamp_seconds"].samples
        running = families["databay_transfers_running"].samples
        paused = families["databay_link_paused"].samples
        for (name, link, succeeded, errors, failed, records, outlets, counts, _count, total,
             last_success, in_flight) in copied:
            labels = self._labels_of(name)
            one = labels.one
            transfers.append(Sample("databay_transfers_total", labels.succeeded, succeeded))
            if errors:
                transfers.append(Sample("databay_transfers_total", labels.errors, errors))
            if failed:
                transfers.append(Sample("databay_transfers_total", labels.failed, failed))
            pulled.append(Sample("databay_records_pulled_total", one, records))
            for label, pushes, retried, dead_lettered in outlets:
                two = labels.outlet(label)
                pushed.append(Sample("databay_records_pushed_total", two, pushes))
                if retried:
                    retries.append(Sample("databay_retries_total", two, retried))
                if dead_lettered:
                    dead.append(Sample("databay_records_dead_lettered_total", two,
                                       dead_lettered))
            cumulative = 0
            for le, bucket in zip(labels.duration_le, counts, strict=True):
                cumulative += bucket
                duration_samples.append(
                    Sample("databay_transfer_duration_seconds_bucket", le, cumulative))
            duration_samples.append(Sample("databay_transfer_duration_seconds_count", one,
                                           cumulative))  # = +Inf, whatever raced
            duration_samples.append(Sample("databay_transfer_duration_seconds_sum", one,
                                           total))
            if last_success is not None:
                success.append(Sample("databay_last_success_timestamp_seconds", one,
                                      last_success))
            if in_flight:
                running.append(Sample("databay_transfers_running", one, in_flight))
            if link_paused(link):
                paused.append(Sample("databay_link_paused", one, 1))
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


class _LinkLabels:
    """One link's label dicts, shared by its samples scrape after scrape."""

    __slots__ = ("duration_le", "errors", "failed", "one", "outlets", "succeeded")

    def __init__(self, name: str) -> None:
        self.one = {"link": name}
        self.succeeded = {"link": name, "outcome": "succeeded"}
        self.errors = {"link": name, "outcome": "errors"}
        self.failed = {"link": name, "outcome": "failed"}
        self.duration_le = [{"link": name, "le": bound}
                            for bound in (*map(repr, DURATION_BUCKETS), "+Inf")]
        self.outlets: dict[str, dict[str, str]] = {}

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
