"""CsvOutlet on real files in a temporary folder."""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from databay import Inlet, Link, Record, Update
from databay.delivery import DEAD_LETTER
from databay.errors import UnsafePathError
from databay.outlet import MetadataKey
from databay_csv import (
    CsvHeaderError,
    CsvOutlet,
    CsvPathError,
    CsvPayloadError,
    CsvRecordError,
    CsvWriteError,
)

UPDATE = Update(["t"], 0)


def push(outlet: CsvOutlet, *payloads: Any, **metadata: Any) -> list[Record]:
    records = [Record(p, dict(metadata)) for p in payloads]
    outlet.push(records, UPDATE)
    return records


def rows(path: Path | str, **fmt: Any) -> list[list[str]]:
    with open(path, newline="", encoding=fmt.pop("encoding", "utf-8")) as f:
        return list(csv.reader(f, **fmt))


class ListInlet(Inlet):
    def __init__(self, batches: list[list[Any]]) -> None:
        super().__init__()
        self.batches = batches

    def pull(self, update: Update) -> list[Any]:
        return self.batches.pop(0) if self.batches else []


# -- compatibility with the original ----------------------------------------------------


def test_resolves_through_databay_namespaces() -> None:
    from databay.outlets import CsvOutlet as FromNamespace
    from databay.outlets.csv_outlet import CsvOutlet as FromShim

    assert FromNamespace is CsvOutlet
    assert FromShim is CsvOutlet


def test_metadata_keys_and_positional_arguments(work: Path) -> None:
    assert CsvOutlet.CSV_FILE == "CsvOutlet.CSV_FILE"
    assert CsvOutlet.FILE_MODE == "CsvOutlet.FILE_MODE"
    assert isinstance(CsvOutlet.CSV_FILE, MetadataKey)
    assert isinstance(CsvOutlet.FILE_MODE, MetadataKey)
    seen: list[int] = []

    def proc(records: list[Record]) -> list[Record]:
        seen.append(len(records))
        return records

    outlet = CsvOutlet("out.csv", "w", [proc])
    assert outlet.default_filepath == "out.csv"
    assert outlet.default_file_mode == "w"
    Link(ListInlet([[{"a": 1}]]), outlet, 1).transfer()
    assert seen == [1]
    assert rows("out.csv") == [["a"], ["1"]]
    with pytest.raises(TypeError):
        CsvOutlet("out.csv", "a", None, ["x"])  # type: ignore[misc]


def test_parent_folders_are_created(work: Path) -> None:
    outlet = CsvOutlet("deep/er/out.csv")
    push(outlet, {"a": 1})
    push(outlet, {"a": 2}, **{CsvOutlet.CSV_FILE: "other/nested/x.csv"})
    assert rows("deep/er/out.csv") == [["a"], ["1"]]
    assert rows("other/nested/x.csv") == [["a"], ["2"]]


def test_records_pick_file_and_mode_through_metadata(work: Path) -> None:
    outlet = CsvOutlet("default.csv")
    inlet = ListInlet([[
        Record({"n": 1}),
        Record({"n": 2}, {CsvOutlet.CSV_FILE: "a.csv"}),
        Record({"n": 3}, {CsvOutlet.CSV_FILE: "b.csv", CsvOutlet.FILE_MODE: "w"}),
        Record({"n": 4}, {CsvOutlet.CSV_FILE: "a.csv"}),
        Record({"n": 5}),
    ]])
    result = Link(inlet, outlet, 1, copy_records=False).transfer()
    assert result.pushed[outlet] == 5
    assert rows("default.csv") == [["n"], ["1"], ["5"]]
    assert rows("a.csv") == [["n"], ["2"], ["4"]]
    assert rows("b.csv") == [["n"], ["3"]]


# -- one open per file per push; flushed -------------------------------------------------


