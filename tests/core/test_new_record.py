"""Inlet.new_record() on the fast path: shared metadata, never visibly shared."""

from __future__ import annotations

from typing import Any

import pytest
from core_nodes import CollectOutlet, ListInlet
from databay import Inlet, Link, Record


def test_records_do_not_see_each_others_metadata_changes() -> None:
    inlet = ListInlet(metadata={"a": 1})
    first, second = inlet.new_record(1), inlet.new_record(2)
    first.metadata["a"] = 99
    first.metadata["extra"] = True
    assert second.metadata == {"a": 1, "__inlet__": str(inlet)}
    assert inlet.metadata == {"a": 1}
    assert inlet.new_record(3).metadata == {"a": 1, "__inlet__": str(inlet)}


def test_own_metadata_is_merged_and_inlet_name_wins() -> None:
    inlet = ListInlet(metadata={"a": 1, "b": 2})
    own = {"b": 3, "__inlet__": "spoofed"}
    record = inlet.new_record("x", own)
    assert record.metadata == {"a": 1, "b": 3, "__inlet__": str(inlet)}
    record.metadata["b"] = 4
    assert own == {"b": 3, "__inlet__": "spoofed"}, "the caller's dict is not changed"
    assert inlet.new_record("y").metadata == {"a": 1, "b": 2, "__inlet__": str(inlet)}


def test_later_changes_to_the_inlets_metadata_reach_new_records_only() -> None:
    inlet = ListInlet(metadata={"a": 1})
    before = inlet.new_record(1)
    inlet.metadata["a"] = 2
    after = inlet.new_record(2)
    assert after.metadata == {"a": 2, "__inlet__": str(inlet)}
    assert after.metadata["__inlet__"] == "ListInlet(metadata={'a': 2})"
    assert before.payload == 1


def test_a_custom_repr_is_read_for_every_record() -> None:
    class Named(Inlet):
        name = "one"

        def pull(self, update: object) -> Any:
            return None

        def __repr__(self) -> str:
            return f"Named({self.name})"

    inlet = Named()
    assert inlet.new_record(1).metadata["__inlet__"] == "Named(one)"
    inlet.name = "two"
    assert inlet.new_record(1).metadata["__inlet__"] == "Named(two)"


def test_a_subclass_metadata_property_is_honoured() -> None:
    class Dynamic(Inlet):
        value = 1

        @property
        def metadata(self) -> dict[str, Any]:
            return {"value": self.value}

        def pull(self, update: object) -> Any:
            return None

    inlet = Dynamic()
    assert inlet.new_record(0).metadata["value"] == 1
    inlet.value = 2
    assert inlet.new_record(0).metadata["value"] == 2


def test_bad_metadata_is_refused_clearly() -> None:
    with pytest.raises(TypeError, match=r"new_record\(metadata=...\) must be a dict"):
        ListInlet().new_record(1, ["not", "a", "dict"])  # type: ignore[arg-type]


def test_new_records_through_a_link_without_copies_stay_independent() -> None:
    class Maker(Inlet):
        def pull(self, update: object) -> list[Record]:
            return [self.new_record(i) for i in range(3)]

    outlet = CollectOutlet()
    Link(Maker({"k": "v"}), outlet, 1, copy_records=False).transfer()
    records = outlet.records
    records[0].metadata["k"] = "changed"
    assert [r.metadata["k"] for r in records] == ["changed", "v", "v"]
    assert records[1] == Record(1, {"k": "v", "__inlet__": "Maker(metadata={'k': 'v'})"})
