"""MongoInlet(stream=True): a large read in chunks, its position committed per chunk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from databay import Link, Outlet, Record, Update
from databay.delivery import MemoryStateStore
from databay.testing import CollectingOutlet
from databay_mongo import MongoInlet
from pymongo.database import Database

Db = Database[dict[str, Any]]


class RefusingOutlet(Outlet):
    """Refuses its ``refuse``-th push (1-based) with a permanent error."""

    def __init__(self, refuse: int | None) -> None:
        super().__init__()
        self.refuse = refuse
        self.calls = 0
        self.ns: list[int] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.calls += 1
        if self.calls == self.refuse:
            raise ValueError("outlet refused this chunk")
        self.ns += [r.payload["n"] for r in records]


def test_a_streamed_pull_is_pushed_in_chunks_and_commits_per_chunk(
        make_inlet: Callable[..., MongoInlet], mongo_db: Db) -> None:
    mongo_db["default_collection"].insert_many([{"n": n} for n in range(25)])
    inlet = make_inlet(stream=True, batch_size=4, field="n", projection=["n"])
    store = MemoryStateStore()
    crashing = RefusingOutlet(refuse=3)
    link = Link(inlet, crashing, 1, tags="m", batch_size=10, state_store=store)
    with pytest.raises(ValueError, match="refused"):
        link.transfer()
    assert crashing.ns == list(range(20)) and store.get("m/0:MongoInlet") == 19
    assert inlet.position == 19, "rewound to the last committed chunk"
    # a new process on the same store reads only the undelivered chunk
    outlet = CollectingOutlet()
    again = Link(make_inlet(stream=True, field="n"), outlet, 1, tags="m", batch_size=10,
                 state_store=store)
    result = again.transfer()
    assert [r.payload["n"] for r in outlet.records] == list(range(20, 25))
    assert result.committed and store.get("m/0:MongoInlet") == 24


def test_stream_is_validated(make_inlet: Callable[..., MongoInlet]) -> None:
    with pytest.raises(TypeError, match=r"stream=...\) must be True or False"):
        make_inlet(stream="yes")