def test_each_file_is_opened_once_per_push(work: Path) -> None:
    outlet = CsvOutlet("out.csv")
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(os.path.basename(path))
        return real_open(path, *args, **kwargs)

    records = [Record({"i": i}) for i in range(50)]
    records += [Record({"i": i}, {CsvOutlet.CSV_FILE: "b.csv"}) for i in range(50)]
    os.open = counting_open  # type: ignore[assignment]
    try:
        outlet.push(records, UPDATE)
    finally:
        os.open = real_open  # type: ignore[assignment]
    assert sorted(opened) == ["b.csv", "out.csv"]
    assert len(rows("out.csv")) == 51
    assert len(rows("b.csv")) == 51


def test_push_ends_flushed_and_fsync_option(work: Path) -> None:
    for fsync in (False, True):
        outlet = CsvOutlet(f"f{fsync}.csv", fsync=fsync)
        push(outlet, {"a": "x"}, {"a": "y"})
        # read by another handle while the outlet is still alive and never shut down
        assert Path(f"f{fsync}.csv").read_bytes() == b"a\r\nx\r\ny\r\n"


def test_empty_push_touches_nothing(work: Path) -> None:
    outlet = CsvOutlet("out.csv", "w")
    outlet.push([], UPDATE)
    assert not Path("out.csv").exists()


# -- header -----------------------------------------------------------------------------


def test_header_written_once_and_columns_keep_first_order(work: Path) -> None:
    outlet = CsvOutlet("out.csv")
    push(outlet, {"b": 1, "a": 2})
    push(outlet, {"a": 3, "b": 4}, {"b": 5, "a": 6})
    assert rows("out.csv") == [["b", "a"], ["1", "2"], ["4", "3"], ["5", "6"]]


def test_existing_file_from_an_earlier_run_keeps_its_header(work: Path) -> None:
    Path("out.csv").write_text("id,name\r\n1,old\r\n", encoding="utf-8")
    outlet = CsvOutlet("out.csv")  # a new run: a new outlet
    push(outlet, {"name": "new", "id": 2})
    assert rows("out.csv") == [["id", "name"], ["1", "old"], ["2", "new"]]
    again = CsvOutlet("out.csv", fieldnames=["id", "name"])
    push(again, {"id": 3, "name": "third"})
    assert rows("out.csv")[0] == ["id", "name"]
    assert rows("out.csv").count(["id", "name"]) == 1


def test_existing_header_differing_from_fieldnames_is_refused(work: Path) -> None:
    Path("out.csv").write_text("id,name\r\n1,old\r\n", encoding="utf-8")
    before = Path("out.csv").read_bytes()
    outlet = CsvOutlet("out.csv", fieldnames=["name", "id"])
    with pytest.raises(CsvHeaderError, match=r"out\.csv.*\['id', 'name'\]"):
        push(outlet, {"id": 2, "name": "x"})
    assert Path("out.csv").read_bytes() == before


def test_existing_file_without_final_line_break(
        work: Path, caplog: pytest.LogCaptureFixture) -> None:
    Path("out.csv").write_bytes(b"a,b\r\n1,2")
    with caplog.at_level(logging.WARNING, logger="databay.CsvOutlet"):
        push(CsvOutlet("out.csv"), {"a": 3, "b": 4})
    assert rows("out.csv") == [["a", "b"], ["1", "2"], ["3", "4"]]
    assert "does not end with a line break" in caplog.text


def test_fieldnames_fix_the_header(work: Path) -> None:
    outlet = CsvOutlet("out.csv", fieldnames=["z", "a"])
    push(outlet, {"a": 1, "z": 2}, {"a": 3})
    assert rows("out.csv") == [["z", "a"], ["2", "1"], ["", "3"]]


# -- keys that differ from the header ---------------------------------------------------


def test_missing_keys_give_empty_cells(work: Path) -> None:
    outlet = CsvOutlet("out.csv")
    push(outlet, {"a": 1, "b": 2, "c": 3}, {"c": 6}, {"b": 8, "a": 7})
    assert rows("out.csv") == [["a", "b", "c"], ["1", "2", "3"], ["", "", "6"], ["7", "8", ""]]
    other = CsvOutlet("other.csv", missing_value="NA")
    push(other, {"a": 1, "b": 2}, {"b": 3})
    assert rows("other.csv") == [["a", "b"], ["1", "2"], ["NA", "3"]]


