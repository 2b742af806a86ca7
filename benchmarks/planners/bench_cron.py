"""Cron benchmark: 100 links on a per-second cron schedule, on each planner.

Run:  python benchmarks/planners/bench_cron.py [--seconds 30] [--links 100]
                                               [--planners aps,schedule,celery]

For each planner, in a fresh interpreter each:

- **cron**: N links on ``Cron("* * * * * *", "UTC")`` (a fire at every whole second);
- **interval**: the same N links on ``interval=1`` (the planner's own 1 s grid),

each a cheap sync transfer (an inlet that stamps ``time.time()``, an outlet that drops the
batch), for ``--seconds`` of wall time.

- *fires %*: the (link, second) slots in the run that got their transfer;
- *lateness*: a transfer's distance from its slot's due time: the whole second for cron,
  T0 + k s for the interval grid (T0: the planner's ``databay_planner_started`` hook);
- *CPU %*: process CPU time / wall time over the run (100 % = one core);
- *CPU cron/interval*: the cron run's CPU against the interval run's.

celery: beat (``CeleryPlanner(role="beat")``) in a process of its own and one worker
process (``role="worker"``, ``--celery-threads`` threads, default 100: a slot for every
link's transfer of a tick), as they run in production, on a redis-server of its own
(127.0.0.1, free port, no persistence; ``redis-server`` must be installed:
``.ci/install-redis.sh``). Its lateness includes the trip through the broker and the
once-only records in Redis; its CPU is beat's and the worker's together.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from databay import Inlet, Link, Outlet, Record, Update
from databay.hookspecs import hookimpl
from databay.schedules import Cron

EVERY_SECOND = "* * * * * *"


class StampInlet(Inlet):
    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[float] = []
        self.ticks: list[tuple[float, float]] = []  # celery: (scheduled, ran)

    def pull(self, update: Update) -> Any:
        now = time.time()
        self.stamps.append(now)
        tick = _current_tick()
        if tick is not None:
            self.ticks.append((tick.time.timestamp(), now))
        return None


def _current_tick() -> Any:
    module = sys.modules.get("databay_celery")
    return None if module is None else module.current_tick()


class DropOutlet(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        return None


class _StartStamp:
    def __init__(self) -> None:
        self.t0: float | None = None
        self.ready = threading.Event()

    @hookimpl
    def databay_planner_started(self, planner: Any) -> None:
        if self.t0 is None:
            self.t0 = time.time()
            self.ready.set()


def make_links(n: int, kind: str) -> tuple[list[Link], list[StampInlet]]:
    inlets = [StampInlet() for _ in range(n)]
    when: dict[str, Any] = ({"schedule": Cron(EVERY_SECOND, "UTC")} if kind == "cron"
                            else {"interval": 1.0})
    links = [Link(i, DropOutlet(), tags=f"l{k}", copy_records=False, immediate_transfer=False,
                  **when) for k, i in enumerate(inlets)]
    return links, inlets


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def measure(inlets: list[StampInlet], t0: float, t_end: float, kind: str) -> dict[str, Any]:
    """Slots are seconds: whole seconds (cron) or t0 + k (interval), from the first slot
    after t0 to the last one at least 0.5 s before t_end."""
    offset = 0.0 if kind == "cron" else t0 - math.floor(t0)
    first = math.floor(t0 - offset) + 1
    last = math.floor(t_end - 0.5 - offset)
    expected = max(0, last - first + 1) * len(inlets)
    lateness: list[float] = []
    hit = duplicates = 0
    for inlet in inlets:
        slots: set[int] = set()
        for t in inlet.stamps:
            k = math.floor(t - offset + 0.002)  # 2 ms of earliness: clock rounding
            if not first <= k <= last:
                continue
            lateness.append(t - offset - k)
            duplicates += k in slots
            slots.add(k)
        hit += len(slots)
    return {"expected": expected, "fires_pct": 100.0 * hit / expected if expected else 0.0,
            "duplicates": duplicates,
            "late_p50_ms": 1000 * percentile(lateness, 50),
            "late_p99_ms": 1000 * percentile(lateness, 99),
            "late_max_ms": 1000 * max(lateness) if lateness else math.nan}


def measure_ticks(inlets: list[StampInlet], t0: float, t_end: float) -> dict[str, Any]:
    """Celery: each transfer knows its tick (the scheduled time beat published), so
    lateness is ran - scheduled, and a tick run twice is a real duplicate."""
    first = math.floor(t0) + 1
    last = math.floor(t_end - 1.5)  # the last ticks get time to reach the worker
    expected = max(0, last - first + 1) * len(inlets)
    lateness: list[float] = []
    hit = duplicates = 0
    for inlet in inlets:
        seen: set[int] = set()
        for scheduled, ran in inlet.ticks:
            k = round(scheduled)
            if not first <= k <= last:
                continue
            lateness.append(ran - scheduled)
            duplicates += k in seen
            seen.add(k)
        hit += len(seen)
    return {"expected": expected, "fires_pct": 100.0 * hit / expected if expected else 0.0,
            "duplicates": duplicates,
            "late_p50_ms": 1000 * percentile(lateness, 50),
            "late_p99_ms": 1000 * percentile(lateness, 99),
            "late_max_ms": 1000 * max(lateness) if lateness else math.nan}


def run_local(planner_name: str, kind: str, n: int, seconds: float) -> dict[str, Any]:
    from databay import plugins
    from databay.planners import ApsPlanner, SchedulePlanner

    links, inlets = make_links(n, kind)
    cls = {"aps": ApsPlanner, "schedule": SchedulePlanner}[planner_name]
    planner = cls(links, threads=30, immediate_transfer=False, handle_signals=False)
    stamp = _StartStamp()
    plugins.register(stamp, name="bench-start-stamp")
    gc.collect()
    thread = threading.Thread(target=planner.start)
    thread.start()
    stamp.ready.wait(10)
    assert stamp.t0 is not None
    t0 = stamp.t0
    cpu0, wall0 = time.process_time(), time.time()
    time.sleep(seconds)
    cpu1, t_end = time.process_time(), time.time()
    planner.shutdown(wait=True)
    thread.join(10)
    return {"planner": planner_name, "kind": kind, "links": n, "seconds": seconds,
            "cpu_pct": 100.0 * (cpu1 - cpu0) / (t_end - wall0),
            **measure(inlets, t0, t_end, kind)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    deadline = time.time() + 10
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def run_celery_beat(kind: str, n: int, seconds: float, url: str) -> dict[str, Any]:
    """The beat process: publishes for ``seconds`` once it leads, says when it began."""
    from databay_celery import CeleryPlanner

    links, _ = make_links(n, kind)
    beat = CeleryPlanner(links, role="beat", immediate_transfer=False, broker_url=url,
                         redis_url=url, prefix="bench", handle_signals=False)
    bt = threading.Thread(target=beat.start)
    bt.start()
    deadline = time.time() + 20
    while (beat.beat is None or not beat.beat.leading.is_set()) and time.time() < deadline:
        time.sleep(0.01)
    began = time.time()
    print(json.dumps({"began": began}), flush=True)
    cpu0 = time.process_time()
    time.sleep(seconds)
    cpu = time.process_time() - cpu0
    beat.shutdown(wait=True)
    bt.join(20)
    return {"published": beat.beat.published if beat.beat else 0,
            "cpu_pct": 100.0 * cpu / (time.time() - began)}


def run_celery(kind: str, n: int, seconds: float, threads: int) -> dict[str, Any]:
    """A worker process (this one, ``threads`` threads) and beat in a process of its own,
    as they are run in production; lateness is measured in the worker."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (bash .ci/install-redis.sh)")
    from databay_celery import CeleryPlanner

    port = free_port()
    redis_proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    beat_proc: subprocess.Popen[str] | None = None
    try:
        _wait_redis(url)
        links, inlets = make_links(n, kind)
        worker = CeleryPlanner(links, role="worker", concurrency=threads, broker_url=url,
                               redis_url=url, prefix="bench", handle_signals=False)
        wt = threading.Thread(target=worker.start)
        wt.start()
        deadline = time.time() + 20
        while not worker.running and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the worker consumes before beat publishes
        gc.collect()
        beat_proc = subprocess.Popen([sys.executable, __file__, "--child", "celery-beat", kind,
                                      "--links", str(n), "--seconds", str(seconds),
                                      "--redis-url", url],
                                     stdout=subprocess.PIPE, text=True)
        assert beat_proc.stdout is not None
        t_beat = json.loads(beat_proc.stdout.readline())["began"]
        cpu0, wall0 = time.process_time(), time.time()
        beat_out = json.loads(beat_proc.stdout.read().strip().splitlines()[-1])
        beat_proc.wait(30)
        cpu1, t_end = time.process_time(), time.time()
        time.sleep(3)  # the worker runs the ticks still queued
        worker.shutdown(wait=True)
        wt.join(30)
        return {"planner": "celery", "kind": kind, "links": n, "seconds": seconds,
                "cpu_pct": 100.0 * (cpu1 - cpu0) / (t_end - wall0) + beat_out["cpu_pct"],
                "worker_cpu_pct": 100.0 * (cpu1 - cpu0) / (t_end - wall0),
                "beat_cpu_pct": beat_out["cpu_pct"],
                # beat's interval grid is multiples of the interval since the epoch:
                # whole seconds too; lateness against each transfer's own tick
                **measure_ticks(inlets, t_beat, t_end)}
    finally:
        if beat_proc is not None and beat_proc.poll() is None:
            beat_proc.kill()
            beat_proc.wait()
        redis_proc.terminate()
        try:
            redis_proc.wait(5)
        except subprocess.TimeoutExpired:
            redis_proc.kill()
            redis_proc.wait()


