"""The ObjectIds MongoOutlet gives documents before their first write attempt."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from databay import Record, Update
from databay_mongo import MongoOutlet
from databay_mongo._ids import take_ids
from pymongo.database import Database


def test_ids_are_unique_increasing_and_current() -> None:
    first, second = take_ids(5000), take_ids(3)
    ids = first + second
    assert all(isinstance(i, ObjectId) for i in ids)
    assert len(set(ids)) == len(ids)
    counters = [int.from_bytes(i.binary[9:], "big") for i in ids]
    assert all((b - a) % 2**24 == 1 for a, b in itertools.pairwise(counters))
    assert len({i.binary[4:9] for i in ids}) == 1  # one random field per process
    assert abs(ids[0].generation_time.timestamp() - time.time()) < 5


def test_inserted_documents_carry_an_object_id_and_a_given_id_is_kept(
        make_outlet: Callable[..., MongoOutlet], mongo_db: Database[dict[str, Any]]) -> None:
    make_outlet().push([Record({"n": 1}), Record({"_id": "mine", "n": 2})], Update([], 0))
    stored = {d["n"]: d["_id"] for d in mongo_db["default_collection"].find()}
    assert isinstance(stored[1], ObjectId) and stored[2] == "mine"