def test_extra_keys_raise_naming_the_record_and_nothing_is_written(work: Path) -> None:
    outlet = CsvOutlet("out.csv")
    push(outlet, {"a": 1, "b": 2})
    before = Path("out.csv").read_bytes()
    with pytest.raises(CsvRecordError, match=r"'surprise'.*header \['a', 'b'\]") as info:
        push(outlet, {"a": 3, "b": 4}, {"a": 5, "surprise": 6}, {"a": 7})
    assert info.value.record.payload == {"a": 5, "surprise": 6}
    assert "{'a': 5, 'surprise': 6}" in str(info.value)
    assert info.value.path == str(work / "out.csv")
    assert Path("out.csv").read_bytes() == before


def test_extra_keys_dropped_only_when_asked(work: Path) -> None:
    outlet = CsvOutlet("out.csv", extra_keys="ignore")
    push(outlet, {"a": 1, "b": 2}, {"a": 3, "b": 4, "c": 5}, {"c": 6})
    assert rows("out.csv") == [["a", "b"], ["1", "2"], ["3", "4"], ["", ""]]


def test_extra_keys_through_a_link_count_as_undelivered(work: Path) -> None:
    outlet = CsvOutlet("out.csv")
    link = Link(ListInlet([[{"a": 1}], [{"a": 2, "b": 3}]]), outlet, 1, ignore_exceptions=True)
    assert link.transfer().pushed[outlet] == 1
    result = link.transfer()
    assert result.undelivered[outlet] == 1
    assert isinstance(result.errors[0], CsvRecordError)
    assert rows("out.csv") == [["a"], ["1"]]


# -- mode 'w' ---------------------------------------------------------------------------


def test_mode_w_keeps_every_record_of_the_push(work: Path) -> None:
    outlet = CsvOutlet("out.csv", "w")
    link = Link(ListInlet([[{"n": i} for i in range(5)], [{"n": 10}, {"n": 11}]]), outlet, 1)
    link.transfer()
    assert rows("out.csv") == [["n"], ["0"], ["1"], ["2"], ["3"], ["4"]]
    link.transfer()
    assert rows("out.csv") == [["n"], ["10"], ["11"]]


def test_mode_w_from_metadata_truncates_once(work: Path) -> None:
    Path("out.csv").write_text("old\r\nrow\r\n", encoding="utf-8")
    outlet = CsvOutlet("out.csv")
    outlet.push([Record({"n": 1}, {CsvOutlet.FILE_MODE: "w"}),
                 Record({"n": 2}),
                 Record({"n": 3}, {CsvOutlet.FILE_MODE: "w"})], UPDATE)
    assert rows("out.csv") == [["n"], ["1"], ["2"], ["3"]]


# -- rows are never half-written --------------------------------------------------------


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot be shown")


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ({"a": Unprintable()}, CsvRecordError, "cannot be shown"),
        (42, CsvPayloadError, "payload type int is not supported"),
        ("a string", CsvPayloadError, "payload type str is not supported"),
        ({1, 2}, CsvPayloadError, "payload type set is not supported"),
        ([1, 2], CsvPayloadError, "needs CsvOutlet\\(fieldnames"),
    ],
)
def test_bad_payload_fails_before_anything_reaches_the_file(
        work: Path, bad: Any, error: type[Exception], message: str) -> None:
    outlet = CsvOutlet("out.csv")
    push(outlet, {"a": "first"})
    before = Path("out.csv").read_bytes()
    with pytest.raises(error, match=message) as info:
        push(outlet, {"a": "ok"}, bad, {"a": "also ok"})
    assert info.value.record.payload is bad  # type: ignore[attr-defined]
    assert "Record(payload=" in str(info.value)
    assert Path("out.csv").read_bytes() == before


def test_unencodable_cell_names_the_record_and_writes_nothing(work: Path) -> None:
    outlet = CsvOutlet("out.csv", encoding="latin-1")
    push(outlet, {"a": "café"})
    before = Path("out.csv").read_bytes()
    with pytest.raises(CsvRecordError, match=r"costs 5€.*'latin-1'"):
        push(outlet, {"a": "fine"}, {"a": "costs 5€"})
    assert Path("out.csv").read_bytes() == before


