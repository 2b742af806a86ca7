from __future__ import annotations

import time

import pytest
from core_nodes import CollectOutlet, ListInlet
from databay import Link, Record
from databay.support.buffers import Buffer


def records(n: int) -> list[Record]:
    return [Record(i) for i in range(n)]


def test_count_threshold_releases_when_strictly_exceeded() -> None:
    buffer = Buffer(count_threshold=3)
    assert buffer(records(3)) == []
    released = buffer(records(1))
    assert len(released) == 4 and buffer.records == []


def test_time_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    buffer = Buffer(time_threshold=10)
    assert buffer(records(2)) == []
    now[0] += 10
    assert buffer([]) == []
    now[0] += 0.5
    assert len(buffer([])) == 2
    assert buffer.time_start is None


def test_custom_controllers_or_and_and() -> None:
    def always(records: list[Record]) -> bool:
        return True

    assert len(Buffer(custom_controllers=always)(records(1))) == 1
    conj = Buffer(count_threshold=5, custom_controllers=[always], conjugate_controllers=True)
    assert conj(records(2)) == []
    assert len(conj(records(4))) == 6


def test_custom_controller_gets_the_stored_records_as_documented_in_0_3() -> None:
    # The original's documented controller, in its own words: it iterates the records.
    def big_value_controller(records):  # type: ignore[no-untyped-def]
        for record in records:  # noqa: SIM110 (the 0.3 docs wording)
            if record.payload > 10:
                return True
        return False

    seen: list[list[Record]] = []
    buffer = Buffer(custom_controllers=[lambda rs: seen.append(list(rs)) or False,
                                        big_value_controller])
    first, second = records(3), [Record(11)]
    assert buffer(first) == []
    assert buffer(second) == [*first, *second]
    assert seen == [first, [*first, *second]]  # the stored records, this call's included


def test_documented_controller_delivers_through_a_link() -> None:
    def big_value_controller(records):  # type: ignore[no-untyped-def]
        for record in records:  # noqa: SIM110 (the 0.3 docs wording)
            if record.payload > 10:
                return True
        return False

    outlet = CollectOutlet()
    values = iter([[1, 2], [3], [50, 4]])

    class Values(ListInlet):
        def pull(self, update):  # type: ignore[no-untyped-def]
            return next(values)

    link = Link(Values([]), outlet, 1, processors=Buffer(custom_controllers=big_value_controller))
    for _ in range(3):
        link.transfer()
    assert [[r.payload for r in b] for b in outlet.batches] == [[], [], [1, 2, 3, 50, 4]]


def test_buffer_controllers_opt_in_sees_the_buffer() -> None:
    seen: list[Buffer] = []

    def started(buffer: Buffer) -> bool:
        seen.append(buffer)
        return buffer.time_start is not None and len(buffer.records) >= 3

    buffer = Buffer(buffer_controllers=started)
    assert buffer(records(2)) == []
    assert len(buffer(records(1))) == 3
    assert seen == [buffer, buffer]


def test_controller_order_custom_buffer_count_time() -> None:
    calls: list[str] = []
    buffer = Buffer(count_threshold=100, time_threshold=100,
                    custom_controllers=lambda rs: calls.append("custom") or False,
                    buffer_controllers=lambda b: calls.append("buffer") or False)
    buffer.count_controller = lambda rs: calls.append("count") or False  # type: ignore[method-assign]
    buffer.time_controller = lambda rs: calls.append("time") or False  # type: ignore[method-assign]
    buffer(records(1))
    assert calls == ["custom", "buffer", "count", "time"]


@pytest.mark.parametrize("conjugate", [False, True])
def test_raising_controller_releases_instead_of_stalling(
        caplog: pytest.LogCaptureFixture, conjugate: bool) -> None:
    def broken(records: list[Record]) -> bool:
        raise RuntimeError("controller broke")

    buffer = Buffer(count_threshold=100, custom_controllers=broken,
                    conjugate_controllers=conjugate)
    assert len(buffer(records(2))) == 2 and buffer.records == []
    error = next(r for r in caplog.records if r.name == "databay.Buffer")
    assert error.levelname == "ERROR"
    assert "controller broke" in error.getMessage() and "2 stored record(s)" in error.getMessage()


def test_0_3_controller_written_for_the_buffer_form_is_not_silent(
        caplog: pytest.LogCaptureFixture) -> None:
    # A controller written for the buffer object, given as a custom (records) controller:
    # it raises, and the records are still delivered, with the error logged.
    outlet = CollectOutlet()
    link = Link(ListInlet([1]), outlet, 1,
                processors=Buffer(custom_controllers=lambda b: len(b.records) > 5))
    link.transfer()
    assert [len(b) for b in outlet.batches] == [1]
    assert "releasing the 1 stored record(s)" in caplog.text


def test_flush_and_reset() -> None:
    resets: list[int] = []
    buffer = Buffer(count_threshold=100, on_reset=lambda: resets.append(1))
    buffer(records(2))
    buffer.flush = True
    assert len(buffer(records(1))) == 3 and not buffer.flush
    buffer(records(2))
    buffer.reset()
    assert buffer.records == [] and len(resets) == 2
    assert [c.__name__ for c in buffer.get_controllers()] == ["count_controller"]


def test_buffer_as_a_link_processor() -> None:
    outlet = CollectOutlet()
    link = Link(ListInlet([1, 2]), outlet, 1, processors=Buffer(count_threshold=4))
    for _ in range(3):
        link.transfer()
    assert [len(b) for b in outlet.batches] == [0, 0, 6]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="count_threshold"):
        Buffer(count_threshold=-1)
    with pytest.raises(TypeError, match="custom_controllers"):
        Buffer(custom_controllers=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="buffer_controllers"):
        Buffer(buffer_controllers=[1])  # type: ignore[list-item]
