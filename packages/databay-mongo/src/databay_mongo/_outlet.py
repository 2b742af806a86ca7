"""MongoOutlet: writes record payloads as MongoDB documents."""

from __future__ import annotations

import logging
import reprlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bson import encode as bson_encode
from bson.errors import InvalidDocument
from databay.outlet import MetadataKey, Outlet
from pymongo import UpdateOne
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WTimeoutError,
)

from databay_mongo._connection import ClientHolder, Connection, check_name, valid_collection_name
from databay_mongo._errors import MongoCollectionNotFound, MongoPayloadError, MongoWriteError
from databay_mongo._ids import take_ids

if TYPE_CHECKING:
    from databay.link import Update
    from databay.outlet import Processor
    from databay.record import Record
    from pymongo import MongoClient
    from pymongo.collection import Collection
    from pymongo.database import Database

__all__ = ["MongoOutlet"]

_LOGGER = logging.getLogger("databay.MongoOutlet")

_short = reprlib.Repr()
_short.maxlist = 4
_short.maxdict = 4
_short.maxstring = 60
_short.maxother = 60

#: Server error codes after which the same write may succeed when tried again
#: (MongoDB's retryable-error list plus time limits and write conflicts).
TRANSIENT_CODES = frozenset({
    6, 7, 50, 64, 89, 91, 112, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
})
_DUPLICATE_KEY = 11000
_NOTHING = object()
MAX_BATCH_SIZE = 100_000  # MongoDB's maxWriteBatchSize: larger batches need several round trips

KeySpec = str | Sequence[str] | Callable[[Mapping[str, Any]], Any]


def is_transient(exc: BaseException) -> bool:
    """Whether the write that raised ``exc`` may succeed if tried again."""
    if isinstance(exc, (ConnectionFailure, ExecutionTimeout, WTimeoutError)):
        return True
    if isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError"):
        return True
    return isinstance(exc, OperationFailure) and exc.code in TRANSIENT_CODES


class _Group:
    """The documents of one push bound for one collection (``sources``: the payloads,
    not copied yet), or one chunk of them (``docs``: the copies sent)."""

    __slots__ = ("docs", "keys", "owners", "reused", "sources", "user_ids")

    def __init__(self) -> None:
        self.sources: list[Mapping[str, Any]] = []
        self.docs: list[dict[str, Any]] = []
        self.owners: list[int] = []  # index of the record each document came from
        self.user_ids: set[int] = set()  # documents whose _id came with the payload
        self.keys: list[dict[str, Any]] = []  # upsert filters (idempotent mode)
        self.reused = False  # some _ids were given by an earlier, failed push


