"""Compatibility path of the original Databay: ``MongoOutlet`` (and the original's
``MongoCollectionNotFound``) from their plugin."""

from __future__ import annotations

from databay._namespace import make_getattr as _make_getattr

__getattr__, __dir__ = _make_getattr("outlet", __name__, globals(), only="MongoOutlet",
                                     companions={"MongoCollectionNotFound": "MongoOutlet"})
