"""Streaming pulls: a pull that returns an iterator, a generator or an async generator
is read in chunks of Link.batch_size, each chunk pushed to every outlet before the next
is read."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import databay.plugins as plugins
import pytest
from core_nodes import CollectOutlet, ListInlet
from databay import Inlet, Link, Outlet, Record, Update, hookimpl
from databay.delivery import DEAD_LETTER, MemoryStateStore, RetryPolicy
from databay.errors import RecordCopyError
from databay.support.buffers import Buffer


class GenInlet(Inlet):
    """Yields 0..n-1, logging each read into ``log``; its cursor is the next index."""

    def __init__(self, n: int, log: list[Any] | None = None, fail_at: int | None = None
                 ) -> None:
        super().__init__()
        self.n = n
        self.log = log if log is not None else []
        self.fail_at = fail_at
        self.position = 0
        self.closed = 0

    def pull(self, update: Update) -> Iterator[int]:
        def rows() -> Iterator[int]:
            try:
                while self.position < self.n:
                    if self.position == self.fail_at:
                        raise OSError(f"read failed at {self.position}")
                    value = self.position
                    self.log.append(("read", value))
                    self.position += 1
                    yield value
            finally:
                self.closed += 1
        return rows()

    @property
    def cursor(self) -> int:
        return self.position

    def seek(self, cursor: Any) -> None:
        self.position = int(cursor)


class AsyncGenInlet(Inlet):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    async def pull(self, update: Update) -> AsyncIterator[int]:  # type: ignore[override]
        for i in range(self.n):
            await asyncio.sleep(0)
            yield i


class LogOutlet(CollectOutlet):
    def __init__(self, log: list[Any], processors: Any = None) -> None:
        super().__init__(processors)
        self.log = log

    def push(self, records: list[Record], update: Update) -> None:
        self.log.append(("push", len(records)))
        super().push(records, update)


def sizes(outlet: CollectOutlet) -> list[int]:
    return [len(b) for b in outlet.batches]


def test_a_generator_is_pushed_chunk_by_chunk_before_the_next_is_read() -> None:
    log: list[Any] = []
    first, second = LogOutlet(log), LogOutlet(log)
    link = Link(GenInlet(7, log), [first, second], 1, batch_size=3)
    result = link.transfer()
    assert sizes(first) == sizes(second) == [3, 3, 1]
    assert [r.payload for r in first.records] == list(range(7))
    assert first.records[0].metadata["__inlet__"].startswith("GenInlet(")
    # backpressure: chunk k reaches both outlets before chunk k+1 is read
    assert log == [("read", 0), ("read", 1), ("read", 2), ("push", 3), ("push", 3),
                   ("read", 3), ("read", 4), ("read", 5), ("push", 3), ("push", 3),
                   ("read", 6), ("push", 1), ("push", 1)]
    assert result.pulled == 7 and result.pushed == {first: 7, second: 7}
    assert link.inlets[0].closed == 1  # type: ignore[attr-defined]


def test_lists_and_streams_in_one_link_and_an_empty_stream() -> None:
    outlet = CollectOutlet()
    link = Link([ListInlet([10, 11]), GenInlet(4)], outlet, 1, batch_size=3)
    result = link.transfer()
    assert sizes(outlet) == [2, 3, 1]  # the lists' records first, whole
    assert result.pulled == 6
    empty = CollectOutlet()
    Link(GenInlet(0), empty, 1).transfer()
    assert empty.batches == [[]], "an empty stream is pushed like an empty list"


def test_async_generators_and_sync_generators_on_the_loop() -> None:
    outlet = CollectOutlet()
    link = Link([AsyncGenInlet(5), GenInlet(4)], outlet, 1, batch_size=2)
    result = link.transfer()
    assert sizes(outlet) == [2, 2, 1, 2, 2]
    assert result.pulled == 9 and result.pushed == {outlet: 9}

    async def run() -> Any:
        return await link.atransfer()

    link.inlets[1].seek(0)

    assert asyncio.run(run()).pulled == 9


def test_an_async_iterator_from_a_plain_def_is_refused_clearly() -> None:
    class Wrong(Inlet):
        def pull(self, update: Update) -> Any:
            return AsyncGenInlet(2).pull(update)

    with pytest.raises(TypeError, match="declare it 'async def pull"):
        Link(Wrong(), CollectOutlet(), 1).transfer()


def test_processors_and_groupers_apply_per_chunk() -> None:
    seen: list[int] = []

    def processor(records: list[Record]) -> list[Record]:
        seen.append(len(records))
        return [r for r in records if r.payload % 2 == 0]

    def pairs(batches: list[list[Record]]) -> list[list[Record]]:
        flat = [r for b in batches for r in b]
        return [flat[i:i + 2] for i in range(0, len(flat), 2)]

    outlet = CollectOutlet()
    Link(GenInlet(10), outlet, 1, batch_size=4, processors=processor, groupers=pairs
         ).transfer()
    assert seen == [4, 4, 2]
    assert [[r.payload for r in b] for b in outlet.batches] == [[0, 2], [4, 6], [8]]


def test_a_buffer_releases_on_its_count_threshold_across_chunks() -> None:
    outlet = CollectOutlet()
    link = Link(GenInlet(10), outlet, 1, batch_size=3, processors=Buffer(count_threshold=5))
    link.transfer()
    # chunks of 3, 3, 3, 1: released at 6 records; the last 4 wait (4 < 5)
    assert sizes(outlet) == [0, 6, 0, 0]
    link.inlets[0].seek(0)
    link.transfer()
    assert sizes(outlet)[4:] == [7, 0, 6, 0], "the 4 held records go with the next chunks"


class FlakyOutlet(Outlet):
    """Refuses the given push numbers (1-based) with ConnectionError."""

    def __init__(self, refuse: set[int]) -> None:
        super().__init__()
        self.refuse = refuse
        self.calls = 0
        self.records: list[Record] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.calls += 1
        if self.calls in self.refuse:
            raise ConnectionError(f"push {self.calls} refused")
        self.records += records


def test_retries_and_dead_letters_are_per_chunk() -> None:
    flaky = FlakyOutlet({2, 4, 5})  # chunk 2: retried once; chunk 3: dead-lettered
    dead = CollectOutlet()
    link = Link(GenInlet(9), flaky, 1, batch_size=3, dead_letter=dead,
                retry=RetryPolicy(attempts=2, backoff=0, jitter=False))
    result = link.transfer()
    assert [r.payload for r in flaky.records] == [0, 1, 2, 3, 4, 5]
    assert [r.payload for r in dead.records] == [6, 7, 8]
    assert dead.records[0].metadata[DEAD_LETTER]["attempts"] == 2
    assert result.pulled == 9
    assert result.pushed == {flaky: 6}
    assert result.retried == {flaky: 2}
    assert result.dead_lettered == {flaky: 3}


def test_transfer_hooks_fire_once_per_streamed_transfer() -> None:
    events: list[Any] = []

    class Recorder:
        @hookimpl
        def databay_transfer_started(self, link: Link, update: Any) -> None:
            events.append("started")

        @hookimpl
        def databay_transfer_finished(self, link: Link, update: Any, result: Any) -> None:
            events.append(("finished", result.pulled))

    plugins._reset_for_tests()
    plugins.register(Recorder(), name="stream-recorder")
    try:
        Link(GenInlet(10), CollectOutlet(), 1, batch_size=3).transfer()
    finally:
        plugins.unregister("stream-recorder")
        plugins._reset_for_tests()
    assert events == ["started", ("finished", 10)]


def test_a_failing_read_mid_stream_keeps_the_delivered_chunks() -> None:
    outlet = CollectOutlet()
    with pytest.raises(OSError, match="read failed at 4"):
        Link(GenInlet(9, fail_at=4), outlet, 1, batch_size=2).transfer()
    assert sizes(outlet) == [2, 2]
    ignored = CollectOutlet()
    result = Link(GenInlet(9, fail_at=4), ignored, 1, batch_size=2,
                  ignore_exceptions=True).transfer()
    assert sizes(ignored) == [2, 2] and result.pulled == 4
    assert [type(e) for e in result.errors] == [OSError]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_batch_size_is_validated(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"Link\(batch_size=...\) must be a positive int"):
        Link(GenInlet(1), CollectOutlet(), 1, batch_size=bad)
    link = Link(GenInlet(1), CollectOutlet(), 1)
    assert link.batch_size == 10_000
    with pytest.raises(ValueError, match="batch_size"):
        link.batch_size = bad


# -- checkpoints: pull -> push -> commit per chunk -----------------------------------


def test_a_stream_commits_its_cursor_after_each_delivered_chunk() -> None:
    store = MemoryStateStore()
    inlet = GenInlet(10)
    flaky = FlakyOutlet({3})  # the third chunk is refused, no retry, no dead letter
    link = Link(inlet, flaky, 1, tags="s", batch_size=3, state_store=store)
    with pytest.raises(ConnectionError):
        link.transfer()
    assert store.get("s/0:GenInlet") == 6, "chunks 1 and 2 are committed"
    assert inlet.position == 6, "the inlet is rewound to the last commit"
    assert [r.payload for r in flaky.records] == list(range(6))
    # a restart (a new link on the same store) redoes only the undelivered chunk
    again = FlakyOutlet(set())
    fresh = GenInlet(10)
    result = Link(fresh, again, 1, tags="s", batch_size=3, state_store=store).transfer()
    assert [r.payload for r in again.records] == [6, 7, 8, 9]
    assert result.committed and store.get("s/0:GenInlet") == 10


def test_a_chunk_commit_happens_after_its_push() -> None:
    order: list[Any] = []

    class Store(MemoryStateStore):
        def set(self, key: str, value: Any) -> None:
            order.append(("commit", value))
            super().set(key, value)

    link = Link(GenInlet(5, order), LogOutlet(order), 1, tags="t", batch_size=2,
                state_store=Store())
    link.transfer()
    pushes_and_commits = [e for e in order if e[0] != "read"]
    assert pushes_and_commits[:6] == [("push", 2), ("commit", 2), ("push", 2), ("commit", 4),
                                      ("push", 1), ("commit", 5)]


# -- memory --------------------------------------------------------------------------


class CountOutlet(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def push(self, records: list[Record], update: Update) -> None:
        self.count += len(records)


def _peak(inlet: Inlet, copy: bool) -> int:
    outlet = CountOutlet()
    link = Link(inlet, outlet, 1, copy_records=copy, batch_size=2_000)
    gc.collect()
    tracemalloc.start()
    try:
        link.transfer()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert outlet.count == N


N = 200_000


class RowsInlet(Inlet):
    def pull(self, update: Update) -> Iterator[dict[str, int]]:
        return ({"id": i, "value": i} for i in range(N))


class ListRowsInlet(Inlet):
    def pull(self, update: Update) -> list[dict[str, int]]:
        return [{"id": i, "value": i} for i in range(N)]


def test_a_streaming_pull_holds_a_few_chunks_not_the_pull() -> None:
    listed = _peak(ListRowsInlet(), False)  # the list-based path, without copies
    for copy in (False, True):
        streamed = _peak(RowsInlet(), copy)
        # 200k records held at once cost tens of MB; a few chunks of 2,000 under 5 MB
        assert streamed < 5 * 2**20, f"copy={copy}: peak {streamed / 2**20:.1f} MB"
        assert listed > 10 * streamed, (copy, listed, streamed)


# -- pipeline files ------------------------------------------------------------------

PIPELINE = """
[[links]]
name = "big"
interval = "5s"
{extra}
[[links.inlets]]
type = "NullInlet"
[[links.outlets]]
type = "PrintOutlet"
"""


def test_batch_size_in_a_pipeline_file() -> None:
    from databay.pipeline import PipelineError, build_pipeline, parse_toml

    data = parse_toml(PIPELINE.format(extra="batch_size = 500"), "p.toml")
    pipeline = build_pipeline(data, "p.toml", {}, need_planner=False)
    assert pipeline.links[0].link.batch_size == 500
    default = build_pipeline(parse_toml(PIPELINE.format(extra=""), "p.toml"), "p.toml", {},
                             need_planner=False)
    assert default.links[0].link.batch_size == 10_000
    with pytest.raises(PipelineError, match=r"link 'big', key 'batch_size': must be a "
                                            r"positive integer .* got int 0"):
        build_pipeline(parse_toml(PIPELINE.format(extra="batch_size = 0"), "p.toml"),
                       "p.toml", {}, need_planner=False)


# -- FileInlet streams its lines -----------------------------------------------------


def test_file_inlet_lines_mode_streams_and_commits_per_chunk(tmp_path: Any) -> None:
    from databay.delivery import FileStateStore
    from databay.inlets import FileInlet
    from databay.inlets.file_inlet import FileInletMode

    path = tmp_path / "events.log"
    path.write_text("".join(f"line {i}\n" for i in range(10)))
    store = FileStateStore(tmp_path / "state.json")

    def link(outlet: Outlet) -> Link:
        return Link(FileInlet(path, read_mode=FileInletMode.LINES), outlet, 1, tags="f",
                    batch_size=3, state_store=store)

    crashing = FlakyOutlet({3})
    first = link(crashing)
    with pytest.raises(ConnectionError):
        first.transfer()
    first.on_shutdown()
    assert [r.payload for r in crashing.records] == [f"line {i}\n" for i in range(6)]
    # the next process resumes after the sixth line: only the undelivered chunk again
    rest = CollectOutlet()
    second = link(rest)
    result = second.transfer()
    assert [r.payload for r in rest.records] == [f"line {i}\n" for i in range(6, 10)]
    assert sizes(rest) == [3, 1] and result.committed
    with path.open("a") as f:
        f.write("line 10\n")
    second.transfer()
    assert rest.records[-1].payload == "line 10\n"
    second.on_shutdown()


# -- async backpressure; no commit past an undelivered chunk --------------------------


def test_a_slow_async_outlet_slows_the_reading_of_an_async_stream() -> None:
    log: list[Any] = []

    class Reading(Inlet):
        async def pull(self, update: Update) -> AsyncIterator[int]:  # type: ignore[override]
            for i in range(6):
                log.append(("read", i))
                yield i

    class Slow(Outlet):
        async def push(self, records: list[Record], update: Update) -> None:
            await asyncio.sleep(0.01)
            log.append(("push", [r.payload for r in records]))

    result = Link(Reading(), Slow(), 1, batch_size=2).transfer()
    assert log == [("read", 0), ("read", 1), ("push", [0, 1]), ("read", 2), ("read", 3),
                   ("push", [2, 3]), ("read", 4), ("read", 5), ("push", [4, 5])]
    assert result.pulled == 6


def test_with_ignore_exceptions_nothing_is_committed_past_an_undelivered_chunk() -> None:
    store = MemoryStateStore()
    inlet = GenInlet(9)
    flaky = FlakyOutlet({2})  # the second chunk is lost (logged), the third delivered
    result = Link(inlet, flaky, 1, tags="i", batch_size=3, state_store=store,
                  ignore_exceptions=True).transfer()
    assert [r.payload for r in flaky.records] == [0, 1, 2, 6, 7, 8]
    assert result.undelivered == {flaky: 3} and not result.committed
    assert store.get("i/0:GenInlet") == 3, "committed up to the first chunk only"
    assert inlet.position == 3, "rewound: the next transfer reads chunk 2 again"


def test_a_streaming_file_inlet_passes_the_kits_inlet_contract(tmp_path: Any) -> None:
    from databay.inlets import FileInlet
    from databay.inlets.file_inlet import FileInletMode
    from databay.testing import check_inlet

    path = tmp_path / "x.log"
    path.write_text("".join(f"line {i}\n" for i in range(5)))
    report = check_inlet(lambda metadata=None: FileInlet(
        path, read_mode=FileInletMode.LINES, metadata=metadata), min_records=0)
    assert "checkpoint" in report.passed and not report.skipped


# -- copies of streamed records (copy_records=True, one outlet: built as copies) ------


class HeldInlet(Inlet):
    """Streams the objects it keeps in ``items`` (so changes to them would show)."""

    def __init__(self, items: list[Any], metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self.items = items

    def pull(self, update: Update) -> Iterator[Any]:
        return iter(self.items)


class AsyncHeldInlet(HeldInlet):
    async def pull(self, update: Update) -> AsyncIterator[Any]:  # type: ignore[override]
        for item in self.items:
            yield item


def held_items() -> list[Any]:
    return [{"id": 1, "v": 0.5, "s": "x", "n": None}, {"nested": {"list": [1, 2]}},
            [1, [2]], "text", 7, Record({"r": 1}, {"own": "m"}), {"t": (1, [2])}]


class MutatingOutlet(CollectOutlet):
    """Changes every record it is given, payload and metadata, after keeping it;
    then raises if ``fail`` (so the records go to the dead letter)."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail

    def push(self, records: list[Record], update: Update) -> None:
        super().push(records, update)
        for record in records:
            record.metadata["touched"] = True
            payload = record.payload
            if isinstance(payload, dict):
                payload["added"] = 1
                if "nested" in payload:
                    payload["nested"]["list"].append(3)
                if "t" in payload:
                    payload["t"][1].append(3)
            elif isinstance(payload, list):
                payload[1].append(3)
            else:
                record.payload = "changed"
        if self.fail:
            raise ConnectionError("refused after changing the records")


