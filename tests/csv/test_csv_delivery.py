"""databay-csv under databay's delivery guarantees: CsvInlet checkpoints (cursor, seek,
resuming from a FileStateStore) and CsvOutlet errors that say whether to retry."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databay import Link, Outlet, Record, Update
from databay.delivery import DEAD_LETTER, FileStateStore, RetryPolicy, is_transient
from databay.errors import PermanentError
from databay_csv import (
    CsvCursor,
    CsvHeaderError,
    CsvInlet,
    CsvInletError,
    CsvOutlet,
    CsvPathError,
    CsvPayloadError,
    CsvRecordError,
    CsvWriteError,
)

UPDATE = Update([], 0)
FAST = RetryPolicy(attempts=3, backoff=0.001, jitter=False)


class Collect(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[Record] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.records += records


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text)


def rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def inlets() -> Iterator[list[CsvInlet]]:
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


# -- CsvInlet: cursor and seek ---------------------------------------------------------

def test_seek_back_reads_the_same_rows_again(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,name\n1,a\n", encoding="utf-8")
    inlet = follow(path)
    assert inlet.cursor is None
    assert inlet.pull(UPDATE) == [{"id": "1", "name": "a"}]
    before = inlet.cursor
    append(path, "2,b\n3,c\n")
    assert inlet.pull(UPDATE) == [{"id": "2", "name": "b"}, {"id": "3", "name": "c"}]
    inlet.seek(before)
    assert inlet.cursor == before
    assert inlet.pull(UPDATE) == [{"id": "2", "name": "b"}, {"id": "3", "name": "c"}]
    inlet.seek(None)  # as a new inlet: the file from its start, header not taken for data
    assert inlet.pull(UPDATE) == [{"id": str(i), "name": n} for i, n in
                                  ((1, "a"), (2, "b"), (3, "c"))]


def test_seek_to_a_cursor_taken_before_the_header_was_complete(
        tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id,na", encoding="utf-8")  # the header line is not complete yet
    inlet = follow(path)
    assert inlet.pull(UPDATE) == []
    early = inlet.cursor
    assert early is not None and early.offset == 0
    append(path, "me\n1,a\n")
    assert inlet.pull(UPDATE) == [{"id": "1", "name": "a"}]
    inlet.seek(early)
    assert inlet.pull(UPDATE) == [{"id": "1", "name": "a"}], "the header is not a row"


def test_cursor_json_forms(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id\n1\n2\n", encoding="utf-8")
    first = follow(path)
    first.pull(UPDATE)
    cursor = first.cursor
    assert isinstance(cursor, CsvCursor)
    stored = json.loads(json.dumps(cursor))
    assert stored == list(cursor)
    append(path, "3\n")
    for form in (stored, cursor._asdict(), cursor):
        assert follow(path, cursor=form).pull(UPDATE) == [{"id": "3"}]
        other = follow(path)
        other.seek(form)
        assert other.cursor == cursor
        assert other.pull(UPDATE) == [{"id": "3"}]


@pytest.mark.parametrize("bad", [
    (1, 2), [1, 2, -3], [1, 2, "3"], [1, 2, True], {"device": 1, "inode": 2},
    {"device": 1, "inode": 2, "offset": 3, "extra": 4}, "1,2,3", 7,
])
def test_bad_cursors_are_refused_naming_the_argument(tmp_path: Path, bad: Any) -> None:
    path = tmp_path / "log.csv"
    with pytest.raises(TypeError, match=r"CsvInlet\('.*log\.csv'\)\(cursor=\.\.\.\)"):
        CsvInlet(path, cursor=bad)
    inlet = CsvInlet(path)
    with pytest.raises(TypeError, match=r"CsvInlet\.seek\(cursor=\.\.\.\) must be a CsvCursor"):
        inlet.seek(bad)


def test_seek_back_into_a_file_rotated_away_during_the_pull(
        tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id\n1\n", encoding="utf-8")
    inlet = follow(path)
    assert inlet.pull(UPDATE) == [{"id": "1"}]
    before = inlet.cursor
    append(path, "2\n")
    os.replace(path, tmp_path / "log.csv.1")  # logrotate: rename, then a new file
    path.write_text("id\n3\n", encoding="utf-8")
    both = [{"id": "2"}, {"id": "3"}]
    assert inlet.pull(UPDATE) == both
    inlet.seek(before)  # the records were not delivered: back into the old file
    assert inlet.pull(UPDATE) == both
    assert inlet.pull(UPDATE) == []


def test_cursor_of_a_file_gone_reads_the_current_file_whole(
        tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    path.write_text("id\n1\n", encoding="utf-8")
    inlet = follow(path)
    inlet.pull(UPDATE)
    old = inlet.cursor
    os.replace(path, tmp_path / "log.csv.1")
    path.write_text("id\n2\n", encoding="utf-8")
    assert inlet.pull(UPDATE) == [{"id": "2"}]
    assert inlet.pull(UPDATE) == []  # a later pull: the rotated file is let go
    inlet.seek(old)
    assert inlet.pull(UPDATE) == [{"id": "2"}]


def test_failed_pull_skips_no_row_read_before_the_error(tmp_path: Path, follow: Any) -> None:
    path = tmp_path / "log.csv"
    good = [f"{i},{'x' * 100}\n" for i in range(12_000)]  # ~1.3 MB: more than one read
    path.write_bytes(("id,pad\n" + "".join(good)).encode() + b"bad,\xff\n")
    inlet = follow(path)
    with pytest.raises(CsvInletError, match="cannot decode"):
        inlet.pull(UPDATE)
    assert inlet.cursor is None, "the position is where it was before the pull"
    with open(path, "r+b") as f:  # someone repairs the file
        f.seek(-2, os.SEEK_END)
        f.write(b"y")
    got = inlet.pull(UPDATE)
    assert len(got) == 12_001 and got[0] == {"id": "0", "pad": "x" * 100}
    assert got[-1] == {"id": "bad", "pad": "y"}


# -- CsvInlet in a link with a FileStateStore ------------------------------------------

def csv_link(source: Path, target: Path, state: Path, **kwargs: Any) -> Link:
    return Link(CsvInlet(source), CsvOutlet(target), 1, tags="rows",
                state_store=FileStateStore(state), **kwargs)


def test_link_resumes_after_a_restart(tmp_path: Path) -> None:
    source, target, state = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "state.json"
    source.write_text("id\n1\n2\n", encoding="utf-8")
    link = csv_link(source, target, state)
    link.on_start()
    assert link.transfer().committed
    link.on_shutdown()
    saved = json.loads(state.read_text())
    st = source.stat()
    assert saved == {"rows/0:CsvInlet": [st.st_dev, st.st_ino, st.st_size]}
    append(source, "3\n")
    restarted = csv_link(source, target, state)  # new objects on the same state file
    restarted.on_start()
    result = restarted.transfer()
    restarted.on_shutdown()
    assert result.pulled == 1 and result.committed
    assert rows(target) == ["id", "1", "2", "3"], "nothing read twice, nothing skipped"


def test_undelivered_batch_is_read_again(tmp_path: Path) -> None:
    source, state = tmp_path / "in.csv", tmp_path / "state.json"
    folder = tmp_path / "out"
    target = folder / "out.csv"
    source.write_text("id\n1\n", encoding="utf-8")
    link = csv_link(source, target, state)
    link.on_start()
    link.transfer()
    committed = state.read_text()
    append(source, "2\n3\n")
    os.rename(folder, tmp_path / "away")
    folder.write_text("a file where the folder was")  # every write now fails
    with pytest.raises(CsvWriteError) as info:
        link.transfer()
    assert info.value.transient is False  # ENOTDIR: retrying cannot help
    assert state.read_text() == committed, "the cursor of a failed batch is not committed"
    folder.unlink()
    os.rename(tmp_path / "away", folder)
    result = link.transfer()
    link.on_shutdown()
    assert result.pulled == 2 and result.committed
    assert rows(target) == ["id", "1", "2", "3"]


def test_after_a_failure_a_restart_reads_from_the_committed_cursor(tmp_path: Path) -> None:
    source, state = tmp_path / "in.csv", tmp_path / "state.json"
    target = tmp_path / "out.csv"
    source.write_text("id\n1\n", encoding="utf-8")
    link = csv_link(source, target, state)
    link.transfer()
    append(source, "2\n")
    failing = Link(CsvInlet(source), CsvOutlet(target, fieldnames=["other"]), 1, tags="rows",
                   state_store=FileStateStore(state))
    with pytest.raises(CsvHeaderError):
        failing.transfer()
    failing.on_shutdown()
    restarted = csv_link(source, target, state)
    assert restarted.transfer().pulled == 1
    restarted.on_shutdown()
    link.on_shutdown()
    assert rows(target) == ["id", "1", "2"]


# -- CsvOutlet errors: transient or permanent --------------------------------------------

def test_record_path_header_and_inlet_errors_are_permanent() -> None:
    for cls in (CsvRecordError, CsvPayloadError, CsvPathError, CsvHeaderError, CsvInletError):
        error = cls("x")
        assert issubclass(cls, PermanentError) and error.transient is False
        assert is_transient(error) is False


@pytest.mark.parametrize(("code", "transient"), [
    (errno.ENOSPC, True), (errno.EIO, True), (errno.EMFILE, True), (errno.EAGAIN, True),
    (None, True), (errno.EACCES, False), (errno.EROFS, False), (errno.ENOTDIR, False),
    (errno.EISDIR, False), (errno.EFBIG, False),
])
def test_write_errors_are_transient_when_they_may_pass(code: int | None,
                                                        transient: bool) -> None:
    error = CsvWriteError("x", path="out.csv", errno=code)
    assert error.errno == code
    assert error.transient is transient and is_transient(error) is transient
    assert isinstance(error, OSError)


def test_bad_record_is_not_retried_and_goes_to_the_dead_letter_outlet(
        tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id\n1\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    target.write_text("name\n", encoding="utf-8")  # a header the rows do not fit
    dead = Collect()
    outlet = CsvOutlet(target)
    link = Link(CsvInlet(source), outlet, 1, tags="rows", retry=FAST, dead_letter=dead,
                state_store=FileStateStore(tmp_path / "state.json"))
    result = link.transfer()
    link.on_shutdown()
    assert result.retried == {} and result.dead_lettered == {outlet: 1}
    assert result.committed, "dead-lettered records count as handled"
    (record,) = dead.records
    assert record.payload == {"id": "1"}
    info = record.metadata[DEAD_LETTER]
    assert info["attempts"] == 1 and info["error_type"] == "CsvRecordError"
    assert info["link"] == "rows" and info["outlet"] == repr(outlet)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_full_disk_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id\n1\n2\n", encoding="utf-8")
    dead = Collect()
    outlet = CsvOutlet("/dev/full")  # every write fails with ENOSPC
    link = Link(CsvInlet(source), outlet, 1, tags="rows", retry=FAST, dead_letter=dead)
    result = link.transfer()
    link.on_shutdown()
    assert result.retried == {outlet: 2} and result.dead_lettered == {outlet: 2}
    assert [r.payload for r in dead.records] == [{"id": "1"}, {"id": "2"}]
    info = dead.records[0].metadata[DEAD_LETTER]
    assert info["attempts"] == 3 and info["error_type"] == "CsvWriteError"
    assert "No space left" in info["error"]
