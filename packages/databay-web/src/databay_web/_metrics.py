"""The Prometheus metrics, made by ``prometheus_client`` from the monitor at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

from databay_web._monitor import Histogram, Monitor

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
    "databay_schedule_lateness_seconds": "How late scheduled transfers started after their "
                                         "fire time",
    "databay_last_success_timestamp_seconds": "Unix time of the link's last transfer without "
                                              "errors",
    "databay_transfers_running": "Transfers of the link in flight",
    "databay_link_paused": "1 while the link's scheduled transfers are skipped",
    "databay_planner_up": "1: the planner's process serves metrics",
    "databay_planner_running": "1 while the planner schedules transfers",
}


class MonitorCollector(Collector):
    """A ``prometheus_client`` collector reading a :class:`Monitor` when scraped.

    The families are ``prometheus_client``'s own (``Metric`` and ``Sample``), filled
    directly (their ``add_metric`` helpers re-check every label of every sample, which
    costs a scrape of many links more than the encoding). Per-outlet retry and
    dead-letter series appear once non-zero, as labelled ``prometheus_client`` counters
    do once first used."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        monitor = self.monitor
        planner = type(monitor.planner).__name__
        families = {name: Metric(name, METRICS[name], kind) for name, kind in _KINDS.items()}
        transfers = families["databay_transfers"].samples
        pulled = families["databay_records_pulled"].samples
        pushed = families["databay_records_pushed"].samples
        retries = families["databay_retries"].samples
        dead = families["databay_records_dead_lettered"].samples
        duration = families["databay_transfer_duration_seconds"].samples
        lateness = families["databay_schedule_lateness_seconds"].samples
        success = families["databay_last_success_timestamp_seconds"].samples
        running = families["databay_transfers_running"].samples
        paused = families["databay_link_paused"].samples
        states = monitor.states()
        link_paused = monitor.planner.link_paused
        with monitor._lock:
            for state in states:
                name = state.name
                one = {"link": name}
                for outcome, count in state.transfers.items():
                    transfers.append(Sample("databay_transfers_total",
                                            {"link": name, "outcome": outcome}, count))
                pulled.append(Sample("databay_records_pulled_total", one, state.pulled))
                for label in state.outlets.values():
                    two = {"link": name, "outlet": label}
                    pushed.append(Sample("databay_records_pushed_total", two,
                                         state.pushed.get(label, 0)))
                    if state.retries.get(label):
                        retries.append(Sample("databay_retries_total", two,
                                              state.retries[label]))
                    if state.dead_lettered.get(label):
                        dead.append(Sample("databay_records_dead_lettered_total", two,
                                           state.dead_lettered[label]))
                _histogram(duration, "databay_transfer_duration_seconds", name, state.duration)
                _histogram(lateness, "databay_schedule_lateness_seconds", name, state.lateness)
                if state.last_success is not None:
                    success.append(Sample("databay_last_success_timestamp_seconds", one,
                                          state.last_success))
                running.append(Sample("databay_transfers_running", one, state.running))
        for state in states:
            paused.append(Sample("databay_link_paused", {"link": state.name},
                                 1 if link_paused(state.link) else 0))
        families["databay_planner_up"].samples.append(
            Sample("databay_planner_up", {"planner": planner}, 1))
        families["databay_planner_running"].samples.append(
            Sample("databay_planner_running", {"planner": planner},
                   1 if monitor.planner.running else 0))
        yield from families.values()


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


def _histogram(samples: list[Sample], name: str, link: str, histogram: Histogram) -> None:
    bucket = name + "_bucket"
    for bound, count in histogram.cumulative():
        samples.append(Sample(bucket, {"link": link, "le": bound}, count))
    samples.append(Sample(name + "_count", {"link": link}, histogram.count))
    samples.append(Sample(name + "_sum", {"link": link}, histogram.sum))


def registry_for(monitor: Monitor) -> CollectorRegistry:
    """A registry of its own (not the global one) holding the monitor's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(monitor))
    return registry
