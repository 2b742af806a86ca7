"""databay-core's own inlets and outlets keep the contract of databay.testing."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from databay import Inlet, Outlet, Record
from databay.inlets import FileInlet, NullInlet, RandomIntInlet
from databay.inlets.file_inlet import FileInletMode
from databay.outlets import FileOutlet, NullOutlet, PrintOutlet
from databay.testing import (
    MODES,
    InletContract,
    OutletContract,
    check_inlet,
    check_outlet,
)

ALL_INLET_CHECKS = ["repr", "metadata", "new_record", "lifecycle",
                    *(f"pull[{m}]" for m in MODES)]
CHECKPOINTED = [*ALL_INLET_CHECKS, "checkpoint"]
ALL_OUTLET_CHECKS = ["repr", "init", "lifecycle",
                     *(f"{c}[{m}]" for m in MODES for c in ("empty_batch", "push", "delivery"))]


def test_null_inlet() -> None:
    report = check_inlet(NullInlet)
    assert report.passed == ALL_INLET_CHECKS
    assert report.skipped == {"checkpoint": "NullInlet does not support checkpoints (it does "
                                            "not override seek)"}
    assert all(records == [] for records in report.records.values())


def test_random_int_inlet() -> None:
    def payloads_in_range(records: list[Record]) -> None:
        assert all(3 <= r.payload <= 5 for r in records)

    report = check_inlet(lambda metadata: RandomIntInlet(3, 5, metadata=metadata),
                         min_records=1, transfers=3, verify=payloads_in_range)
    assert report.passed == ALL_INLET_CHECKS
    assert [len(r) for r in report.records.values()] == [3, 3, 3]


def test_file_inlet_line_mode(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("one\ntwo\nthree\n")
    report = check_inlet(lambda metadata: FileInlet(path, metadata=metadata), transfers=4)
    assert report.passed == CHECKPOINTED
    # each check gets a new inlet, which reads from the first line; past the end, no record
    for records in report.records.values():
        assert [r.payload for r in records] == ["one\n", "two\n", "three\n"]


def test_file_inlet_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "whole.txt"
    path.write_text("all of it\n")
    report = check_inlet(
        lambda metadata: FileInlet(path, FileInletMode.FILE, metadata=metadata),
        min_records=1,
    )
    assert report.passed == CHECKPOINTED  # seek does nothing: every pull reads it all
    assert {r.payload for rs in report.records.values() for r in rs} == {"all of it\n"}


def test_null_outlet() -> None:
    report = check_outlet(NullOutlet, unverified="NullOutlet discards every record")
    assert report.passed == [c for c in ALL_OUTLET_CHECKS if not c.startswith("delivery")]
    assert report.skipped == {f"delivery[{m}]": "not verified: NullOutlet discards every "
                                                "record" for m in MODES}


def test_print_outlet(capsys: pytest.CaptureFixture[str]) -> None:
    def printed(outlet: Outlet) -> list[str]:
        return capsys.readouterr().out.splitlines()

    report = check_outlet(lambda: PrintOutlet(only_payload=True, skip_update=True),
                          read_back=printed, as_written=str)
    assert report.passed == ALL_OUTLET_CHECKS


def file_lines(outlet: Outlet) -> list[str]:
    assert isinstance(outlet, FileOutlet)
    return Path(outlet.default_filepath).read_text().splitlines()


def test_file_outlet(tmp_path: Path) -> None:
    counter = itertools.count()

    def new_outlet() -> FileOutlet:
        return FileOutlet(tmp_path / f"out{next(counter)}.txt")

    def in_order(outlet: Outlet, records: list[Record]) -> None:
        assert file_lines(outlet) == [str(r.payload) for r in records]
        assert len(records) == 6  # 3 payloads, 2 transfers

    report = check_outlet(new_outlet, read_back=file_lines, as_written=str, verify=in_order)
    assert report.passed == ALL_OUTLET_CHECKS


# The same checks as one test each, through the base classes.


class TestNullInletContract(InletContract):
    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        return NullInlet(metadata)


class TestRandomIntInletContract(InletContract):
    min_records = 1

    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        return RandomIntInlet(0, 9, metadata=metadata)

    def verify_records(self, records: list[Record]) -> None:
        assert len(records) == self.transfers
        assert all(0 <= r.payload <= 9 for r in records)


class TestFileInletContract(InletContract):
    @pytest.fixture(autouse=True)
    def _file(self, tmp_path: Path) -> None:
        self.path = tmp_path / "in.txt"
        self.path.write_text("a\nb\nc\n")

    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        return FileInlet(self.path, metadata=metadata)

    def verify_records(self, records: list[Record]) -> None:
        assert [r.payload for r in records] == ["a\n", "b\n"]


class TestFileOutletContract(OutletContract):
    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.made = 0

    def make_outlet(self) -> Outlet:
        self.made += 1
        return FileOutlet(self.dir / f"out{self.made}.txt")

    def read_back(self, outlet: Outlet) -> list[str]:
        return file_lines(outlet)

    def as_written(self, payload: Any) -> str:
        return str(payload)


class TestNullOutletContract(OutletContract):
    payloads = ("x", 1, None, {"nested": [1, 2]})
    unverified = "NullOutlet discards every record"

    def make_outlet(self) -> Outlet:
        return NullOutlet()


class TestPrintOutletContract(OutletContract):
    @pytest.fixture(autouse=True)
    def _capture(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def make_outlet(self) -> Outlet:
        return PrintOutlet(only_payload=True, skip_update=True)

    def read_back(self, outlet: Outlet) -> list[str]:
        return self.capsys.readouterr().out.splitlines()

    def as_written(self, payload: Any) -> str:
        return str(payload)
