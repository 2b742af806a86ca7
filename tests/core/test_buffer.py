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
    def always(buffer: Buffer) -> bool:
        return True

    assert len(Buffer(custom_controllers=always)(records(1))) == 1
    conj = Buffer(count_threshold=5, custom_controllers=[always], conjugate_controllers=True)
    assert conj(records(2)) == []
    assert len(conj(records(4))) == 6


def test_failing_controller_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    def broken(buffer: Buffer) -> bool:
        raise RuntimeError("controller broke")

    buffer = Buffer(count_threshold=1, custom_controllers=broken)
    assert len(buffer(records(2))) == 2
    assert "controller broke" in caplog.text


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
