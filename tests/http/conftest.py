"""Fixtures of the databay-http tests: real servers on 127.0.0.1, stopped in teardown."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from http_servers import LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    yield srv
    srv.stop()


@pytest.fixture
def second_server() -> Iterator[LocalServer]:
    srv = LocalServer()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[LocalServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    srv = LocalServer(tls=context)
    yield srv
    srv.stop()


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger (databay, requests, urllib3) at DEBUG."""
    databay = logging.getLogger("databay")
    old = databay.level
    databay.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    databay.setLevel(old)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread a test starts (servers, handlers, workers) is stopped by its end.
    databay's shared event loop thread and its executor belong to databay-core."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5

    def leftover() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()
                and not t.name.startswith(("databay-loop", "asyncio_"))]

    while leftover() and time.monotonic() < deadline:
        leftover()[0].join(0.05)
    assert leftover() == [], f"threads left running: {leftover()}"
