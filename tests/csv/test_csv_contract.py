"""CsvOutlet and CsvInlet keep the contract of databay.testing."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

from databay import Outlet, Record
from databay.testing import MODES, check_inlet, check_outlet
from databay_csv import CsvInlet, CsvOutlet

ALL_INLET_CHECKS = ["repr", "metadata", "new_record", "lifecycle",
                    *(f"pull[{m}]" for m in MODES), "checkpoint"]
ALL_OUTLET_CHECKS = ["repr", "init", "lifecycle",
                     *(f"{c}[{m}]" for m in MODES for c in ("empty_batch", "push", "delivery"))]


def test_csv_outlet_contract(tmp_path: Path) -> None:
    counter = itertools.count()

    def new_outlet() -> CsvOutlet:
        return CsvOutlet(tmp_path / f"out{next(counter)}.csv")

    def rows(outlet: Outlet) -> list[dict[str, str]]:
        assert isinstance(outlet, CsvOutlet)
        with open(outlet.default_filepath, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def as_written(payload: dict[str, Any]) -> dict[str, str]:
        return {k: str(v) for k, v in payload.items()}  # CSV reads back strings

    def in_order(outlet: Outlet, records: list[Record]) -> None:
        assert rows(outlet) == [as_written(r.payload) for r in records]
        assert len(records) == 6  # 3 payloads, 2 transfers

    report = check_outlet(new_outlet, read_back=rows, as_written=as_written, verify=in_order)
    assert report.passed == ALL_OUTLET_CHECKS


def test_csv_inlet_contract(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,name\n1,a\n2,b\n", encoding="utf-8")

    def rows_once(records: list[Record]) -> None:
        # each mode gets a new inlet: the file's rows once, then nothing new
        assert [r.payload for r in records] == [{"id": "1", "name": "a"},
                                                {"id": "2", "name": "b"}]

    def factory(metadata: dict[str, Any]) -> CsvInlet:
        return CsvInlet(path, metadata=metadata)

    report = check_inlet(factory, transfers=3, verify=rows_once)
    assert report.passed == ALL_INLET_CHECKS
