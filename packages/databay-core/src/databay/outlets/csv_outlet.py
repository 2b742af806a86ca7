"""Compatibility path of the original Databay: provides ``CsvOutlet`` from its plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from databay._namespace import make_getattr as _make_getattr

if TYPE_CHECKING:  # types only: the plugin's own classes
    from databay_csv import CsvOutlet as CsvOutlet
else:
    __getattr__, __dir__ = _make_getattr("outlet", __name__, globals(), only="CsvOutlet")
