"""Compatibility path of the original Databay: provides ``MongoOutlet`` from its plugin."""

from __future__ import annotations

from databay._namespace import make_getattr as _make_getattr

__getattr__, __dir__ = _make_getattr("outlet", __name__, globals(), only="MongoOutlet")
