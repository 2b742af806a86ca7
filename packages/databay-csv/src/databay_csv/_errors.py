"""Errors raised by databay-csv; all derive from :class:`databay.errors.DatabayError`.

Each says whether retrying may help through its ``transient`` attribute, which
:class:`databay.delivery.RetryPolicy` reads: bad records, paths and headers are
permanent (:class:`~databay.errors.PermanentError`); a failed write is transient when
its cause may pass (a full disk, an I/O error, too many open files...) and permanent when
it will not (permission denied, a read-only file system, a folder where a file should be).
"""

from __future__ import annotations

import errno as _errno
from typing import Any

from databay.errors import DatabayError, PermanentError, UnsafePathError

__all__ = [
    "CsvError",
    "CsvHeaderError",
    "CsvInletError",
    "CsvPathError",
    "CsvPayloadError",
    "CsvRecordError",
    "CsvWriteError",
]


#: errno values of write failures that may pass: retrying later can succeed.
TRANSIENT_ERRNOS = frozenset(
    getattr(_errno, name) for name in (
        "ENOSPC", "EDQUOT", "EIO", "EAGAIN", "EWOULDBLOCK", "EINTR", "EBUSY", "EMFILE",
        "ENFILE", "ENOMEM", "ETIMEDOUT", "ESTALE", "ENOLCK", "ETXTBSY",
    ) if hasattr(_errno, name)
)


class CsvError(DatabayError):
    """Base class of databay-csv's errors."""

    transient = False


class CsvRecordError(CsvError, PermanentError, ValueError):
    """A record cannot be written (its keys do not fit the header, a cell cannot be
    formatted or encoded, its metadata is invalid). ``record`` is the record and
    ``path`` the file it was meant for (None when unknown)."""

    def __init__(self, message: str, *, record: Any = None, path: str | None = None) -> None:
        super().__init__(message)
        self.record = record
        self.path = path


class CsvPayloadError(CsvRecordError, TypeError):
    """A record's payload is of a type CsvOutlet cannot write."""


class CsvPathError(CsvRecordError, UnsafePathError):
    """A record's ``CsvOutlet.CSV_FILE`` metadata is not a path inside the outlet's
    ``base_dir`` (see :class:`databay.paths.BaseFolder`); ``path`` is the value found,
    and ``key``, ``link``, ``base`` and ``reason`` are as on
    :class:`~databay.errors.UnsafePathError`."""

    def __init__(self, message: str, *, record: Any = None, path: Any = None,
                 key: str | None = None, link: str | None = None, base: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message, record=record, path=path)
        self.key = key
        self.link = link
        self.base = base
        self.reason = reason


class CsvHeaderError(CsvError, PermanentError, ValueError):
    """An existing file's header does not fit the outlet's configuration."""


class CsvWriteError(CsvError, OSError):
    """A file could not be read or written; ``path`` names it and ``errno`` is the
    cause's error number (None when unknown).

    ``transient`` is True when ``errno`` is one of :data:`TRANSIENT_ERRNOS` (a full disk
    or quota, an I/O error, too many open files, a busy or stale file...) or unknown, and
    False otherwise (permission denied, read-only file system, not a directory...), so a
    retry policy retries a full disk but sends a write that cannot work to the
    dead-letter outlet at once."""

    def __init__(self, message: str, *, path: str | None = None,
                 errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno
        self.transient = errno is None or errno in TRANSIENT_ERRNOS


class CsvInletError(CsvError, PermanentError, ValueError):
    """CsvInlet could not read its file (for example, bytes invalid in its encoding)."""
