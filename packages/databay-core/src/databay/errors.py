"""Exceptions raised by databay.

Every error that databay defines derives from :class:`DatabayError`. The names the
original Databay used (``MissingLinkError``, ``InvalidNodeError``, ...) are kept, and
keep their original base classes so that existing ``except`` clauses still match.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DatabayError",
    "ImplementationError",
    "InvalidNodeError",
    "MissingLinkError",
    "PermanentError",
    "PluginNotFoundError",
    "RecordCopyError",
    "ScheduleIntervalError",
    "TransferError",
    "TransientError",
    "UnsafePathError",
    "UnsupportedScheduleError",
]


class DatabayError(Exception):
    """Base class of every error databay defines."""


class MissingLinkError(DatabayError, RuntimeError):
    """A link was expected in a planner but is not there."""


class ImplementationError(DatabayError, RuntimeError):
    """A subclass does not implement what its base class requires."""


class InvalidNodeError(DatabayError, RuntimeError, ValueError):
    """A node was added to a link twice, or removed from a link that does not hold it."""


class ScheduleIntervalError(DatabayError, ValueError):
    """A planner cannot honour a link's interval."""


class UnsupportedScheduleError(ScheduleIntervalError):
    """A planner (or code written for intervals only) cannot run a link's calendar
    schedule; the message names the link and its schedule."""


class RecordCopyError(DatabayError, TypeError):
    """A record could not be copied for an outlet (``Link(copy_records=True)``)."""


class PluginNotFoundError(DatabayError, ImportError):
    """A name that a known distribution provides was asked for, but it is not installed."""


class TransferError(DatabayError):
    """One or more outlets refused records during a transfer.

    ``undelivered`` counts the records that did not reach at least one outlet.
    """

    def __init__(self, message: str, *, undelivered: int = 0) -> None:
        super().__init__(message)
        self.undelivered = undelivered


class TransientError(DatabayError):
    """A failure that may pass: retrying the same operation later can succeed.

    Connectors raise (subclasses of) it, or set ``transient = True`` on any exception,
    to tell retry policies that a retry makes sense.
    """

    transient = True


class PermanentError(DatabayError):
    """A failure that retrying cannot fix (bad data, refused credentials...)."""

    transient = False


class UnsafePathError(PermanentError, ValueError):
    """A path taken from record metadata would leave its outlet's folder (absolute,
    with ``..``, through a symbolic link) or is not a usable path (not a str, empty, a
    NUL byte). Raised by :class:`databay.paths.BaseFolder`; permanent, so retry policies
    do not retry it and a dead-letter outlet receives the batch at once.

    ``path`` is the value found, ``key`` the metadata key, ``link`` the link's tags
    joined by ``'.'`` (None when unknown), ``record`` the record, ``base`` the folder
    and ``reason`` what is wrong with the path.
    """

    def __init__(self, message: str, *, path: Any = None, key: str | None = None,
                 link: str | None = None, record: Any = None, base: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.key = key
        self.link = link
        self.record = record
        self.base = base
        self.reason = reason
