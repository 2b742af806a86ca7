"""The Prometheus metrics, made by ``prometheus_client`` from the monitor at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from databay_web._monitor import Monitor

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
    """A ``prometheus_client`` collector reading a :class:`Monitor` when scraped."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        monitor = self.monitor
        planner = type(monitor.planner).__name__
        transfers = CounterMetricFamily("databay_transfers", METRICS["databay_transfers"],
                                        labels=["link", "outcome"])
        pulled = CounterMetricFamily("databay_records_pulled",
                                     METRICS["databay_records_pulled"], labels=["link"])
        pushed = CounterMetricFamily("databay_records_pushed",
                                     METRICS["databay_records_pushed"],
                                     labels=["link", "outlet"])
        retries = CounterMetricFamily("databay_retries", METRICS["databay_retries"],
                                      labels=["link", "outlet"])
        dead = CounterMetricFamily("databay_records_dead_lettered",
                                   METRICS["databay_records_dead_lettered"],
                                   labels=["link", "outlet"])
        duration = HistogramMetricFamily("databay_transfer_duration_seconds",
                                         METRICS["databay_transfer_duration_seconds"],
                                         labels=["link"])
        lateness = HistogramMetricFamily("databay_schedule_lateness_seconds",
                                         METRICS["databay_schedule_lateness_seconds"],
                                         labels=["link"])
        success = GaugeMetricFamily("databay_last_success_timestamp_seconds",
                                    METRICS["databay_last_success_timestamp_seconds"],
                                    labels=["link"])
        running = GaugeMetricFamily("databay_transfers_running",
                                    METRICS["databay_transfers_running"], labels=["link"])
        paused = GaugeMetricFamily("databay_link_paused", METRICS["databay_link_paused"],
                                   labels=["link"])
        states = monitor.states()
        with monitor._lock:
            for state in states:
                name = [state.name]
                for outcome, count in state.transfers.items():
                    transfers.add_metric([state.name, outcome], count)
                pulled.add_metric(name, state.pulled)
                for label in state.outlets.values():
                    pushed.add_metric([state.name, label], state.pushed.get(label, 0))
                    retries.add_metric([state.name, label], state.retries.get(label, 0))
                    dead.add_metric([state.name, label], state.dead_lettered.get(label, 0))
                duration.add_metric(name, state.duration.cumulative(), state.duration.sum)
                lateness.add_metric(name, state.lateness.cumulative(), state.lateness.sum)
                if state.last_success is not None:
                    success.add_metric(name, state.last_success)
                running.add_metric(name, state.running)
        for state in states:
            paused.add_metric([state.name], 1 if monitor.planner.link_paused(state.link) else 0)
        up = GaugeMetricFamily("databay_planner_up", METRICS["databay_planner_up"],
                               labels=["planner"])
        up.add_metric([planner], 1)
        live = GaugeMetricFamily("databay_planner_running", METRICS["databay_planner_running"],
                                 labels=["planner"])
        live.add_metric([planner], 1 if monitor.planner.running else 0)
        yield from (transfers, pulled, pushed, retries, dead, duration, lateness, success,
                    running, paused, up, live)


def registry_for(monitor: Monitor) -> CollectorRegistry:
    """A registry of its own (not the global one) holding the monitor's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(monitor))
    return registry