def test_on_bad_record_log_writes_the_others_and_logs_the_bad(
        work: Path, caplog: pytest.LogCaptureFixture) -> None:
    outlet = CsvOutlet("out.csv", on_bad_record="log", encoding="latin-1")
    with caplog.at_level(logging.ERROR, logger="databay.CsvOutlet"):
        push(outlet, {"a": 1}, {"a": 2, "x": 1}, 7, {"a": Unprintable()}, {"a": "€"}, {"a": 3})
    assert rows("out.csv", encoding="latin-1") == [["a"], ["1"], ["3"]]
    for shown in ("'x': 1", "payload=7", "cannot be shown", "'€'"):
        assert shown in caplog.text


def test_on_bad_record_log_reports_each_bad_record_once(
        work: Path, caplog: pytest.LogCaptureFixture) -> None:
    outlet = CsvOutlet("out.csv", on_bad_record="log")
    with caplog.at_level(logging.ERROR, logger="databay.CsvOutlet"):
        push(outlet, 7, [1, 2], {"a": 1})
    assert rows("out.csv") == [["a"], ["1"]]
    assert caplog.text.count("payload=7") == 1
    assert caplog.text.count("payload=[1, 2]") == 1
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="databay.CsvOutlet"):
        push(outlet, 8, 9, **{CsvOutlet.CSV_FILE: "none.csv"})
    assert not Path("none.csv").exists()
    assert caplog.text.count("payload=8") == 1
    assert caplog.text.count("payload=9") == 1


def test_unencodable_header_is_refused(work: Path) -> None:
    with pytest.raises(CsvHeaderError, match=r"header of .*out\.csv.*'latin-1'"):
        push(CsvOutlet("out.csv", encoding="latin-1"), {"prix €": 1})
    assert not Path("out.csv").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE behaviour is Linux's")
def test_failed_write_is_cut_back_to_whole_rows(work: Path) -> None:
    import resource
    import signal

    outlet = CsvOutlet("out.csv")
    push(outlet, {"a": "x" * 10})
    before = Path("out.csv").read_bytes()
    big = [{"a": "y" * 100} for _ in range(1000)]  # ~100 KB, more than the limit below
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, old_limit[1]))
        with pytest.raises(CsvWriteError, match=r"1000 record\(s\) to .*out\.csv"):
            push(outlet, *big)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert Path("out.csv").read_bytes() == before


