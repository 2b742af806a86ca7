"""An HttpInlet waiting on a slow server does not block the event loop that the async
nodes of other links run on."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from databay import Inlet, Link, Record, Update
from databay.outlets import NullOutlet
from databay_http import HttpInlet
from http_servers import LocalServer, Reply, Seen

WAIT = 10


class Ticker(Inlet):
    """An async inlet: each pull yields to the loop, then returns the transfer number."""

    async def pull(self, update: Update) -> Any:
        await asyncio.sleep(0)
        return update.transfer_number


class Collect(NullOutlet):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[Record] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.records.extend(records)


def slow_route(server: LocalServer) -> None:
    def handler(_seen: Seen) -> Reply:
        server.release.wait(WAIT)  # released by the test, or by the server's teardown
        return Reply(200, "[1, 2, 3]")

    server.routes["/slow"] = handler


def test_async_link_keeps_running_on_the_same_loop(server: LocalServer) -> None:
    slow_route(server)
    http = HttpInlet(server.url("/slow"), timeout=WAIT)
    http_out = Collect()
    http_link = Link(http, http_out, interval=1)
    ticker_out = Collect()
    ticker_link = Link(Ticker(), ticker_out, interval=1)

    async def scenario() -> None:
        waiting = asyncio.ensure_future(http_link.atransfer())
        await asyncio.to_thread(server.wait_for, "/slow")  # the HttpInlet is now blocked
        for _ in range(20):
            await asyncio.wait_for(ticker_link.atransfer(), WAIT)
        assert not waiting.done()
        server.release.set()
        result = await asyncio.wait_for(waiting, WAIT)
        assert result.pulled == 3

    asyncio.run(scenario())
    assert [r.payload for r in ticker_out.records] == list(range(20))
    assert [r.payload for r in http_out.records] == [1, 2, 3]
    http.close()


def test_async_link_keeps_running_while_a_sync_link_waits_in_a_thread(
        server: LocalServer) -> None:
    """Sync-only links run in the calling thread (as a planner's worker runs them); the
    async link's nodes run on databay's shared loop meanwhile."""
    slow_route(server)
    http = HttpInlet(server.url("/slow"), timeout=WAIT)
    http_out = Collect()
    http_link = Link(http, http_out, interval=1)
    ticker_out = Collect()
    ticker_link = Link(Ticker(), ticker_out, interval=1)

    worker = threading.Thread(target=http_link.transfer)
    worker.start()
    try:
        server.wait_for("/slow")
        for _ in range(20):
            ticker_link.transfer()
        assert worker.is_alive()
        assert len(ticker_out.records) == 20
    finally:
        server.release.set()
        worker.join(WAIT)
    assert not worker.is_alive()
    assert [r.payload for r in http_out.records] == [1, 2, 3]
    http.close()