def assert_untouched(inlet: HeldInlet) -> None:
    assert inlet.items == held_items()
    assert inlet.items[5].metadata == {"own": "m"}
    assert "touched" not in inlet._shared_metadata()


@pytest.mark.parametrize("inlet_type", [HeldInlet, AsyncHeldInlet])
def test_streamed_copies_for_one_outlet_are_independent_of_the_inlets_data(
        inlet_type: type[HeldInlet]) -> None:
    inlet = inlet_type(held_items(), {"k": "v"})
    outlet = MutatingOutlet()
    link = Link(inlet, outlet, 1, batch_size=3)
    for _ in range(2):  # the second transfer reads the same objects: still unchanged
        if inlet_type is AsyncHeldInlet:
            asyncio.run(link.atransfer())
        else:
            link.transfer()
        assert_untouched(inlet)
    first, second = outlet.records[:7], outlet.records[7:]
    for a, b in zip(first, second, strict=True):  # each changed once, nothing shared
        assert a is not b and a == b
        assert a.payload is not b.payload or type(a.payload) is str
    assert second[1].payload["nested"]["list"] == [1, 2, 3]
    assert second[2].payload == [1, [2, 3]] and second[6].payload["t"] == (1, [2, 3])
    assert second[5].metadata == {"own": "m", "touched": True}
    assert second[0].metadata == {"k": "v", "__inlet__": repr(inlet), "touched": True}


