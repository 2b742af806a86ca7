from __future__ import annotations

import datetime
import threading
import warnings
from typing import Any

import pytest
from core_nodes import CollectOutlet, FailingInlet, FailingOutlet, ListInlet
from databay import InvalidNodeError, Link, Record, RecordCopyError, Update


def make(data: Any = 1, **kwargs: Any) -> tuple[Link, ListInlet, CollectOutlet]:
    inlet, outlet = ListInlet(data), CollectOutlet()
    return Link(inlet, outlet, 1, **kwargs), inlet, outlet


# -- construction ------------------------------------------------------------------


def test_defaults_match_the_original() -> None:
    link, inlet, outlet = make()
    assert link.inlets == [inlet] and link.outlets == [outlet]
    assert link.interval == datetime.timedelta(seconds=1)
    assert link.tags == []
    assert link.copy_records is True
    assert link.ignore_exceptions is False
    assert link.inlet_concurrency == 9999
    assert link.immediate_transfer is True
    assert link.processors == [] and link.groupers == []
    assert link.job is None


def test_interval_accepts_timedelta_int_and_float() -> None:
    assert Link([], [], datetime.timedelta(minutes=1)).interval == datetime.timedelta(minutes=1)
    assert Link([], [], 2).interval == datetime.timedelta(seconds=2)
    assert Link([], [], 0.25).interval == datetime.timedelta(milliseconds=250)


@pytest.mark.parametrize("bad", [0, -1, datetime.timedelta(0), -0.5])
def test_non_positive_interval_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"Link\(interval=...\) must be positive"):
        Link([], [], bad)


@pytest.mark.parametrize("bad", ["5s", None, True, [1]])
def test_interval_of_wrong_type(bad: Any) -> None:
    with pytest.raises(TypeError, match="timedelta or a number of seconds"):
        Link([], [], bad)


def test_tags() -> None:
    assert Link([], [], 1, tags="a").tags == ["a"]
    assert Link([], [], 1, tags=["a", "b"]).tags == ["a", "b"]
    with pytest.raises(TypeError, match="tags"):
        Link([], [], 1, tags=5)  # type: ignore[arg-type]


def test_deprecated_name_becomes_a_tag_with_a_warning() -> None:
    with pytest.warns(UserWarning, match=r"name=\.\.\.\) is deprecated"):
        link = Link([], [], 1, name="old")
    assert link.tags == ["old"]
    with pytest.warns(DeprecationWarning):
        assert link.name == "old"


def test_deprecated_catch_exceptions() -> None:
    with pytest.warns(DeprecationWarning, match="catch_exceptions"):
        link = Link([], [], 1, catch_exceptions=True)
    assert link.ignore_exceptions is True


def test_non_nodes_are_refused_with_the_argument_named() -> None:
    with pytest.raises(TypeError, match="Link inlets must be Inlet instances.*got str"):
        Link("inlet", [], 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Link outlets must be Outlet instances.*got ListInlet"):
        Link([], ListInlet(), 1)  # type: ignore[arg-type]


def test_duplicate_and_missing_nodes() -> None:
    link, inlet, outlet = make()
    with pytest.raises(InvalidNodeError, match="already one of this link's inlets"):
        link.add_inlets(inlet)
    with pytest.raises(InvalidNodeError):
        Link([inlet, inlet], [], 1)
    with pytest.raises(InvalidNodeError, match="not one of this link's outlets"):
        link.remove_outlets(CollectOutlet())
    other = ListInlet()
    link.add_inlets([other])
    assert link.inlets == [inlet, other]
    link.remove_inlets(other)
    link.remove_outlets(outlet)
    assert link.inlets == [inlet] and link.outlets == []
    assert isinstance(InvalidNodeError("x"), RuntimeError)


def test_processors_and_groupers_must_be_callable() -> None:
    with pytest.raises(TypeError, match=r"Link\(processors=...\): processors must be callable"):
        Link([], [], 1, processors="p")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"groupers\[0\] must be callable"):
        Link([], [], 1, groupers=[None])  # type: ignore[list-item]


@pytest.mark.parametrize("bad", [0, -3, 1.5, "2"])
def test_inlet_concurrency_must_be_positive_int(bad: Any) -> None:
    with pytest.raises(ValueError, match="inlet_concurrency"):
        Link([], [], 1, inlet_concurrency=bad)


def test_flags_must_be_bool() -> None:
    with pytest.raises(TypeError, match=r"copy_records=...\) must be True or False"):
        Link([], [], 1, copy_records="yes")  # type: ignore[arg-type]


def test_repr() -> None:
    link = Link(ListInlet(), CollectOutlet(), 2, tags="t")
    assert repr(link) == (
        "Link(tags:['t'], interval:0:00:02, inlets:[ListInlet(metadata={})], "
        "outlets:[CollectOutlet()])"
    )


