"""Compatibility path of the original Databay: ``MongoOutlet`` (and the original's
``MongoCollectionNotFound``) from their plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from databay._namespace import make_getattr as _make_getattr

if TYPE_CHECKING:  # types only: the plugin's own classes
    from databay_mongo import MongoCollectionNotFound as MongoCollectionNotFound
    from databay_mongo import MongoOutlet as MongoOutlet
else:
    __getattr__, __dir__ = _make_getattr("outlet", __name__, globals(), only="MongoOutlet",
                                         companions={"MongoCollectionNotFound": "MongoOutlet"})
