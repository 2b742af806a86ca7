"""Fixtures for databay-sql: real databases only.

``db`` runs each test against SQLite (a file in the test's folder), a PostgreSQL server
the session starts itself (``initdb`` + ``pg_ctl`` in a temporary folder on a free
port; skipped, saying how to install it, when PostgreSQL is missing) and, when
``DATABASE_URL`` is set, that server too. Tables get names unique to the test.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("databay_sql") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    from _pg_server import INSTALL_HINT, PgServer, find_bindir, new_folder
    from _sql_db import Db

EXTERNAL_URL = os.environ.get("DATABASE_URL") or None
BACKENDS = ["sqlite", "postgresql"] + (["external"] if EXTERNAL_URL else [])


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # in CI (CI=true) a missing server fails the run instead of skipping
    give_up = pytest.fail if os.environ.get("CI") == "true" else pytest.skip
    bindir = find_bindir()
    if bindir is None:
        give_up(INSTALL_HINT)
    if importlib.util.find_spec("psycopg") is None:
        give_up("psycopg is not installed: pip install 'databay-sql[postgresql]'")
    assert bindir is not None
    server = PgServer(new_folder(), bindir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


def make_db(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Db:
    if kind == "sqlite":
        return Db(kind, f"sqlite:///{tmp_path / 'test.db'}")
    if kind == "postgresql":
        server = request.getfixturevalue("pg_server")
        return Db(kind, server.url)
    assert EXTERNAL_URL is not None
    return Db(kind, EXTERNAL_URL)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    database = make_db(request.param, tmp_path, request)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def sqlite_db(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Db]:
    database = make_db("sqlite", tmp_path, request)
    yield database
    database.drop()
