from __future__ import annotations

from pathlib import Path

import pytest
from core_nodes import CollectOutlet
from databay import Link, Record, Update
from databay.inlets import FileInlet, NullInlet, RandomIntInlet  # type: ignore[attr-defined]
from databay.inlets.file_inlet import FileInletMode
from databay.outlets import FileOutlet, NullOutlet, PrintOutlet  # type: ignore[attr-defined]

U = Update(["t"], 0)


def test_null_inlet_and_outlet() -> None:
    assert NullInlet().pull(U) == []
    assert NullOutlet().push([Record(1)], U) is None


def test_random_int_inlet_bounds() -> None:
    inlet = RandomIntInlet(3, 4)
    assert {inlet.pull(U) for _ in range(200)} == {3, 4}
    with pytest.raises(ValueError, match="min must not exceed max"):
        RandomIntInlet(5, 1)
    with pytest.raises(TypeError, match=r"RandomIntInlet\(max=...\) must be an int"):
        RandomIntInlet(0, "9")  # type: ignore[arg-type]
    assert RandomIntInlet(metadata={"a": 1}).metadata == {"a": 1}


def test_print_outlet(capsys: pytest.CaptureFixture[str]) -> None:
    records = [Record({"v": 1})]
    PrintOutlet().push(records, U)
    PrintOutlet(only_payload=True).push(records, U)
    PrintOutlet(True, True).push(records, U)
    assert capsys.readouterr().out.splitlines() == [
        "t.0 Record(payload={'v': 1}, metadata={})", "t.0 {'v': 1}", "{'v': 1}",
    ]


def test_file_inlet_line_mode_without_on_start(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("a\nb\n")
    inlet = FileInlet(path)
    outlet = CollectOutlet()
    link = Link(inlet, outlet, 1)
    for _ in range(3):
        link.transfer()
    assert [r.payload for r in outlet.records] == ["a\n", "b\n"], "no '' record at EOF"
    with path.open("a") as f:
        f.write("c\n")
    link.transfer()
    assert outlet.records[-1].payload == "c\n"
    assert inlet.active  # opened on demand counts as started...
    link.on_shutdown()
    assert not inlet.active and inlet._file is None  # ...so the link's shutdown closes it


def test_file_inlet_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("whole\nfile\n")
    inlet = FileInlet(path, FileInletMode.FILE)
    assert inlet.pull(U) == "whole\nfile\n" == inlet.pull(U)
    with pytest.raises(ValueError, match="FileInletMode.LINE or FileInletMode.FILE"):
        FileInlet(path, "line")  # type: ignore[arg-type]


def test_file_outlet_per_record_paths_and_w_mode(tmp_path: Path) -> None:
    default = tmp_path / "sub" / "out.txt"
    other = tmp_path / "other.txt"
    outlet = FileOutlet(default, base_dir=tmp_path)
    outlet.push([Record(1), Record(2, {FileOutlet.FILEPATH: "other.txt"})], U)
    outlet.push([Record(3)], U)
    assert default.read_text() == "1\n3\n" and other.read_text() == "2\n"
    w = FileOutlet(default, "w")
    w.push([Record("x"), Record("y")], U)
    assert default.read_text() == "x\ny\n", "every record of a 'w' push is kept"
    assert FileOutlet.FILE_MODE == "FileOutlet.FILE_MODE"
    with pytest.raises(ValueError, match="file mode must be one of"):
        FileOutlet(default, "r")
    with pytest.raises(ValueError, match="file mode must be one of"):
        outlet.push([Record(1, {FileOutlet.FILE_MODE: "rb"})], U)


def test_builtins_in_namespaces() -> None:
    import databay.inlets
    import databay.outlets

    assert {"FileInlet", "NullInlet", "RandomIntInlet"} <= set(databay.inlets.available())
    assert {"FileOutlet", "NullOutlet", "PrintOutlet"} <= set(databay.outlets.available())


def test_file_inlet_and_state_store_refuse_bad_paths_at_construction(tmp_path: Path) -> None:
    from databay.delivery import FileStateStore

    with pytest.raises(ValueError, match=r"FileInlet\(filepath=...\) must not contain a NUL"):
        FileInlet("a\x00b")
    with pytest.raises(ValueError, match=r"FileInlet\(filepath=...\) must be a file, but"):
        FileInlet(tmp_path)
    with pytest.raises(ValueError, match=r"FileInlet\(encoding=...\): unknown encoding 'x-9'"):
        FileInlet(tmp_path / "in.txt", encoding="x-9")
    with pytest.raises(ValueError, match=r"FileStateStore\(path=...\) must not contain a NUL"):
        FileStateStore("state\x00.json")