def test_streamed_copies_for_two_outlets_and_the_dead_letter_are_independent() -> None:
    inlet = HeldInlet(held_items())
    changer, reader, dead = MutatingOutlet(), CollectOutlet(), CollectOutlet()
    Link(inlet, [changer, reader], 1, batch_size=3).transfer()
    assert_untouched(inlet)
    assert [r.payload for r in reader.records] == [*held_items()[:5], {"r": 1},
                                                   held_items()[6]]
    assert all("touched" not in r.metadata for r in reader.records)
    link = Link(inlet, MutatingOutlet(fail=True), 1, batch_size=3, dead_letter=dead)
    result = link.transfer()
    assert_untouched(inlet)
    assert result.dead_lettered == {link.outlets[0]: 7} and len(dead.records) == 7


def test_an_uncopyable_streamed_record_is_refused_as_for_a_list() -> None:
    import threading

    items = [{"a": 1}, threading.Lock()]
    outlet = CollectOutlet()
    with pytest.raises(RecordCopyError, match="copy_records=False"):
        Link(HeldInlet(items), outlet, 1).transfer()
    assert outlet.batches == []
    dead = CollectOutlet()
    result = Link(HeldInlet(items), outlet, 1, dead_letter=dead).transfer()
    assert outlet.batches == [] and len(dead.records) == 2
    assert isinstance(result.errors[0], RecordCopyError)
