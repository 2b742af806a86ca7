"""MongoInlet: the documents added since the last pull."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _mongo_server import FAST_OPTIONS, NxServer
from databay import Link, Update
from databay.testing import CollectingOutlet, check_inlet
from databay_mongo import MongoInlet, MongoOutlet, MongoReadError
from pymongo import MongoClient
from pymongo.database import Database

UPDATE = Update([], 0)
Db = Database[dict[str, Any]]


def ns(docs: list[dict[str, Any]]) -> list[Any]:
    return [d["n"] for d in docs]


def test_each_pull_returns_only_what_was_added_since_the_last(
        make_inlet: Callable[..., MongoInlet], mongo_db: Db) -> None:
    collection = mongo_db["default_collection"]
    inlet = make_inlet()
    assert inlet.pull(UPDATE) == [] and inlet.position is None
    collection.insert_many([{"n": n} for n in range(3)])
    assert ns(inlet.pull(UPDATE)) == [0, 1, 2]
    assert inlet.pull(UPDATE) == []
    collection.insert_many([{"n": 3}, {"n": 4}])
    assert ns(inlet.pull(UPDATE)) == [3, 4]
    assert inlet.position == collection.find_one({"n": 4})["_id"]  # type: ignore[index]


def test_passes_the_inlet_contract(make_inlet: Callable[..., MongoInlet], mongo_db: Db) -> None:
    mongo_db["default_collection"].insert_many([{"n": n} for n in range(4)])

    def verify(records: list[Any]) -> None:
        assert ns([r.payload for r in records])[:4] == [0, 1, 2, 3]

    report = check_inlet(lambda metadata: make_inlet(metadata=metadata), min_records=0,
                         verify=verify)
    assert "checkpoint" in report.passed and not report.skipped


def test_max_documents_spreads_a_backlog_over_pulls_and_batch_size_pages(
        make_inlet: Callable[..., MongoInlet], mongo_db: Db) -> None:
    mongo_db["default_collection"].insert_many([{"n": n} for n in range(5)])
    inlet = make_inlet(max_documents=2, batch_size=1)
    assert [ns(inlet.pull(UPDATE)) for _ in range(4)] == [[0, 1], [2, 3], [4], []]


def test_custom_field_start_after_filter_and_projection(
        make_inlet: Callable[..., MongoInlet], mongo_db: Db) -> None:
    mongo_db["events"].insert_many(
        [{"seq": s, "kind": "a" if s % 2 else "b", "n": s, "big": "x" * 10} for s in range(8)])
    inlet = make_inlet(collection="events", field="seq", start_after=2,
                       filter={"kind": "a"}, projection=["n"])
    docs = inlet.pull(UPDATE)
    assert [sorted(d) for d in docs] == [["_id", "n"]] * 3  # seq read, then dropped
    assert ns(docs) == [3, 5, 7] and inlet.position == 7
    mongo_db["events"].insert_many([{"seq": 8, "kind": "b", "n": 8},
                                    {"seq": 9, "kind": "a", "n": 9}])
    assert ns(inlet.pull(UPDATE)) == [9]


def test_filter_on_the_tracked_field_and_exclusion_projection(
        make_inlet: Callable[..., MongoInlet], mongo_db: Db) -> None:
    mongo_db["events"].insert_many([{"seq": s, "n": s, "big": "x"} for s in range(6)])
    inlet = make_inlet(collection="events", field="seq", filter={"seq": {"$lt": 4}},
                       projection={"big": 0, "seq": 0, "_id": 0})
    docs = inlet.pull(UPDATE)
    assert docs == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]
    assert inlet.query() == {"$and": [{"seq": {"$lt": 4}}, {"seq": {"$gt": 3}}]}


def test_position_can_be_saved_and_restored(make_inlet: Callable[..., MongoInlet],
                                            mongo_db: Db) -> None:
    mongo_db["default_collection"].insert_many([{"n": n} for n in range(4)])
    first = make_inlet(max_documents=2)
    assert ns(first.pull(UPDATE)) == [0, 1]
    second = make_inlet()
    second.position = first.position
    assert ns(second.pull(UPDATE)) == [2, 3]


def test_moves_documents_through_a_link_into_a_mongo_outlet(
        make_inlet: Callable[..., MongoInlet], make_outlet: Callable[..., MongoOutlet],
        mongo_db: Db) -> None:
    mongo_db["source"].insert_many([{"n": n} for n in range(3)])
    link = Link(make_inlet(collection="source", projection={"_id": 0}),
                make_outlet(collection="copy"), interval=1)
    link.on_start()
    try:
        assert link.transfer().pulled == 3
        mongo_db["source"].insert_one({"n": 3})
        assert link.transfer().pulled == 1
    finally:
        link.on_shutdown()
    assert sorted(d["n"] for d in mongo_db["copy"].find()) == [0, 1, 2, 3]


def test_records_carry_the_inlet_metadata(make_inlet: Callable[..., MongoInlet],
                                          mongo_db: Db) -> None:
    mongo_db["default_collection"].insert_one({"n": 1})
    inlet = make_inlet(metadata={"source": "mongo"})
    outlet = CollectingOutlet()
    Link(inlet, outlet, interval=1).transfer()
    assert outlet.records[0].metadata["source"] == "mongo"
    assert outlet.records[0].payload["n"] == 1


def test_a_dead_server_raises_and_the_next_pull_asks_again(own_server: NxServer,
                                                           tmp_path: Any) -> None:
    inlet = MongoInlet(uri=own_server.uri, **FAST_OPTIONS)
    try:
        with MongoClient(own_server.uri) as client:
            client["databay"]["default_collection"].insert_many([{"n": 0}, {"n": 1}])
        assert ns(inlet.pull(UPDATE)) == [0, 1]
        position = inlet.position
        own_server.stop()
        with pytest.raises(MongoReadError) as caught:
            inlet.pull(UPDATE)
        assert "the next pull asks for the same documents again" in str(caught.value)
        assert inlet.position == position
        own_server.start()  # empty again (in memory); new documents come after position
        with MongoClient(own_server.uri) as client:
            client["databay"]["default_collection"].insert_one({"n": 2})
        assert ns(inlet.pull(UPDATE)) == [2]
    finally:
        inlet.try_shutdown()
    assert inlet.client is None
