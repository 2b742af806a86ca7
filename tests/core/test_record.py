from __future__ import annotations

import pytest
from databay import Record


def test_metadata_defaults_to_a_new_dict_per_record() -> None:
    a, b = Record(1), Record(2)
    assert a.metadata == {} and b.metadata == {}
    a.metadata["x"] = 1
    assert b.metadata == {}


def test_records_compare_by_value() -> None:
    assert Record({"a": 1}, {"m": 2}) == Record({"a": 1}, {"m": 2})
    assert Record({"a": 1}) != Record({"a": 2})
    assert Record(1, {"m": 1}) != Record(1, {"m": 2})
    assert Record(1) != 1


def test_duplicates_can_be_removed_by_value() -> None:
    records = [Record(1), Record(1), Record(2)]
    unique = [r for i, r in enumerate(records) if r not in records[:i]]
    assert unique == [Record(1), Record(2)]
    assert len({Record("a"), Record("a")}) == 1


def test_unhashable_payload_says_why() -> None:
    with pytest.raises(TypeError, match="payload of type dict is unhashable"):
        hash(Record({"a": 1}))


def test_payload_is_assignable_for_processors() -> None:
    record = Record(1)
    record.payload = 2
    assert record.payload == 2


def test_repr() -> None:
    assert repr(Record(1, {"a": 2})) == "Record(payload=1, metadata={'a': 2})"


def test_bad_metadata_is_refused() -> None:
    with pytest.raises(TypeError, match="metadata must be a dict, got list"):
        Record(1, [1, 2])  # type: ignore[arg-type]
