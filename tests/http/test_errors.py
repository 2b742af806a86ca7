"""HTTP error statuses raise errors that name the request; they are never data."""

from __future__ import annotations

import pytest
from databay import Link, Update
from databay.outlets import NullOutlet
from databay_http import HttpConnectionError, HttpInlet, HttpStatusError
from http_servers import LocalServer

UPDATE = Update([], 0)


@pytest.mark.parametrize(("status", "reason"), [
    (400, "Bad Request"), (401, "Unauthorized"), (404, "Not Found"),
    (500, "Internal Server Error"), (501, "Not Implemented"),
])
def test_error_status_names_method_url_status_and_body(server: LocalServer, status: int,
                                                       reason: str) -> None:
    server.reply("/e", '{"error": "something went wrong"}', status=status)
    with HttpInlet(server.url("/e"), retries=0) as inlet, \
            pytest.raises(HttpStatusError) as info:
        inlet.fetch(UPDATE)
    err = info.value
    message = str(err)
    assert f"GET {server.url('/e')}" in message
    assert f"HTTP {status} {reason}" in message
    assert "something went wrong" in message
    assert (err.method, err.url, err.status, err.reason) == ("GET", server.url("/e"), status,
                                                             reason)
    assert err.body == '{"error": "something went wrong"}'
    assert len(server.requests_to("/e")) == 1  # client errors and plain 500s are not retried


def test_long_body_is_cut(server: LocalServer) -> None:
    server.reply("/big", "x" * 100_000, status=500)
    with HttpInlet(server.url("/big"), retries=0) as inlet, \
            pytest.raises(HttpStatusError) as info:
        inlet.fetch(UPDATE)
    assert len(info.value.body) == 203 and info.value.body.endswith("...")
    assert len(str(info.value)) < 400


def test_url_credentials_never_appear_in_errors(server: LocalServer) -> None:
    server.reply("/private", "nope", status=403)
    url = server.url("/private").replace("://", "://alice:pa55word@")
    with HttpInlet(url, retries=0) as inlet, pytest.raises(HttpStatusError) as info:
        inlet.fetch(UPDATE)
    assert "pa55word" not in str(info.value) and "alice" not in str(info.value)
    assert info.value.url == server.url("/private")


def test_connection_refused_names_the_url(unused_port: int) -> None:
    with HttpInlet(f"http://127.0.0.1:{unused_port}/x", retries=0) as inlet, \
            pytest.raises(HttpConnectionError) as info:
        inlet.fetch(UPDATE)
    assert f"GET http://127.0.0.1:{unused_port}/x failed: connection failed" in str(info.value)
    assert "Connection refused" in str(info.value)
    assert " object at 0x" not in str(info.value)


def test_link_raises_or_ignores_and_logs(server: LocalServer, caplog) -> None:
    server.reply("/e", "down", status=500)
    server.reply("/ok", "[1, 2]")
    failing = HttpInlet(server.url("/e"), retries=0)
    working = HttpInlet(server.url("/ok"))
    strict = Link([failing, working], NullOutlet(), interval=1)
    with pytest.raises(HttpStatusError):
        strict.transfer()
    lenient = Link([failing, working], NullOutlet(), interval=1, ignore_exceptions=True)
    result = lenient.transfer()
    assert result.pulled == 2
    assert isinstance(result.errors[0], HttpStatusError)
    assert "HTTP 500" in caplog.text
    failing.close()
    working.close()
