"""Registers CsvOutlet and CsvInlet with databay (lazily: nothing is imported here)."""

from __future__ import annotations

from databay.hookspecs import hookimpl


@hookimpl
def databay_register_outlets() -> list[str]:
    return ["databay_csv._outlet:CsvOutlet"]


@hookimpl
def databay_register_inlets() -> list[str]:
    return ["databay_csv._inlet:CsvInlet"]