class MongoOutlet(Outlet):
    """Writes each record's payload to MongoDB as a document; a list payload becomes
    several documents.

    The collection is the record's ``MongoOutlet.MONGODB_COLLECTION`` metadata, else
    ``collection``. Each push groups documents by collection and writes them with
    unordered ``insert_many`` calls of at most ``batch_size`` documents (one round trip
    each). Transient server errors (connection lost, primary stepped down, timeouts) are
    retried ``retries`` times with exponential backoff from ``backoff`` up to
    ``max_backoff`` seconds; a document that an interrupted attempt did write is not
    written twice. Records that still did not go in raise :class:`MongoWriteError`, which
    lists them and says whether the failure is ``transient``.

    When the same records are pushed again after a failed push (a link's
    :class:`~databay.delivery.RetryPolicy` retrying), their documents keep the ``_id``
    they were given the first time, so documents the failed push did write are
    recognised, not duplicated. A link's retries multiply with ``retries``: each of its
    attempts makes up to ``1 + retries`` writes.

    :param database_name: the database to write to.
    :param collection: the default collection; None makes the metadata key mandatory.
    :param host: host name, list of hosts, or URI, as ``pymongo.MongoClient`` takes it.
    :param port: port number.
    :param processors: the outlet's processors.
    :param uri: MongoDB connection string; when neither it nor ``host``/``port`` is given
        the ``MONGODB_URI`` environment variable is used, else pymongo's default
        (localhost:27017). Credentials in it never appear in reprs, logs or errors.
    :param batch_size: most documents per ``insert_many`` (1 to 100,000).
    :param retries: how many times a transient failure is retried (0 for never).
    :param backoff: seconds before the first retry; doubles on each retry.
    :param max_backoff: the longest wait between retries.
    :param upsert_key: idempotent mode. A field name or list of field names that
        identify a document, or a callable ``document -> key`` whose result becomes the
        document's ``_id``. Documents are then upserted by that key (``$set``), so a
        transfer that is retried or replayed updates documents instead of duplicating
        them. Within one push, the last document with a given key wins.
    :param wrap_key: when given, a payload (or list element) that is not a document is
        stored as ``{wrap_key: payload}`` instead of raising :class:`MongoPayloadError`.
    :param client_options: any other keyword goes to ``pymongo.MongoClient`` (timeouts,
        TLS, auth, ``appname``, ...); they are validated here.
    """

    MONGODB_COLLECTION: MetadataKey = MetadataKey("MongoOutlet.MONGODB_COLLECTION")

    def __init__(
        self,
        database_name: str = "databay",
        collection: str | None = "default_collection",
        host: str | Sequence[str] | None = None,
        port: int | None = None,
        processors: Processor | Sequence[Processor] | None = None,
        *,
        uri: str | None = None,
        batch_size: int = 1000,
        retries: int = 3,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
        upsert_key: KeySpec | None = None,
        wrap_key: str | None = None,
        **client_options: Any,
    ) -> None:
        super().__init__(processors)
        name = type(self).__name__
        self.database_name: str = check_name(database_name, name, "database_name",
                                             what="database")
        self.collection: str | None = check_name(collection, name, "collection",
                                                 what="collection", allow_none=True)
        self._connection = Connection(name, host, port, uri, client_options)
        self.batch_size = _int_arg(batch_size, name, "batch_size", 1, MAX_BATCH_SIZE)
        self.retries = _int_arg(retries, name, "retries", 0, 1000)
        self.backoff = _seconds_arg(backoff, name, "backoff")
        self.max_backoff = _seconds_arg(max_backoff, name, "max_backoff")
        if self.max_backoff < self.backoff:
            raise ValueError(f"{name}(max_backoff=...) must be at least backoff={backoff!r}, "
                             f"got {max_backoff!r}")
        self.upsert_key = _check_key(upsert_key, name)
        if wrap_key is not None and (not isinstance(wrap_key, str) or not wrap_key
                                     or wrap_key.startswith("$") or "." in wrap_key):
            raise ValueError(f"{name}(wrap_key=...) must be None or a top-level field name "
                             f"(a non-empty str without '.' or a leading '$'), got {wrap_key!r}")
        self.wrap_key = wrap_key
        self._holder = ClientHolder(self._connection)
        self._db: Database[dict[str, Any]] | None = None
        self._collections: dict[str, Collection[dict[str, Any]]] = {}
        self._valid_names: set[str] = set()
        self._closing = threading.Event()
        self._db_lock = threading.Lock()
        # the _ids given to the documents of the records of the last failed push (by
        # id(record), with the record itself so that the id is not reused)
        self._failed_ids: dict[int, tuple[Record, list[Any]]] = {}

    # -- connection -------------------------------------------------------------------

    @property
    def host(self) -> str | Sequence[str] | None:
        return self._connection.host

    @property
    def port(self) -> int | None:
        return self._connection.port

    @property
    def client(self) -> MongoClient[dict[str, Any]] | None:
        """The pymongo client while connected, else None."""
        return self._holder.client

    @property
    def db(self) -> Database[dict[str, Any]] | None:
        """The database while connected, else None."""
        return self._db

    def connect(self, database_name: str | None = None) -> Database[dict[str, Any]]:
        """Create the client (pymongo connects in the background) and select
        ``database_name`` (default: the outlet's ``database_name``)."""
        if database_name is not None:
            self.database_name = check_name(database_name, f"{type(self).__name__}.connect",
                                            "database_name", what="database")
        with self._db_lock:
            self._closing.clear()
            self._db = self._holder.get()[self.database_name]
            self._collections = {}
            return self._db

    def disconnect(self) -> None:
        """Close the client. A later push connects again."""
        with self._db_lock:
            self._closing.set()
            self._db = None
            self._collections = {}
            self._holder.close()

    def on_start(self) -> None:
        self.connect()

    def on_shutdown(self) -> None:
        self.disconnect()

    def _database(self) -> Database[dict[str, Any]]:
        if not self.active:
            self.try_start()  # a push before start connects on demand (and stays active)
        db = self._db
        return db if db is not None else self.connect()

    # -- push -------------------------------------------------------------------------

    @property
    def stores_metadata(self) -> bool:
        """False: documents are built from payloads only (a dead-letter MongoOutlet
        needs a processor that copies ``DEAD_LETTER`` details into the payload)."""
        return False

    def push(self, records: list[Record], update: Update) -> None:
        """Write the records; raise :class:`MongoWriteError` listing those that did not
        go in (after retries)."""
        if not records:
            return
        earlier, self._failed_ids = self._failed_ids, {}
        groups = self._group(records)
        db = self._database()
        reuse: dict[int, list[Any]] = {}
        if earlier and self.upsert_key is None:
            for index, record in enumerate(records):
                known = earlier.get(id(record))
                if known is not None and known[0] is record:
                    reuse[index] = list(known[1])
        failures: dict[int, str] = {}
        transient: set[str] = set()  # the reasons that may pass
        given: dict[int, list[Any]] = {}  # record index -> _ids of its documents
        written = 0
        gave_up: str | None = None
        size = self.batch_size
        for name, group in groups.items():
            collection = self._collections.get(name)
            if collection is None:
                collection = self._collections[name] = db[name]
            for start in range(0, len(group.sources), size):
                end = start + size
                if gave_up is not None:
                    for owner in group.owners[start:end]:
                        failures.setdefault(owner, gave_up)
                    continue
                # copies are made a chunk at a time: they die young, which spares the
                # garbage collector (a push of 20,000 records would otherwise keep
                # 20,000 copies alive until its end)
                chunk = self._chunk(group, start, end, reuse)
                ok, failed, gave_up = self._write(collection, chunk, update)
                written += ok
                if gave_up is not None:
                    transient.add(gave_up)
                for owner, reason in failed:
                    failures.setdefault(owner, reason)
                if failed and self.upsert_key is None:
                    for doc, owner in zip(chunk.docs, chunk.owners, strict=True):
                        given.setdefault(owner, []).append(doc["_id"])
        if failures:
            # keep the _ids of the records not written, for a push of the same records
            self._failed_ids = {id(records[i]): (records[i], ids) for i, ids in given.items()
                                if i in failures}
            raise self._error(records, failures, written,
                              transient=any(r in transient for r in failures.values()))

    def _group(self, records: list[Record]) -> dict[str, _Group]:
        key = "MongoOutlet.MONGODB_COLLECTION"
        default = self.collection
        valid = self._valid_names
        wrap = self.wrap_key
        groups: dict[str, _Group] = {}
        bad_payload: list[tuple[int, str]] = []
        bad_collection: list[tuple[int, str]] = []
        last_name: Any = _NOTHING
        group = _Group()
        sources = group.sources
        for index, record in enumerate(records):
            name = record.metadata.get(key)
            if name is None:
                name = default
            if name is not last_name and name != last_name:  # mostly the same collection
                if type(name) is not str or name not in valid:
                    if name is None:
                        bad_collection.append((index, "no collection: the outlet has no "
                                                      f"default and the record has no {key!r} "
                                                      f"metadata"))
                        continue
                    if not valid_collection_name(name):
                        bad_collection.append((index, f"{name!r} is not a valid collection "
                                                      f"name"))
                        continue
                    valid.add(name)
                group = groups.get(name)  # type: ignore[assignment]
                if group is None:
                    group = groups[name] = _Group()
                sources = group.sources
                last_name = name
            payload = record.payload
            if type(payload) is dict or isinstance(payload, Mapping):
                if "_id" in payload:
                    group.user_ids.add(len(sources))
                sources.append(payload)
                group.owners.append(index)
            elif isinstance(payload, list):
                for position, item in enumerate(payload):
                    if isinstance(item, Mapping):
                        if "_id" in item:
                            group.user_ids.add(len(sources))
                        sources.append(item)
                    elif wrap is not None:
                        sources.append({wrap: item})
                    else:
                        bad_payload.append((index, f"list element {position} is a "
                                                   f"{type(item).__name__}, not a document"))
                        continue
                    group.owners.append(index)
            elif wrap is not None:
                sources.append({wrap: payload})
                group.owners.append(index)
            else:
                bad_payload.append((index, f"payload is a {type(payload).__name__}, not a "
                                           f"document (a dict, or a list of dicts)"))
        if bad_collection:
            raise self._error(records, dict(bad_collection), 0, MongoCollectionNotFound,
                              "nothing of this push was written")
        if bad_payload:
            raise self._error(records, dict(bad_payload), 0, MongoPayloadError,
                              "nothing of this push was written; pass wrap_key=... to store "
                              "such payloads as {wrap_key: payload}")
        if self.upsert_key is not None:
            for each in groups.values():
                self._keys(each, records)
        return groups

    def _chunk(self, group: _Group, start: int, end: int,
               reuse: dict[int, list[Any]] | None = None) -> _Group:
        """Documents ``start:end`` of ``group``, copied (a payload is never changed: other
        outlets may share it): with an ``_id`` in insert mode (see ``_ids``; ``reuse``
        maps record indexes to the _ids a failed push gave their documents), without the
        key fields in idempotent mode."""
        chunk = _Group()
        sources = group.sources[start:end]
        chunk.owners = group.owners[start:end]
        if self.upsert_key is not None:
            chunk.keys = group.keys[start:end]
            chunk.docs = [_without(src, key) for src, key in zip(sources, chunk.keys,
                                                                   strict=True)]
            return chunk
        ids = take_ids(len(sources))
        if reuse:
            for i, owner in enumerate(chunk.owners):
                known = reuse.get(owner)
                if known:  # the record's documents come in the same order as before
                    ids[i] = known.pop(0)
                    chunk.reused = True
        user_ids = [i - start for i in group.user_ids if start <= i < end]
        if not user_ids:
            chunk.docs = [{"_id": oid, **src} for oid, src in zip(ids, sources, strict=True)]
            return chunk
        chunk.user_ids = set(user_ids)
        chunk.docs = [dict(src) if i in chunk.user_ids else {"_id": ids[i], **src}
                      for i, src in enumerate(sources)]
        return chunk

    def _keys(self, group: _Group, records: list[Record]) -> None:
        """Derive the upsert filters; keep the last document of each key."""
        spec = self.upsert_key
        keys: list[dict[str, Any]] = []
        bad: dict[int, str] = {}
        for doc, owner in zip(group.sources, group.owners, strict=True):
            try:
                if callable(spec):
                    keys.append({"_id": spec(doc)})
                else:
                    fields = (spec,) if isinstance(spec, str) else spec
                    keys.append({field: doc[field] for field in fields})  # type: ignore[union-attr]
            except Exception as exc:
                reason = (f"the document has no field {exc.args[0]!r} of upsert_key"
                          if isinstance(exc, KeyError) and not callable(spec)
                          else f"upsert_key raised {type(exc).__name__}: {exc}")
                bad.setdefault(owner, reason)
                keys.append({})
        if bad:
            raise self._error(records, bad, 0, MongoPayloadError,
                              "nothing of this push was written")
        last: dict[Any, int] = {}
        try:
            for position, key in enumerate(keys):
                last[bson_encode(key)] = position
        except Exception:  # an unencodable key fails below, on the write, with its record
            return
        if len(last) < len(keys):
            keep = sorted(last.values())
            group.sources = [group.sources[i] for i in keep]
            group.owners = [group.owners[i] for i in keep]
            keys = [keys[i] for i in keep]
        group.keys = keys

    def _write(
        self, collection: Collection[dict[str, Any]], group: _Group, update: Update,
    ) -> tuple[int, list[tuple[int, str]], str | None]:
        """Write the documents of a chunk: (documents written, failed (record index,
        reason), why the push gave up or None)."""
        docs = group.docs
        upsert = self.upsert_key is not None
        pending = list(range(len(docs)))
        failed: list[tuple[int, str]] = []
        written = 0
        maybe_sent = group.reused  # an earlier attempt may have written some of `pending`
        attempt = 0
        while pending:
            try:
                if upsert:
                    collection.bulk_write(
                        [UpdateOne(group.keys[i], {"$set": docs[i]}, upsert=True)
                         for i in pending],
                        ordered=False)
                else:
                    collection.insert_many([docs[i] for i in pending], ordered=False)
                return written + len(pending), failed, None
            except BulkWriteError as exc:
                done, retry, lost = self._sort_write_errors(collection, group, pending, exc,
                                                            maybe_sent)
                written += done
                failed += lost
                error: Exception = exc
                pending = retry
            except InvalidDocument as exc:
                bad = self._unencodable([docs[i] for i in pending])
                failed += [(group.owners[pending[j]], reason) for j, reason in bad]
                bad_positions = {pending[j] for j, _ in bad}
                if not bad_positions:
                    bad_positions = set(pending)
                    failed += [(group.owners[i], self._redact(f"cannot encode: {exc}"))
                               for i in pending]
                pending = [i for i in pending if i not in bad_positions]
                maybe_sent = True  # a large batch may have gone out in several messages
                continue
            except Exception as exc:  # pymongo may raise others (a KeyError in auth, ...)
                if not is_transient(exc):
                    reason = self._describe(exc)
                    return written, failed + [(group.owners[i], reason) for i in pending], None
                error = exc
            if not pending:
                break
            maybe_sent = True
            attempt += 1
            described = self._describe(error)
            if attempt > self.retries:
                reason = (f"not confirmed written after {attempt} attempt(s); "
                          f"last error: {described}")
                return written, failed + [(group.owners[i], reason) for i in pending], reason
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            _LOGGER.warning("%s: %s: writing %d document(s) to %s failed (%s); retry %d/%d in "
                            "%.2f s", update, self, len(pending), collection.full_name,
                            described, attempt, self.retries, delay)
            if self._closing.wait(delay):
                reason = f"the outlet was shut down while retrying; last error: {described}"
                return written, failed + [(group.owners[i], reason) for i in pending], reason
        return written, failed, None

    def _sort_write_errors(
        self, collection: Collection[dict[str, Any]], group: _Group, pending: list[int],
        exc: BulkWriteError, maybe_sent: bool,
    ) -> tuple[int, list[int], list[tuple[int, str]]]:
        """Split a bulk write's outcome: (documents written, positions to retry,
        (record index, reason) of documents that failed for good)."""
        upsert = self.upsert_key is not None
        details = exc.details
        errors = details.get("writeErrors") or []
        errored: set[int] = set()
        retry: list[int] = []
        check: list[int] = []
        lost: list[tuple[int, str]] = []
        for error in errors:
            position = pending[error["index"]]
            errored.add(position)
            code = error.get("code")
            if code in TRANSIENT_CODES or (upsert and code == _DUPLICATE_KEY):
                retry.append(position)  # an upsert racing another: trying again is safe
            elif (code == _DUPLICATE_KEY and maybe_sent and not upsert
                  and position not in group.user_ids):
                check.append(position)  # our own _id: probably written by the attempt before
            else:
                lost.append((group.owners[position],
                             self._redact(f"write error {code}: {error.get('errmsg', '')}")))
        written = len(pending) - len(errored)
        if details.get("writeConcernErrors"):
            # written but not acknowledged as asked: write them again (their _id or key
            # makes that safe) until the write concern is met
            retry += [i for i in pending if i not in errored]
            written = 0
        if check:
            ids = [group.docs[i]["_id"] for i in check]
            try:
                found = {d["_id"] for d in collection.find({"_id": {"$in": ids}}, {"_id": 1})}
            except PyMongoError:
                found = set()
                retry += check  # cannot tell now: the next attempt decides
                check = []
            for position in check:
                if group.docs[position]["_id"] in found:
                    written += 1
                else:
                    lost.append((group.owners[position], "duplicate key"))
        return written, sorted(retry), lost

    def _unencodable(self, docs: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """(position, reason) of the documents that cannot be sent."""
        limit = 16 * 1024 * 1024  # MongoDB's maxBsonObjectSize
        bad: list[tuple[int, str]] = []
        for position, doc in enumerate(docs):
            try:
                size = len(bson_encode(doc))
            except Exception as error:
                bad.append((position, self._redact(
                    f"cannot be stored as BSON: {type(error).__name__}: {error}")))
                continue
            if size > limit:
                bad.append((position, f"document of {size} bytes is larger than 16 MiB"))
        return bad

    # -- errors and repr ----------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return self._connection.redact(text)

    def _describe(self, exc: BaseException) -> str:
        text = self._redact(f"{type(exc).__name__}: {exc}")
        return text if len(text) <= 300 else text[:297] + "..."

    def _error(
        self,
        records: list[Record],
        failures: dict[int, str],
        written: int,
        cls: type[MongoWriteError] = MongoWriteError,
        note: str = "",
        transient: bool = False,
    ) -> MongoWriteError:
        pairs = [(records[i], failures[i]) for i in sorted(failures)]
        by_reason: dict[str, list[int]] = {}
        for index in sorted(failures):
            by_reason.setdefault(failures[index], []).append(index)
        parts = []
        for reason, indexes in list(by_reason.items())[:3]:
            shown = ", ".join(f"#{i} {_short.repr(records[i])}" for i in indexes[:3])
            more = f" and {len(indexes) - 3} more" if len(indexes) > 3 else ""
            parts.append(f"{reason} (record {shown}{more})")
        if len(by_reason) > 3:
            parts.append(f"and {len(by_reason) - 3} other reason(s)")
        message = (f"{self!r}: {len(pairs)} of {len(records)} record(s) not written"
                   f"{f' ({written} document(s) written)' if written else ''}: "
                   f"{'; '.join(parts)}{f'; {note}' if note else ''}")
        # refused before writing: no record of the push went in, not only the bad ones
        undelivered = len(pairs) if written or cls is MongoWriteError else len(records)
        return cls(self._redact(message), failures=pairs, written=written,
                   undelivered=undelivered, transient=transient)

    def __repr__(self) -> str:
        where = self._connection.describe()
        return (f"{type(self).__name__}(database_name={self.database_name!r}, "
                f"collection={self.collection!r}{', ' + where if where else ''})")


def _without(doc: Mapping[str, Any], key: dict[str, Any]) -> dict[str, Any]:
    if len(key) == 1 and "_id" in key:
        return {k: v for k, v in doc.items() if k != "_id"}
    return {k: v for k, v in doc.items() if k not in key}


def _int_arg(value: Any, owner: str, arg: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{owner}({arg}=...) must be an int from {low} to {high}, "
                         f"got {value!r}")
    return value


def _seconds_arg(value: Any, owner: str, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{owner}({arg}=...) must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _check_key(spec: Any, owner: str) -> KeySpec | None:
    if spec is None or callable(spec):
        return spec  # type: ignore[no-any-return]
    fields = [spec] if isinstance(spec, str) else spec
    if (isinstance(fields, (list, tuple)) and fields
            and all(isinstance(f, str) and f and not f.startswith("$") and "." not in f
                    for f in fields)):
        return spec if isinstance(spec, str) else tuple(spec)
    raise ValueError(f"{owner}(upsert_key=...) must be None, a field name, a list of field "
                     f"names (top-level, without '.' or a leading '$'), or a callable "
                     f"document -> key; got {spec!r}")