# -- transfer ------------------------------------------------------------------------


def test_update_numbers_and_str() -> None:
    link, _, outlet = make(tags=["a", "b"])
    link.transfer()
    link.transfer()
    assert [str(u) for u in outlet.updates] == ["a.b.0", "a.b.1"]
    assert str(Update([], 7)) == "7" and repr(Update(["x"], 1)) == "x.1"
    assert link.transfer_number == 2


def test_list_gives_one_record_per_element_other_values_one_record() -> None:
    for data, payloads in [
        ([1, 2, 3], [1, 2, 3]),
        ((1, 2), [(1, 2)]),
        ({"a": 1}, [{"a": 1}]),
        ({1, 2}, [{1, 2}]),
        ("text", ["text"]),
        ([], []),
        (None, []),
    ]:
        link, _, outlet = make(data)
        link.transfer()
        assert [r.payload for r in outlet.records] == payloads, data


def test_mixed_records_and_raw_values_are_all_wrapped() -> None:
    inlet = ListInlet(metadata={"g": 1})
    premade = inlet.new_record("made", {"own": True})
    inlet.data = [premade, "raw", 3]
    outlet = CollectOutlet()
    Link(inlet, outlet, 1, copy_records=False).transfer()
    assert all(isinstance(r, Record) for r in outlet.records)
    assert [r.payload for r in outlet.records] == ["made", "raw", 3]
    assert outlet.records[0] is premade
    assert outlet.records[1].metadata == {"g": 1, "__inlet__": "ListInlet(metadata={'g': 1})"}


def test_records_from_several_inlets_keep_inlet_order() -> None:
    a, b, outlet = ListInlet([1, 2]), ListInlet([3]), CollectOutlet()
    Link([a, b], outlet, 1).transfer()
    assert [r.payload for r in outlet.records] == [1, 2, 3]


def test_copy_records_gives_each_outlet_its_own_copy() -> None:
    payload = {"nested": {"list": [1, 2]}, "t": (1, [2])}
    first, second = CollectOutlet(), CollectOutlet()
    Link(ListInlet([payload]), [first, second], 1).transfer()
    r1, r2 = first.records[0], second.records[0]
    assert r1 == r2 and r1.payload == payload
    assert r1 is not r2 and r1.payload is not payload and r1.payload is not r2.payload
    assert r1.payload["nested"]["list"] is not payload["nested"]["list"]
    assert r1.metadata is not r2.metadata
    r1.payload["nested"]["list"].append(3)
    assert payload["nested"]["list"] == [1, 2] and r2.payload["nested"]["list"] == [1, 2]


def test_copy_records_false_shares_objects() -> None:
    payload = {"a": 1}
    first, second = CollectOutlet(), CollectOutlet()
    Link(ListInlet([payload]), [first, second], 1, copy_records=False).transfer()
    assert first.records[0] is second.records[0]
    assert first.records[0].payload is payload


def test_copy_falls_back_to_deepcopy_for_other_objects() -> None:
    class Point:
        def __init__(self, x: int) -> None:
            self.x = [x]

    point = Point(1)
    outlet = CollectOutlet()
    Link(ListInlet([point]), outlet, 1).transfer()
    copied = outlet.records[0].payload
    assert isinstance(copied, Point) and copied is not point and copied.x == [1]
    assert copied.x is not point.x


def test_self_referencing_payload_is_copied() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    outlet = CollectOutlet()
    Link(ListInlet([cyclic]), outlet, 1).transfer()
    copied = outlet.records[0].payload
    assert copied is not cyclic and copied[1] is copied


def test_uncopyable_payload_gets_a_clear_error() -> None:
    link, _, outlet = make([threading.Lock()])
    with pytest.raises(RecordCopyError, match="copy_records=False"):
        link.transfer()
    assert outlet.batches == []
    assert isinstance(RecordCopyError("x"), TypeError)


def test_push_is_called_with_empty_batches() -> None:
    link, _, outlet = make([])
    link.transfer()
    assert outlet.batches == [[]]


def test_link_processors_then_groupers_then_outlet_processors() -> None:
    calls: list[str] = []

    def double(records: list[Record]) -> list[Record]:
        calls.append("link")
        return records + [Record(r.payload * 10) for r in records]

    def pairs(batches: list[list[Record]]) -> list[list[Record]]:
        calls.append("grouper")
        flat = [r for b in batches for r in b]
        return [flat[i : i + 2] for i in range(0, len(flat), 2)]

    def drop_big(records: list[Record]) -> list[Record]:
        calls.append("outlet")
        return [r for r in records if r.payload < 20]

    outlet = CollectOutlet(processors=drop_big)
    Link(ListInlet([1, 2]), outlet, 1, processors=[double], groupers=pairs).transfer()
    assert [[r.payload for r in b] for b in outlet.batches] == [[1, 2], [10]]
    assert calls == ["link", "grouper", "outlet", "outlet"]


