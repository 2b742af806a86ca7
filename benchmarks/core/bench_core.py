"""databay-core benchmark: Link overhead against a bare Python loop, in one run.

    python benchmarks/core/bench_core.py          # ours (any venv with databay-core)

Each figure is the best of several rounds; ratios compare figures measured in this run.
The same script runs against the original databay 0.3.0 (in a separate venv: it owns
the same import name) for the figures it supports.
"""

from __future__ import annotations

import asyncio
import copy
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from databay import Inlet, Link, Outlet, Record

ROUNDS = 5


def best_rate(fn: Callable[[], int], seconds: float = 0.4) -> float:
    """Best items/second over ROUNDS rounds of about ``seconds`` each."""
    rates = []
    for _ in range(ROUNDS):
        done = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            done += fn()
        rates.append(done / elapsed)
    return max(rates)


# The bare loop and the link call the very same nodes: the inlet returns Records, as the
# outlet expects them. The "raw" variants return plain dicts, which the link wraps in
# Records (the bare loop cannot hand those to a Record-reading outlet): printed for
# information, so the cost of wrapping is visible too.


class SmallInlet(Inlet):
    def pull(self, update: object) -> list[Record]:
        return [Record({"id": 1, "value": 2.5, "name": "sensor"})]


class RawSmallInlet(Inlet):
    def pull(self, update: object) -> dict[str, object]:
        return {"id": 1, "value": 2.5, "name": "sensor"}


class BatchInlet(Inlet):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def pull(self, update: object) -> list[Record]:
        return [Record({"id": i, "value": i * 0.5, "name": "sensor"}) for i in range(self.n)]


class RawBatchInlet(BatchInlet):
    def pull(self, update: object) -> list[dict[str, object]]:  # type: ignore[override]
        return [{"id": i, "value": i * 0.5, "name": "sensor"} for i in range(self.n)]


class CountOutlet(Outlet):
    """Touches every record's payload, as any real outlet does."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0.0

    def push(self, records: list, update: object) -> None:  # type: ignore[type-arg]
        total = 0.0
        for record in records:
            total += record.payload["value"]
        self.total += total


def one_to_one() -> dict[str, float]:
    inlet, bare_out = SmallInlet(), CountOutlet()

    def bare() -> int:
        for _ in range(100):
            bare_out.push(inlet.pull(None), None)
        return 100

    def via(link: Link) -> Callable[[], int]:
        def run() -> int:
            for _ in range(100):
                link.transfer()
            return 100
        return run

    base = best_rate(bare)
    no_copy = best_rate(via(Link(inlet, CountOutlet(), 1, copy_records=False)))
    with_copy = best_rate(via(Link(inlet, CountOutlet(), 1)))
    raw = best_rate(via(Link(RawSmallInlet(), CountOutlet(), 1, copy_records=False)))
    return {"bare": base, "no_copy": no_copy, "copy": with_copy, "raw": raw}


def big_batches(n: int = 10_000) -> dict[str, float]:
    inlet, bare_out = BatchInlet(n), CountOutlet()

    def bare() -> int:
        bare_out.push(inlet.pull(None), None)
        return n

    no_copy_link = Link(inlet, CountOutlet(), 1, copy_records=False)
    copy_link = Link(inlet, CountOutlet(), 1)
    raw_link = Link(RawBatchInlet(n), CountOutlet(), 1, copy_records=False)
    batch = inlet.pull(None)

    def deepcopy_only() -> int:
        copy.deepcopy(batch)
        return n

    def run(link: Link) -> Callable[[], int]:
        def go() -> int:
            link.transfer()
            return n
        return go

    return {
        "bare": best_rate(bare),
        "no_copy": best_rate(run(no_copy_link)),
        "copy": best_rate(run(copy_link)),
        "deepcopy": best_rate(deepcopy_only),
        "raw": best_rate(run(raw_link)),
    }


def async_fan_in() -> list[float]:
    class Sleepy(Inlet):
        async def pull(self, update: object) -> int:
            await asyncio.sleep(0.010)
            return 1

    link = Link([Sleepy() for _ in range(50)], CountOutletAsync(), 1, copy_records=False)
    link.transfer()  # warm up the shared loop
    durations = []
    for _ in range(20):
        start = time.perf_counter()
        link.transfer()
        durations.append((time.perf_counter() - start) * 1000)
    return durations


def bare_gather(precise: bool = False) -> list[float]:
    """asyncio alone: gather 50 coroutines that each sleep 10 ms, in a running loop
    (asyncio's default loop, or with ``precise`` the kind of loop databay runs)."""

    async def sleepy() -> int:
        await asyncio.sleep(0.010)
        return 1

    async def main() -> list[float]:
        durations = []
        for _ in range(20):
            start = time.perf_counter()
            await asyncio.gather(*(sleepy() for _ in range(50)))
            durations.append((time.perf_counter() - start) * 1000)
        return durations

    if not precise:
        return asyncio.run(main())
    try:
        from databay._runtime import _new_loop
    except ImportError:  # databay 0.3.0 has no loop of its own
        return asyncio.run(main())
    loop = _new_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


class CountOutletAsync(Outlet):
    async def push(self, records: list, update: object) -> None:  # type: ignore[type-arg]
        return None


def import_time_ms() -> tuple[float, list[str]]:
    code = ("import time, sys; t = time.perf_counter(); import databay; "
            "d = (time.perf_counter() - t) * 1000; "
            "heavy = [m for m in ('requests', 'pymongo', 'apscheduler', 'schedule') "
            "if m in sys.modules]; print(d, ','.join(heavy))")
    runs = []
    heavy: list[str] = []
    # Measure imports as installed packages run them: from bytecode. The first run writes
    # the .pyc files (PYTHONDONTWRITEBYTECODE, if set, would make every run compile).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, env=env)
    for _ in range(10):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=env).stdout.split()
        runs.append(float(out[0]))
        heavy = out[1].split(",") if len(out) > 1 else []
    return min(runs), heavy