def child(args: argparse.Namespace) -> dict[str, Any]:
    planner_name, kind = args.child
    if planner_name == "celery-beat":
        return run_celery_beat(kind, args.links, args.seconds, args.redis_url)
    if planner_name == "celery":
        return run_celery(kind, args.links, args.seconds, args.celery_threads)
    return run_local(planner_name, kind, args.links, args.seconds)


def load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument("--planners", default="aps,schedule,celery")
    parser.add_argument("--celery-threads", type=int, default=100,
                        help="the worker's threads: one per link, so that 100 transfers "
                             "of a tick can run at once (default 100)")
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, metavar=("PLANNER", "KIND"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    print(f"{args.links} links, per-second cron vs 1 s interval, {args.seconds:g} s each; "
          f"load average {load()}")
    print(f"{'planner':9} {'kind':9} {'fires %':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'CPU %':>6} {'CPU cron/interval':>17}")
    for name in args.planners.split(","):
        rows = {}
        for kind in ("cron", "interval"):
            out = subprocess.run([sys.executable, __file__, "--child", name, kind,
                                  "--links", str(args.links), "--seconds", str(args.seconds),
                                  "--celery-threads", str(args.celery_threads)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{name:9} {kind:9} FAILED: {out.stderr.strip().splitlines()[-1:]}")
                continue
            rows[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        for kind, r in rows.items():
            ratio = ""
            if kind == "cron" and "interval" in rows and rows["interval"]["cpu_pct"]:
                ratio = f"{r['cpu_pct'] / rows['interval']['cpu_pct']:17.2f}"
            print(f"{name:9} {kind:9} {r['fires_pct']:8.2f} {r['late_p50_ms']:7.2f} "
                  f"{r['late_p99_ms']:7.2f} {r['late_max_ms']:7.2f} {r['cpu_pct']:6.1f} "
                  f"{ratio}" + ("  DUPLICATES" if r["duplicates"] else "")
                  + (f"  (worker {r['worker_cpu_pct']:.1f} % + beat {r['beat_cpu_pct']:.1f} %)"
                     if "beat_cpu_pct" in r else ""))
    print(f"load average at the end {load()}")


if __name__ == "__main__":
    main()
