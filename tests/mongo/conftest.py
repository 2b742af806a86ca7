"""Fixtures for databay-mongo: a MongoDB wire-protocol server and a fresh database per test.

The server is nx-27017 (in memory, on a free port of 127.0.0.1), started once per
session; when ``MONGODB_URI`` is set the tests use that server instead. Each test gets a
database of its own, dropped afterwards. Tests that stop and restart a server get an
nx-27017 of their own (skipped with ``MONGODB_URI``).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _mongo_server import CLIENT_OPTIONS, NxServer

if TYPE_CHECKING:
    from pymongo.database import Database

# The core-only test cell installs no plugin: these tests are then not even collected
# (their modules import databay_mongo, which is not there).
if importlib.util.find_spec("databay_mongo") is None or importlib.util.find_spec("pymongo") is None:
    collect_ignore_glob = ["test_*.py"]

EXTERNAL_URI = os.environ.get("MONGODB_URI") or None


class ExternalServer:
    """The server ``MONGODB_URI`` names: used as is, never started or stopped."""

    def __init__(self, uri: str) -> None:
        self.uri = uri


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NxServer | ExternalServer]:
    if EXTERNAL_URI:
        yield ExternalServer(EXTERNAL_URI)
        return
    server = NxServer(tmp_path_factory.mktemp("nx-27017"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mongo_uri(mongo_server: NxServer | ExternalServer) -> str:
    return mongo_server.uri


@pytest.fixture
def db_name(mongo_uri: str) -> Iterator[str]:
    """A database name unique to this test; the database is dropped afterwards."""
    from pymongo import MongoClient

    name = f"databay_test_{uuid.uuid4().hex[:12]}"
    yield name
    with MongoClient(mongo_uri, **CLIENT_OPTIONS) as client:
        client.drop_database(name)


@pytest.fixture
def mongo_db(mongo_uri: str, db_name: str) -> Iterator[Database[dict[str, Any]]]:
    """The test's database, through a client of the test's own."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, **CLIENT_OPTIONS)
    try:
        yield client[db_name]
    finally:
        client.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[NxServer]:
    """An nx-27017 of this test's own, free to stop and restart."""
    if EXTERNAL_URI:
        pytest.skip("stops and restarts the server: needs nx-27017, not MONGODB_URI")
    server = NxServer(tmp_path / "nx")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_outlet(mongo_uri: str, db_name: str) -> Iterator[Callable[..., Any]]:
    """``make_outlet(**kwargs)``: a MongoOutlet on the test's database; every outlet made
    is shut down after the test."""
    from databay_mongo import MongoOutlet

    made: list[MongoOutlet] = []

    def make(**kwargs: Any) -> MongoOutlet:
        options = {"uri": mongo_uri, "database_name": db_name, **CLIENT_OPTIONS, **kwargs}
        outlet = MongoOutlet(**options)
        made.append(outlet)
        return outlet

    yield make
    for outlet in made:
        outlet.try_shutdown()
        outlet.disconnect()


@pytest.fixture
def make_inlet(mongo_uri: str, db_name: str) -> Iterator[Callable[..., Any]]:
    """``make_inlet(**kwargs)``: a MongoInlet on the test's database, shut down after."""
    from databay_mongo import MongoInlet

    made: list[MongoInlet] = []

    def make(**kwargs: Any) -> MongoInlet:
        options = {"uri": mongo_uri, "database_name": db_name, **CLIENT_OPTIONS, **kwargs}
        inlet = MongoInlet(**options)
        made.append(inlet)
        return inlet

    yield make
    for inlet in made:
        inlet.try_shutdown()
        inlet.disconnect()
