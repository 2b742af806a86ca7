"""MongoOutlet/MongoInlet configuration: connection strings, client options, argument
checks, and credentials that never show."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from _mongo_server import FAST_OPTIONS, NxServer, free_port
from databay import Link, Record, Update
from databay_mongo import (
    MongoInlet,
    MongoOutlet,
    MongoReadError,
    MongoStateStore,
    MongoWriteError,
)
from pymongo.database import Database

UPDATE = Update([], 0)
SECRET = "s3cr3t-Pa55"


def _chain(error: BaseException | None) -> list[BaseException]:
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def _shown(error: BaseException) -> str:
    return " ".join(f"{e!s} {e!r}" for e in _chain(error))


def test_uri_is_read_from_mongodb_uri(monkeypatch: pytest.MonkeyPatch, mongo_uri: str,
                                      db_name: str, mongo_db: Database[dict[str, Any]]) -> None:
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    outlet = MongoOutlet(database_name=db_name, serverSelectionTimeoutMS=3000)
    try:
        assert outlet.host is None and outlet.port is None
        outlet.push([Record({"n": 1})], UPDATE)
    finally:
        outlet.try_shutdown()
    assert mongo_db["default_collection"].count_documents({}) == 1


def test_without_uri_or_environment_the_original_defaults_apply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONGODB_URI", raising=False)
    outlet = MongoOutlet()
    assert repr(outlet) == "MongoOutlet(database_name='databay', collection='default_collection')"
    assert (outlet.host, outlet.port) == (None, None)


def test_host_and_port_as_in_the_original(mongo_server: Any, db_name: str,
                                          mongo_db: Database[dict[str, Any]]) -> None:
    if not isinstance(mongo_server, NxServer):
        pytest.skip("needs the host and port of nx-27017")
    outlet = MongoOutlet(db_name, "coll", "127.0.0.1", mongo_server.port,
                         serverSelectionTimeoutMS=3000)
    try:
        outlet.try_start()
        outlet.push([Record({"n": 1})], UPDATE)
    finally:
        outlet.try_shutdown()
    assert mongo_db["coll"].count_documents({}) == 1
    assert repr(outlet).endswith(f"host='127.0.0.1', port={mongo_server.port})")


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"uri": "mongodb://h/", "host": "h"}, "either uri"),
    ({"uri": "http://h/"}, "uri=...) must be a MongoDB connection string"),
    ({"uri": 5}, "uri=...) must be a str"),
    ({"port": "27017"}, "port=...) must be an int"),
    ({"port": 0}, "port=...) must be an int"),
    ({"host": 5}, "host=...) must be"),
    ({"database_name": "a.b"}, "database_name=...) must be a valid MongoDB database name"),
    ({"database_name": ""}, "it is empty"),
    ({"collection": "a$b"}, "collection=...) must be a valid MongoDB collection name"),
    ({"collection": 3}, "collection=...) must be a collection name (str)"),
    ({"batch_size": 0}, "batch_size=...) must be an int from 1 to 100000"),
    ({"batch_size": 100_001}, "batch_size=...) must be an int from 1 to 100000"),
    ({"retries": -1}, "retries=...) must be an int"),
    ({"backoff": -0.1}, "backoff=...) must be a number of seconds"),
    ({"backoff": 2.0, "max_backoff": 1.0}, "max_backoff=...) must be at least"),
    ({"upsert_key": "$x"}, "upsert_key=...) must be None, a field name"),
    ({"upsert_key": []}, "upsert_key=...) must be None, a field name"),
    ({"wrap_key": "a.b"}, "wrap_key=...) must be None or a top-level field name"),
    ({"serverSelectionTimeoutMS": "soon"}, "serverSelectionTimeoutMS='soon') is not a valid"),
    ({"no_such_option": 1}, "no_such_option=1) is not a valid pymongo client option"),
    ({"processors": 5}, "processors"),
    # parsed as MongoClient will parse them, without connecting (issue 14 point 4)
    ({"uri": "mongodb://[bad"}, "uri=...) is not a valid MongoDB connection string: "
                                "'mongodb://[bad': an IPv6 address literal"),
    ({"uri": "mongodb://h:99999"}, "uri=...) is not a valid MongoDB connection string"),
    ({"uri": "mongodb://h/?retryWrite=true"}, "Unknown option"),
    ({"uri": "mongodb://u:p@ss@h"}, "'mongodb://***@h': Username and password must be escaped"),
    ({"uri": "mongodb+srv://cluster.example.com:27017"}, "must not include a port number"),
    ({"uri": "mongodb+srv://a.example.com,b.example.com"}, "one, and only one, hostname"),
    ({"host": "[bad"}, "host=...) is not a valid host[:port] list: '[bad'"),
    ({"host": "db:99999"}, "host=...) is not a valid host[:port] list"),
    ({"host": ["db1", "db2:x"]}, "host=...) is not a valid host[:port] list: 'db2:x'"),
    ({"host": "mongodb://[bad"}, "host=...) is not a valid MongoDB connection string"),
])
def test_bad_arguments_are_refused_at_construction_by_name(kwargs: dict[str, Any],
                                                          expected: str) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        MongoOutlet(**kwargs)
    assert expected in str(caught.value)
    assert "MongoOutlet" in str(caught.value)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"collection": None}, "collection=...) must be a collection name"),
    ({"field": ""}, "field=...) must be a field name"),
    ({"filter": [1]}, "filter=...) must be a query dict"),
    ({"projection": 5}, "projection=...) must be a dict, a list of field names"),
    ({"batch_size": 0}, "batch_size=...) must be a positive int"),
    ({"max_documents": 0}, "max_documents=...) must be None or a positive int"),
    ({"metadata": 5}, "metadata"),
    ({"uri": "mongodb://[bad"}, "MongoInlet(uri=...) is not a valid MongoDB connection string"),
])
def test_inlet_bad_arguments(kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        MongoInlet(**kwargs)
    assert expected in str(caught.value)


def test_credentials_never_show_in_reprs_errors_or_logs(
        caplog: pytest.LogCaptureFixture, db_name: str) -> None:
    port = free_port()  # nothing listens there: every write fails
    uri = f"mongodb://alice:{SECRET}@127.0.0.1:{port}/?authSource=admin"
    outlet = MongoOutlet(db_name, uri=uri, retries=1, backoff=0, **FAST_OPTIONS)
    inlet = MongoInlet(db_name, uri=uri, **FAST_OPTIONS)
    assert SECRET not in repr(outlet) and "alice" not in repr(outlet)
    assert f"uri='mongodb://***@127.0.0.1:{port}/?authSource=admin'" in repr(outlet)
    assert SECRET not in repr(inlet)
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(MongoWriteError) as write_error:
            outlet.push([Record({"n": 1})], UPDATE)
        with pytest.raises(MongoReadError) as read_error:
            inlet.pull(UPDATE)
        link = Link([], outlet, interval=1, ignore_exceptions=True)
        link.transfer()  # logs the failure of a link that ignores errors
        with pytest.raises((TypeError, ValueError)) as option_error:
            MongoOutlet(uri=uri, password=SECRET, tlsCertificateKeyFilePassword=5)
    finally:
        outlet.try_shutdown()
        inlet.try_shutdown()
    assert write_error.value.undelivered == 1
    for error in (write_error.value, read_error.value, option_error.value):
        assert SECRET not in _shown(error)
    assert all(SECRET not in reason for _, reason in write_error.value.failures)
    assert "retry 1/1" in caplog.text  # the retry was logged...
    assert SECRET not in caplog.text  # ...without the password


def test_credentials_stay_hidden_when_the_server_refuses_them(
        make_outlet: Callable[..., MongoOutlet], mongo_server: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    if not isinstance(mongo_server, NxServer):
        pytest.skip("the MONGODB_URI server may accept any credentials")
    uri = f"mongodb://alice:{SECRET}@127.0.0.1:{mongo_server.port}/"
    outlet = make_outlet(uri=uri, retries=0)
    caplog.set_level(logging.DEBUG)
    try:
        outlet.push([Record({"n": 1})], UPDATE)
    except MongoWriteError as error:  # a server that checks credentials refuses them
        assert SECRET not in _shown(error)
    assert SECRET not in caplog.text and SECRET not in repr(outlet)


def test_client_options_reach_pymongo(make_outlet: Callable[..., MongoOutlet]) -> None:
    outlet = make_outlet(appname="databay-test", maxPoolSize=3)
    outlet.try_start()
    assert outlet.client is not None
    assert outlet.client.options.pool_options.max_pool_size == 3
    assert outlet.client.options.pool_options.metadata["application"] == {"name": "databay-test"}


def test_valid_addresses_are_accepted_without_connecting() -> None:
    """Nothing listens on port 9: construction parses, it does not connect (and a
    mongodb+srv:// URI is not looked up in DNS)."""
    for kwargs in ({"uri": "mongodb://u:p%40ss@127.0.0.1:9,[::1]:9/db?replicaSet=rs&w=majority"},
                   {"uri": "mongodb+srv://cluster0.example.invalid/db?retryWrites=true"},
                   {"host": ["127.0.0.1:9", "localhost"], "port": 9},
                   {"host": "mongodb://127.0.0.1:9/?directConnection=true"}):
        outlet = MongoOutlet(**kwargs)  # type: ignore[arg-type]
        assert outlet.client is None
    store = MongoStateStore(uri="mongodb://127.0.0.1:9")
    assert "127.0.0.1:9" in repr(store)


def test_a_bad_uri_from_the_environment_names_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://user:hunter2@[bad")
    with pytest.raises(ValueError) as caught:
        MongoOutlet()
    message = str(caught.value)
    assert message.startswith("MongoOutlet: the environment variable MONGODB_URI (used as "
                              "uri=...) is not a valid MongoDB connection string: "
                              "'mongodb://***@[bad'")
    assert "hunter2" not in message
