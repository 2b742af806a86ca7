"""Databay 0.3's documented HttpInlet subclassing works unchanged, against a real server."""

from __future__ import annotations

import json

import pytest
from databay import Link, Record, Update
from databay.outlets import NullOutlet
from databay_http import HttpInlet
from http_servers import LocalServer

TICKER = {"USD": {"15m": 50000.5, "last": 50001.25, "symbol": "$"},
          "EUR": {"15m": 45000.0, "last": 45001.0, "symbol": "€"}}


class Collect(NullOutlet):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[Record] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.records.extend(records)


# The original's example, in its own words.
class BitcoinInlet(HttpInlet):
    async def pull(self, update):  # type: ignore[no-untyped-def]
        response = await super().pull(update)
        return response.get('USD').get('last')


class SyncBitcoinInlet(HttpInlet):
    """A subclass overriding pull with a plain def: it calls fetch(), the sync form."""

    def pull(self, update):  # type: ignore[no-untyped-def,override]
        return self.fetch(update)["USD"]["last"]


@pytest.mark.parametrize("cls", [BitcoinInlet, SyncBitcoinInlet])
def test_subclass_filters_the_parsed_body(server: LocalServer, cls: type[HttpInlet]) -> None:
    server.reply("/ticker", json.dumps(TICKER))
    outlet = Collect()
    link = Link(cls(server.url("/ticker")), outlet, 1, tags="bitcoin")
    link.on_start()
    try:
        link.transfer()
        link.transfer()
    finally:
        link.on_shutdown()
    assert [r.payload for r in outlet.records] == [50001.25, 50001.25]
    assert len(server.requests_to("/ticker")) == 2


@pytest.mark.parametrize(("body", "parsed"), [
    (json.dumps(TICKER), TICKER),
    ("[1, 2, 3]", [1, 2, 3]),
    ("", []),
])
def test_pull_is_a_coroutine_returning_the_parsed_body(
        server: LocalServer, body: str, parsed: object) -> None:
    import asyncio

    server.reply("/body", body)
    with HttpInlet(server.url("/body")) as inlet:
        assert asyncio.run(inlet.pull(Update([], 0))) == parsed
        assert inlet.fetch(Update([], 1)) == parsed


def test_text_body_with_json_false(server: LocalServer) -> None:
    import asyncio

    server.reply("/text", "plain words")
    with HttpInlet(server.url("/text"), json=False) as inlet:
        assert asyncio.run(inlet.pull(Update([], 0))) == "plain words"


def test_object_gives_one_record_list_gives_one_per_element(server: LocalServer) -> None:
    server.reply("/obj", json.dumps({"a": 1}))
    server.reply("/list", json.dumps([{"a": 1}, {"a": 2}]))
    outlet = Collect()
    link = Link([HttpInlet(server.url("/obj")), HttpInlet(server.url("/list"))], outlet, 1)
    link.transfer()
    link.on_shutdown()
    assert [r.payload for r in outlet.records] == [{"a": 1}, {"a": 1}, {"a": 2}]


def test_async_pull_does_not_block_the_event_loop(server: LocalServer) -> None:
    import asyncio

    from http_servers import Hang

    server.script("/slow", Hang())  # answers [] once server.release is set

    async def main() -> tuple[bool, object]:
        with HttpInlet(server.url("/slow")) as inlet:
            pull = asyncio.ensure_future(inlet.pull(Update([], 0)))
            for _ in range(500):  # the loop keeps running while the GET waits
                if server.requests_to("/slow"):
                    break
                await asyncio.sleep(0.01)
            waiting = not pull.done()
            server.release.set()
            return waiting, await pull

    assert asyncio.run(main()) == (True, [])


def test_sync_override_that_forgets_await_says_what_to_write(server: LocalServer) -> None:
    class Forgot(HttpInlet):
        def pull(self, update):  # type: ignore[no-untyped-def,override]
            return super().pull(update)

    server.reply("/x", "[1]")
    link = Link(Forgot(server.url("/x")), Collect(), 1)
    with pytest.raises(TypeError, match=r"returned a coroutine.*async def pull.*fetch"):
        link.transfer()
    link.on_shutdown()


@pytest.mark.parametrize("flag", [False, True])
def test_cacert_flag_is_refused_saying_what_to_write(flag: bool) -> None:
    with pytest.raises(TypeError, match=r"cacert=(False|True)\): cacert is the path of a CA "
                                        r"bundle, not a switch.*cacert=None.*verify=False"):
        HttpInlet("https://127.0.0.1/", cacert=flag)
