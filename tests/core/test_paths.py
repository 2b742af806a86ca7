"""Paths from record metadata stay inside their outlet's folder (databay.paths), shown
with FileOutlet and real files, links, retries and dead letters."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from core_nodes import ListInlet
from databay import Link, Record, Update
from databay.delivery import DEAD_LETTER, RetryPolicy, is_transient
from databay.errors import PermanentError, UnsafePathError
from databay.outlets.file_outlet import FileOutlet
from databay.outlets.print_outlet import PrintOutlet
from databay.paths import BaseFolder

U = Update(["shop", "orders"], 7)
KEY = FileOutlet.FILEPATH


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory two levels below tmp_path, so '../../x' lands in tmp_path."""
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    return folder


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


ESCAPES: dict[str, Any] = {
    "dot-dot": ("../../etc/fileoutlet.txt", "contains '..'"),
    "dot-dot inside": ("sub/../../x.txt", "contains '..'"),
    "dot-dot that stays inside": ("sub/../x.txt", "contains '..'"),
    "absolute": ("ABSOLUTE", "is absolute"),
    "symlink out": ("out/x.txt", "through a symbolic link"),
    "NUL byte": ("x\x00.txt", "contains a NUL byte"),
    "empty": ("", "must be a non-empty str path"),
    "bytes": (b"x.txt", "must be a str or os.PathLike path, got bytes"),
    "number": (5, "must be a str or os.PathLike path, got int"),
    "the folder itself": (".", "names the folder itself"),
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_file_outlet_refuses_paths_out_of_its_folder(
        work: Path, tmp_path: Path, case: str) -> None:
    raw, reason = ESCAPES[case]
    if raw == "ABSOLUTE":
        raw = str(tmp_path / "elsewhere.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "out").symlink_to(outside, target_is_directory=True)
    outlet = FileOutlet("default.txt")
    bad = Record({"id": 2}, {KEY: raw})
    with pytest.raises(UnsafePathError) as info:
        outlet.push([Record({"id": 1}), bad, Record({"id": 3}, {KEY: "fine.txt"})], U)
    error = info.value
    message = str(error)
    assert reason in message
    assert "link 'shop.orders'" in message, "names the link"
    assert "'FileOutlet.FILEPATH'" in message, "names the metadata key"
    assert repr(raw) in message, "names the path"
    assert "{'id': 2}" in message, "names the record"
    assert (error.path, error.key, error.link, error.record) == (raw, KEY, "shop.orders", bad)
    assert error.base == str(work)
    assert isinstance(error, PermanentError) and not is_transient(error)
    assert isinstance(error, ValueError)
    assert files_under(tmp_path) == set(), "the refused push wrote nothing at all"


def test_paths_inside_the_folder_are_written_relative_to_base_dir(
        work: Path, tmp_path: Path) -> None:
    base = tmp_path / "exports"
    (work / "inside").mkdir()
    (work / "alias").symlink_to(work / "inside", target_is_directory=True)
    outlet = FileOutlet("default.txt", base_dir=base)
    assert outlet.base_dir == str(base)
    outlet.push([Record(1), Record(2, {KEY: "day1/x.txt"}), Record(3, {KEY: Path("y.txt")}),
                 Record(4, {KEY: "./day1/x.txt"})], U)
    assert (work / "default.txt").read_text() == "1\n", "default_filepath is not confined"
    assert (base / "day1" / "x.txt").read_text() == "2\n4\n"
    assert (base / "y.txt").read_text() == "3\n"
    cwd = FileOutlet("default.txt")  # default base: the working directory
    cwd.push([Record(5, {KEY: "alias/z.txt"})], U)  # a symlink that stays inside is fine
    assert (work / "inside" / "z.txt").read_text() == "5\n"


def test_allow_any_path_is_an_explicit_opt_in(work: Path, tmp_path: Path) -> None:
    outlet = FileOutlet("default.txt", allow_any_path=True)
    outlet.push([Record(1, {KEY: "../../up.txt"}), Record(2, {KEY: str(tmp_path / "abs.txt")})],
                U)
    assert (tmp_path / "up.txt").read_text() == "1\n"
    assert (tmp_path / "abs.txt").read_text() == "2\n"
    with pytest.raises(UnsafePathError, match="NUL byte"):
        outlet.push([Record(3, {KEY: "x\x00"})], U)


@pytest.mark.parametrize("use_async", [False, True])
def test_a_refused_path_is_dead_lettered_at_once_with_its_details(
        work: Path, tmp_path: Path, use_async: bool) -> None:
    dead = tmp_path / "dead.jsonl"
    outlet = FileOutlet("out.txt")
    retry = RetryPolicy(attempts=5, backoff=0.001, jitter=False)
    link = Link(ListInlet([{"id": 1}]), outlet, 1, tags="orders", retry=retry,
                processors=lambda rs: [Record(r.payload, {KEY: "../../etc/x.txt"}) for r in rs],
                dead_letter=FileOutlet(dead, json_lines=True))
    if use_async:
        import asyncio

        result = asyncio.run(link.atransfer())
    else:
        result = link.transfer()
    assert result.dead_lettered == {outlet: 1} and not result.retried, "not retried"
    [line] = dead.read_text().splitlines()
    details = json.loads(line)["metadata"][DEAD_LETTER]
    assert details["error_type"] == "UnsafePathError" and details["attempts"] == 1
    assert "contains '..'" in details["error"] and "link 'orders'" in details["error"]
    assert json.loads(line)["metadata"][KEY] == "../../etc/x.txt", "kept, not followed"
    assert not (tmp_path / "etc").exists()
    assert files_under(tmp_path) == {"dead.jsonl"}


def test_a_dead_letter_file_outlet_ignores_the_per_record_keys(work: Path) -> None:
    """They were meant for the outlet that refused the record: following them would write
    the dead letter into the file that just failed, or truncate the dead-letter file."""
    dead = FileOutlet("dead.jsonl", json_lines=True)
    dead.push([Record(1, {KEY: "orders.txt", FileOutlet.FILE_MODE: "w",
                          DEAD_LETTER: {"error": "x"}}),
               Record(2, {KEY: "orders.txt", DEAD_LETTER: {"error": "y"}})], U)
    assert [json.loads(x)["payload"] for x in Path("dead.jsonl").read_text().splitlines()] \
        == [1, 2]
    assert not Path("orders.txt").exists()


def test_without_a_dead_letter_the_refused_push_raises(work: Path, tmp_path: Path) -> None:
    link = Link(ListInlet(["x"]), FileOutlet("out.txt"), 1, tags="orders",
                processors=lambda rs: [Record(r.payload, {KEY: "/etc/x.txt"}) for r in rs])
    with pytest.raises(UnsafePathError, match="is absolute"):
        link.transfer()
    ignoring = Link(ListInlet(["x"]), FileOutlet("out.txt"), 1, tags="orders",
                    ignore_exceptions=True,
                    processors=lambda rs: [Record(r.payload, {KEY: "/etc/x.txt"}) for r in rs])
    result = ignoring.transfer()
    assert result.undelivered == {ignoring.outlets[0]: 1}
    assert files_under(tmp_path) == set()


def test_base_folder_checks_its_arguments(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"MyOutlet\(base_dir=...\) must be a folder"):
        BaseFolder(tmp_path / "file", owner="MyOutlet")
    with pytest.raises(ValueError, match="NUL byte"):
        BaseFolder("a\x00b", owner="MyOutlet")
    with pytest.raises(TypeError, match=r"base_dir=...\) must be a str or os.PathLike"):
        BaseFolder(3, owner="MyOutlet")  # type: ignore[arg-type]
    folder = BaseFolder(tmp_path / "later", owner="MyOutlet")  # need not exist yet
    assert folder.resolve("x/y.txt", key="K") == str(tmp_path / "later" / "x" / "y.txt")
    with pytest.raises(UnsafePathError, match=r"^MyOutlet refused a path: its metadata 'K'"):
        folder.resolve("../y.txt", key="K")


def test_file_outlet_constructor_refuses_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"default_filepath=...\) must not contain a NUL"):
        FileOutlet("a\x00b")
    with pytest.raises(ValueError, match=r"default_filepath=...\) must be a file"):
        FileOutlet(tmp_path)
    with pytest.raises(ValueError, match=r"default_encoding=...\): unknown encoding 'utf-99'"):
        FileOutlet(tmp_path / "x.txt", default_encoding="utf-99")
    with pytest.raises(TypeError, match=r"FileOutlet\(json_lines=...\) must be True or False"):
        FileOutlet(tmp_path / "x.txt", json_lines="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"PrintOutlet\(skip_update=...\) must be True or"):
        PrintOutlet(skip_update="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"FILE_ENCODING'\): unknown encoding"):
        FileOutlet(tmp_path / "x.txt").push([Record(1, {FileOutlet.FILE_ENCODING: "nope"})], U)
    assert not os.listdir(tmp_path)
