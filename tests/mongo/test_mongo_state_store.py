"""MongoStateStore: links' checkpoint cursors in a MongoDB collection, on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _mongo_server import CLIENT_OPTIONS, FAST_OPTIONS, free_port
from databay import Inlet, Link, Outlet, Record, Update, plugins
from databay.pipeline import build_pipeline, parse_toml
from databay_mongo import MongoStateStore, MongoStateStoreError


class CountingInlet(Inlet):
    """Checkpointable: the next three numbers from its cursor."""

    def __init__(self) -> None:
        super().__init__()
        self.position = 0

    def pull(self, update: Update) -> Any:
        batch = list(range(self.position, self.position + 3))
        self.position += 3
        return batch

    @property
    def cursor(self) -> Any:
        return self.position

    def seek(self, cursor: Any) -> None:
        self.position = int(cursor)


class ListOutlet(Outlet):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.got: list[Any] = []
        self.fail = fail

    def push(self, records: list[Record], update: Update) -> None:
        if self.fail:
            raise ConnectionError("the sink is down")
        self.got += [r.payload for r in records]


@pytest.fixture
def store(mongo_uri: str, db_name: str) -> Iterator[MongoStateStore]:
    s = MongoStateStore(db_name, uri=mongo_uri, **CLIENT_OPTIONS)  # type: ignore[arg-type]
    yield s
    s.close()


def test_values_round_trip_and_are_documents(store: MongoStateStore, mongo_db: Any) -> None:
    assert store.get("orders/0:FileInlet") is None
    store.set("orders/0:FileInlet", 42)
    store.set("orders/1:CsvInlet", [1, 2, 3])
    store.set("orders/2:X", {"after": "abc", "n": None})
    assert store.get("orders/0:FileInlet") == 42
    assert store.get("orders/1:CsvInlet") == [1, 2, 3]
    assert store.get("orders/2:X") == {"after": "abc", "n": None}
    store.set("orders/0:FileInlet", 43)  # replaced, not duplicated
    docs = list(mongo_db["databay_state"].find({}, {"committed_at": 0}).sort("_id"))
    assert docs == [{"_id": "orders/0:FileInlet", "value": 43},
                    {"_id": "orders/1:CsvInlet", "value": [1, 2, 3]},
                    {"_id": "orders/2:X", "value": {"after": "abc", "n": None}}]
    assert all(d["committed_at"] for d in mongo_db["databay_state"].find())


def test_a_restarted_link_resumes_and_a_failed_batch_is_not_committed(
        store: MongoStateStore, mongo_uri: str, db_name: str) -> None:
    link = Link(CountingInlet(), ListOutlet(), 1, tags="counts", state_store=store)
    link.transfer()
    link.transfer()
    # a new process: new link, new inlet, new store on the same collection
    again = MongoStateStore(db_name, uri=mongo_uri, **CLIENT_OPTIONS)  # type: ignore[arg-type]
    try:
        failing = ListOutlet(fail=True)
        restarted = Link(CountingInlet(), failing, 1, tags="counts", state_store=again,
                         ignore_exceptions=True)
        restarted.transfer()  # reads 6..8, the push fails: nothing committed
        outlet = ListOutlet()
        third = Link(CountingInlet(), outlet, 1, tags="counts", state_store=again)
        third.transfer()
        assert outlet.got == [6, 7, 8]  # resumed after the last committed batch
    finally:
        again.close()


def test_bad_input_and_values_are_refused(store: MongoStateStore) -> None:
    with pytest.raises(ValueError, match="give either uri=... or host=/port=..., not both"):
        MongoStateStore(uri="mongodb://127.0.0.1", host="h")
    with pytest.raises(ValueError, match=r"MongoStateStore\(uri=...\) must be a MongoDB"):
        MongoStateStore(uri="redis://127.0.0.1")
    with pytest.raises(ValueError, match="collection"):
        MongoStateStore(collection="")
    with pytest.raises(TypeError, match="cursor for 'k' is not JSON-serialisable"):
        store.set("k", object())
    with pytest.raises(TypeError, match="cursor for 'k' does not fit in BSON"):
        store.set("k", 2 ** 70)
    assert store.get("k") is None


def test_an_unreachable_server_raises_without_credentials() -> None:
    uri = f"mongodb://reader:s3cr3t-pw@127.0.0.1:{free_port()}/"
    store = MongoStateStore(uri=uri, **FAST_OPTIONS)  # type: ignore[arg-type]
    try:
        assert "s3cr3t-pw" not in repr(store)
        with pytest.raises(MongoStateStoreError, match="reading the cursor 'k' failed") as e:
            store.get("k")
        assert "s3cr3t-pw" not in str(e.value)
        with pytest.raises(MongoStateStoreError, match="committing the cursor 'k' failed") \
                as e:
            store.set("k", 1)
        assert "s3cr3t-pw" not in str(e.value)
    finally:
        store.close()


def test_registered_for_pipeline_files(mongo_uri: str, db_name: str, tmp_path: Path) -> None:
    assert plugins.resolve("state_store", "MongoStateStore") is MongoStateStore
    data = parse_toml(f"""
[[links]]
name = "counts"
interval = "1s"

[links.state_store]
type = "MongoStateStore"
uri = "${{MONGODB_URI}}"
database_name = "{db_name}"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "NullOutlet"
""", "pipeline.toml")
    pipeline = build_pipeline(data, "pipeline.toml", {"MONGODB_URI": mongo_uri})
    store = pipeline.links[0].link.state_store
    assert isinstance(store, MongoStateStore) and store.database_name == db_name
    store.close()
