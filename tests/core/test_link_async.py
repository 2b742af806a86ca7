from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from core_nodes import AsyncCollectOutlet, AsyncInlet, CollectOutlet, FailingInlet, ListInlet
from databay import Link, Update
from databay.inlet import Inlet


def test_async_transfers_reuse_one_loop() -> None:
    inlet, outlet = AsyncInlet([1, 2]), AsyncCollectOutlet()
    link = Link(inlet, outlet, 1)
    link.transfer()
    link.transfer()
    assert len(inlet.loops) == 2 and inlet.loops[0] is inlet.loops[1]
    assert [r.payload for r in outlet.records] == [1, 2, 1, 2]


def test_loop_bound_client_stays_usable_across_transfers() -> None:
    class QueueInlet(Inlet):
        """Holds an asyncio.Queue created on first pull: bound to that pull's loop."""

        queue: asyncio.Queue[int] | None = None

        async def pull(self, update: Update) -> Any:
            if self.queue is None:
                self.queue = asyncio.Queue()
            await self.queue.put(update.transfer_number)
            return await self.queue.get()

    inlet, outlet = QueueInlet(), CollectOutlet()
    link = Link(inlet, outlet, 1)
    for _ in range(3):
        link.transfer()
    assert [r.payload for r in outlet.records] == [0, 1, 2]


def test_atransfer_from_async_code() -> None:
    outlet = CollectOutlet()
    link = Link([AsyncInlet("a"), ListInlet("s")], outlet, 1)

    async def main() -> None:
        result = await link.atransfer()
        assert result.pulled == 2

    asyncio.run(main())
    assert sorted(r.payload for r in outlet.records) == ["a", "s"]


@pytest.mark.parametrize("sync_only", [True, False])
def test_transfer_inside_a_running_loop_names_the_alternative(sync_only: bool) -> None:
    inlet = ListInlet(1) if sync_only else AsyncInlet(1)
    link = Link(inlet, CollectOutlet(), 1)

    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"await link\.atransfer\(\)"):
            link.transfer()

    asyncio.run(main())


def test_async_inlets_are_pulled_concurrently() -> None:
    inlets = [AsyncInlet(i, delay=0.2) for i in range(20)]
    outlet = CollectOutlet()
    result = Link(inlets, outlet, 1).transfer()
    assert sorted(r.payload for r in outlet.records) == list(range(20))
    # 20 sequential pulls would take 4 s; concurrent ones take one delay.
    assert result.duration < 2.0


def test_inlet_concurrency_limits_pulls_in_flight() -> None:
    in_flight = 0
    peak = 0

    class Counting(Inlet):
        async def pull(self, update: Update) -> int:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return 1

    Link([Counting() for _ in range(9)], CollectOutlet(), 1, inlet_concurrency=3).transfer()
    assert peak == 3


def test_sync_nodes_do_not_block_async_nodes_of_other_links() -> None:
    release = threading.Event()
    entered = threading.Event()

    class Blocking(Inlet):
        def pull(self, update: Update) -> int:
            entered.set()
            release.wait(10)
            return 0

    slow = Link([Blocking(), AsyncInlet("x")], CollectOutlet(), 1)
    fast_outlet = CollectOutlet()
    fast = Link(AsyncInlet("fast"), fast_outlet, 1)
    worker = threading.Thread(target=slow.transfer)
    worker.start()
    try:
        assert entered.wait(5)
        fast.transfer()  # would hang if the blocked sync pull held the shared loop
        assert [r.payload for r in fast_outlet.records] == ["fast"]
    finally:
        release.set()
        worker.join(10)
    assert not worker.is_alive()


def test_sync_only_link_runs_in_the_calling_thread() -> None:
    outlet = CollectOutlet()
    Link(ListInlet(1), outlet, 1).transfer()
    assert outlet.threads == [threading.current_thread().name]


def test_async_inlet_error_raised_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    class AsyncFailing(Inlet):
        async def pull(self, update: Update) -> Any:
            raise ValueError("async broke")

    with pytest.raises(ValueError, match="async broke"):
        Link([AsyncFailing(), AsyncInlet(1)], CollectOutlet(), 1).transfer()
    outlet = AsyncCollectOutlet()
    result = Link([AsyncFailing(), FailingInlet(), AsyncInlet(1)], outlet, 1,
                  ignore_exceptions=True).transfer()
    assert [r.payload for r in outlet.records] == [1]
    assert len(result.errors) == 2 and "async broke" in caplog.text
