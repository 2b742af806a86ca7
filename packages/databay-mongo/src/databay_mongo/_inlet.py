"""MongoInlet: pulls the documents added to a collection since the last pull."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bson import json_util
from databay.inlet import Inlet
from pymongo.errors import PyMongoError

from databay_mongo._connection import ClientHolder, Connection, check_name
from databay_mongo._errors import MongoReadError
from databay_mongo._outlet import is_transient

if TYPE_CHECKING:
    from databay.link import Update
    from pymongo import MongoClient
    from pymongo.collection import Collection

__all__ = ["MongoInlet"]

_LOGGER = logging.getLogger("databay.MongoInlet")


class MongoInlet(Inlet):
    """Each pull returns the documents of a collection whose ``field`` is greater than
    the largest value seen so far (its :attr:`position`), in ascending ``field`` order,
    one record per document.

    The default field, ``_id``, suits ObjectIds created by one writer; with several
    writers, ObjectIds from the same second may arrive out of order, so choose a field
    that the writers make strictly increasing (a sequence number, a timestamp set by the
    server). Documents without ``field`` are never returned.

    :param database_name: the database to read.
    :param collection: the collection to read.
    :param host: host name, list of hosts, or URI, as ``pymongo.MongoClient`` takes it.
    :param port: port number.
    :param metadata: the inlet's global metadata.
    :param uri: MongoDB connection string (default: the ``MONGODB_URI`` environment
        variable when ``host``/``port`` are not given either).
    :param field: the increasing field that tells new documents from old ones.
    :param filter: only documents matching this query are returned.
    :param projection: fields to return (a list of names or a projection dict); ``field``
        is read to track the position but dropped from the documents when the
        projection leaves it out.
    :param batch_size: documents fetched per round trip.
    :param max_documents: most documents one pull returns (None: all new ones); the rest
        come with the next pulls.
    :param start_after: the initial position: only documents with ``field`` greater than
        this are returned (default: from the beginning).
    :param checkpoint_key: the key of this inlet's cursor in a link's state store (see
        :attr:`databay.Inlet.checkpoint_key`); None keys it by the inlet's position.
    :param stream: pull returns a generator instead of a list: the link reads the
        documents in chunks of its ``batch_size`` and pushes each chunk before reading on,
        so a pull of millions of documents stays in bounded memory; with a state store,
        the position is committed after each delivered chunk.
    :param client_options: any other keyword goes to ``pymongo.MongoClient``.

    Checkpoints: :attr:`cursor` is the position in MongoDB Extended JSON (relaxed), which
    a link's state store can save, and :meth:`seek` takes it back, so a link with
    ``state_store=...`` resumes after a restart and re-reads a batch it could not
    deliver.
    """

    def __init__(
        self,
        database_name: str = "databay",
        collection: str = "default_collection",
        host: str | Sequence[str] | None = None,
        port: int | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        uri: str | None = None,
        field: str = "_id",
        filter: Mapping[str, Any] | None = None,
        projection: Mapping[str, Any] | Sequence[str] | None = None,
        batch_size: int = 1000,
        max_documents: int | None = None,
        start_after: Any = None,
        checkpoint_key: str | None = None,
        stream: bool = False,
        **client_options: Any,
    ) -> None:
        super().__init__(metadata, checkpoint_key=checkpoint_key)
        name = type(self).__name__
        self.database_name: str = check_name(database_name, name, "database_name",
                                             what="database")
        self.collection: str = check_name(collection, name, "collection", what="collection")
        self._connection = Connection(name, host, port, uri, client_options)
        if not isinstance(field, str) or not field or field.startswith("$"):
            raise ValueError(f"{name}(field=...) must be a field name, got {field!r}")
        self.field = field
        if filter is not None and not isinstance(filter, Mapping):
            raise TypeError(f"{name}(filter=...) must be a query dict or None, "
                            f"got {type(filter).__name__}: {filter!r}")
        self.filter: dict[str, Any] = dict(filter or {})
        self.projection, self._strip = _projection(projection, field, name)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"{name}(batch_size=...) must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        if max_documents is not None and (isinstance(max_documents, bool)
                                          or not isinstance(max_documents, int)
                                          or max_documents < 1):
            raise ValueError(f"{name}(max_documents=...) must be None or a positive int, "
                             f"got {max_documents!r}")
        self.max_documents = max_documents
        if not isinstance(stream, bool):
            raise TypeError(f"{name}(stream=...) must be True or False, got {stream!r}")
        self.stream = stream
        self._position = start_after
        self._start_after = start_after
        self._holder = ClientHolder(self._connection)
        self._pull_lock = threading.Lock()

    @property
    def position(self) -> Any:
        """The largest ``field`` value pulled so far (None before the first document).
        Assignable, e.g. to resume from a value saved elsewhere."""
        return self._position

    @position.setter
    def position(self, value: Any) -> None:
        with self._pull_lock:
            self._position = value

    @property
    def cursor(self) -> Any:
        """The :attr:`position` as JSON: ``None``, a number, a string, or MongoDB Extended
        JSON such as ``{"$oid": "..."}`` for an ObjectId or ``{"$date": "..."}`` for a
        datetime (bson's relaxed mode)."""
        return _to_json(self._position)

    def seek(self, cursor: Any) -> None:
        """Continue after ``cursor``, a value :attr:`cursor` returned (or any position
        value, e.g. an ObjectId). None starts over as configured (``start_after``)."""
        value = self._start_after if cursor is None else _from_json(cursor)
        with self._pull_lock:
            self._position = value

    @property
    def client(self) -> MongoClient[dict[str, Any]] | None:
        """The pymongo client while connected, else None."""
        return self._holder.client

    def connect(self) -> None:
        """Create the client (pymongo connects in the background, on first use)."""
        self._holder.get()

    def disconnect(self) -> None:
        """Close the client. A later pull connects again."""
        self._holder.close()

    def on_start(self) -> None:
        self.connect()

    def on_shutdown(self) -> None:
        self.disconnect()

    def _collection(self) -> Collection[dict[str, Any]]:
        if not self.active:
            self.try_start()  # a pull before start connects on demand (and stays active)
        return self._holder.get()[self.database_name][self.collection]

    def query(self) -> dict[str, Any]:
        """The query the next pull sends."""
        position = self._position
        condition = {"$exists": True} if position is None else {"$gt": position}
        if not self.filter:
            return {self.field: condition}
        if self.field not in self.filter:
            return {**self.filter, self.field: condition}
        return {"$and": [self.filter, {self.field: condition}]}

    def pull(self, update: Update) -> list[dict[str, Any]] | Iterator[dict[str, Any]]:
        """The new documents, oldest first (a generator with ``stream=True``); raises
        :class:`MongoReadError` (position unchanged) when the server cannot be read."""
        collection = self._collection()
        if self.stream:
            return self._stream(collection, update)
        with self._pull_lock:
            try:
                cursor = collection.find(self.query(), self.projection,
                                         sort=[(self.field, 1)], batch_size=self.batch_size,
                                         limit=self.max_documents or 0)
                docs = list(cursor)
            except PyMongoError as exc:
                raise MongoReadError(self._connection.redact(
                    f"{self!r}: reading {self.database_name}.{self.collection} failed "
                    f"({type(exc).__name__}: {exc}); the next pull asks for the same "
                    f"documents again"), transient=is_transient(exc)) from None
            if docs:
                self._position = docs[-1][self.field]
                if self._strip:
                    for doc in docs:
                        doc.pop(self.field, None)
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s: %s pulled %d document(s)", update, self, len(docs))
        return docs

    def _stream(self, collection: Collection[dict[str, Any]], update: Update
                ) -> Iterator[dict[str, Any]]:
        """The new documents one by one; :attr:`position` follows each one yielded, so
        the cursor the link commits after a chunk is that chunk's last document."""
        field, strip = self.field, self._strip
        count = 0
        try:
            cursor = collection.find(self.query(), self.projection, sort=[(field, 1)],
                                     batch_size=self.batch_size,
                                     limit=self.max_documents or 0)
        except PyMongoError as exc:
            raise self._read_error(exc) from None
        try:
            while True:
                try:
                    doc = next(cursor)
                except StopIteration:
                    break
                except PyMongoError as exc:
                    raise self._read_error(exc) from None
                self._position = doc[field]
                if strip:
                    doc.pop(field, None)
                count += 1
                yield doc
        finally:
            cursor.close()
            if _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.debug("%s: %s streamed %d document(s)", update, self, count)

    def _read_error(self, exc: PyMongoError) -> MongoReadError:
        return MongoReadError(self._connection.redact(
            f"{self!r}: reading {self.database_name}.{self.collection} failed "
            f"({type(exc).__name__}: {exc}); the next pull asks for the documents after "
            f"the last one delivered"), transient=is_transient(exc))

    def __repr__(self) -> str:
        where = self._connection.describe()
        return (f"{type(self).__name__}(database_name={self.database_name!r}, "
                f"collection={self.collection!r}{', ' + where if where else ''})")


def _to_json(value: Any) -> Any:
    """``value`` as plain JSON data (relaxed Extended JSON for BSON types)."""
    if value is None or type(value) in (str, int, bool):
        return value
    return json.loads(json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS))