def test_processor_returning_none_is_a_clear_error() -> None:
    link, _, _ = make([1], processors=lambda records: None)
    with pytest.raises(TypeError, match="returned NoneType, not a list"):
        link.transfer()


def test_transfer_result_counts() -> None:
    inlet, good, bad = ListInlet([1, 2, 3]), CollectOutlet(), FailingOutlet()
    link = Link(inlet, [good, bad], 1, ignore_exceptions=True)
    result = link.transfer()
    assert result.pulled == 3
    assert result.pushed == {good: 3}
    assert result.undelivered == {bad: 3}
    assert [type(e) for e in result.errors] == [OSError]
    assert not result.ok and result.duration >= 0
    assert str(result.update) == "0"


# -- exceptions ------------------------------------------------------------------------


def test_inlet_error_is_raised_by_default() -> None:
    link = Link(FailingInlet(), CollectOutlet(), 1)
    with pytest.raises(ValueError, match="inlet broke"):
        link.transfer()


def test_ignored_inlet_error_skips_that_inlet(caplog: pytest.LogCaptureFixture) -> None:
    outlet = CollectOutlet()
    link = Link([FailingInlet(), ListInlet([5])], outlet, 1, ignore_exceptions=True)
    result = link.transfer()
    assert [r.payload for r in outlet.records] == [5]
    assert "inlet broke" in caplog.text and "ignored" in caplog.text
    assert len(result.errors) == 1


def test_failing_outlet_does_not_starve_the_others_and_is_raised() -> None:
    bad, good = FailingOutlet(), CollectOutlet()
    link = Link(ListInlet([1, 2]), [bad, good], 1)
    with pytest.raises(OSError, match="outlet broke"):
        link.transfer()
    assert [r.payload for r in good.records] == [1, 2]


def test_ignored_outlet_error_is_logged_with_the_records(caplog: pytest.LogCaptureFixture) -> None:
    link = Link(ListInlet(["lost-one", "lost-two"]), FailingOutlet(), 1, ignore_exceptions=True)
    link.transfer()
    assert "2 record(s) not delivered to FailingOutlet()" in caplog.text
    assert "lost-one" in caplog.text


def test_ignored_outlet_processor_error_skips_that_outlet(caplog: pytest.LogCaptureFixture) -> None:
    def broken(records: list[Record]) -> list[Record]:
        raise KeyError("proc")

    skipped, good = CollectOutlet(processors=broken), CollectOutlet()
    result = Link(ListInlet([1]), [skipped, good], 1, ignore_exceptions=True).transfer()
    assert skipped.batches == [] and len(good.records) == 1
    assert result.undelivered == {skipped: 1}


def test_on_start_and_on_shutdown_reach_every_node_once() -> None:
    shared = CollectOutlet()
    a = Link(ListInlet(), shared, 1)
    b = Link(ListInlet(), shared, 1)
    a.on_start()
    b.on_start()
    assert shared.starts == 1 and a.inlets[0].active  # type: ignore[attr-defined]
    a.on_shutdown()
    b.on_shutdown()
    assert shared.shutdowns == 1


def test_on_start_failure_aborts_unless_ignored(caplog: pytest.LogCaptureFixture) -> None:
    class BadStart(ListInlet):
        def on_start(self) -> None:
            raise RuntimeError("no start")

    later = ListInlet()
    with pytest.raises(RuntimeError, match="no start"):
        Link([BadStart(), later], [], 1).on_start()
    assert not later.active
    Link([BadStart(), later], [], 1, ignore_exceptions=True).on_start()
    assert later.active and "no start" in caplog.text


def test_transfer_number_is_safe_under_concurrent_transfers() -> None:
    outlet = CollectOutlet()
    link = Link(ListInlet(1), outlet, 1, copy_records=False)
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        for _ in range(250):
            link.transfer()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    numbers = sorted(u.transfer_number for u in outlet.updates)
    assert numbers == list(range(1000))


def test_debug_log_lines(databay_debug_logs: pytest.LogCaptureFixture) -> None:
    link, _, _ = make(tags="http_to_mongo")
    link.transfer()
    messages = [r.getMessage() for r in databay_debug_logs.records if r.name == "databay.Link"]
    assert messages == ["http_to_mongo.0 transfer", "http_to_mongo.0 done"]


def test_no_deprecation_warnings_on_the_normal_path() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        link, _, _ = make(tags="x")
        link.transfer()
