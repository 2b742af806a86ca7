"""Fixtures of the databay-celery tests: one real Redis server for the session."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from _celery_support import RedisServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        # a developer's machine without Debian's redis-server: say how to get it.
        # In CI (.ci/run installs it) a missing server fails instead of skipping.
        pytest.skip("redis-server is not installed: bash .ci/install-redis.sh "
                    "(apt-get install redis-server) to run the databay-celery tests")
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