def test_concurrent_pushes_never_interleave_rows(work: Path) -> None:
    outlet = CsvOutlet("out.csv", fieldnames=["t", "i", "pad"])
    start = threading.Barrier(4)

    def worker(t: int) -> None:
        start.wait()
        for i in range(20):
            push(outlet, *({"t": t, "i": i, "pad": "z" * 200} for _ in range(20)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    got = rows("out.csv")
    assert got[0] == ["t", "i", "pad"]
    assert len(got) == 1 + 4 * 20 * 20
    assert all(len(r) == 3 and r[2] == "z" * 200 for r in got[1:])


# -- payload kinds ----------------------------------------------------------------------


def test_sequences_with_configured_header(work: Path) -> None:
    outlet = CsvOutlet("out.csv", fieldnames=["a", "b", "c"])
    push(outlet, [1, 2, 3], (4, 5, 6), [7], {"c": 9, "a": 8})
    assert rows("out.csv") == [["a", "b", "c"], ["1", "2", "3"], ["4", "5", "6"],
                               ["7", "", ""], ["8", "", "9"]]
    before = Path("out.csv").read_bytes()
    with pytest.raises(CsvRecordError, match=r"4 values but the header"):
        push(outlet, [1, 2, 3, 4])
    assert Path("out.csv").read_bytes() == before
    lenient = CsvOutlet("out.csv", fieldnames=["a", "b", "c"], extra_keys="ignore")
    push(lenient, [1, 2, 3, 4])
    assert rows("out.csv")[-1] == ["1", "2", "3"]


@dataclasses.dataclass
class Reading:
    sensor: str
    value: float
    unit: str = "C"


class Point(NamedTuple):
    x: int
    y: int


def test_other_mappings(work: Path) -> None:
    from collections import OrderedDict
    from types import MappingProxyType

    outlet = CsvOutlet("out.csv")
    push(outlet, MappingProxyType({"a": 1, "b": 2}), OrderedDict([("b", 4), ("a", 3)]))
    assert rows("out.csv") == [["a", "b"], ["1", "2"], ["3", "4"]]


def test_async_link(work: Path) -> None:
    class AsyncInlet(Inlet):
        async def pull(self, update: Update) -> list[dict[str, int]]:
            return [{"n": 1}, {"n": 2}]

    outlet = CsvOutlet("out.csv")
    assert Link(AsyncInlet(), outlet, 1).transfer().pushed[outlet] == 2
    assert rows("out.csv") == [["n"], ["1"], ["2"]]


def test_dataclasses_and_named_tuples(work: Path) -> None:
    outlet = CsvOutlet("readings.csv")
    push(outlet, Reading("s1", 20.5), Reading("s2", -3.0, "F"))
    assert rows("readings.csv") == [["sensor", "value", "unit"], ["s1", "20.5", "C"],
                                    ["s2", "-3.0", "F"]]
    points = CsvOutlet("points.csv")
    push(points, Point(1, 2), Point(3, 4))
    assert rows("points.csv") == [["x", "y"], ["1", "2"], ["3", "4"]]


# -- paths chosen by metadata -----------------------------------------------------------


def test_usual_relative_paths_work(work: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    outlet = CsvOutlet(data / "main.csv")  # outside the working directory: it is yours
    push(outlet, {"a": 1}, **{CsvOutlet.CSV_FILE: "sub/rel.csv"})  # under the working dir
    push(outlet, {"a": 2}, **{CsvOutlet.CSV_FILE: Path("sub") / "path.csv"})
    push(outlet, {"a": 3}, **{CsvOutlet.CSV_FILE: "./sub/./dots.csv"})
    push(outlet, {"a": 4})
    assert rows(work / "sub" / "rel.csv") == [["a"], ["1"]]
    assert rows(work / "sub" / "path.csv") == [["a"], ["2"]]
    assert rows(work / "sub" / "dots.csv") == [["a"], ["3"]]
    assert rows(data / "main.csv") == [["a"], ["4"]]


@pytest.mark.parametrize(("escape", "reason"), [
    ("../../etc/evil.csv", "contains '..'"), ("../outside.csv", "contains '..'"),
    ("sub/../inside.csv", "contains '..'"), ("ABSOLUTE", "is absolute"),
    ("x\x00.csv", "contains a NUL byte"),
])
def test_path_escape_is_refused_naming_record_and_path(
        work: Path, tmp_path: Path, escape: str, reason: str) -> None:
    target = str(tmp_path / "elsewhere" / "x.csv") if escape == "ABSOLUTE" else escape
    outlet = CsvOutlet("data/out.csv")
    with pytest.raises(CsvPathError) as info:
        outlet.push([Record({"a": 1}), Record({"secret": 1}, {CsvOutlet.CSV_FILE: target})],
                    UPDATE)
    message = str(info.value)
    assert "{'secret': 1}" in message
    assert repr(target) in message
    assert reason in message
    assert f"link {'.'.join(UPDATE.tags)!r}" in message and "'CsvOutlet.CSV_FILE'" in message
    assert isinstance(info.value, UnsafePathError)
    assert (info.value.path, info.value.key) == (target, CsvOutlet.CSV_FILE)
    assert info.value.record.payload == {"secret": 1}
    assert not Path("data/out.csv").exists()  # the push wrote nothing at all
    assert not (tmp_path / "outside.csv").exists()
    assert not (tmp_path / "elsewhere").exists()


def test_symlink_out_of_the_allowed_folders_is_refused(work: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "link").symlink_to(outside, target_is_directory=True)
    outlet = CsvOutlet("out.csv")
    with pytest.raises(CsvPathError, match="through a symbolic link"):
        push(outlet, {"a": 1}, **{CsvOutlet.CSV_FILE: "link/x.csv"})
    assert not (outside / "x.csv").exists()


def test_metadata_paths_are_relative_to_base_dir(work: Path, tmp_path: Path) -> None:
    outlet = CsvOutlet("exports/main.csv", base_dir="exports")
    assert outlet.base_dir == str(work / "exports")
    push(outlet, {"a": 1}, **{CsvOutlet.CSV_FILE: "day1/x.csv"})
    assert rows("exports/day1/x.csv") == [["a"], ["1"]]
    with pytest.raises(CsvPathError, match=r"'\.\./other\.csv'.*base_dir"):
        push(outlet, {"a": 2}, **{CsvOutlet.CSV_FILE: "../other.csv"})
    assert not Path("other.csv").exists()


def test_allow_any_path_is_an_explicit_opt_in(work: Path, tmp_path: Path) -> None:
    target = tmp_path / "anywhere" / "x.csv"
    outlet = CsvOutlet("out.csv", allow_any_path=True)
    push(outlet, {"a": 1}, **{CsvOutlet.CSV_FILE: str(target)})
    push(outlet, {"a": 2}, **{CsvOutlet.CSV_FILE: "../up.csv"})
    assert rows(target) == [["a"], ["1"]]
    assert rows(tmp_path / "up.csv") == [["a"], ["2"]]


def test_metadata_path_of_wrong_type_is_refused(work: Path) -> None:
    with pytest.raises(CsvPathError, match=r"must be a str or os.PathLike path, got int: 5"):
        push(CsvOutlet("out.csv"), {"a": 1}, **{CsvOutlet.CSV_FILE: 5})


# -- formula injection ------------------------------------------------------------------


def test_formula_guard_is_opt_in(work: Path) -> None:
    cells = {"a": "=HYPERLINK(\"http://x\")", "b": "+1", "c": "-2", "d": "@SUM(A1)",
             "e": "plain", "f": -5, "g": "\tx", "h": ""}
    push(CsvOutlet("raw.csv"), cells)
    assert rows("raw.csv")[1] == ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)",
                                  "plain", "-5", "\tx", ""]
    guarded = CsvOutlet("safe.csv", escape_formulas=True)
    push(guarded, cells)
    push(guarded, {"=bad": 1}, **{CsvOutlet.CSV_FILE: "keys.csv"})
    push(CsvOutlet("keys.csv", escape_formulas=True), {"=bad": 2})  # a later run
    assert rows("safe.csv")[1] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)",
                                   "plain", "-5", "'\tx", ""]
    assert rows("keys.csv") == [["'=bad"], ["1"], ["2"]]


