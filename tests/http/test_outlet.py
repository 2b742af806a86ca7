"""HttpOutlet sends each batch as a JSON array and reports records not delivered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from databay import Inlet, Link, Record, Update
from databay.errors import TransferError
from databay_http import HttpDeliveryError, HttpOutlet, HttpRedirectError, HttpStatusError
from http_servers import Drop, LocalServer, Reply

UPDATE = Update(["out"], 0)


class Items(Inlet):
    def __init__(self, items: list[Any]) -> None:
        super().__init__()
        self.items = items

    def pull(self, update: Update) -> Any:
        return list(self.items)


def posted(server: LocalServer, path: str) -> list[Any]:
    return [json.loads(seen.body) for seen in server.requests_to(path)]


def test_batch_is_posted_as_a_json_array(server: LocalServer) -> None:
    server.reply("/in", "", status=201)
    outlet = HttpOutlet(server.url("/in"), headers={"X-Source": "databay"})
    link = Link(Items([{"a": 1}, [2], "three", None]), outlet, interval=1)
    link.on_start()
    result = link.transfer()
    link.on_shutdown()
    assert result.pushed[outlet] == 4
    seen = server.requests_to("/in")[0]
    assert seen.method == "POST"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Source"] == "databay"
    assert json.loads(seen.body) == [{"a": 1}, [2], "three", None]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_method_is_configurable(server: LocalServer, method: str) -> None:
    server.reply("/in", "")
    with HttpOutlet(server.url("/in"), method=method) as outlet:
        outlet.push([Record(1)], UPDATE)
    assert server.requests_to("/in")[0].method == method


def test_empty_batches_are_not_sent_unless_asked(server: LocalServer) -> None:
    server.reply("/in", "")
    with HttpOutlet(server.url("/in")) as outlet:
        outlet.push([], UPDATE)
    assert server.requests_to("/in") == []
    with HttpOutlet(server.url("/in"), send_empty=True) as outlet:
        outlet.push([], UPDATE)
    assert posted(server, "/in") == [[]]


def test_serialize_and_batch_size(server: LocalServer) -> None:
    server.reply("/in", "")
    records = [Record(n, {"k": n}) for n in range(5)]
    with HttpOutlet(server.url("/in"), batch_size=2,
                    serialize=lambda r: {"v": r.payload, "meta": r.metadata}) as outlet:
        outlet.push(records, UPDATE)
    assert posted(server, "/in") == [
        [{"v": 0, "meta": {"k": 0}}, {"v": 1, "meta": {"k": 1}}],
        [{"v": 2, "meta": {"k": 2}}, {"v": 3, "meta": {"k": 3}}],
        [{"v": 4, "meta": {"k": 4}}],
    ]


def test_refused_batch_raises_with_the_number_not_delivered(server: LocalServer) -> None:
    server.reply("/in", '{"error": "quota exceeded"}', status=422)
    outlet = HttpOutlet(server.url("/in"))
    link = Link(Items([1, 2, 3]), outlet, interval=1)
    with pytest.raises(HttpDeliveryError) as info:
        link.transfer()
    err = info.value
    assert isinstance(err, TransferError)
    assert err.undelivered == 3 and err.status == 422
    assert isinstance(err.__cause__, HttpStatusError)
    message = str(err)
    assert f"POST {server.url('/in')} failed: HTTP 422" in message
    assert "quota exceeded" in message and "3 of 3 record(s) not delivered" in message
    assert len(server.requests_to("/in")) == 1
    outlet.close()


def test_link_reports_undelivered_records_when_ignoring(server: LocalServer, caplog) -> None:
    server.reply("/in", "down", status=500)
    outlet = HttpOutlet(server.url("/in"), retries=0)
    result = Link(Items([1, 2]), outlet, interval=1, ignore_exceptions=True).transfer()
    assert result.undelivered[outlet] == 2
    assert "2 record(s) not delivered" in caplog.text
    outlet.close()


def test_partial_delivery_counts_what_is_left(server: LocalServer) -> None:
    server.script("/in", Reply(200, ""), Reply(400, "bad chunk"))
    with HttpOutlet(server.url("/in"), batch_size=2) as outlet, \
            pytest.raises(HttpDeliveryError) as info:
        outlet.push([Record(n) for n in range(5)], UPDATE)
    assert info.value.undelivered == 3
    assert "3 of 5 record(s) not delivered" in str(info.value)


def test_unencodable_record_sends_nothing(server: LocalServer) -> None:
    server.reply("/in", "")
    with HttpOutlet(server.url("/in"), batch_size=1) as outlet, \
            pytest.raises(HttpDeliveryError, match="cannot be encoded as JSON") as info:
        outlet.push([Record(1), Record({1, 2})], UPDATE)
    assert info.value.undelivered == 2
    assert server.requests_to("/in") == []


def test_retries_then_delivers(server: LocalServer) -> None:
    server.script("/in", Reply(503, "busy"), Drop(), Reply(200, "ok"))
    with HttpOutlet(server.url("/in"), retries=2, backoff=0.01) as outlet:
        outlet.push([Record("x")], UPDATE)
    assert posted(server, "/in") == [["x"], ["x"], ["x"]]


def test_redirect_that_would_become_a_get_is_refused(server: LocalServer) -> None:
    server.reply("/old", "", status=302, headers={"Location": "/new"})
    server.reply("/new", "")
    with HttpOutlet(server.url("/old")) as outlet, pytest.raises(HttpDeliveryError) as info:
        outlet.push([Record(1)], UPDATE)
    assert isinstance(info.value.__cause__, HttpRedirectError)
    assert "turned the POST into a GET" in str(info.value)
    assert info.value.undelivered == 1


def test_redirect_that_keeps_the_method_is_followed(server: LocalServer) -> None:
    server.reply("/old", "", status=307, headers={"Location": "/new"})
    server.reply("/new", "")
    with HttpOutlet(server.url("/old")) as outlet:
        outlet.push([Record(1)], UPDATE)
    assert posted(server, "/new") == [[1]]


def test_passes_the_outlet_contract_read_back_from_the_server(server: LocalServer) -> None:
    from databay.testing import MODES, check_outlet

    paths: dict[int, str] = {}

    def new_outlet() -> HttpOutlet:  # a path per outlet: what it posted, alone
        path = f"/contract/{len(paths)}"
        server.reply(path, "", status=201)
        outlet = HttpOutlet(server.url(path), retries=0)
        paths[id(outlet)] = path
        return outlet

    def received(outlet: Any) -> list[Any]:
        return [item for batch in posted(server, paths[id(outlet)]) for item in batch]

    report = check_outlet(new_outlet, read_back=received)
    assert [c for c in report.passed if c.startswith("delivery")] == [
        f"delivery[{m}]" for m in MODES]
