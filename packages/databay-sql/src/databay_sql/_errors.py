"""Errors of databay-sql (no SQLAlchemy import here: importing the package stays cheap)."""

from __future__ import annotations

from databay.errors import DatabayError, PermanentError, TransferError, TransientError

__all__ = ["SqlConnectionError", "SqlConstraintError", "SqlReadError", "SqlStateStoreError",
           "SqlTableError", "SqlWriteError"]


class SqlWriteError(TransferError):
    """A push's batch was not written; its transaction was rolled back, so none of the
    batch's rows went in (``undelivered`` is the batch's size). ``transient`` tells the
    link's retry policy whether pushing the batch again may help."""

    transient: bool = False


class SqlConnectionError(SqlWriteError, TransientError):
    """The database could not be reached, the connection was lost, or a time-out or lock
    ran out: retrying later may succeed (a link's ``RetryPolicy`` retries it)."""

    transient = True


class SqlConstraintError(SqlWriteError, PermanentError):
    """The database refused the batch: a constraint (unique, not null, foreign key,
    check), a value of the wrong type, a missing table or column. Pushing the same batch
    again fails the same way, so a dead-letter outlet receives it at once."""

    transient = False


class SqlTableError(SqlConstraintError, ValueError):
    """A record's metadata names a table that is not a plain SQL name (see
    ``SqlOutlet.TABLE``), or the table does not exist and ``create_table`` is off."""


class SqlReadError(DatabayError):
    """A pull failed; ``transient`` says whether it may pass (connection lost)."""

    transient: bool = False

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SqlStateStoreError(DatabayError):
    """Reading or committing a cursor in a :class:`SqlStateStore` failed."""

    transient: bool = False

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