# -- format options ---------------------------------------------------------------------


def test_delimiter_dialect_and_fmtparams(work: Path) -> None:
    push(CsvOutlet("semi.csv", delimiter=";"), {"a": "1,5", "b": 2})
    assert Path("semi.csv").read_bytes() == b"a;b\r\n1,5;2\r\n"
    push(CsvOutlet("tab.csv", dialect="excel-tab"), {"a": 1, "b": 2})
    assert Path("tab.csv").read_bytes() == b"a\tb\r\n1\t2\r\n"
    push(CsvOutlet("unix.csv", dialect="unix"), {"a": 1})
    assert Path("unix.csv").read_bytes() == b'"a"\n"1"\n'
    push(CsvOutlet("q.csv", fmtparams={"quoting": csv.QUOTE_ALL, "lineterminator": "\n"}),
         {"a": 1})
    assert Path("q.csv").read_bytes() == b'"a"\n"1"\n'

    class Pipes(csv.excel):
        delimiter = "|"

    push(CsvOutlet("pipe.csv", dialect=Pipes), {"a": 1, "b": 2})
    assert Path("pipe.csv").read_bytes() == b"a|b\r\n1|2\r\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "latin-1"])
def test_encodings_append_without_a_second_byte_order_mark(work: Path, encoding: str) -> None:
    push(CsvOutlet("out.csv", encoding=encoding), {"name": "Zoë"})
    push(CsvOutlet("out.csv", encoding=encoding), {"name": "Ænne"})  # a later run
    assert Path("out.csv").read_bytes() == "name\r\nZoë\r\nÆnne\r\n".encode(
        "utf-16" if encoding == "utf-16" else encoding)
    assert rows("out.csv", encoding=encoding) == [["name"], ["Zoë"], ["Ænne"]]


