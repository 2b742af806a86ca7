"""Errors of databay-mongo (no pymongo import here: importing the package stays cheap)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from databay.errors import DatabayError, TransferError

if TYPE_CHECKING:
    from databay.record import Record

__all__ = ["MongoCollectionNotFound", "MongoPayloadError", "MongoReadError",
           "MongoStateStoreError", "MongoWriteError"]


class MongoWriteError(TransferError):
    """Records of a push were not written (or could not be confirmed as written).

    ``records`` are the records concerned, ``failures`` pairs each of them with the
    reason, ``undelivered`` how many records of the push did not go in (all of them when
    the push was refused before writing) and ``written`` how many documents did go in.

    ``transient`` tells a link's :class:`~databay.delivery.RetryPolicy` whether pushing
    the records again may help: True when some of them failed for a reason that may pass
    (connection lost, time-out, primary stepped down, retryable write error) and the
    outlet's own retries ran out; False when every failure is final (invalid document,
    duplicate key, refused credentials, ...).
    """

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        failures: Sequence[tuple[Record, str]] = (),
        written: int = 0,
        undelivered: int | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message, undelivered=len(failures) if undelivered is None
                         else undelivered)
        self.failures: list[tuple[Record, str]] = list(failures)
        self.records: list[Record] = [record for record, _ in self.failures]
        self.written = written
        if transient is not None:
            self.transient = transient


class MongoPayloadError(MongoWriteError, TypeError):
    """A record's payload is not a document (and no ``wrap_key`` was given), or its
    idempotency key cannot be derived. Raised before anything of the push is written.
    Permanent: pushing the same records again fails the same way."""

    transient = False


class MongoCollectionNotFound(MongoWriteError, LookupError):
    """A record names no usable collection: the outlet has no default collection and
    the record has no ``MongoOutlet.MONGODB_COLLECTION`` metadata, or the name given
    is not a valid collection name. Raised before anything of the push is written.
    Permanent."""

    transient = False


class MongoReadError(DatabayError):
    """MongoInlet could not read from the server; its position is unchanged, so the next
    pull asks for the same documents again. ``transient`` says whether the cause may pass
    (connection lost, time-out) or not (refused credentials, invalid query)."""

    transient: bool = True

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class MongoStateStoreError(DatabayError):
    """A :class:`~databay_mongo.MongoStateStore` could not read or commit a cursor (server
    unreachable, refused credentials, ...); the message never shows credentials."""
