"""Links' checkpoints in a SQL table; with a :class:`SqlOutlet` on the same database the
cursors commit in the outlet's write transaction (exactly once)."""

from __future__ import annotations

import datetime
import json
import threading
from typing import Any

import sqlalchemy as sa
from databay.delivery import StateStore
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from databay_sql._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    Database,
    check_name,
    is_transient_db_error,
)
from databay_sql._errors import SqlStateStoreError

__all__ = ["SqlStateStore"]


class SqlStateStore(StateStore):
    """Committed cursors as rows ``(key, value, committed_at)`` of ``table``; ``value``
    is the cursor as JSON. The table is created on first use if it does not exist.

    :param url: a SQLAlchemy database URL (``sqlite:///state.db``,
        ``postgresql+psycopg://user:pw@host/db``); its password never appears in
        reprs, logs or errors.
    :param table: the table, ``name`` or ``schema.name``.
    :param connect_timeout: seconds to wait for a connection (SQLite: for a lock).
    :param statement_timeout: seconds a statement may run (PostgreSQL, MySQL).
    :param engine_options: more :func:`sqlalchemy.create_engine` options (pool sizes...).

    A link whose only outlet is a :class:`~databay_sql.SqlOutlet` on the same URL
    commits its cursors in the outlet's write transaction: see "Exactly once" in the
    package's documentation.
    """

    def __init__(self, url: str, table: str = "databay_checkpoints", *,
                 connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
                 statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
                 engine_options: dict[str, Any] | None = None) -> None:
        name = type(self).__name__
        self.table_name: str = check_name(table, f"{name}(table=...)")
        self.database = Database(name, url, connect_timeout, statement_timeout,
                                 engine_options)
        schema, _, plain = self.table_name.rpartition(".")
        self._table = sa.Table(
            plain, sa.MetaData(), sa.Column("key", sa.String(255), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
            sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
            schema=schema or None)
        self._created = False
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.database.redacted

    def _failed(self, doing: str, exc: Exception) -> SqlStateStoreError:
        return SqlStateStoreError(
            f"{self!r}: {doing} failed: {self.database.describe(exc)}",
            transient=is_transient_db_error(exc))

    def ensure_table(self) -> None:
        """Create the table if it does not exist (once per store)."""
        if self._created:
            return
        with self._lock:
            if self._created:
                return
            try:
                with self.database.engine().begin() as conn:
                    self._table.create(conn, checkfirst=True)
            except sa_exc.SQLAlchemyError as exc:
                # a concurrent creator may have won the race
                try:
                    with self.database.engine().connect() as conn:
                        if not sa.inspect(conn).has_table(self._table.name,
                                                          schema=self._table.schema):
                            raise exc
                except sa_exc.SQLAlchemyError as again:
                    raise self._failed(f"creating the table {self.table_name!r}",
                                       again) from None
            self._created = True

    def get(self, key: str) -> Any:
        self.ensure_table()
        try:
            with self.database.engine().connect() as conn:
                value = conn.execute(sa.select(self._table.c.value)
                                     .where(self._table.c.key == key)).scalar()
        except sa_exc.SQLAlchemyError as exc:
            raise self._failed(f"reading the cursor {key!r}", exc) from None
        return None if value is None else json.loads(value)

    def set(self, key: str, value: Any) -> None:
        self.ensure_table()
        try:
            with self.database.engine().begin() as conn:
                self.set_in(conn, {key: value})
        except sa_exc.SQLAlchemyError as exc:
            raise self._failed(f"committing the cursor {key!r}", exc) from None

    def set_in(self, conn: Connection, cursors: dict[str, Any]) -> None:
        """Write ``cursors`` (key -> cursor) with ``conn``, in its transaction (the
        caller commits). Used by :class:`~databay_sql.SqlOutlet` for exactly once; call
        :meth:`ensure_table` before opening the transaction."""
        now = datetime.datetime.now(datetime.timezone.utc)
        rows = []
        for key, value in cursors.items():
            try:
                text = json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{self!r}: cursor for {key!r} is not JSON-serialisable: "
                                f"{value!r}") from exc
            rows.append({"key": key, "value": text, "committed_at": now})
        if not rows:
            return
        table = self._table
        dialect = self.database.dialect
        if dialect in ("postgresql", "sqlite"):
            module = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"])
            stmt = module.insert(table)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={"value": stmt.excluded.value,
                      "committed_at": stmt.excluded.committed_at}), rows)
        elif dialect in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            mstmt = mysql_insert(table)
            conn.execute(mstmt.on_duplicate_key_update(
                value=mstmt.inserted.value, committed_at=mstmt.inserted.committed_at), rows)
        else:  # portable: update, then insert what was not there
            for row in rows:
                done = conn.execute(sa.update(table).where(table.c.key == row["key"])
                                    .values(value=row["value"],
                                            committed_at=row["committed_at"]))
                if not done.rowcount:
                    conn.execute(sa.insert(table), row)

    def same_database(self, database: Database) -> bool:
        """Whether ``database`` is this store's database (same URL)."""
        return self.database.same_as_key == database.same_as_key

    def __repr__(self) -> str:
        return f"SqlStateStore(url={self.url!r}, table={self.table_name!r})"
