"""databay-web's cost: per transfer with the service on and nobody watching, and a scrape.

    hatch run test.all:python benchmarks/web/bench_web.py [--rounds 31] [--transfers 4000]

1. Planner overhead per transfer: the time of one scheduled tick on core's ThreadPlanner
   path (``BasePlanner._run_tick``: claim, transfer, hooks, release), minimum over rounds,
   (and median) without and with a started ``WebService`` (its hooks registered, no
   request made), rounds alternating; each tick is due when it is handed over.
   Three links: an empty one (the planner's own path, where any hook shows most), 10
   records through a processor into a list, and 10 records written to a JSON-lines file
   (FileOutlet). Target: +5 % at most.
2. A scrape of 1,000 links' metrics (``GET /metrics`` over HTTP, every link having run):
   median of 20 scrapes. Target: < 100 ms.

Exit code 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from typing import Any

from databay import Inlet, Link, Outlet
from databay.outlets import FileOutlet
from databay.planners import ThreadPlanner
from databay_web import WebService


class Empty(Inlet):
    def pull(self, update: Any) -> list[Any]:
        return []


class Ten(Inlet):
    def pull(self, update: Any) -> list[dict[str, int]]:
        return [{"n": i, "v": i * 2} for i in range(10)]


class ListOutlet(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def push(self, records: Any, update: Any) -> None:
        self.count += len(records)


def _add_one(records: list[Any]) -> list[Any]:
    for record in records:
        record.payload["w"] = record.payload["v"] + 1
    return records


def per_tick(planner: ThreadPlanner, link: Link, transfers: int) -> float:
    # a scheduled tick, due now: its Update carries the due time, as ThreadPlanner's do
    now = time.time
    began = time.perf_counter()
    for _ in range(transfers):
        planner._run_tick(link, now())
    return (time.perf_counter() - began) / transfers


def overhead(transfers: int, rounds: int,
             folder: str) -> list[tuple[str, float, float, float, float]]:
    out = []
    for name, link, count in (
        ("empty link", Link(Empty(), ListOutlet(), 1, tags=["empty"], copy_records=False),
         transfers),
        ("10 records, processor", Link(Ten(), ListOutlet(), 1, tags=["ten"],
                                       processors=[_add_one]), transfers),
        ("10 records to a file", Link(Ten(), FileOutlet(os.path.join(folder, "out.jsonl"),
                                                        json_lines=True), 1, tags=["file"]),
         max(transfers // 10, 100)),
    ):
        planner = ThreadPlanner([link], handle_signals=False)
        service = WebService(planner, port=0)
        off: list[float] = []
        on: list[float] = []
        per_tick(planner, link, count // 10)  # warm up
        for _ in range(rounds):  # interleaved, so that the machine's load hits both
            off.append(per_tick(planner, link, count))
            service.start()
            try:
                on.append(per_tick(planner, link, count))
            finally:
                service.close()
        out.append((name, min(off), min(on), statistics.median(off), statistics.median(on)))
    return out


def scrape(links: int) -> float:
    made = [Link(Empty(), ListOutlet(), 60, tags=[f"link{i:04d}"], copy_records=False)
            for i in range(links)]
    planner = ThreadPlanner(made, handle_signals=False)
    with WebService(planner, port=0) as service:
        for link in made:
            planner._run_tick(link)
        times = []
        for _ in range(20):
            began = time.perf_counter()
            with urllib.request.urlopen(service.url + "metrics") as reply:
                body = reply.read()
            times.append(time.perf_counter() - began)
        assert body.count(b"databay_transfers_total{") == links  # succeeded only
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--transfers", type=int, default=4000)
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--scrape-only", action="store_true",
                        help="measure only the scrape (2.)")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ok = True
    if args.scrape_only:
        args.rounds = 0
    print(f"per scheduled transfer (ThreadPlanner._run_tick), min of {args.rounds} rounds "
          f"of {args.transfers}:")
    with tempfile.TemporaryDirectory() as folder:
        measured = overhead(args.transfers, args.rounds, folder) if args.rounds else []
    for name, off, on, off_median, on_median in measured:
        growth = on / off - 1
        verdict = "ok" if growth <= 0.05 else "MISSED"
        ok &= growth <= 0.05
        print(f"  {name:24s} without {off * 1e6:7.2f} µs  with the service {on * 1e6:7.2f} µs"
              f"  {growth:+6.1%}  (target +5 %: {verdict}; medians {off_median * 1e6:.2f} "
              f"-> {on_median * 1e6:.2f} µs, {on_median / off_median - 1:+.1%})")
    took = scrape(args.links)
    verdict = "ok" if took < 0.1 else "MISSED"
    ok &= took < 0.1
    print(f"GET /metrics of {args.links} links: median {took * 1e3:.1f} ms (target < 100 ms: "
          f"{verdict})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
