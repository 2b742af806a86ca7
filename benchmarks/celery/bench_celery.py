"""databay-celery benchmark: what the once-only machinery costs per tick.

Run:  python benchmarks/celery/bench_celery.py [--ticks 2000] [--links 300]

Starts its own redis-server on a free port (127.0.0.1, no persistence) and stops it.

1. Guard, in this process: one cheap sync transfer per tick, run bare
   (``link.transfer()``), through databay-celery's guard (tick record checks, link lock
   with a renewing lease, started and done records), and, as a bare-Python baseline of
   "once" in Redis, a single ``SET key NX`` per tick before the transfer.
2. End to end: beat's ``publish`` sends one tick of each of N links (timed alone); then
   one worker (``CeleryPlanner(role="worker")``, 4 threads) starts and runs them all;
   time from its start until every tick is recorded done, against the same N transfers
   run in a plain loop.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import threading
import time
from typing import Any

import redis
from databay import Inlet, Link, Outlet, Record, Update
from databay_celery import Beat, CeleryPlanner, Settings
from databay_celery._app import make_app
from databay_celery._guard import Guard
from databay_celery._registry import format_tick, parse_tick
from databay_celery._worker import _guarded


class OneInlet(Inlet):
    def pull(self, update: Update) -> Any:
        return 1


class DropOutlet(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (.ci/install-redis.sh)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    client.close()
    return proc, url


def bench_guard(url: str, ticks: int) -> None:
    settings = Settings(broker_url=url, redis_url=url, prefix="bench-guard")
    link = Link(OneInlet(), DropOutlet(), interval=1, tags="g")
    t0 = time.perf_counter()
    for _ in range(ticks):
        link.transfer()
    bare = time.perf_counter() - t0

    client = redis.Redis.from_url(url, decode_responses=True)
    t0 = time.perf_counter()
    for i in range(ticks):
        if client.set(f"bench-nx:{i}", "1", nx=True, px=60_000):
            link.transfer()
    nx = time.perf_counter() - t0
    client.close()

    guard = Guard(settings)
    base = int(time.time() * 1000) // 1000 * 1000
    t0 = time.perf_counter()
    for i in range(ticks):
        tick = format_tick(base + i * 1000)
        _guarded(guard, link, "g", tick, parse_tick(tick))
    guarded = time.perf_counter() - t0
    guard.close()
    print(f"1. guard, {ticks} ticks of a cheap sync transfer, Redis on localhost")
    for name, seconds in (("bare link.transfer()", bare), ("baseline: SET NX + transfer", nx),
                          ("databay-celery guard + transfer", guarded)):
        print(f"   {name:34s} {seconds / ticks * 1e6:9.1f} us/tick   "
              f"x{seconds / nx:5.2f} of baseline")


def bench_end_to_end(url: str, links_n: int) -> None:
    settings = Settings(broker_url=url, redis_url=url, prefix="bench-e2e", queue="bench-e2e")
    links = [Link(OneInlet(), DropOutlet(), interval=60, tags=f"l{i}",
                  immediate_transfer=False) for i in range(links_n)]
    t0 = time.perf_counter()
    for link in links:
        link.transfer()
    bare = time.perf_counter() - t0

    # beat's side alone: publish one tick of every link (the queue waits for a worker)
    beat = Beat(make_app(settings), settings, {}, "bench")
    tick = int(time.time() * 1000) // 60_000 * 60_000
    t0 = time.perf_counter()
    for i in range(links_n):
        beat.publish(f"l{i}", tick)
    published = time.perf_counter() - t0
    beat.guard.close()

    # the worker's side alone: from its start until every tick is recorded done
    planner = CeleryPlanner(links, role="worker", broker_url=url, prefix=settings.prefix,
                            queue=settings.queue, concurrency=4, hostname="bench@localhost",
                            handle_signals=False)
    client = redis.Redis.from_url(url, decode_responses=True)
    thread = threading.Thread(target=planner.start)
    t0 = time.perf_counter()
    thread.start()
    try:
        while sum(1 for _ in client.scan_iter(f"{settings.prefix}:done:*", count=1000)) \
                < links_n:
            time.sleep(0.01)
        total = time.perf_counter() - t0
    finally:
        planner.shutdown()
        thread.join()
        client.close()
    print(f"2. end to end, {links_n} links x 1 tick, one worker process (threads x4)")
    print(f"   bare loop of the transfers         {bare / links_n * 1e6:9.1f} us/tick")
    print(f"   beat: publish a tick               {published / links_n * 1e6:9.1f} us/tick   "
          f"({links_n / published:.0f} ticks/s)")
    print(f"   worker: start, run all, record     {total / links_n * 1e6:9.1f} us/tick   "
          f"({links_n / total:.0f} ticks/s, worker start-up included; "
          f"x{total / bare:.0f} of the bare loop)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--links", type=int, default=300)
    args = parser.parse_args()
    proc, url = start_redis()
    try:
        bench_guard(url, args.ticks)
        bench_end_to_end(url, args.links)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
