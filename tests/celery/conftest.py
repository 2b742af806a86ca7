"""Fixtures of the databay-celery tests: one real Redis server for the session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from _celery_support import RedisServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
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
