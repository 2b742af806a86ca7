"""Planner benchmark: timeliness, CPU, shutdown time and idle memory per link.

Run:  python benchmarks/planners/bench_planners.py [--seconds 3.5] [--links 100]

1. Busy: N links (default 100) at a 0.1 s interval, each a cheap sync transfer, for at
   least 3 s, under a bare-Python baseline scheduler (a heap, one thread, a pool),
   ApsPlanner and SchedulePlanner. Lateness is measured against the ideal grid:
   link tick k is due at T0 + k * interval, T0 being the moment the planner begins
   scheduling (the ``databay_planner_started`` hook; for the baseline, its start).
   Achieved % counts the grid slots that got their transfer. CPU % is process CPU time
   over wall time (100 % = one core). Shutdown is the time ``shutdown(wait=False)`` takes.
2. Idle: 2,000 links at 60 s: Python memory (tracemalloc) the planner adds per link,
   the links' own memory per link, and CPU % while idle.

Each scenario runs in a fresh interpreter so that none disturbs another.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import math
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from databay import Inlet, Link, Outlet, Record, Update
from databay.hookspecs import hookimpl

INTERVAL = 0.1


class StampInlet(Inlet):
    """A cheap sync pull that records when it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[float] = []

    def pull(self, update: Update) -> Any:
        self.stamps.append(time.time())
        return None


