"""databay-core benchmark: building records, and streaming pulls in bounded memory.

    python benchmarks/core/bench_stream.py            # both parts (a few seconds)
    python benchmarks/core/bench_stream.py records    # Inlet.new_record() only
    python benchmarks/core/bench_stream.py stream [N] # generator pull of N records (2,000,000)

``records``: ``Inlet.new_record()`` for 10,000 payloads, against the way it worked before
issue 17 (``{**metadata}``, ``str(self)`` per record, ``Record(...)``; reproduced here so
that before and after are measured in one run), a bare ``Record()`` and the link's own
wrapping of raw values; then 10,000 ``new_record()`` records through a
``copy_records=False`` transfer against a bare loop.

``stream``: a generator pull of N small records into one outlet, with ``copy_records``
off and on: peak RSS growth over the RSS before the transfer (each case in a fresh
process, so that one case's peak does not hide the next one's), and throughput against a
bare loop that iterates the same generator and hands chunks of the link's batch size to
``push``. Exit code 1 if a target is missed.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from databay import Inlet, Link, Outlet, Record
from databay.link import DEFAULT_BATCH_SIZE


def best_rates(cases: dict[str, Callable[[], int]], seconds: float = 0.15,
               rounds: int = 9) -> dict[str, float]:
    """Best items/second of each case; the cases take turns, round after round, so
    that a loaded machine's bursts hit them all alike."""
    best = dict.fromkeys(cases, 0.0)
    for _ in range(rounds):
        for name, fn in cases.items():
            done = 0
            start = time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                done += fn()
            best[name] = max(best[name], done / elapsed)
    return best


class CountOutlet(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0.0

    def push(self, records: list, update: object) -> None:  # type: ignore[type-arg]
        total = 0.0
        for record in records:
            total += record.payload["value"]
        self.total += total


PAYLOADS = [{"id": i, "value": i * 0.5, "name": "sensor"} for i in range(10_000)]


class NewRecordInlet(Inlet):
    def pull(self, update: object) -> list[Record]:
        new = self.new_record
        return [new(p) for p in PAYLOADS]


class RawInlet(Inlet):
    def pull(self, update: object) -> list[dict[str, Any]]:
        return list(PAYLOADS)


def legacy_new_record(inlet: Inlet, payload: Any, metadata: dict[str, Any] | None = None
                      ) -> Record:
    """Inlet.new_record as it was before issue 17."""
    full = {**inlet.metadata, **metadata} if metadata else dict(inlet.metadata)
    full["__inlet__"] = str(inlet)
    return Record(payload, full)


def records() -> bool:
    inlet = NewRecordInlet({"source": "bench"})
    n = len(PAYLOADS)

    def legacy() -> int:
        for p in PAYLOADS:
            legacy_new_record(inlet, p)
        return n

    def new() -> int:
        make = inlet.new_record
        for p in PAYLOADS:
            make(p)
        return n

    def bare_record() -> int:
        for p in PAYLOADS:
            Record(p)
        return n

    raw_inlet = RawInlet({"source": "bench"})

    def wrap() -> int:
        raw_inlet._to_records(PAYLOADS)
        return n

    out = CountOutlet()

    def bare_loop() -> int:
        out.push(inlet.pull(None), None)
        return n

    link = Link(inlet, CountOutlet(), 1, copy_records=False)

    def via_link() -> int:
        link.transfer()
        return n

    r = best_rates({"legacy": legacy, "new": new, "record": bare_record, "wrap": wrap,
                    "bare": bare_loop, "link": via_link})
    us = {k: 1e6 / v for k, v in r.items()}
    print("Inlet.new_record() for 10,000 small dict payloads (µs per record): "
          f"before {us['legacy']:.2f}, now {us['new']:.2f}, bare Record() {us['record']:.2f}, "
          f"link's raw-value wrapping {us['wrap']:.2f}")
    ok = True
    speedup = r["new"] / r["legacy"]
    vs_wrap = r["wrap"] / r["new"]
    ratio = r["link"] / r["bare"]
    for label, passed, text in [
        ("new_record() >= 3x faster than before", speedup >= 3, f"{speedup:.1f}x"),
        ("new_record() within 1.5x of raw wrapping", vs_wrap <= 1.5, f"{vs_wrap:.2f}x"),
        ("new_record() pull through copy_records=False link vs bare loop (>= 0.5)",
         ratio >= 0.5, f"{ratio:.2f} ({r['link']:,.0f} vs {r['bare']:,.0f} records/s)"),
    ]:
        ok &= passed
        print(f"  {label:<72} {text:<36} {'ok' if passed else 'FAIL'}")
    return ok


# -- streaming ----------------------------------------------------------------------


def small_records(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"id": i, "value": 0.5}


class StreamInlet(Inlet):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def pull(self, update: object) -> Iterator[dict[str, Any]]:
        return small_records(self.n)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux)


