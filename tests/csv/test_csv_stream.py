"""CsvInlet(stream=True): rows yielded one by one, the cursor after each, read by the
link in chunks and committed per delivered chunk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databay import Link, Outlet, Record, Update
from databay.delivery import FileStateStore
from databay.testing import CollectingOutlet
from databay_csv import CsvInlet

UPDATE = Update([], 0)

TRICKY = ('id,text\n1,plain\n\n2,"quoted, comma"\n3,"two\nlines"\n\n\n4,"say ""hi"""\n'
          '5,short\n6\n7,a,extra\n8,unfinished')


@pytest.fixture
def inlets() -> Iterator[list[CsvInlet]]:
    made: list[CsvInlet] = []
    yield made
    for inlet in made:
        inlet.on_shutdown()


def test_streamed_rows_and_cursors_match_the_list_pulls(tmp_path: Path,
                                                        inlets: list[CsvInlet]) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(TRICKY.encode())
    listed = CsvInlet(path)
    streamed = CsvInlet(path, stream=True)
    inlets += [listed, streamed]
    rows = listed.pull(UPDATE)
    assert len(rows) == 7 and rows[2] == {"id": "3", "text": "two\nlines"}
    it = streamed.pull(UPDATE)
    assert not isinstance(it, list)
    got = []
    for row in it:
        got.append(row)
        # after each row, the cursor resumes a fresh list-inlet right after that row
        probe = CsvInlet(path, cursor=streamed.cursor)
        inlets.append(probe)
        assert probe.pull(UPDATE) == rows[len(got):]
    assert got == rows
    assert streamed.cursor == listed.cursor
    with path.open("a") as f:
        f.write("\n9,x\n")
    assert list(streamed.pull(UPDATE)) == listed.pull(UPDATE)


class RefusingOutlet(Outlet):
    def __init__(self, refuse: int | None) -> None:
        super().__init__()
        self.refuse = refuse
        self.calls = 0
        self.ids: list[str] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.calls += 1
        if self.calls == self.refuse:
            raise ValueError("outlet refused this chunk")
        self.ids += [r.payload["id"] for r in records]


def test_a_crash_mid_pull_redoes_only_the_undelivered_chunk(tmp_path: Path,
                                                           inlets: list[CsvInlet]) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id\n" + "".join(f"{i}\n" for i in range(25)))
    store = FileStateStore(tmp_path / "state.json")
    first = CsvInlet(path, stream=True)
    inlets.append(first)
    crashing = RefusingOutlet(refuse=3)
    with pytest.raises(ValueError, match="refused"):
        Link(first, crashing, 1, tags="c", batch_size=10, state_store=store).transfer()
    assert crashing.ids == [str(i) for i in range(20)]
    second = CsvInlet(path, stream=True)
    inlets.append(second)
    outlet = CollectingOutlet()
    result = Link(second, outlet, 1, tags="c", batch_size=10, state_store=store).transfer()
    assert [r.payload["id"] for r in outlet.records] == [str(i) for i in range(20, 25)]
    assert [len(b) for b in outlet.batches] == [5] and result.committed


def test_streaming_follows_rotation_and_max_rows(tmp_path: Path,
                                                 inlets: list[CsvInlet]) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id\n1\n2\n")
    inlet = CsvInlet(path, stream=True, max_rows=3)
    inlets.append(inlet)
    assert [r["id"] for r in inlet.pull(UPDATE)] == ["1", "2"]
    with path.open("a") as f:
        f.write("3\n")
    path.rename(tmp_path / "log.csv.1")
    path.write_text("id\n4\n5\n6\n7\n")
    assert [r["id"] for r in inlet.pull(UPDATE)] == ["3", "4", "5"]
    assert [r["id"] for r in inlet.pull(UPDATE)] == ["6", "7"]


def test_stream_is_validated(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"stream=...\) must be True or False"):
        CsvInlet(tmp_path / "x.csv", stream=1)  # type: ignore[arg-type]


def test_rows_missing_and_extra(tmp_path: Path, inlets: list[CsvInlet]) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(TRICKY.encode())
    inlet = CsvInlet(path, stream=True, restkey="more", restval="-")
    inlets.append(inlet)
    rows: list[Any] = list(inlet.pull(UPDATE))
    assert rows[5] == {"id": "6", "text": "-"}
    assert rows[6] == {"id": "7", "text": "a", "more": ["extra"]}


def test_a_streaming_csv_inlet_passes_the_kits_inlet_contract(tmp_path: Path) -> None:
    from databay.testing import check_inlet

    path = tmp_path / "x.csv"
    path.write_text("id\n" + "".join(f"{i}\n" for i in range(5)))
    report = check_inlet(lambda metadata=None: CsvInlet(path, metadata=metadata, stream=True),
                         min_records=0)
    assert "checkpoint" in report.passed and not report.skipped
