"""A checkpoint state store in MongoDB: links' committed cursors in a collection, shared
by every process that reaches the server and as durable as its write concern."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from databay.delivery import StateStore
from pymongo.errors import PyMongoError

from databay_mongo._connection import ClientHolder, Connection, check_name
from databay_mongo._errors import MongoStateStoreError

__all__ = ["MongoStateStore"]


class MongoStateStore(StateStore):
    """Committed cursors as documents ``{_id: key, value: cursor, committed_at: ...}``.

    :param database_name: the database of the collection.
    :param collection: the collection holding the cursors; one per pipeline sharing a
        database, or the same one when the links' tags differ.
    :param host: where to connect, as for :class:`MongoOutlet` (by default the
        ``MONGODB_URI`` environment variable); credentials never appear in reprs or errors.
    :param port: the port, with ``host``.
    :param uri: a ``mongodb://`` URI, instead of ``host`` and ``port``.
    :param client_options: pymongo client options (timeouts, TLS, write concern ``w``...).

    The client connects on first use; :meth:`close` closes it.
    """

    def __init__(
        self,
        database_name: str = "databay",
        collection: str = "databay_state",
        host: str | Sequence[str] | None = None,
        port: int | None = None,
        *,
        uri: str | None = None,
        **client_options: Any,
    ) -> None:
        name = type(self).__name__
        self.database_name: str = check_name(database_name, name, "database_name",
                                             what="database")
        self.collection: str = check_name(collection, name, "collection", what="collection")
        self._connection = Connection(name, host, port, uri, client_options)
        self._holder = ClientHolder(self._connection)

    def _documents(self) -> Any:
        return self._holder.get()[self.database_name][self.collection]

    def _failed(self, doing: str, exc: Exception) -> MongoStateStoreError:
        return MongoStateStoreError(self._connection.redact(
            f"{self!r}: {doing} failed: {type(exc).__name__}: {exc}"))

    def get(self, key: str) -> Any:
        try:
            document = self._documents().find_one({"_id": key}, {"value": 1})
        except PyMongoError as exc:
            raise self._failed(f"reading the cursor {key!r}", exc) from None
        return None if document is None else document.get("value")

    def set(self, key: str, value: Any) -> None:
        try:
            json.dumps(value)  # the same JSON-like values as every state store
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{self!r}: cursor for {key!r} is not JSON-serialisable: "
                            f"{value!r}") from exc
        document = {"_id": key, "value": value,
                    "committed_at": datetime.datetime.now(datetime.timezone.utc)}
        try:
            self._documents().replace_one({"_id": key}, document, upsert=True)
        except OverflowError as exc:  # an int beyond BSON's 64 bits
            raise TypeError(f"{self!r}: cursor for {key!r} does not fit in BSON: "
                            f"{value!r}") from exc
        except PyMongoError as exc:
            raise self._failed(f"committing the cursor {key!r}", exc) from None

    def close(self) -> None:
        """Close the client (the next use opens a new one)."""
        self._holder.close()

    def __repr__(self) -> str:
        return (f"MongoStateStore({self._connection.describe()}, "
                f"database_name={self.database_name!r}, collection={self.collection!r})")