def main() -> int:
    ok = True

    def check(label: str, value: float, floor: float, text: str) -> None:
        nonlocal ok
        passed = value >= floor
        ok &= passed
        print(f"  {label:<44} {text:<28} {'ok' if passed else 'FAIL'}")

    print(f"databay-core benchmark, Python {sys.version.split()[0]}")
    r = one_to_one()
    print(f"1 sync inlet -> 1 sync outlet (transfers/s): bare {r['bare']:,.0f}, "
          f"copy_records=False {r['no_copy']:,.0f}, copy_records=True {r['copy']:,.0f}")
    check("copy_records=False vs bare (>= 1/10)", r["no_copy"] / r["bare"], 0.1,
          f"1/{r['bare'] / r['no_copy']:.1f}")
    check("copy_records=True vs bare (>= 1/25)", r["copy"] / r["bare"], 0.04,
          f"1/{r['bare'] / r['copy']:.1f}")
    print(f"  (raw dict payloads wrapped by the link, copy_records=False: {r['raw']:,.0f}/s, "
          f"1/{r['bare'] / r['raw']:.1f} of bare)")

    b = big_batches()
    print(f"10,000 records per pull (records/s): bare {b['bare']:,.0f}, "
          f"copy_records=False {b['no_copy']:,.0f}, copy_records=True {b['copy']:,.0f}, "
          f"copy.deepcopy alone {b['deepcopy']:,.0f}")
    check("copy_records=False vs bare (>= 1/2)", b["no_copy"] / b["bare"], 0.5,
          f"{b['no_copy'] / b['bare']:.2f}")
    check("copy_records=True vs deepcopy alone (>= 3x)", b["copy"] / b["deepcopy"], 3.0,
          f"{b['copy'] / b['deepcopy']:.1f}x")
    print(f"  (raw dict payloads wrapped by the link, copy_records=False: {b['raw']:,.0f}/s, "
          f"{b['raw'] / b['bare']:.2f} of bare)")

    g = bare_gather()
    gp = bare_gather(precise=True)
    d = async_fan_in()
    print(f"50 async inlets awaiting 10 ms: transfer median {statistics.median(d):.2f} ms, "
          f"best {min(d):.2f} ms, worst {max(d):.2f} ms; bare asyncio.gather of the same "
          f"median {statistics.median(g):.2f} ms (default loop), "
          f"{statistics.median(gp):.2f} ms (databay's precise-timer loop)")
    check("median transfer within 11 ms", 11 - statistics.median(d), 0,
          f"{statistics.median(d):.2f} ms")
    check("... or within 1 ms of bare asyncio.gather", statistics.median(g) + 1
          - statistics.median(d), 0, f"+{statistics.median(d) - statistics.median(g):.2f} ms")

    ms, heavy = import_time_ms()
    print(f"import databay: best of 10 {ms:.1f} ms; heavy libraries imported: {heavy or 'none'}")
    check("import databay under 50 ms", 50 - ms, 0, f"{ms:.1f} ms")
    check("no plugin third-party library imported", 0 if heavy else 1, 1,
          str(heavy) if heavy else "none")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
