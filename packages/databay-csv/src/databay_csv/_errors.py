"""Errors raised by databay-csv; all derive from :class:`databay.errors.DatabayError`."""

from __future__ import annotations

from typing import Any

from databay.errors import DatabayError

__all__ = [
    "CsvError",
    "CsvHeaderError",
    "CsvInletError",
    "CsvPathError",
    "CsvPayloadError",
    "CsvRecordError",
    "CsvWriteError",
]


class CsvError(DatabayError):
    """Base class of databay-csv's errors."""


class CsvRecordError(CsvError, ValueError):
    """A record cannot be written (its keys do not fit the header, a cell cannot be
    formatted or encoded, its metadata is invalid). ``record`` is the record and
    ``path`` the file it was meant for (None when unknown)."""

    def __init__(self, message: str, *, record: Any = None, path: str | None = None) -> None:
        super().__init__(message)
        self.record = record
        self.path = path


class CsvPayloadError(CsvRecordError, TypeError):
    """A record's payload is of a type CsvOutlet cannot write."""


class CsvPathError(CsvRecordError):
    """A record's ``CsvOutlet.CSV_FILE`` metadata points outside the allowed folders."""


class CsvHeaderError(CsvError, ValueError):
    """An existing file's header does not fit the outlet's configuration."""


class CsvWriteError(CsvError, OSError):
    """A file could not be read or written; ``path`` names it."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class CsvInletError(CsvError, ValueError):
    """CsvInlet could not read its file (for example, bytes invalid in its encoding)."""