class DropOutlet(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        return None


class _StartStamp:
    def __init__(self) -> None:
        self.t0: float | None = None
        self.ready = threading.Event()

    @hookimpl
    def databay_planner_started(self, planner: Any) -> None:
        self.t0 = time.time()
        self.ready.set()


def make_links(n: int, interval: float) -> tuple[list[Link], list[StampInlet]]:
    inlets = [StampInlet() for _ in range(n)]
    links = [Link(i, DropOutlet(), interval, tags=f"l{k}", copy_records=False,
                  immediate_transfer=False) for k, i in enumerate(inlets)]
    return links, inlets


class Baseline:
    """The least a scheduler must do: a heap of due times, one thread, a thread pool."""

    def __init__(self, links: list[Link], threads: int = 30) -> None:
        self.links = links
        self.pool = ThreadPoolExecutor(threads)
        self.stop = threading.Event()
        self.t0 = 0.0

    def start(self) -> None:
        self.t0 = time.time()
        heap = [(self.t0 + link.interval.total_seconds(), i) for i, link in enumerate(self.links)]
        heapq.heapify(heap)
        while not self.stop.is_set():
            now = time.time()
            while heap[0][0] <= now:
                due, i = heapq.heappop(heap)
                link = self.links[i]
                self.pool.submit(link.transfer)
                heapq.heappush(heap, (due + link.interval.total_seconds(), i))
            self.stop.wait(max(heap[0][0] - time.time(), 0))

    def shutdown(self, wait: bool = True) -> None:
        self.stop.set()
        self.pool.shutdown(wait=wait)


def make_planner(kind: str, links: list[Link]) -> Any:
    if kind == "baseline":
        return Baseline(links)
    from databay.planners import ApsPlanner, SchedulePlanner

    cls = {"aps": ApsPlanner, "schedule": SchedulePlanner}[kind]
    return cls(links, threads=30, immediate_transfer=False, handle_signals=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def busy(kind: str, n: int, seconds: float) -> dict[str, Any]:
    from databay import plugins

    links, inlets = make_links(n, INTERVAL)
    planner = make_planner(kind, links)
    stamp = _StartStamp()
    plugins.register(stamp, name="bench-start-stamp")
    gc.collect()  # the full pass that setting up makes due would otherwise land in the run
    thread = threading.Thread(target=planner.start)
    cpu0 = time.process_time()
    wall0 = time.time()
    thread.start()
    if kind == "baseline":
        while planner.t0 == 0.0:
            time.sleep(0.001)
        t0 = planner.t0
    else:
        stamp.ready.wait(10)
        assert stamp.t0 is not None
        t0 = stamp.t0
    # the last slot counted is due at t0 + seconds; it gets half an interval to happen
    time.sleep(max(0.0, t0 + seconds + INTERVAL / 2 - time.time()))
    t_end = time.time()
    cpu1 = time.process_time()
    before = time.perf_counter()
    planner.shutdown(wait=False)
    shutdown_s = time.perf_counter() - before
    wall1 = time.time()
    thread.join(10)
    lateness: list[float] = []
    hit = 0
    duplicates = 0
    expected_per_link = math.floor(seconds / INTERVAL + 1e-9)
    for inlet in inlets:
        slots: set[int] = set()
        for t in inlet.stamps:
            if t > t_end:
                continue
            # slot k is due at t0 + k*INTERVAL; 2 ms of earliness is tolerated (clock
            # rounding), so a transfer up to 98 ms late still counts for its own slot
            k = math.floor((t - t0 + 0.002) / INTERVAL)
            lateness.append(t - (t0 + k * INTERVAL))
            if k in slots:
                duplicates += 1
            slots.add(k)
        hit += len({k for k in slots if 1 <= k <= expected_per_link})
    expected = expected_per_link * n
    return {
        "kind": kind,
        "links": n,
        "seconds": seconds,
        "transfers": len(lateness),
        "expected": expected,
        "achieved_pct": 100.0 * hit / expected,
        "duplicates": duplicates,
        "late_p50_ms": 1000 * percentile(lateness, 50),
        "late_p99_ms": 1000 * percentile(lateness, 99),
        "late_max_ms": 1000 * max(lateness),
        "cpu_pct": 100.0 * (cpu1 - cpu0) / (t_end - wall0),
        "shutdown_ms": 1000 * shutdown_s,
        "stopped_within_s": round(time.time() - wall1, 3),
        "thread_alive": thread.is_alive(),
    }


def idle(kind: str, n: int, seconds: float) -> dict[str, Any]:
    make_planner(kind, [])  # imports the planner's modules before memory is measured
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    links, _ = make_links(n, 60.0)
    with_links = tracemalloc.get_traced_memory()[0]
    planner = make_planner(kind, links)
    thread = threading.Thread(target=planner.start)
    thread.start()
    deadline = time.time() + 10
    while kind != "baseline" and not planner.running and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    scheduled = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()  # tracing would inflate the idle CPU figure
    gc.collect()  # the full pass that setting up makes due would otherwise land below
    cpu0, wall0 = time.process_time(), time.time()
    time.sleep(seconds)
    cpu_pct = 100.0 * (time.process_time() - cpu0) / (time.time() - wall0)
    before = time.perf_counter()
    planner.shutdown(wait=False)
    shutdown_s = time.perf_counter() - before
    thread.join(10)
    return {
        "kind": kind,
        "links": n,
        "link_bytes_per_link": (with_links - base) / n,
        "planner_bytes_per_link": (scheduled - with_links) / n,
        "idle_cpu_pct": cpu_pct,
        "shutdown_ms": 1000 * shutdown_s,
        "thread_alive": thread.is_alive(),
    }


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def _row(label: str, r: dict[str, Any], base: dict[str, Any]) -> None:
    print(f"{label:13} {r['achieved_pct']:9.2f} {r['late_p50_ms']:7.2f} {r['late_p99_ms']:7.2f} "
          f"{r['late_max_ms']:7.2f} {r['cpu_pct']:6.1f} {r['shutdown_ms']:11.2f} "
          f"{r['late_p99_ms'] / base['late_p99_ms']:8.2f} "
          f"{r['cpu_pct'] / base['cpu_pct']:8.2f}"
          + ("  DUPLICATES" if r["duplicates"] else "")
          + ("  THREAD LEFT RUNNING" if r["thread_alive"] else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.5)
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument("--idle-links", type=int, default=2000)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3, help="busy runs per planner")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "KIND"))
    args = parser.parse_args()
    if args.child:
        scenario, kind = args.child
        if scenario == "busy":
            result = busy(kind, args.links, args.seconds)
        else:
            result = idle(kind, args.idle_links, args.idle_seconds)
        print(json.dumps(result))
        return

    kinds = ["baseline", "aps", "schedule"]
    print(f"busy: {args.links} links at {INTERVAL} s for {args.seconds} s, {args.repeat} runs "
          f"each (lateness against the ideal grid); load average {_load()}")
    header = (f"{'planner':13} {'achieved%':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
              f"{'CPU%':>6} {'shutdown ms':>11} {'p99/base':>8} {'CPU/base':>8}")
    print(header)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for _ in range(args.repeat):
        for k in kinds:  # interleaved, so that load changes hit every planner alike
            runs[k].append(run_child("busy", k, "--links", str(args.links),
                                     "--seconds", str(args.seconds)))
    for i in range(args.repeat):
        base = runs["baseline"][i]
        for k in kinds:
            _row(f"{k} #{i + 1}", runs[k][i], base)
    print("median of the runs:")
    medians = {k: {key: statistics.median(r[key] for r in runs[k])
                   for key in ("achieved_pct", "late_p50_ms", "late_p99_ms", "late_max_ms",
                               "cpu_pct", "shutdown_ms", "duplicates")}
               for k in kinds}
    for k in kinds:
        _row(k, {**medians[k], "thread_alive": any(r["thread_alive"] for r in runs[k])},
             medians["baseline"])
    print()
    print(f"idle: {args.idle_links} links at 60 s for {args.idle_seconds} s; "
          f"load average {_load()}")
    print(f"{'planner':10} {'planner B/link':>14} {'link B/link':>11} {'idle CPU%':>9} "
          f"{'shutdown ms':>11}")
    for k in kinds:
        r = run_child("idle", k, "--idle-links", str(args.idle_links),
                      "--idle-seconds", str(args.idle_seconds))
        print(f"{k:10} {r['planner_bytes_per_link']:14.0f} {r['link_bytes_per_link']:11.0f} "
              f"{r['idle_cpu_pct']:9.2f} {r['shutdown_ms']:11.2f}"
              + ("  THREAD LEFT RUNNING" if r["thread_alive"] else ""))


if __name__ == "__main__":
    main()
