"""SqlOutlet: each batch written in one transaction with executemany; insert or native
upsert; the table from the outlet or from record metadata."""

from __future__ import annotations

import datetime
import decimal
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from databay.delivery import StateStore
from databay.outlet import MetadataKey, Outlet, Processor
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from databay_sql._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    Database,
    check_name,
    is_transient_db_error,
)
from databay_sql._errors import (
    SqlConnectionError,
    SqlConstraintError,
    SqlTableError,
    SqlWriteError,
)

if TYPE_CHECKING:
    from databay.record import Record
    from databay.update import Update

    from databay_sql._state import SqlStateStore

__all__ = ["SqlOutlet"]

_UPSERT_DIALECTS = ("postgresql", "sqlite", "mysql", "mariadb")


def _column_type(value: Any) -> sa.types.TypeEngine[Any]:
    if isinstance(value, bool):
        return sa.Boolean()
    if isinstance(value, int):
        return sa.BigInteger()
    if isinstance(value, float):
        return sa.Float()
    if isinstance(value, decimal.Decimal):
        return sa.Numeric()
    if isinstance(value, datetime.datetime):
        return sa.DateTime(timezone=value.tzinfo is not None)
    if isinstance(value, datetime.date):
        return sa.Date()
    if isinstance(value, (bytes, bytearray)):
        return sa.LargeBinary()
    if isinstance(value, (dict, list)):
        return sa.JSON()
    return sa.Text()


