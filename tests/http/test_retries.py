"""Bounded retries with exponential backoff for connection errors and 429/502/503/504,
honouring Retry-After; waits are cut short by close()/on_shutdown."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from email.utils import formatdate

import pytest
from databay import Link, Record, Update
from databay.outlets import NullOutlet
from databay_http import HttpConnectionError, HttpInlet, HttpStatusError
from http_servers import Drop, LocalServer, Reply

UPDATE = Update([], 0)


class Collect(NullOutlet):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[Record] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.records.extend(records)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_failing_then_recovering_server(server: LocalServer, status: int, caplog) -> None:
    server.script("/flaky", Reply(status, "busy"), Reply(status, "busy"), Reply(200, "[1, 2]"))
    inlet = HttpInlet(server.url("/flaky"), retries=3, backoff=0.01)
    outlet = Collect()
    Link(inlet, outlet, interval=1).transfer()
    assert [r.payload for r in outlet.records] == [1, 2]
    assert len(server.requests_to("/flaky")) == 3
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "databay.HttpInlet" and r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert f"HTTP {status}" in warnings[0] and "retry 1 of 3" in warnings[0]
    inlet.close()


def test_dropped_connections_are_retried(server: LocalServer) -> None:
    server.script("/drop", Drop(), Drop(), Reply(200, '{"ok": true}'))
    with HttpInlet(server.url("/drop"), retries=2, backoff=0.01) as inlet:
        assert inlet.fetch(UPDATE) == {"ok": True}
    assert len(server.requests_to("/drop")) == 3


def test_backoff_doubles(server: LocalServer) -> None:
    server.reply("/busy", "busy", status=503)
    with HttpInlet(server.url("/busy"), retries=3, backoff=0.05) as inlet, \
            pytest.raises(HttpStatusError) as info:
        inlet.fetch(UPDATE)
    times = [seen.at for seen in server.requests_to("/busy")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    for gap, expected in zip(gaps, [0.05, 0.1, 0.2], strict=True):
        assert expected * 0.9 <= gap < expected + 1.5
    assert info.value.attempts == 4
    assert "(after 4 attempts)" in str(info.value) and "HTTP 503" in str(info.value)


def test_max_backoff_caps_the_wait(server: LocalServer) -> None:
    server.reply("/busy", "busy", status=503)
    # uncapped, the waits would be 0.2 + 0.4 + 0.8 s; capped, 3 x 0.05 s
    with HttpInlet(server.url("/busy"), retries=3, backoff=0.2, max_backoff=0.05) as inlet, \
            pytest.raises(HttpStatusError):
        inlet.fetch(UPDATE)
    times = [seen.at for seen in server.requests_to("/busy")]
    assert len(times) == 4
    assert times[-1] - times[0] < 1.0


@pytest.mark.parametrize("kind", ["seconds", "date"])
def test_retry_after_is_honoured(server: LocalServer, kind: str) -> None:
    value = "1" if kind == "seconds" else formatdate(time.time() + 1.5, usegmt=True)
    server.script("/limited", Reply(429, "slow down", {"Retry-After": value}), Reply(200, "[7]"))
    with HttpInlet(server.url("/limited"), retries=1, backoff=0.01) as inlet:
        assert inlet.fetch(UPDATE) == [7]
    first, second = server.requests_to("/limited")
    assert second.at - first.at >= 0.45  # an HTTP date has one-second resolution


def test_retry_after_beyond_total_timeout_gives_up_at_once(server: LocalServer) -> None:
    server.reply("/later", "come back tomorrow", status=503, headers={"Retry-After": "86400"})
    started = time.monotonic()
    with HttpInlet(server.url("/later"), retries=5, total_timeout=5) as inlet, \
            pytest.raises(HttpStatusError, match="no retry: waiting 86400s would pass "
                                                 "total_timeout=5s"):
        inlet.fetch(UPDATE)
    assert time.monotonic() - started < 3
    assert len(server.requests_to("/later")) == 1


def test_retries_are_bounded(server: LocalServer) -> None:
    server.reply("/busy", "busy", status=502)
    with HttpInlet(server.url("/busy"), retries=2, backoff=0) as inlet, \
            pytest.raises(HttpStatusError):
        inlet.fetch(UPDATE)
    assert len(server.requests_to("/busy")) == 3


def test_retries_zero_means_one_attempt(unused_port: int) -> None:
    with HttpInlet(f"http://127.0.0.1:{unused_port}/", retries=0) as inlet, \
            pytest.raises(HttpConnectionError) as info:
        inlet.fetch(UPDATE)
    assert info.value.attempts == 1


def test_other_statuses_are_not_retried(server: LocalServer) -> None:
    server.reply("/gone", "gone", status=410)
    with HttpInlet(server.url("/gone"), retries=3, backoff=0) as inlet, \
            pytest.raises(HttpStatusError):
        inlet.fetch(UPDATE)
    assert len(server.requests_to("/gone")) == 1


def test_retry_statuses_are_configurable(server: LocalServer) -> None:
    server.script("/x", Reply(500, "oops"), Reply(200, "[1]"))
    with HttpInlet(server.url("/x"), retry_statuses={500}, backoff=0) as inlet:
        assert inlet.fetch(UPDATE) == [1]


@pytest.mark.parametrize("stop", ["close", "on_shutdown"])
def test_closing_interrupts_a_waiting_retry(server: LocalServer, stop: str) -> None:
    server.reply("/busy", "busy", status=503)
    inlet = HttpInlet(server.url("/busy"), retries=1, backoff=60)
    inlet.try_start()
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            inlet.fetch(UPDATE)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=pull)
    worker.start()
    server.wait_for("/busy")
    started = time.monotonic()
    inlet.close() if stop == "close" else inlet.try_shutdown()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5  # not the 60 s backoff
    assert isinstance(errors[0], HttpStatusError)
    assert "retry cancelled: HttpInlet was closed" in str(errors[0])
    assert len(server.requests_to("/busy")) == 1
