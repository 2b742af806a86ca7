"""SQL databases for databay, on SQLAlchemy 2 Core: :class:`SqlOutlet` writes records
as rows, :class:`SqlInlet` reads a table or query (incrementally with a cursor column),
:class:`SqlStateStore` keeps links' checkpoints. SQLAlchemy is imported when one of the
classes is first used, not before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from databay_sql.__about__ import __version__
from databay_sql._errors import (
    SqlConnectionError,
    SqlConstraintError,
    SqlReadError,
    SqlStateStoreError,
    SqlTableError,
    SqlWriteError,
)

if TYPE_CHECKING:
    from databay_sql._inlet import SqlInlet
    from databay_sql._outlet import SqlOutlet
    from databay_sql._state import SqlStateStore

__all__ = [
    "SqlConnectionError",
    "SqlConstraintError",
    "SqlInlet",
    "SqlOutlet",
    "SqlReadError",
    "SqlStateStore",
    "SqlStateStoreError",
    "SqlTableError",
    "SqlWriteError",
    "__version__",
]

_LAZY = {"SqlOutlet": "databay_sql._outlet", "SqlInlet": "databay_sql._inlet",
         "SqlStateStore": "databay_sql._state"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'databay_sql' has no attribute {name!r}")
    import importlib

    obj = getattr(importlib.import_module(module), name)
    globals()[name] = obj
    return obj


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
