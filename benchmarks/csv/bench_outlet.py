"""CsvOutlet throughput against a plain csv.DictWriter loop, measured in the same run.

Writes N dict records (default 100,000) through ``Link(..., copy_records=False)`` to a
CsvOutlet, and the same rows with a bare ``csv.DictWriter.writerow`` loop, each to a
fresh file in a temporary folder. Prints rows per second of both and their ratio
(target: CsvOutlet >= 0.7 of the plain loop).

    python benchmarks/csv/bench_outlet.py [--rows 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from typing import Any

from databay import Inlet, Link
from databay.outlets import CsvOutlet

FIELDS = ["id", "name", "price", "quantity", "active", "note"]


def make_rows(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "name": f"item-{i}", "price": i * 0.25, "quantity": i % 97,
         "active": i % 2 == 0, "note": "plain text, with a comma" if i % 10 == 0 else "ok"}
        for i in range(n)
    ]


class ListInlet(Inlet):
    """Gives the prepared payloads; the link wraps each one in a Record."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows

    def pull(self, update: Any) -> list[dict[str, Any]]:
        return self.rows


def plain(rows: list[dict[str, Any]], path: str) -> float:
    start = time.perf_counter()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return time.perf_counter() - start


def databay(rows: list[dict[str, Any]], path: str) -> float:
    link = Link(ListInlet(rows), CsvOutlet(path), interval=1, copy_records=False)
    start = time.perf_counter()
    result = link.transfer()
    elapsed = time.perf_counter() - start
    assert result.pushed and not result.errors, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rows = make_rows(args.rows)
    plain_times: list[float] = []
    databay_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):  # interleaved, so drift hits both alike
            a, b = os.path.join(tmp, f"plain{i}.csv"), os.path.join(tmp, f"databay{i}.csv")
            plain_times.append(plain(rows, a))
            databay_times.append(databay(rows, b))
            with open(a, "rb") as fa, open(b, "rb") as fb:
                assert fa.read() == fb.read(), "the two files differ"
            os.remove(a)
            os.remove(b)
    p, d = statistics.median(plain_times), statistics.median(databay_times)
    print(f"rows: {args.rows}, repeats: {args.repeat} (median)")
    print(f"plain csv.DictWriter loop : {args.rows / p:12,.0f} rows/s  ({p * 1000:.1f} ms)")
    print(f"Link -> CsvOutlet         : {args.rows / d:12,.0f} rows/s  ({d * 1000:.1f} ms)")
    print(f"ratio (CsvOutlet / plain) : {p / d:.2f}  (target >= 0.70)")


if __name__ == "__main__":
    main()