def stream_case(case: str, n: int) -> None:
    """One measurement in this process; prints 'records/s peak_growth_kb'."""
    outlet = CountOutlet()
    link = Link(StreamInlet(n), outlet, 1, copy_records=(case == "copy"))
    size = link.batch_size
    warm = Link(StreamInlet(size * 2), CountOutlet(), 1, copy_records=(case == "copy"))
    warm.transfer()
    reset_peak()
    before = rss_kb()
    start = time.perf_counter()
    if case == "bare":
        inlet = StreamInlet(n)
        it = inlet.pull(None)
        while chunk := inlet._to_records(list(itertools.islice(it, size))):
            outlet.push(chunk, None)
    else:
        result = link.transfer()
        assert result.pulled == n, result
    elapsed = time.perf_counter() - start
    print(f"{n / elapsed:.0f} {peak_kb() - before}")


def stream(n: int) -> bool:
    def run(case: str) -> tuple[float, int]:
        out = subprocess.run([sys.executable, __file__, "_case", case, str(n)],
                             capture_output=True, text=True, check=True).stdout.split()
        return float(out[0]), int(out[1])

    runs: dict[str, list[tuple[float, int]]] = {"bare": [], "nocopy": [], "copy": []}
    for _ in range(3):  # the cases take turns: a loaded machine's bursts hit all alike
        for case, figures_of in runs.items():
            figures_of.append(run(case))
    figures = {case: (max(f[0] for f in got), max(f[1] for f in got))
               for case, got in runs.items()}
    bare = figures["bare"][0]
    print(f"generator pull of {n:,} small records to one outlet (best rate and worst peak "
          f"of 3 fresh processes each; batch_size {DEFAULT_BATCH_SIZE:,}):")
    ok = True
    for case, label in (("nocopy", "copy_records=False"), ("copy", "copy_records=True")):
        rate, growth = figures[case]
        mb = growth / 1024
        for text, passed, shown in [
            (f"{label}: peak RSS growth <= 64 MB", mb <= 64, f"{mb:.1f} MB"),
            (f"{label}: throughput vs bare chunk loop (>= 0.5)", rate / bare >= 0.5,
             f"{rate / bare:.2f} ({rate:,.0f} vs {bare:,.0f} records/s)"),
        ]:
            ok &= passed
            print(f"  {text:<56} {shown:<40} {'ok' if passed else 'FAIL'}")
    print(f"  (bare loop peak RSS growth {figures['bare'][1] / 1024:.1f} MB)")
    return ok


def main(argv: list[str]) -> int:
    if argv[:1] == ["_case"]:
        stream_case(argv[1], int(argv[2]))
        return 0
    what = argv[0] if argv else "all"
    ok = True
    if what in ("all", "records"):
        ok &= records()
    if what in ("all", "stream"):
        ok &= stream(int(argv[1]) if len(argv) > 1 else 2_000_000)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
