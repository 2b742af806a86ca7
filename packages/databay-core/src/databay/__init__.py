"""databay: move any data from A to B on a schedule.

Inlets produce records, outlets consume them, links transfer between them on an
interval, and planners schedule links. Concrete connectors and planners come from
plugins: ``from databay.inlets import HttpInlet`` after ``pip install databay-http``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from databay import errors
from databay.__about__ import __version__
from databay.base_planner import BasePlanner
from databay.errors import (
    DatabayError,
    ImplementationError,
    InvalidNodeError,
    MissingLinkError,
    RecordCopyError,
    ScheduleIntervalError,
)
from databay.inlet import Inlet
from databay.link import Link
from databay.misc import logs as _logs
from databay.outlet import MetadataKey, Outlet
from databay.record import Record
from databay.update import TransferResult, Update

__all__ = [
    "BasePlanner",
    "DatabayError",
    "ImplementationError",
    "Inlet",
    "InvalidNodeError",
    "Link",
    "MetadataKey",
    "MissingLinkError",
    "Outlet",
    "Record",
    "RecordCopyError",
    "ScheduleIntervalError",
    "TransferResult",
    "Update",
    "__version__",
    "errors",
    "hookimpl",
]

if TYPE_CHECKING:
    from databay.hookspecs import hookimpl

_logs.install()


def __getattr__(name: str) -> Any:
    # pluggy (and the inspect module it needs) is imported only when a plugin asks for it
    if name == "hookimpl":
        from databay.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'databay' has no attribute {name!r}")
