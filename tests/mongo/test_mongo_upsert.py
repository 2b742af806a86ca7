"""MongoOutlet's idempotent mode: documents upserted by a key, so replays do not
duplicate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from databay import Link, Record, Update
from databay.testing import RecordsInlet
from databay_mongo import MongoOutlet, MongoPayloadError
from pymongo.database import Database

UPDATE = Update([], 0)
Db = Database[dict[str, Any]]


def all_docs(db: Db, projection: dict[str, int] | None = None) -> list[dict[str, Any]]:
    return list(db["default_collection"].find({}, projection).sort("id", 1))


def test_replayed_transfers_update_instead_of_duplicating(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    outlet = make_outlet(upsert_key="id")
    inlet = RecordsInlet([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
    link = Link(inlet, outlet, interval=1)
    link.transfer()
    link.transfer()  # a retried transfer: same records again
    inlet.payloads = [{"id": 2, "v": "B"}, {"id": 3, "v": "c"}]
    link.transfer()
    assert all_docs(mongo_db, {"_id": 0}) == [
        {"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 3, "v": "c"}]


def test_compound_key(make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    outlet = make_outlet(upsert_key=["id", "day"])
    outlet.push([Record({"id": 1, "day": 1, "v": 0}), Record({"id": 1, "day": 2, "v": 0})],
                UPDATE)
    outlet.push([Record({"id": 1, "day": 2, "v": 5})], UPDATE)
    stored = {(d["id"], d["day"]): d["v"] for d in all_docs(mongo_db)}
    assert stored == {(1, 1): 0, (1, 2): 5}


def test_callable_key_becomes_the_id(make_outlet: Callable[..., MongoOutlet],
                                     mongo_db: Db) -> None:
    outlet = make_outlet(upsert_key=lambda doc: f"{doc['city']}:{doc['day']}")
    payload = {"city": "Oslo", "day": 3, "t": 1.5}
    outlet.push([Record(payload), Record([dict(payload, t=2.5)])], UPDATE)
    outlet.push([Record(dict(payload, t=3.5))], UPDATE)
    assert all_docs(mongo_db) == [{"_id": "Oslo:3", "city": "Oslo", "day": 3, "t": 3.5}]
    assert payload == {"city": "Oslo", "day": 3, "t": 1.5}  # the record's own dict untouched


def test_the_last_document_of_a_key_in_one_push_wins(make_outlet: Callable[..., MongoOutlet],
                                                     mongo_db: Db) -> None:
    outlet = make_outlet(upsert_key="id", batch_size=2)
    outlet.push([Record({"id": n % 3, "v": n}) for n in range(9)], UPDATE)
    assert all_docs(mongo_db, {"_id": 0}) == [{"id": 0, "v": 6}, {"id": 1, "v": 7},
                                              {"id": 2, "v": 8}]


def test_a_document_without_its_key_is_named_and_nothing_is_written(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Db) -> None:
    outlet = make_outlet(upsert_key="id")
    records = [Record({"id": 1}), Record({"v": 2}), Record({"id": 3})]
    with pytest.raises(MongoPayloadError) as caught:
        outlet.push(records, UPDATE)
    assert caught.value.records == [records[1]]
    assert "has no field 'id' of upsert_key" in str(caught.value)
    assert mongo_db["default_collection"].count_documents({}) == 0


def test_a_failing_key_callable_is_named(make_outlet: Callable[..., MongoOutlet]) -> None:
    outlet = make_outlet(upsert_key=lambda doc: doc["missing"])
    with pytest.raises(MongoPayloadError) as caught:
        outlet.push([Record({"id": 1})], UPDATE)
    assert "upsert_key raised KeyError" in str(caught.value)
