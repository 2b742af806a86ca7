"""CPU time of one Link transfer, for before/after comparisons of core's transfer path.

    python benchmarks/core/bench_transfer_cpu.py

Each figure is the minimum over rounds of process CPU time (``time.process_time``) per
transfer: on a shared, loaded machine it moves far less than wall-clock rates, which
count the time other jobs hold the CPU. To compare two versions in one run, check the
old one out into a temporary worktree and alternate::

    git worktree add --detach /tmp/old <commit>
    for i in 1 2 3; do
      PYTHONPATH=/tmp/old/packages/databay-core/src python benchmarks/core/bench_transfer_cpu.py
      python benchmarks/core/bench_transfer_cpu.py
    done
"""

from __future__ import annotations

import asyncio
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import databay
from databay import Inlet, Link, Record
from databay.delivery import RetryPolicy

sys.path.insert(0, str(Path(__file__).parent))
from bench_core import CountOutlet, SmallInlet


class AsyncSmallInlet(Inlet):
    async def pull(self, update: object) -> list[Record]:
        return [Record({"id": 1, "value": 2.5, "name": "sensor"})]


class AsyncCountOutlet(CountOutlet):
    async def push(self, records: list, update: object) -> None:  # type: ignore[override,type-arg]
        CountOutlet.push(self, records, update)


def per_call_us(fn: Callable[[], object], number: int, repeat: int = 11) -> float:
    times = timeit.repeat(fn, number=number, repeat=repeat, timer=time.process_time)
    return min(times) / number * 1e6


def main() -> None:
    plain = Link(SmallInlet(), CountOutlet(), 1, copy_records=False)
    copying = Link(SmallInlet(), CountOutlet(), 1)
    guarded = Link(SmallInlet(), CountOutlet(), 1, copy_records=False, retry=RetryPolicy(),
                   dead_letter=CountOutlet())
    async_link = Link(AsyncSmallInlet(), AsyncCountOutlet(), 1, copy_records=False)
    loop = asyncio.new_event_loop()

    async def async_transfers() -> None:
        for _ in range(2000):
            await async_link.atransfer()

    figures = {
        "sync, copy_records=False": per_call_us(plain.transfer, 20000),
        "sync, copy_records=True": per_call_us(copying.transfer, 20000),
        "sync, retry + dead_letter set": per_call_us(guarded.transfer, 20000),
        "async atransfer in a running loop": per_call_us(
            lambda: loop.run_until_complete(async_transfers()), 1, 9) / 2000,
    }
    loop.close()
    print(f"databay {Path(databay.__file__).parent}: 1 inlet -> 1 outlet, CPU us/transfer")
    print("  " + "  ".join(f"{name}: {us:.2f}" for name, us in figures.items()))


if __name__ == "__main__":
    main()