def _from_json(cursor: Any) -> Any:
    """The position a :func:`_to_json` value stands for; other values are taken as is."""
    if not isinstance(cursor, (dict, list)):
        return cursor
    try:
        return json_util.loads(json.dumps(cursor))
    except Exception as exc:  # bad JSON, or bson refusing an $oid, $date, ...
        raise ValueError(f"MongoInlet.seek(cursor=...) must be a value MongoInlet.cursor "
                         f"returned (JSON, e.g. {{'$oid': '...'}}) or a position value, "
                         f"got {cursor!r}: {exc}") from None


def _projection(
    projection: Any, field: str, owner: str
) -> tuple[dict[str, Any] | None, bool]:
    """The projection to send (always returning ``field``), and whether ``field`` must be
    dropped from the documents afterwards."""
    if projection is None:
        return None, False
    if isinstance(projection, Mapping):
        spec = dict(projection)
    elif isinstance(projection, (list, tuple)) and all(isinstance(p, str) for p in projection):
        spec = dict.fromkeys(projection, 1)
    else:
        raise TypeError(f"{owner}(projection=...) must be a dict, a list of field names or "
                        f"None, got {type(projection).__name__}: {projection!r}")
    if field in spec:
        if spec[field]:
            return spec, False
        del spec[field]  # excluded by the user, but needed to track the position
        return spec, True
    others = [v for k, v in spec.items() if k != "_id"]
    inclusive = any(others) or (not others and bool(spec.get("_id")))
    if field == "_id" or not inclusive:
        return spec, False  # returned anyway: _id always, others under an exclusion
    spec[field] = 1
    return spec, True