class SqlOutlet(Outlet):
    """Writes each record's payload (a mapping of column names to values) as one row.

    :param url: a SQLAlchemy database URL (``sqlite:///data.db``,
        ``postgresql+psycopg://user:pw@host/db``, ``mysql+pymysql://...``); its password
        never appears in reprs, logs or errors.
    :param table: the default table (``name`` or ``schema.name``); a record's metadata
        ``SqlOutlet.TABLE`` picks another. None: every record must name its table.
    :param mode: ``'insert'`` or ``'upsert'`` (insert, or update the row with the same
        ``key``: PostgreSQL and SQLite ``ON CONFLICT``, MySQL ``ON DUPLICATE KEY``), so a
        batch delivered again overwrites itself.
    :param key: the key column(s) of ``'upsert'``: a unique index or primary key.
    :param create_table: create a missing table from the first batch's columns (types
        from the values; ``key`` becomes the primary key). Off: a missing table is a
        permanent error.
    :param connect_timeout: seconds to wait for a connection (SQLite: for a lock).
    :param statement_timeout: seconds a statement may run (PostgreSQL, MySQL).
    :param engine_options: more :func:`sqlalchemy.create_engine` options (``pool_size``,
        ``max_overflow``, ``connect_args``...).

    Each push is one transaction, one ``executemany`` per table: all of the batch or
    none of it. A lost connection or a time-out raises :class:`SqlConnectionError`
    (transient: the link's retry policy retries); a constraint violation or bad value
    raises :class:`SqlConstraintError` (permanent: dead-lettered). Table and column
    names are validated and quoted by SQLAlchemy; values are always bound parameters.
    """

    #: record metadata key: the table to write the record to (validated as a SQL name)
    TABLE: MetadataKey = MetadataKey("SqlOutlet.TABLE")

    def __init__(
        self,
        url: str,
        table: str | None = None,
        mode: Literal["insert", "upsert"] = "insert",
        key: str | Sequence[str] | None = None,
        create_table: bool = False,
        *,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
        engine_options: dict[str, Any] | None = None,
        processors: Processor | Sequence[Processor] | None = None,
    ) -> None:
        super().__init__(processors)
        name = type(self).__name__
        self.database = Database(name, url, connect_timeout, statement_timeout,
                                 engine_options)
        self.table: str | None = None if table is None else check_name(
            table, f"{name}(table=...)")
        if mode not in ("insert", "upsert"):
            raise ValueError(f"{name}(mode=...) must be 'insert' or 'upsert', got {mode!r}")
        self.mode = mode
        if isinstance(key, str):
            key = [key]
        keys = [check_name(k, f"{name}(key=...)", "column") for k in (key or ())]
        if any("." in k for k in keys):
            raise ValueError(f"{name}(key=...): column names take no 'table.' prefix: {keys}")
        if mode == "upsert":
            if not keys:
                raise ValueError(f"{name}(mode='upsert') needs key=: the column(s) of a "
                                 f"unique index or primary key that identify a row")
            if self.database.dialect not in _UPSERT_DIALECTS:
                raise ValueError(f"{name}(mode='upsert') is not supported on "
                                 f"{self.database.dialect!r} (supported: "
                                 f"{', '.join(_UPSERT_DIALECTS)}); use mode='insert'")
        self.key: tuple[str, ...] = tuple(keys)
        if not isinstance(create_table, bool):
            raise TypeError(f"{name}(create_table=...) must be True or False, "
                            f"got {create_table!r}")
        self.create_table = create_table
        self._tables: dict[str, sa.Table] = {}
        self._statements: dict[tuple[str, frozenset[str]], Any] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.database.redacted

    @property
    def stores_metadata(self) -> bool:
        """False: only payloads become rows."""
        return False

    # -- exactly once with SqlStateStore (databay.delivery.CommitsCheckpoints) ---------

    def commits_checkpoints(self, store: StateStore) -> bool:
        """True for a :class:`~databay_sql.SqlStateStore` on this outlet's database."""
        from databay_sql._state import SqlStateStore

        return isinstance(store, SqlStateStore) and store.same_database(self.database)

    def push_committing(self, records: list[Record], update: Update, store: StateStore,
                        cursors: dict[str, Any]) -> None:
        """Write ``records`` and commit ``cursors`` to ``store`` in one transaction."""
        sql_store: SqlStateStore = store  # type: ignore[assignment]
        try:
            sql_store.ensure_table()
        except Exception as exc:
            raise SqlConnectionError(str(exc), undelivered=len(records)) from None
        self._write(records, update, lambda conn: sql_store.set_in(conn, cursors))

    # -- writing ------------------------------------------------------------------------

    def push(self, records: list[Record], update: Update) -> None:
        if records:
            self._write(records, update, None)

    def _groups(self, records: list[Record]) -> dict[str, list[Record]]:
        default, key = self.table, self.TABLE
        groups: dict[str, list[Record]] = {}
        for record in records:
            metadata = record.metadata
            table = metadata.get(key, default) if metadata else default
            group = groups.get(table)  # type: ignore[arg-type]
            if group is None:
                if table is None:
                    raise SqlTableError(f"{self!r}: a record names no table (no default "
                                        f"table and no metadata {key!r}): {record!r}",
                                        undelivered=len(records))
                try:
                    check_name(table, f"record metadata {key!r}")
                except (TypeError, ValueError) as exc:
                    raise SqlTableError(f"{self!r}: {exc}", undelivered=len(records)) from None
                group = groups[table] = []
            group.append(record)
        return groups

    def _write(self, records: list[Record], update: Update, extra: Any) -> None:
        groups = self._groups(records) if records else {}
        rows_by_table = {}
        for table, group in groups.items():
            rows = [r.payload for r in group]
            for row in rows:
                if type(row) is not dict and not isinstance(row, Mapping):
                    raise SqlConstraintError(
                        f"{self!r}: a record's payload is not a mapping of column names "
                        f"to values: {type(row).__name__} {row!r:.200}",
                        undelivered=len(records))
            rows_by_table[table] = rows
        try:
            for name, rows in rows_by_table.items():
                self._table(name, rows[0])
            with self.database.engine().begin() as conn:
                for name, rows in rows_by_table.items():
                    self._execute(conn, name, rows)
                if extra is not None:
                    extra(conn)
        except SqlWriteError:
            raise
        except (sa_exc.SQLAlchemyError, ConnectionError, TimeoutError) as exc:
            what = self.database.describe(exc)
            if is_transient_db_error(exc):
                raise SqlConnectionError(f"{self!r}: batch of {len(records)} record(s) not "
                                         f"written (rolled back): {what}",
                                         undelivered=len(records)) from None
            raise SqlConstraintError(f"{self!r}: batch of {len(records)} record(s) refused "
                                     f"(rolled back): {what}",
                                     undelivered=len(records)) from None

    def _execute(self, conn: Connection, name: str, rows: list[Any]) -> None:
        first = rows[0].keys()
        if all(row.keys() == first for row in rows):
            conn.execute(self._statement(name, frozenset(first)), rows)
            return
        by_keys: dict[frozenset[str], list[Any]] = {}
        for row in rows:
            by_keys.setdefault(frozenset(row), []).append(row)
        for keys, group in by_keys.items():
            conn.execute(self._statement(name, keys), group)

    def _statement(self, name: str, keys: frozenset[str]) -> Any:
        cached = self._statements.get((name, keys))
        if cached is not None:
            return cached
        table = self._tables[name]
        unknown = sorted(k for k in keys if k not in table.c)
        if unknown:
            raise SqlConstraintError(f"{self!r}: table {name!r} has no column(s) "
                                     f"{', '.join(map(repr, unknown))} (it has "
                                     f"{', '.join(table.c.keys())})")
        if self.mode == "insert":
            stmt: Any = sa.insert(table)
        else:
            missing = [k for k in self.key if k not in keys]
            if missing:
                raise SqlConstraintError(f"{self!r}: upsert rows lack the key column(s) "
                                         f"{missing}")
            dialect = self.database.dialect
            updates = [k for k in keys if k not in self.key]
            if dialect in ("postgresql", "sqlite"):
                module = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"])
                base = module.insert(table)
                stmt = (base.on_conflict_do_update(
                    index_elements=[table.c[k] for k in self.key],
                    set_={k: base.excluded[k] for k in updates}) if updates
                    else base.on_conflict_do_nothing(index_elements=list(self.key)))
            else:
                from sqlalchemy.dialects.mysql import insert as mysql_insert

                base = mysql_insert(table)
                stmt = base.on_duplicate_key_update(
                    {k: base.inserted[k] for k in (updates or self.key[:1])})
        self._statements[(name, keys)] = stmt
        return stmt

    def _table(self, name: str, sample: Mapping[str, Any]) -> sa.Table:
        table = self._tables.get(name)
        if table is not None:
            return table
        with self._lock:
            table = self._tables.get(name)
            if table is not None:
                return table
            schema, _, plain = name.rpartition(".")
            engine = self.database.engine()
            with engine.connect() as conn:
                exists = sa.inspect(conn).has_table(plain, schema=schema or None)
            if not exists and not self.create_table:
                raise SqlTableError(f"{self!r}: the table {name!r} does not exist; create it "
                                    f"or pass create_table=True")
            if exists:
                table = sa.Table(plain, sa.MetaData(), schema=schema or None,
                                 autoload_with=engine)
            else:
                columns = []
                for column, value in sample.items():
                    check_name(column, f"{self!r}: column", "column")
                    columns.append(sa.Column(column, _column_type(value),
                                             primary_key=column in self.key))
                table = sa.Table(plain, sa.MetaData(), *columns, schema=schema or None)
                table.create(engine, checkfirst=True)
            self._tables[name] = table
            return table

    def __repr__(self) -> str:
        extra = f", mode={self.mode!r}, key={list(self.key)!r}" if self.mode == "upsert" else ""
        return f"SqlOutlet(url={self.url!r}, table={self.table!r}{extra})"
