"""Compatibility path of the original Databay: provides ``HttpInlet`` from its plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from databay._namespace import make_getattr as _make_getattr

if TYPE_CHECKING:  # types only: the plugin's own classes
    from databay_http import HttpInlet as HttpInlet
else:
    __getattr__, __dir__ = _make_getattr("inlet", __name__, globals(), only="HttpInlet")
