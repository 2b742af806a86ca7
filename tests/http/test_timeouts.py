"""A server that hangs cannot hang a link: timeouts are on by default and bound a pull."""

from __future__ import annotations

import threading
import time

import pytest
from databay import Link, Update
from databay.outlets import NullOutlet
from databay_http import HttpInlet, HttpTimeoutError
from http_servers import Hang, LocalServer, Trickle

UPDATE = Update([], 0)


def test_hanging_server_times_out(server: LocalServer) -> None:
    server.routes["/hang"] = lambda _seen: Hang()
    inlet = HttpInlet(server.url("/hang"), timeout=0.3, retries=0)
    link = Link(inlet, NullOutlet(), interval=1)
    started = time.monotonic()
    with pytest.raises(HttpTimeoutError) as info:
        link.transfer()
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 3
    assert isinstance(info.value, TimeoutError)
    assert f"GET {server.url('/hang')} failed: read timed out after 0.3s" in str(info.value)
    inlet.close()


def test_hanging_server_with_retries_is_bounded_by_total_timeout(server: LocalServer) -> None:
    server.routes["/hang"] = lambda _seen: Hang()
    inlet = HttpInlet(server.url("/hang"), timeout=0.2, retries=50, backoff=0.01,
                      total_timeout=0.8)
    started = time.monotonic()
    with pytest.raises(HttpTimeoutError):
        inlet.fetch(UPDATE)
    elapsed = time.monotonic() - started
    assert elapsed < 5  # 50 retries of 0.2 s would take 10 s and more
    assert 2 <= len(server.requests_to("/hang")) < 50
    inlet.close()


def test_trickling_body_is_bounded_by_total_timeout(server: LocalServer) -> None:
    # one byte every 50 ms never trips the read timeout; the total time bound stops it
    server.routes["/slow"] = lambda _seen: Trickle(length=10_000, every=0.05)
    inlet = HttpInlet(server.url("/slow"), timeout=2, total_timeout=0.6, retries=0)
    started = time.monotonic()
    with pytest.raises(HttpTimeoutError, match="did not arrive within total_timeout=0.6s"):
        inlet.fetch(UPDATE)
    assert time.monotonic() - started < 3
    inlet.close()


def test_planner_thread_is_free_again_after_a_hang(server: LocalServer) -> None:
    """A transfer running in a worker thread (as planners run them) returns."""
    server.routes["/hang"] = lambda _seen: Hang()
    inlet = HttpInlet(server.url("/hang"), timeout=0.2, retries=1, backoff=0.01)
    link = Link(inlet, NullOutlet(), interval=1, ignore_exceptions=True)
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(link.transfer()))
    worker.start()
    worker.join(5)
    assert not worker.is_alive()
    assert isinstance(results[0].errors[0], HttpTimeoutError)  # type: ignore[attr-defined]
    inlet.close()
