"""Redirects are followed within a bound."""

from __future__ import annotations

import pytest
from databay import Update
from databay_http import HttpInlet, HttpRedirectError
from http_servers import LocalServer

UPDATE = Update([], 0)


def chain(server: LocalServer, hops: int) -> str:
    for n in range(hops):
        server.reply(f"/r{n}", "", status=301 if n % 2 else 302,
                     headers={"Location": f"/r{n + 1}"})
    server.reply(f"/r{hops}", '["arrived"]')
    return server.url("/r0")


def test_redirects_within_the_bound_are_followed(server: LocalServer) -> None:
    with HttpInlet(chain(server, 5)) as inlet:  # the default bound is 5
        assert inlet.fetch(UPDATE) == ["arrived"]
    assert len(server.requests_to("/r5")) == 1


def test_more_redirects_than_the_bound_raise(server: LocalServer) -> None:
    with HttpInlet(chain(server, 4), max_redirects=3) as inlet, \
            pytest.raises(HttpRedirectError) as info:
        inlet.fetch(UPDATE)
    assert f"GET {server.url('/r0')} failed: more than max_redirects=3 redirects" in str(
        info.value)
    assert server.requests_to("/r4") == []


def test_max_redirects_zero_follows_none(server: LocalServer) -> None:
    with HttpInlet(chain(server, 1), max_redirects=0) as inlet, \
            pytest.raises(HttpRedirectError):
        inlet.fetch(UPDATE)
    assert server.requests_to("/r1") == []


def test_redirect_loop_is_stopped(server: LocalServer) -> None:
    server.reply("/loop", "", status=302, headers={"Location": "/loop"})
    with HttpInlet(server.url("/loop")) as inlet, pytest.raises(HttpRedirectError):
        inlet.fetch(UPDATE)
    assert len(server.requests_to("/loop")) == 6
