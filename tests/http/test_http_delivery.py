"""databay-http under databay's delivery guarantees: errors that say whether to retry
(driving a link's RetryPolicy and dead-letter outlet), and HttpInlet's incremental mode
with checkpoints in a FileStateStore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from databay import Inlet, Link, Outlet, Record, Update
from databay.delivery import DEAD_LETTER, FileStateStore, RetryPolicy, is_transient
from databay_http import (
    HttpConnectionError,
    HttpDeliveryError,
    HttpError,
    HttpInlet,
    HttpOutlet,
    HttpRedirectError,
    HttpStatusError,
    HttpTimeoutError,
    InvalidResponseError,
)
from http_servers import Hang, LocalServer, Reply, Seen

UPDATE = Update([], 0)
FAST = RetryPolicy(attempts=4, backoff=0.001, jitter=False)


class Collect(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[Record] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.records += records


class Fixed(Inlet):
    def __init__(self, items: list[Any]) -> None:
        super().__init__()
        self.items = items

    def pull(self, update: Update) -> Any:
        return list(self.items)


def items_inlet(items: list[Any]) -> Fixed:
    return Fixed(items)


# -- which errors are transient ----------------------------------------------------------

@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_server_errors_throttling_and_request_timeout_are_transient(
        server: LocalServer, status: int) -> None:
    server.reply("/d", "busy", status=status)
    with HttpInlet(server.url("/d"), retries=0) as inlet, \
            pytest.raises(HttpStatusError) as info:
        inlet.fetch(UPDATE)
    assert info.value.status == status
    assert info.value.transient is True and is_transient(info.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 300])
def test_other_error_statuses_are_permanent(server: LocalServer, status: int) -> None:
    server.reply("/d", "no", status=status)
    with HttpOutlet(server.url("/d"), retries=0) as outlet, \
            pytest.raises(HttpDeliveryError) as info:
        outlet.push([Record(1)], UPDATE)
    assert info.value.status == status
    assert info.value.transient is False and not is_transient(info.value)
    assert isinstance(info.value.__cause__, HttpStatusError)
    assert info.value.__cause__.transient is False


def test_refused_connection_and_timeouts_are_transient(server: LocalServer,
                                                       unused_port: int) -> None:
    with HttpOutlet(f"http://127.0.0.1:{unused_port}/d", retries=0) as outlet, \
            pytest.raises(HttpDeliveryError) as refused:
        outlet.push([Record(1)], UPDATE)
    assert isinstance(refused.value.__cause__, HttpConnectionError)
    assert refused.value.transient is True and is_transient(refused.value)
    server.routes["/hang"] = lambda _seen: Hang()
    with HttpInlet(server.url("/hang"), timeout=0.2, retries=0) as inlet, \
            pytest.raises(HttpTimeoutError) as timed_out:
        inlet.fetch(UPDATE)
    assert timed_out.value.transient is True and is_transient(timed_out.value)
    server.release.set()


def test_tls_failures_are_permanent(tls_server: LocalServer) -> None:
    tls_server.reply("/d", "[]")
    with HttpInlet(tls_server.url("/d"), retries=0) as inlet, \
            pytest.raises(HttpConnectionError, match="CERTIFICATE_VERIFY_FAILED") as info:
        inlet.fetch(UPDATE)
    assert isinstance(info.value, ConnectionError), "still a ConnectionError by type"
    assert info.value.transient is False and not is_transient(info.value)
    with HttpOutlet(tls_server.url("/d"), retries=0) as outlet, \
            pytest.raises(HttpDeliveryError) as delivery:
        outlet.push([Record(1)], UPDATE)
    assert delivery.value.transient is False


def test_invalid_responses_redirect_errors_and_unencodable_records_are_permanent(
        server: LocalServer) -> None:
    server.reply("/bad", "{not json")
    with HttpInlet(server.url("/bad")) as inlet, pytest.raises(InvalidResponseError) as bad:
        inlet.fetch(UPDATE)
    assert bad.value.transient is False
    server.reply("/moved", "", status=302, headers={"Location": "/elsewhere"})
    server.reply("/elsewhere", "")
    with HttpOutlet(server.url("/moved")) as outlet, \
            pytest.raises(HttpDeliveryError) as moved:
        outlet.push([Record(1)], UPDATE)
    assert isinstance(moved.value.__cause__, HttpRedirectError)
    assert moved.value.transient is False
    with HttpOutlet(server.url("/in")) as outlet, \
            pytest.raises(HttpDeliveryError, match="JSON") as unencodable:
        outlet.push([Record({1, 2})], UPDATE)
    assert unencodable.value.transient is False
    assert HttpError("x", method="GET", url="u").transient is False
    assert HttpError("x", method="GET", url="u", transient=True).transient is True


# -- the flags drive a link's RetryPolicy ------------------------------------------------

def test_503_twice_then_200_is_delivered_once(server: LocalServer) -> None:
    server.script("/in", Reply(503, "busy"), Reply(503, "busy"), Reply(200, ""))
    outlet = HttpOutlet(server.url("/in"), retries=0)  # the link's policy retries
    steady = Collect()
    dead = Collect()
    link = Link(items_inlet([{"n": 1}, {"n": 2}]), [outlet, steady], 1, tags="send",
                retry=FAST, dead_letter=dead)
    link.on_start()
    result = link.transfer()
    link.on_shutdown()
    assert result.ok and result.pushed == {outlet: 2, steady: 2}
    assert result.retried == {outlet: 2} and result.dead_lettered == {}
    bodies = [json.loads(seen.body) for seen in server.requests_to("/in")]
    assert bodies == [[{"n": 1}, {"n": 2}]] * 3, "three tries, one accepted"
    assert [r.payload for r in steady.records] == [{"n": 1}, {"n": 2}], "the others once"
    assert dead.records == []


def test_400_is_not_retried_and_goes_to_the_dead_letter_outlet(server: LocalServer) -> None:
    server.reply("/in", "bad request", status=400)
    outlet = HttpOutlet(server.url("/in"), retries=0)
    dead = Collect()
    link = Link(items_inlet([{"n": 1}, {"n": 2}]), outlet, 1, tags=["send", "orders"],
                retry=FAST, dead_letter=dead)
    link.on_start()
    result = link.transfer()
    link.on_shutdown()
    assert len(server.requests_to("/in")) == 1
    assert result.retried == {} and result.dead_lettered == {outlet: 2}
    assert [r.payload for r in dead.records] == [{"n": 1}, {"n": 2}]
    for record in dead.records:
        info = record.metadata[DEAD_LETTER]
        assert info["link"] == "send.orders" and info["outlet"] == repr(outlet)
        assert info["attempts"] == 1 and info["error_type"] == "HttpDeliveryError"
        assert "HTTP 400" in info["error"]


def test_503_until_the_retries_run_out_is_dead_lettered(server: LocalServer) -> None:
    server.reply("/in", "down", status=503)
    outlet = HttpOutlet(server.url("/in"), retries=0)
    dead = Collect()
    link = Link(items_inlet([1]), outlet, 1, tags="send", retry=FAST, dead_letter=dead)
    result = link.transfer()
    outlet.close()
    assert len(server.requests_to("/in")) == FAST.attempts
    assert result.retried == {outlet: FAST.attempts - 1}
    assert dead.records[0].metadata[DEAD_LETTER]["attempts"] == FAST.attempts


# -- HttpInlet: incremental mode -----------------------------------------------------------

def event_feed(server: LocalServer, path: str, events: list[dict[str, Any]]) -> None:
    """``path`` answers the events whose id is above the ``since`` parameter (and those
    without an id)."""
    def handler(seen: Seen) -> Reply:
        since = int(seen.query.get("since", 0))
        return Reply(200, json.dumps([e for e in events if e.get("id", since + 1) > since]))
    server.routes[path] = handler


def sent_since(server: LocalServer, path: str) -> list[str | None]:
    return [seen.query.get("since") for seen in server.requests_to(path)]


def test_cursor_follows_the_largest_field_value(server: LocalServer) -> None:
    events = [{"id": 2, "v": "b"}, {"id": 1, "v": "a"}]
    event_feed(server, "/events", events)
    with HttpInlet(server.url("/events"), params={"kind": "x"}, cursor_param="since",
                   cursor_field="id") as inlet:
        assert inlet.cursor is None
        assert inlet.fetch(UPDATE) == events
        assert inlet.cursor == 2
        assert inlet.fetch(UPDATE) == []
        assert inlet.cursor == 2, "unchanged when no record arrived"
        events.append({"id": 3, "v": "c"})
        events.append({"no id": True})
        assert inlet.fetch(UPDATE) == [{"id": 3, "v": "c"}, {"no id": True}]
        assert inlet.cursor == 3
        inlet.seek(1)
        assert inlet.fetch(UPDATE) == [{"id": 2, "v": "b"}, {"id": 3, "v": "c"},
                                      {"no id": True}]
        inlet.seek(None)
        assert len(inlet.fetch(UPDATE)) == 4
    assert sent_since(server, "/events") == [None, "2", "2", "1", None]
    assert all(seen.query["kind"] == "x" for seen in server.requests_to("/events"))


def test_cursor_never_goes_back_and_starts_from_the_cursor_argument(
        server: LocalServer) -> None:
    server.reply("/e", '[{"t": "2024-01-02"}, {"t": "2023-12-31"}, 7, null]')
    with HttpInlet(server.url("/e"), params=[("a", "1")], cursor_param="after",
                   cursor_field="t", cursor="2024-05-01") as inlet:
        inlet.fetch(UPDATE)
        assert inlet.cursor == "2024-05-01"
    (seen,) = server.requests_to("/e")
    assert seen.query == {"a": "1", "after": "2024-05-01"}


def test_values_that_do_not_compare_fail_the_pull_and_keep_the_cursor(
        server: LocalServer) -> None:
    server.reply("/e", '[{"id": 5}, {"id": "six"}]')
    with HttpInlet(server.url("/e"), cursor_param="since", cursor_field="id",
                   cursor=1) as inlet:
        with pytest.raises(InvalidResponseError, match=r"cursor_field 'id'.*'six'") as info:
            inlet.fetch(UPDATE)
        assert info.value.transient is False
        assert inlet.cursor == 1
        server.reply("/e", '[{"id": {"nested": 1}}]')
        with pytest.raises(InvalidResponseError, match="cursor_field"):
            inlet.fetch(UPDATE)
        assert inlet.cursor == 1


def test_without_cursor_param_cursor_is_none_and_seek_does_nothing(
        server: LocalServer) -> None:
    server.reply("/d", '[{"id": 4}]')
    with HttpInlet(server.url("/d")) as inlet:
        inlet.fetch(UPDATE)
        assert inlet.cursor is None
        inlet.seek(12)
        inlet.seek({"from": "another configuration"})  # type: ignore[arg-type]
        assert inlet.cursor is None
        inlet.fetch(UPDATE)
    assert [seen.query for seen in server.requests_to("/d")] == [{}, {}]


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"cursor_param": "since"}, ValueError, r"HttpInlet\(cursor_param=\.\.\.\) needs both"),
    ({"cursor_field": "id"}, ValueError, r"HttpInlet\(cursor_field=\.\.\.\) needs both"),
    ({"cursor": 3}, ValueError, r"HttpInlet\(cursor=3\) needs cursor_param"),
    ({"cursor_param": "", "cursor_field": "id"}, TypeError, "cursor_param=.*non-empty str"),
    ({"cursor_param": "since", "cursor_field": 1}, TypeError, "cursor_field=.*non-empty str"),
    ({"cursor_param": "since", "cursor_field": "id", "json": False}, ValueError,
     "json=True"),
    ({"cursor_param": "since", "cursor_field": "id", "params": {"since": 0}}, ValueError,
     "params already has 'since'"),
    ({"cursor_param": "since", "cursor_field": "id", "params": [("since", 0)]}, ValueError,
     "params already has 'since'"),
    ({"cursor_param": "since", "cursor_field": "id", "cursor": [1]}, TypeError,
     r"HttpInlet\(cursor=\.\.\.\) must be a str, an int or a finite float"),
    ({"cursor_param": "since", "cursor_field": "id", "cursor": float("nan")}, TypeError,
     "finite float"),
])
def test_incremental_options_are_checked_at_construction(
        kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        HttpInlet("http://127.0.0.1:1/e", **kwargs)


def test_seek_refuses_values_that_cannot_be_a_cursor() -> None:
    inlet = HttpInlet("http://127.0.0.1:1/e", cursor_param="since", cursor_field="id")
    with pytest.raises(TypeError, match=r"HttpInlet\.seek\(cursor=\.\.\.\) must be"):
        inlet.seek({"id": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seek"):
        inlet.seek(True)
    assert inlet.cursor is None


# -- HttpInlet in a link with a FileStateStore ---------------------------------------------

def feed_link(server: LocalServer, state: Path, outlet: Outlet, **kwargs: Any) -> Link:
    inlet = HttpInlet(server.url("/events"), cursor_param="since", cursor_field="id")
    return Link(inlet, outlet, 1, tags="events", state_store=FileStateStore(state), **kwargs)


def test_link_resumes_the_cursor_after_a_restart(server: LocalServer, tmp_path: Path) -> None:
    events = [{"id": 1}, {"id": 2}]
    event_feed(server, "/events", events)
    state = tmp_path / "state.json"
    first = Collect()
    link = feed_link(server, state, first)
    link.on_start()
    assert link.transfer().committed
    link.on_shutdown()
    assert json.loads(state.read_text()) == {"events/0:HttpInlet": 2}
    events.append({"id": 3})
    second = Collect()
    restarted = feed_link(server, state, second)  # new objects on the same state file
    restarted.on_start()
    restarted.transfer()
    restarted.on_shutdown()
    assert [r.payload["id"] for r in first.records + second.records] == [1, 2, 3]
    assert sent_since(server, "/events") == [None, "2"]


def test_undelivered_batch_is_requested_again(server: LocalServer, tmp_path: Path) -> None:
    events = [{"id": 1}, {"id": 2}]
    event_feed(server, "/events", events)
    server.script("/in", Reply(503, "down"), Reply(200, ""))
    state = tmp_path / "state.json"
    outlet = HttpOutlet(server.url("/in"), retries=0)
    link = feed_link(server, state, outlet)
    link.on_start()
    with pytest.raises(HttpDeliveryError):
        link.transfer()
    assert not state.exists(), "nothing was delivered, nothing committed"
    assert link.inlets[0].cursor is None, "the inlet was rewound"
    result = link.transfer()
    link.on_shutdown()
    assert result.committed and result.pushed == {outlet: 2}
    assert sent_since(server, "/events") == [None, None]
    assert json.loads(state.read_text()) == {"events/0:HttpInlet": 2}
    assert [json.loads(seen.body) for seen in server.requests_to("/in")] == \
        [[{"id": 1}, {"id": 2}]] * 2


def test_plain_http_inlet_is_harmless_under_a_state_store(server: LocalServer,
                                                          tmp_path: Path) -> None:
    server.reply("/d", "[1, 2]")
    state = tmp_path / "state.json"
    inlet = HttpInlet(server.url("/d"))
    out = Collect()
    link = Link(inlet, out, 1, tags="plain", state_store=FileStateStore(state))
    link.transfer()
    link.transfer()
    inlet.close()
    assert [r.payload for r in out.records] == [1, 2, 1, 2]
    assert json.loads(state.read_text()) == {"plain/0:HttpInlet": None}


def test_incremental_mode_passes_the_checkpoint_contract(server: LocalServer) -> None:
    from databay.testing import check_inlet

    def two_at_a_time(seen: Seen) -> Reply:
        since = int(seen.query.get("since", 0))
        return Reply(200, json.dumps([{"id": n} for n in range(since + 1, 7)][:2]))

    server.routes["/feed"] = two_at_a_time

    def new(metadata: dict[str, Any]) -> HttpInlet:
        return HttpInlet(server.url("/feed"), cursor_param="since", cursor_field="id",
                         metadata=metadata)

    report = check_inlet(new, min_records=0)
    assert "checkpoint" in report.passed and not report.skipped
