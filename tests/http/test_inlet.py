"""HttpInlet turns response bodies into records as the original did."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from databay import Link, Record, Update
from databay.outlets import NullOutlet
from databay_http import HttpInlet, InvalidResponseError
from http_servers import LocalServer

UPDATE = Update(["t"], 0)


class Collect(NullOutlet):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[Record] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.records.extend(records)


@pytest.fixture
def collect() -> Collect:
    return Collect()


def transfer(inlet: HttpInlet, outlet: Collect) -> list[Record]:
    link = Link(inlet, outlet, interval=1)
    link.on_start()
    try:
        link.transfer()
    finally:
        link.on_shutdown()
    return outlet.records


@pytest.fixture
def inlet_for(server: LocalServer) -> Iterator[object]:
    made: list[HttpInlet] = []

    def make(path: str, **kwargs: object) -> HttpInlet:
        inlet = HttpInlet(server.url(path), **kwargs)  # type: ignore[arg-type]
        made.append(inlet)
        return inlet

    yield make
    for inlet in made:
        inlet.close()


def test_json_list_gives_one_record_per_element(server, collect, inlet_for) -> None:
    server.reply("/items", json.dumps([{"id": 1}, {"id": 2}, 3]))
    records = transfer(inlet_for("/items", metadata={"src": "api"}), collect)
    assert [r.payload for r in records] == [{"id": 1}, {"id": 2}, 3]
    assert all(r.metadata["src"] == "api" for r in records)
    assert all(r.metadata["__inlet__"].startswith("HttpInlet(") for r in records)


@pytest.mark.parametrize("value", [{"a": [1, 2]}, 42, "text", True, None])
def test_any_other_json_value_gives_one_record(server, collect, inlet_for, value) -> None:
    server.reply("/one", json.dumps(value))
    records = transfer(inlet_for("/one"), collect)
    assert [r.payload for r in records] == [value]


@pytest.mark.parametrize("json_mode", [True, False])
def test_empty_body_gives_no_records(server, collect, inlet_for, json_mode) -> None:
    server.reply("/empty", b"")
    assert inlet_for("/empty", json=json_mode).fetch(UPDATE) == []
    assert transfer(inlet_for("/empty", json=json_mode), collect) == []


def test_whitespace_body_counts_as_empty_in_json_mode(server, inlet_for) -> None:
    server.reply("/ws", b" \r\n\t")
    assert inlet_for("/ws").fetch(UPDATE) == []
    assert inlet_for("/ws", json=False).fetch(UPDATE) == " \r\n\t"


def test_json_false_gives_the_body_as_text(server, collect, inlet_for) -> None:
    server.reply("/text", "héllo [1, 2]", headers={"Content-Type": "text/plain; charset=utf-8"})
    records = transfer(inlet_for("/text", json=False), collect)
    assert [r.payload for r in records] == ["héllo [1, 2]"]


def test_declared_charset_is_used(server, inlet_for) -> None:
    server.reply("/latin", "ça".encode("latin-1"),
                 headers={"Content-Type": "text/plain; charset=ISO-8859-1"})
    assert inlet_for("/latin", json=False).fetch(UPDATE) == "ça"
    server.reply("/latin-json", '["ça"]'.encode("latin-1"),
                 headers={"Content-Type": "application/json; charset=latin-1"})
    assert inlet_for("/latin-json").fetch(UPDATE) == ["ça"]


def test_invalid_json_raises_an_error_that_says_so(server, inlet_for) -> None:
    server.reply("/bad", "<html>not json</html>")
    inlet = inlet_for("/bad")
    with pytest.raises(InvalidResponseError, match="does not contain valid JSON") as info:
        inlet.fetch(UPDATE)
    assert isinstance(info.value, ValueError)  # what the original raised
    assert "<html>not json</html>" in str(info.value)
    assert server.url("/bad") in str(info.value)


def test_undecodable_text_raises(server, inlet_for) -> None:
    server.reply("/bin", b"\xff\xfe\xfa", headers={"Content-Type": "text/plain"})
    with pytest.raises(InvalidResponseError, match="utf-8"):
        inlet_for("/bin", json=False).fetch(UPDATE)


def test_params_and_headers_are_sent(server, inlet_for) -> None:
    server.reply("/q", "[]")
    inlet = inlet_for("/q", params={"page": 2, "q": "a b"}, headers={"X-Client": "databay"})
    inlet.fetch(UPDATE)
    seen = server.wait_for("/q")[0]
    assert seen.query == {"page": "2", "q": "a b"}
    assert seen.headers["X-Client"] == "databay"
    assert seen.headers["User-Agent"].startswith("databay-http/")
    assert seen.method == "GET"


def test_original_positional_signature(server, ca_file) -> None:
    server.reply("/pos", "[1]")
    inlet = HttpInlet(server.url("/pos"), False, None, {"a": "1"}, {"X-A": "b"}, {"m": 1})
    try:
        assert inlet.json is False and inlet.params == {"a": "1"}
        assert inlet.headers == {"X-A": "b"} and inlet.metadata == {"m": 1}
        assert inlet.fetch(UPDATE) == "[1]"
    finally:
        inlet.close()
    with_ca = HttpInlet("https://127.0.0.1/", cacert=ca_file)
    assert with_ca.cacert == ca_file


def test_repr_shows_url_and_metadata(server) -> None:
    inlet = HttpInlet(server.url("/r"), metadata={"k": "v"})
    assert repr(inlet) == f"HttpInlet(url='{server.url('/r')}', json=True, metadata={{'k': 'v'}})"


def test_status_error_is_never_parsed_as_data(server, collect, inlet_for) -> None:
    server.reply("/missing", json.dumps([{"looks": "like data"}]), status=404)
    with pytest.raises(Exception, match="HTTP 404"):
        transfer(inlet_for("/missing"), collect)
    assert collect.records == []


