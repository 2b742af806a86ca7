"""MongoOutlet against a real server: what the original did, and what it lacked."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from _mongo_server import CLIENT_OPTIONS
from databay import Link, Record, Update
from databay.testing import check_outlet
from databay_mongo import (
    MongoCollectionNotFound,
    MongoOutlet,
    MongoPayloadError,
    MongoWriteError,
)
from pymongo import MongoClient, monitoring
from pymongo.database import Database

KEY = MongoOutlet.MONGODB_COLLECTION
UPDATE = Update(["test"], 0)

Db = Database[dict[str, Any]]


class ListInlet:
    """Builds records the way an inlet would, for direct pushes."""

    @staticmethod
    def records(*payloads: Any, collection: str | None = None) -> list[Record]:
        metadata = {KEY: collection} if collection is not None else {}
        return [Record(p, dict(metadata)) for p in payloads]


def docs(db: Db, collection: str = "default_collection") -> list[dict[str, Any]]:
    return list(db[collection].find({}, {"_id": 0}).sort("n", 1))


class Commands(monitoring.CommandListener):
    """Records the commands a client sends (pymongo's own monitoring API)."""

    def __init__(self) -> None:
        self.events: list[monitoring.CommandStartedEvent] = []
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        with self._lock:
            self.events.append(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def named(self, name: str) -> list[monitoring.CommandStartedEvent]:
        return [e for e in self.events if e.command_name == name]


# -- the original's behaviour ---------------------------------------------------------


def test_link_writes_records_to_the_default_collection(make_outlet: Callable[..., MongoOutlet],
                                                      mongo_db: Db) -> None:
    from databay.testing import RecordsInlet

    outlet = make_outlet()
    link = Link(RecordsInlet([{"n": 1}, {"n": 2}]), outlet, interval=1)
    link.on_start()
    try:
        result = link.transfer()
    finally:
        link.on_shutdown()
    assert result.pushed[outlet] == 2 and not result.undelivered
    assert docs(mongo_db) == [{"n": 1}, {"n": 2}]


def test_metadata_key_picks_the_collection_and_list_payload_gives_several_documents(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    outlet = make_outlet(collection="main")
    records = [
        Record({"n": 1}),
        Record([{"n": 2}, {"n": 3}], {KEY: "other"}),
        Record({"n": 4}, {KEY: "other"}),
        Record([], {KEY: "empty"}),
    ]
    outlet.push(records, UPDATE)
    assert docs(mongo_db, "main") == [{"n": 1}]
    assert docs(mongo_db, "other") == [{"n": 2}, {"n": 3}, {"n": 4}]
    assert "empty" not in mongo_db.list_collection_names()


def test_connects_on_start_and_disconnects_on_shutdown(
        make_outlet: Callable[..., MongoOutlet], db_name: str, mongo_db: Db) -> None:
    outlet = make_outlet()
    assert outlet.client is None and outlet.db is None
    outlet.try_start()
    assert outlet.active and outlet.client is not None
    assert outlet.db is not None and outlet.db.name == db_name
    outlet.try_shutdown()
    assert not outlet.active and outlet.client is None and outlet.db is None


def test_connect_selects_another_database_and_disconnect_closes(
        make_outlet: Callable[..., MongoOutlet], mongo_uri: str, db_name: str) -> None:
    outlet = make_outlet()
    other = db_name + "_b"
    try:
        db = outlet.connect(database_name=other)
        assert db.name == other and outlet.database_name == other
        outlet.push([Record({"n": 1})], UPDATE)
        with MongoClient(mongo_uri, **CLIENT_OPTIONS) as client:
            assert client[other]["default_collection"].count_documents({}) == 1
            assert client[db_name]["default_collection"].count_documents({}) == 0
        outlet.disconnect()
        assert outlet.client is None
    finally:
        with MongoClient(mongo_uri, **CLIENT_OPTIONS) as client:
            client.drop_database(other)


def test_passes_the_outlet_contract(make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    made = itertools.count()

    def new_outlet() -> MongoOutlet:  # a collection per outlet: what it wrote, alone
        return make_outlet(collection=f"contract_{next(made)}")

    def stored(outlet: Any) -> list[dict[str, Any]]:
        assert isinstance(outlet, MongoOutlet) and outlet.collection is not None
        return list(mongo_db[outlet.collection].find({}, {"_id": 0}))

    report = check_outlet(new_outlet, read_back=stored)
    assert [c for c in report.passed if c.startswith("delivery")] == [
        "delivery[sync]", "delivery[async]", "delivery[atransfer]"]
    assert stored(new_outlet()) == []


# -- what the original lacked -----------------------------------------------------------


def test_push_before_start_connects_on_demand(make_outlet: Callable[..., MongoOutlet],
                                              mongo_db: Db) -> None:
    outlet = make_outlet()
    outlet.push(ListInlet.records({"n": 1}), UPDATE)  # the original wrote nothing here
    assert docs(mongo_db) == [{"n": 1}]
    assert outlet.active  # so that the link's shutdown closes the client it opened
    outlet.try_shutdown()
    assert outlet.client is None
    outlet.push(ListInlet.records({"n": 2}), UPDATE)  # and again after a shutdown
    assert docs(mongo_db) == [{"n": 1}, {"n": 2}]


def test_writes_unordered_bounded_batches_one_round_trip_each_grouped_by_collection(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    commands = Commands()
    outlet = make_outlet(batch_size=1000, event_listeners=[commands])
    records = []
    for n in range(2500):
        records.append(Record({"n": n}, {KEY: "a"} if n % 5 else {KEY: "b"}))
    outlet.push(records, UPDATE)
    inserts = commands.named("insert")
    by_collection: dict[str, list[int]] = {}
    for event in inserts:
        assert event.command["ordered"] is False
        by_collection.setdefault(event.command["insert"], []).append(
            len(event.command["documents"]))
    assert by_collection == {"a": [1000, 1000], "b": [500]}
    assert mongo_db["a"].count_documents({}) == 2000
    assert mongo_db["b"].count_documents({}) == 500
    assert not commands.named("create") and not commands.named("listCollections")


def test_does_not_change_the_payloads_it_is_given(make_outlet: Callable[..., MongoOutlet]) -> None:
    payload = {"n": 1}
    listed = [{"n": 2}]
    make_outlet().push([Record(payload), Record(listed)], UPDATE)
    assert payload == {"n": 1} and listed == [{"n": 2}]


def test_a_payload_that_is_not_a_document_is_refused_by_name_and_nothing_is_written(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    outlet = make_outlet()
    records = ListInlet.records({"n": 1}, 42, [{"n": 2}, "text"])
    with pytest.raises(MongoPayloadError) as caught:
        outlet.push(records, UPDATE)
    error = caught.value
    # the bad records are named; none of the three went in
    assert error.records == [records[1], records[2]] and error.undelivered == 3
    message = str(error)
    assert "record #1" in message and "42" in message and "int, not a document" in message
    assert "record #2" in message and "list element 1" in message and "wrap_key" in message
    assert mongo_db["default_collection"].count_documents({}) == 0


def test_wrap_key_stores_other_payloads_as_documents(make_outlet: Callable[..., MongoOutlet],
                                                     mongo_db: Db) -> None:
    outlet = make_outlet(wrap_key="value")
    outlet.push(ListInlet.records({"value": 0}, 42, ["a", {"value": "b"}], None), UPDATE)
    stored = [d["value"] for d in mongo_db["default_collection"].find({}, {"_id": 0})]
    assert sorted(map(str, stored)) == ["0", "42", "None", "a", "b"]


def test_a_bulk_write_error_names_the_records_that_did_not_go_in(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    outlet = make_outlet()
    records = ListInlet.records({"_id": 1, "n": 1}, {"_id": 1, "n": 2}, {"_id": 2, "n": 3})
    with pytest.raises(MongoWriteError) as caught:
        outlet.push(records, UPDATE)
    error = caught.value
    assert error.records == [records[1]] and error.undelivered == 1 and error.written == 2
    assert "1 of 3 record(s) not written" in str(error) and "11000" in str(error)
    assert sorted(d["n"] for d in mongo_db["default_collection"].find()) == [1, 3]


def test_an_unencodable_document_is_named_and_the_others_go_in(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    outlet = make_outlet()
    records = ListInlet.records({"n": 1}, {"n": 2, "bad": {1, 2}}, {"n": 3}, {1: "int key"})
    with pytest.raises(MongoWriteError) as caught:
        outlet.push(records, UPDATE)
    assert caught.value.records == [records[1], records[3]]
    assert "cannot be stored as BSON" in caught.value.failures[0][1]
    assert sorted(d["n"] for d in mongo_db["default_collection"].find()) == [1, 3]


def test_no_collection_for_a_record_raises_collection_not_found(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    outlet = make_outlet(collection=None)
    records = [Record({"n": 1}, {KEY: "fine"}), Record({"n": 2}), Record({"n": 3}, {KEY: "a$b"}),
               Record({"n": 4}, {KEY: ["not", "a", "name"]})]
    with pytest.raises(MongoCollectionNotFound) as caught:
        outlet.push(records, UPDATE)
    assert caught.value.records == records[1:]
    assert "no collection" in str(caught.value) and "'a$b' is not a valid" in str(caught.value)
    assert mongo_db["fine"].count_documents({}) == 0


def test_link_counts_the_refused_records_when_ignoring_errors(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    from databay.testing import RecordsInlet

    outlet = make_outlet()
    link = Link(RecordsInlet([{"n": 1}, "not a document"]), outlet, interval=1,
                ignore_exceptions=True)
    result = link.transfer()
    assert result.undelivered[outlet] == 2 and isinstance(result.errors[0], MongoPayloadError)
    with pytest.raises(MongoPayloadError):
        Link(RecordsInlet(["x"]), outlet, interval=1).transfer()


def test_async_link_pushes_through_the_loop(make_outlet: Callable[..., MongoOutlet],
                                            mongo_db: Db) -> None:
    from databay.testing import AsyncRecordsInlet

    outlet = make_outlet()
    link = Link(AsyncRecordsInlet([{"n": 1}, {"n": 2}]), outlet, interval=1)
    link.on_start()
    try:
        link.transfer()
        link.transfer()
    finally:
        link.on_shutdown()
    assert mongo_db["default_collection"].count_documents({}) == 4
