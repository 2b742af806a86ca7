"""CsvInlet on real files in a temporary folder."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databay import Link, Outlet, Record, Update
from databay_csv import CsvCursor, CsvInlet, CsvInletError, CsvOutlet

UPDATE = Update([], 0)


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text)


@pytest.fixture
def inlets() -> Iterator[list[CsvInlet]]:
    """Inlets made by a test are shut down (their file closed) in teardown."""
    made: list[CsvInlet] = []
    yield made
    for inlet in made:
        inlet.on_shutdown()


@pytest.fixture
def follow(inlets: list[CsvInlet]) -> Any:
    def make(path: Path, **kwargs: Any) -> CsvInlet:
        inlet = CsvInlet(path, **kwargs)
        inlets.append(inlet)
        return inlet
    return make


class Collect(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[Record] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.records += records


def test_resolves_through_databay_inlets() -> None:
    from databay.inlets import CsvInlet as FromNamespace

    assert FromNamespace is CsvInlet


def test_pulls_rows_appended_since_the_last_pull(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,name\r\n1,a\r\n2,b\r\n", encoding="utf-8")
    inlet = follow(path)
    assert inlet.pull(UPDATE) == [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]
    assert inlet.pull(UPDATE) == []
    append(path, "3,c\r\n4,\"d, with comma\"\r\n")
    assert inlet.pull(UPDATE) == [{"id": "3", "name": "c"}, {"id": "4", "name": "d, with comma"}]
    assert inlet.pull(UPDATE) == []


def test_start_at_the_end(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id\n1\n2\n", encoding="utf-8")
    inlet = follow(path, start="end")
    append(path, "3\n")
    assert inlet.pull(UPDATE) == [{"id": "3"}]
    missing = follow(tmp_path / "later.csv", start="end")
    assert missing.pull(UPDATE) == []
    (tmp_path / "later.csv").write_text("id\n1\n", encoding="utf-8")  # created after start
    assert missing.pull(UPDATE) == [{"id": "1"}]


def test_start_at_the_end_of_a_file_with_a_partial_last_line(
        tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,v\n1,x\n2,y", encoding="utf-8")
    inlet = follow(path, start="end")
    append(path, "z\n3,w\n")
    assert inlet.pull(UPDATE) == [{"id": "2", "v": "yz"}, {"id": "3", "v": "w"}]


def test_partial_last_line_waits_until_complete(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,name\n1,a\n2,hal", encoding="utf-8")
    inlet = follow(path)
    assert inlet.pull(UPDATE) == [{"id": "1", "name": "a"}]
    assert inlet.pull(UPDATE) == []
    append(path, "f")
    assert inlet.pull(UPDATE) == []
    append(path, "\n")
    assert inlet.pull(UPDATE) == [{"id": "2", "name": "half"}]


def test_quoted_line_break_waits_for_the_whole_record(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text('id,text\n1,"first line\n', encoding="utf-8")
    inlet = follow(path)
    assert inlet.pull(UPDATE) == []
    append(path, 'second line"\n2,"x\n')
    assert inlet.pull(UPDATE) == [{"id": "1", "text": "first line\nsecond line"}]
    append(path, 'y"\n')
    assert inlet.pull(UPDATE) == [{"id": "2", "text": "x\ny"}]


def test_header_not_complete_yet(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,na", encoding="utf-8")
    inlet = follow(path)
    assert inlet.pull(UPDATE) == []
    append(path, "me\n1,a\n")
    assert inlet.pull(UPDATE) == [{"id": "1", "name": "a"}]


def test_survives_truncation(tmp_path: Path, follow: Any,
                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,name\n1,a\n2,b\n3,c\n", encoding="utf-8")
    inlet = follow(path)
    assert len(inlet.pull(UPDATE)) == 3
    inode = os.stat(path).st_ino
    with open(path, "w", encoding="utf-8") as f:  # copytruncate-style rotation
        f.write("id,name\n9,z\n")
    assert os.stat(path).st_ino == inode
    with caplog.at_level(logging.WARNING, logger="databay.CsvInlet"):
        assert inlet.pull(UPDATE) == [{"id": "9", "name": "z"}]
    assert "truncated" in caplog.text
    append(path, "10,y\n")
    assert inlet.pull(UPDATE) == [{"id": "10", "name": "y"}]


def test_survives_replacement_and_reads_the_rest_of_the_old_file_first(
        tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,name\n1,a\n", encoding="utf-8")
    inlet = follow(path)
    assert inlet.pull(UPDATE) == [{"id": "1", "name": "a"}]
    append(path, "2,b\n")  # written before the rotation, not pulled yet
    path.rename(tmp_path / "log.csv.1")
    path.write_text("id,name\n3,c\n", encoding="utf-8")
    assert inlet.pull(UPDATE) == [{"id": "2", "name": "b"}, {"id": "3", "name": "c"}]
    append(path, "4,d\n")
    assert inlet.pull(UPDATE) == [{"id": "4", "name": "d"}]


def test_replacement_with_a_new_header(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("a\n1\n", encoding="utf-8")
    inlet = follow(path)
    assert inlet.pull(UPDATE) == [{"a": "1"}]
    tmp = tmp_path / "new.csv"
    tmp.write_text("b,c\n2,3\n", encoding="utf-8")
    os.replace(tmp, path)
    assert inlet.pull(UPDATE) == [{"b": "2", "c": "3"}]


def test_missing_and_deleted_file(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    inlet = follow(path)
    assert inlet.pull(UPDATE) == []
    assert inlet.cursor is None
    path.write_text("id\n1\n", encoding="utf-8")
    assert inlet.pull(UPDATE) == [{"id": "1"}]
    path.unlink()
    assert inlet.pull(UPDATE) == []
    assert inlet.pull(UPDATE) == []
    path.write_text("id\n2\n", encoding="utf-8")
    assert inlet.pull(UPDATE) == [{"id": "2"}]


def test_cursor_resumes_in_a_new_inlet(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id\n1\n2\n", encoding="utf-8")
    first = follow(path)
    assert len(first.pull(UPDATE)) == 2
    cursor = first.cursor
    st = os.stat(path)
    assert cursor == CsvCursor(st.st_dev, st.st_ino, st.st_size)
    first.on_shutdown()
    append(path, "3\n")
    second = follow(path, cursor=cursor)
    assert second.pull(UPDATE) == [{"id": "3"}]
    # a cursor of another file (rotated while we were away) reads the new file whole
    path.unlink()
    path.write_text("id\n7\n", encoding="utf-8")
    third = follow(path, cursor=cursor)
    assert third.pull(UPDATE) == [{"id": "7"}]
    with pytest.raises(TypeError, match="cursor"):
        CsvInlet(path, cursor=(1, 2))  # type: ignore[arg-type]


def test_restart_after_shutdown_goes_on_from_the_cursor(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id\n1\n", encoding="utf-8")
    inlet = follow(path)
    inlet.try_start()
    assert inlet.pull(UPDATE) == [{"id": "1"}]
    inlet.try_shutdown()
    append(path, "2\n")
    inlet.try_start()
    assert inlet.pull(UPDATE) == [{"id": "2"}]


def test_max_rows_per_pull_and_rotation_waits_for_the_old_file(
        tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id\n1\n\n2\n3\n4\n5\n", encoding="utf-8")
    inlet = follow(path, max_rows=2)
    assert inlet.pull(UPDATE) == [{"id": "1"}, {"id": "2"}]
    path.rename(tmp_path / "log.csv.1")
    path.write_text("id\n6\n", encoding="utf-8")
    assert inlet.pull(UPDATE) == [{"id": "3"}, {"id": "4"}]
    assert inlet.pull(UPDATE) == [{"id": "5"}, {"id": "6"}]
    assert inlet.pull(UPDATE) == []
    with pytest.raises(ValueError, match="max_rows"):
        CsvInlet(path, max_rows=0)


def test_large_file_with_records_across_read_blocks(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        for i in range(30_000):  # about 2.5 MB: several of the inlet's 1 MiB reads
            writer.writerow([i, f"line one of {i}\nline, two é {'x' * (i % 90)}"])
    with open(path, newline="", encoding="utf-8") as f:
        expected = list(csv.DictReader(f))
    inlet = follow(path)
    assert inlet.pull(UPDATE) == expected
    assert inlet.cursor is not None and inlet.cursor.offset == path.stat().st_size
    batched = follow(path, max_rows=7_000)
    got: list[dict[str, Any]] = []
    for _ in range(5):
        got += batched.pull(UPDATE)
    assert got == expected


def test_fieldnames_restkey_restval_and_blank_lines(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "data.csv"
    path.write_text("1,a\n\n2\n3,c,extra,more\n", encoding="utf-8")
    inlet = follow(path, fieldnames=["id", "name"], restkey="rest", restval="-")
    assert inlet.pull(UPDATE) == [
        {"id": "1", "name": "a"},
        {"id": "2", "name": "-"},
        {"id": "3", "name": "c", "rest": ["extra", "more"]},
    ]


def test_format_options_and_bom(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "semi.csv"
    path.write_bytes("\ufeffid;name\r\n1;Zoë\r\n".encode())
    assert follow(path, delimiter=";").pull(UPDATE) == [{"id": "1", "name": "Zoë"}]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id\tname\r\n1\tZoë\r\n".encode("latin-1"))
    assert follow(latin, dialect="excel-tab", encoding="latin-1").pull(UPDATE) == [
        {"id": "1", "name": "Zoë"}]


def test_undecodable_bytes(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id\n1\n\xff\xfe\n")
    with pytest.raises(CsvInletError, match=r"bad\.csv.*'utf-8' at byte 5"):
        follow(path).pull(UPDATE)
    assert follow(path, encoding_errors="replace").pull(UPDATE) == [
        {"id": "1"}, {"id": "\ufffd\ufffd"}]


def test_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    with pytest.raises(ValueError, match=r"x\.csv.*ASCII-compatible.*utf-16"):
        CsvInlet(path, encoding="utf-16")
    with pytest.raises(ValueError, match=r"x\.csv.*unknown csv dialect 'nope'"):
        CsvInlet(path, dialect="nope")
    with pytest.raises(ValueError, match=r"start.*'beginning', 'end'.*'middle'"):
        CsvInlet(path, start="middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encoding_errors"):
        CsvInlet(path, encoding_errors="whatever")
    with pytest.raises(TypeError, match="filepath"):
        CsvInlet(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"CsvInlet\(filepath=...\) must not contain a NUL"):
        CsvInlet("x\x00.csv")
    with pytest.raises(ValueError, match="filepath is a folder, not a CSV file"):
        CsvInlet(tmp_path)
    with pytest.raises(ValueError, match=r"CsvOutlet\(default_filepath=...\) must not contain"):
        CsvOutlet("x\x00.csv")


def test_round_trip_through_links(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "out" / "data.csv"
    writer = CsvOutlet(path)
    reader = follow(path, metadata={"source": "csv"})
    collect = Collect()
    reading = Link(reader, collect, 1)

    for batch in ([{"n": 1, "s": "a\nb"}], [{"n": 2, "s": "=x"}]):
        writer.push([Record(p) for p in batch], UPDATE)
        reading.transfer()
    assert [r.payload for r in collect.records] == [{"n": "1", "s": "a\nb"},
                                                   {"n": "2", "s": "=x"}]
    assert collect.records[0].metadata["source"] == "csv"
    with open(path, newline="", encoding="utf-8") as f:
        assert len(list(csv.reader(f))) == 3


def test_repr(tmp_path: Path) -> None:
    assert repr(CsvInlet("x.csv")) == "CsvInlet(filepath='x.csv', metadata={})"


def test_pulled_without_a_planner_the_link_shutdown_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    inlet = CsvInlet(path)
    collect = Collect()
    link = Link(inlet, collect, 1)
    link.transfer()
    assert [r.payload for r in collect.records] == [{"a": "1", "b": "2"}]
    assert inlet.active and inlet._file is not None
    link.on_shutdown()
    assert not inlet.active and inlet._file is None
