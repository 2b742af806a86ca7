"""One requests.Session per node: opened by on_start, closed by on_shutdown, reused."""

from __future__ import annotations

import pytest
from databay import Link, Record, Update
from databay.outlets import NullOutlet
from databay_http import HttpInlet, HttpOutlet, HttpStatusError
from http_servers import LocalServer

UPDATE = Update([], 0)


def clients(server: LocalServer, path: str) -> list[tuple[str, int]]:
    return [seen.client for seen in server.requests_to(path)]


def test_on_start_opens_and_on_shutdown_closes_the_session(server: LocalServer) -> None:
    server.reply("/d", "[1]")
    inlet = HttpInlet(server.url("/d"))
    link = Link(inlet, NullOutlet(), interval=1)
    assert inlet.session is None
    link.on_start()
    session = inlet.session
    assert session is not None
    for _ in range(5):
        link.transfer()
    assert inlet.session is session
    link.on_shutdown()
    assert inlet.session is None
    # one TCP connection carried all five pulls
    assert len(set(clients(server, "/d"))) == 1
    assert len(clients(server, "/d")) == 5


def test_a_new_session_after_restart_uses_a_new_connection(server: LocalServer) -> None:
    server.reply("/d", "[1]")
    inlet = HttpInlet(server.url("/d"))
    inlet.try_start()
    inlet.fetch(UPDATE)
    inlet.try_shutdown()
    inlet.try_start()
    inlet.fetch(UPDATE)
    inlet.try_shutdown()
    first, second = clients(server, "/d")
    assert first != second


def test_usable_without_a_planner_or_on_start(server: LocalServer) -> None:
    server.reply("/d", "[1]")
    inlet = HttpInlet(server.url("/d"))
    assert [inlet.fetch(UPDATE) for _ in range(3)] == [[1], [1], [1]]
    assert inlet.session is not None
    assert len(set(clients(server, "/d"))) == 1
    inlet.close()
    assert inlet.session is None
    with HttpInlet(server.url("/d")) as scoped:
        assert scoped.fetch(UPDATE) == [1]
    assert scoped.session is None


def test_used_without_a_planner_the_link_shutdown_closes_the_sessions(
        server: LocalServer) -> None:
    server.reply("/d", "[1]")
    server.reply("/in", "[]")
    inlet, outlet = HttpInlet(server.url("/d")), HttpOutlet(server.url("/in"))
    link = Link(inlet, outlet, interval=1)
    link.transfer()  # no on_start: both open their session on first use
    assert inlet.session is not None and outlet.session is not None
    link.on_shutdown()
    assert inlet.session is None and outlet.session is None


def test_connection_reused_after_error_statuses(server: LocalServer) -> None:
    server.reply("/bad", "no", status=404)
    with HttpInlet(server.url("/bad"), retries=0) as inlet:
        for _ in range(3):
            with pytest.raises(HttpStatusError):
                inlet.fetch(UPDATE)
    assert len(clients(server, "/bad")) == 3
    assert len(set(clients(server, "/bad"))) == 1


def test_outlet_session_lifecycle_and_reuse(server: LocalServer) -> None:
    server.reply("/in", "[]")
    outlet = HttpOutlet(server.url("/in"))
    outlet.try_start()
    session = outlet.session
    assert session is not None
    for n in range(3):
        outlet.push([Record(n)], Update([], n))
    assert outlet.session is session
    outlet.try_shutdown()
    assert outlet.session is None
    assert len(set(clients(server, "/in"))) == 1
