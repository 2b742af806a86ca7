"""databay-mongo and the delivery guarantees: MongoInlet's checkpoint cursor (JSON, for
a FileStateStore) and seek, and MongoOutlet errors marked transient or permanent for a
link's RetryPolicy; a link's retry of a push whose reply was lost writes nothing twice.
The link-level scenarios are in tests/integration/test_delivery_mongo.py."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _mongo_server import CLIENT_OPTIONS, FAST_OPTIONS, CuttingProxy, NxServer
from bson import ObjectId
from databay import Link, Record, Update
from databay.delivery import RetryPolicy, is_transient
from databay.testing import RecordsInlet
from databay_mongo import (
    MongoCollectionNotFound,
    MongoInlet,
    MongoOutlet,
    MongoPayloadError,
    MongoReadError,
    MongoWriteError,
)
from pymongo import MongoClient

UPDATE = Update(["delivery"], 0)


def pull(inlet: MongoInlet) -> list[Any]:
    return inlet.pull(UPDATE)


# -- MongoInlet: cursor and seek -------------------------------------------------------------

def test_the_cursor_of_object_ids_is_json_and_seek_resumes_after_it(
        mongo_db: Any, make_inlet: Callable[..., MongoInlet]) -> None:
    mongo_db.c.insert_many([{"n": n} for n in range(5)])
    inlet = make_inlet(collection="c", max_documents=2)
    assert inlet.cursor is None
    assert [d["n"] for d in pull(inlet)] == [0, 1]
    saved = json.loads(json.dumps(inlet.cursor))  # as a FileStateStore keeps it
    assert saved == {"$oid": str(inlet.position)}
    assert [d["n"] for d in pull(inlet)] == [2, 3]

    fresh = make_inlet(collection="c")
    fresh.seek(saved)
    assert isinstance(fresh.position, ObjectId)
    assert [d["n"] for d in pull(fresh)] == [2, 3, 4]


def test_a_datetime_field_round_trips_through_json(
        mongo_db: Any, make_inlet: Callable[..., MongoInlet]) -> None:
    # minutes apart: nx-27017 compares dates to the second
    base = datetime.datetime(2024, 5, 1, 12, 0, 0, 7000)
    mongo_db.c.insert_many([{"at": base + datetime.timedelta(minutes=n), "n": n}
                            for n in range(4)])
    inlet = make_inlet(collection="c", field="at", max_documents=2)
    assert [d["n"] for d in pull(inlet)] == [0, 1]
    saved = json.loads(json.dumps(inlet.cursor))
    assert saved == {"$date": "2024-05-01T12:01:00.007Z"}
    fresh = make_inlet(collection="c", field="at")
    fresh.seek(saved)
    assert fresh.position == inlet.position  # to the millisecond, as BSON keeps it
    assert [d["n"] for d in pull(fresh)] == [2, 3]


def test_plain_values_stay_plain_and_seek_none_starts_over_as_configured(
        mongo_db: Any, make_inlet: Callable[..., MongoInlet]) -> None:
    mongo_db.c.insert_many([{"seq": n} for n in range(6)])
    inlet = make_inlet(collection="c", field="seq", start_after=1)
    assert [d["seq"] for d in pull(inlet)] == [2, 3, 4, 5]
    assert inlet.cursor == 5
    inlet.seek(3)
    assert [d["seq"] for d in pull(inlet)] == [4, 5]
    inlet.seek(None)  # back to start_after, not to the very beginning
    assert inlet.position == 1 and [d["seq"] for d in pull(inlet)] == [2, 3, 4, 5]
    inlet.position = 4  # the existing API is still there
    assert inlet.cursor == 4


def test_seek_refuses_a_cursor_it_cannot_read(make_inlet: Callable[..., MongoInlet]) -> None:
    inlet = make_inlet(collection="c")
    with pytest.raises(ValueError, match=r"MongoInlet\.seek\(cursor=\.\.\.\).*'\$oid'"):
        inlet.seek({"$oid": "not-an-object-id"})
    assert inlet.position is None


def test_a_read_from_a_stopped_server_is_transient(own_server: NxServer) -> None:
    inlet = MongoInlet(uri=own_server.uri, collection="c", **FAST_OPTIONS)  # type: ignore[arg-type]
    try:
        own_server.stop()
        with pytest.raises(MongoReadError) as caught:
            pull(inlet)
        assert caught.value.transient is True and is_transient(caught.value)
    finally:
        inlet.try_shutdown()


# -- MongoOutlet: transient or permanent -------------------------------------------------------

def test_errors_refused_before_writing_are_permanent(
        make_outlet: Callable[..., MongoOutlet]) -> None:
    outlet = make_outlet(collection=None)
    with pytest.raises(MongoPayloadError) as payload:
        outlet.push([Record("text", {MongoOutlet.MONGODB_COLLECTION: "c"})], UPDATE)
    with pytest.raises(MongoCollectionNotFound) as collection:
        outlet.push([Record({"a": 1})], UPDATE)
    with pytest.raises(MongoCollectionNotFound) as bad_name:
        outlet.push([Record({"a": 1}, {MongoOutlet.MONGODB_COLLECTION: "bad$name"})], UPDATE)
    for exc in (payload.value, collection.value, bad_name.value):
        assert exc.transient is False and not is_transient(exc)


def test_a_duplicate_key_is_permanent(make_outlet: Callable[..., MongoOutlet],
                                      mongo_db: Any) -> None:
    outlet = make_outlet(collection="c")
    outlet.push([Record({"_id": "x"})], UPDATE)
    with pytest.raises(MongoWriteError) as caught:
        outlet.push([Record({"_id": "x"}), Record({"_id": "y"})], UPDATE)
    assert caught.value.undelivered == 1 and caught.value.transient is False
    assert sorted(d["_id"] for d in mongo_db.c.find()) == ["x", "y"]


def test_refused_credentials_are_permanent(own_server: NxServer) -> None:
    # nx-27017 answers an authentication attempt for an unknown user with an
    # OperationFailure (AuthenticationFailed): not something a retry fixes
    outlet = MongoOutlet(uri=f"mongodb://nobody:wrong@127.0.0.1:{own_server.port}/",
                         retries=2, backoff=0.01, **FAST_OPTIONS)  # type: ignore[arg-type]
    try:
        with pytest.raises(MongoWriteError) as caught:
            outlet.push([Record({"a": 1})], UPDATE)
        assert caught.value.transient is False, caught.value
        assert "wrong" not in str(caught.value)
    finally:
        outlet.try_shutdown()


def test_a_server_that_stays_down_is_transient_once_the_outlet_gives_up(
        own_server: NxServer) -> None:
    outlet = MongoOutlet(uri=own_server.uri, retries=1, backoff=0.01, **FAST_OPTIONS)  # type: ignore[arg-type]
    try:
        own_server.stop()
        with pytest.raises(MongoWriteError) as caught:
            outlet.push([Record({"n": n}) for n in range(3)], UPDATE)
        assert caught.value.undelivered == 3
        assert caught.value.transient is True and is_transient(caught.value)
    finally:
        outlet.try_shutdown()


# -- a link's retry after a lost reply ---------------------------------------------------------

@pytest.fixture
def proxy(own_server: NxServer) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(own_server.port)
    yield proxy
    proxy.stop()


def test_a_link_retry_after_a_lost_reply_writes_nothing_twice(
        own_server: NxServer, proxy: CuttingProxy) -> None:
    # retries=0: the outlet gives up at once; the link's RetryPolicy pushes the same
    # records again, whose documents keep the _id the first push gave them
    outlet = MongoOutlet(uri=proxy.uri, collection="c", retries=0, **CLIENT_OPTIONS)  # type: ignore[arg-type]
    link = Link(RecordsInlet([{"n": n} for n in range(30)]), outlet, interval=60,
                tags="lost", retry=RetryPolicy(attempts=3, backoff=0.001, jitter=False))
    try:
        outlet.push([Record({"n": -1})], UPDATE)  # connected through the proxy
        proxy.cut_next("insert")
        result = link.transfer()
        assert proxy.cuts == 1
        assert result.retried == {outlet: 1} and result.pushed == {outlet: 30}
        assert not result.undelivered and not result.errors
    finally:
        outlet.try_shutdown()
    with MongoClient(own_server.uri, **CLIENT_OPTIONS) as client:  # type: ignore[arg-type]
        assert sorted(d["n"] for d in client["databay"]["c"].find()) == list(range(-1, 30))