# -- bad input --------------------------------------------------------------------------


def test_unknown_mode_is_refused(work: Path) -> None:
    with pytest.raises(ValueError, match=r"out\.csv.*default_file_mode.*'a', 'w'.*'rw'"):
        CsvOutlet("out.csv", "rw")
    outlet = CsvOutlet("out.csv")
    with pytest.raises(CsvRecordError, match=r"'CsvOutlet.FILE_MODE'.*got 'x'"):
        push(outlet, {"a": 1}, **{CsvOutlet.FILE_MODE: "x"})
    assert not Path("out.csv").exists()


def test_unknown_dialect_and_bad_format_are_refused(work: Path) -> None:
    with pytest.raises(ValueError, match=r"out\.csv.*unknown csv dialect 'nope'.*excel"):
        CsvOutlet("out.csv", dialect="nope")
    with pytest.raises(ValueError, match=r"out\.csv.*invalid csv format"):
        CsvOutlet("out.csv", delimiter=";;")
    with pytest.raises(ValueError, match=r"out\.csv.*invalid csv format"):
        CsvOutlet("out.csv", fmtparams={"no_such_option": 1})
    with pytest.raises(TypeError, match="dialect"):
        CsvOutlet("out.csv", dialect=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"out\.csv.*unknown encoding 'klingon'"):
        CsvOutlet("out.csv", encoding="klingon")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"extra_keys": "keep"}, "extra_keys"),
        ({"on_bad_record": "skip"}, "on_bad_record"),
        ({"fieldnames": "abc"}, "fieldnames"),
        ({"fieldnames": ["a", "a"]}, "duplicate"),
        ({"escape_formulas": 1}, "escape_formulas"),
        ({"fsync": "yes"}, "fsync"),
        ({"allow_any_path": None}, "allow_any_path"),
    ],
)
def test_bad_options_are_refused_at_construction(
        work: Path, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        CsvOutlet("out.csv", **kwargs)


def test_unwritable_default_path_is_refused_at_construction(work: Path) -> None:
    Path("afile").write_text("x")
    Path("adir").mkdir()
    with pytest.raises(ValueError, match=r"afile.*is a file, not a folder"):
        CsvOutlet("afile/sub/out.csv")
    with pytest.raises(ValueError, match=r"adir.*is a directory"):
        CsvOutlet("adir")
    with pytest.raises(TypeError, match="default_filepath"):
        CsvOutlet(None)  # type: ignore[arg-type]


def test_unwritable_path_fails_on_push_naming_the_file(work: Path) -> None:
    outlet = CsvOutlet("later/out.csv")
    Path("later").write_text("now a file, not a folder")
    with pytest.raises(CsvWriteError, match=r"later/out\.csv.*Not a directory") as info:
        push(outlet, {"a": 1})
    assert info.value.path == str(work / "later" / "out.csv")
    Path("dir.csv").mkdir()
    with pytest.raises(CsvWriteError, match=r"dir\.csv"):
        push(outlet, {"a": 1}, **{CsvOutlet.CSV_FILE: "dir.csv"})


def test_repr(work: Path) -> None:
    assert repr(CsvOutlet("x.csv", "w")) == \
        "CsvOutlet(default_filepath='x.csv', default_file_mode='w')"


def test_a_dead_letter_csv_outlet_ignores_the_per_record_keys(work: Path) -> None:
    """CSV_FILE and FILE_MODE of a dead-lettered record were meant for the outlet that
    refused it (often the file that just failed)."""
    dead = CsvOutlet("dead.csv")
    push(dead, {"a": 1}, **{CsvOutlet.CSV_FILE: "../orders.csv", CsvOutlet.FILE_MODE: "w",
                            DEAD_LETTER: {"error": "x"}})
    push(dead, {"a": 2}, **{CsvOutlet.CSV_FILE: "orders.csv", DEAD_LETTER: {"error": "y"}})
    assert rows("dead.csv") == [["a"], ["1"], ["2"]]
    assert not Path("orders.csv").exists()
