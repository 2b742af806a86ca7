"""MongoDB for databay: :class:`MongoOutlet` writes records, :class:`MongoInlet` reads new
documents, :class:`MongoStateStore` keeps links' checkpoints. pymongo is imported when one
of the classes is first used, not before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from databay_mongo.__about__ import __version__
from databay_mongo._errors import (
    MongoCollectionNotFound,
    MongoPayloadError,
    MongoReadError,
    MongoStateStoreError,
    MongoWriteError,
)

if TYPE_CHECKING:
    from databay_mongo._inlet import MongoInlet
    from databay_mongo._outlet import MongoOutlet
    from databay_mongo._state import MongoStateStore

__all__ = [
    "MongoCollectionNotFound",
    "MongoInlet",
    "MongoOutlet",
    "MongoPayloadError",
    "MongoReadError",
    "MongoStateStore",
    "MongoStateStoreError",
    "MongoWriteError",
    "__version__",
]

_LAZY = {"MongoOutlet": "databay_mongo._outlet", "MongoInlet": "databay_mongo._inlet",
         "MongoStateStore": "databay_mongo._state"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'databay_mongo' has no attribute {name!r}")
    import importlib

    obj = getattr(importlib.import_module(module), name)
    globals()[name] = obj
    return obj


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
