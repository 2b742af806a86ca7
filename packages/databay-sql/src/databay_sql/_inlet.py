"""SqlInlet: a table or a query, read whole or incrementally by a cursor column, in
chunks streamed from the server."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from databay.inlet import Inlet
from sqlalchemy import exc as sa_exc

from databay_sql._common import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    Database,
    check_name,
    is_transient_db_error,
)
from databay_sql._errors import SqlReadError

if TYPE_CHECKING:
    from databay.update import Update

__all__ = ["SqlInlet"]


def _json_cursor(value: Any) -> Any:
    """A cursor column's value as a JSON-like value a state store keeps."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


class SqlInlet(Inlet):
    """Reads rows of ``table`` or of ``query``; each row becomes a record whose payload
    is a dict ``{column: value}``.

    :param url: a SQLAlchemy database URL; its password never appears in reprs, logs or
        errors.
    :param query: a SELECT statement (with ``:name`` placeholders bound from
        ``parameters``); or
    :param table: a table (``name`` or ``schema.name``) to read whole.
    :param cursor_column: read incrementally: each pull returns the rows whose
        ``cursor_column`` is greater than the cursor (the last row read), ordered by it,
        at most ``chunk_size`` of them. The column must be unique and increasing (an
        id, a sequence); rows that share a value may be skipped at a chunk's edge.
        Without it, each pull returns every row (a snapshot), streamed.
    :param chunk_size: rows fetched per round trip (results are streamed with a
        server-side cursor where the dialect has one) and, with ``cursor_column``, the
        most rows one pull returns.
    :param parameters: values for the query's placeholders.

    :attr:`cursor` is the last row's ``cursor_column`` value (dates as ISO strings,
    decimals as strings), :meth:`seek` sets it, so a link's state store resumes the
    inlet after a restart. A lost connection raises :class:`SqlReadError` with
    ``transient = True``.
    """

    def __init__(
        self,
        url: str,
        query: str | None = None,
        table: str | None = None,
        cursor_column: str | None = None,
        chunk_size: int = 10_000,
        *,
        parameters: Mapping[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint_key: str | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(metadata, checkpoint_key=checkpoint_key)
        name = type(self).__name__
        self.database = Database(name, url, connect_timeout, statement_timeout,
                                 engine_options)
        if (query is None) == (table is None):
            raise ValueError(f"{name}: give either table= (a table to read) or query= "
                             f"(a SELECT statement), not {'both' if query else 'neither'}")
        if query is not None and (not isinstance(query, str) or not query.strip()):
            raise TypeError(f"{name}(query=...) must be a non-empty SQL string, "
                            f"got {query!r}")
        self.query = query
        self.table = None if table is None else check_name(table, f"{name}(table=...)")
        self.cursor_column = None if cursor_column is None else check_name(
            cursor_column, f"{name}(cursor_column=...)", "column")
        if self.cursor_column is not None and "." in self.cursor_column:
            raise ValueError(f"{name}(cursor_column=...): a column name without 'table.'")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"{name}(chunk_size=...) must be a positive int, "
                             f"got {chunk_size!r}")
        self.chunk_size = chunk_size
        if parameters is not None and not isinstance(parameters, Mapping):
            raise TypeError(f"{name}(parameters=...) must be a dict, got {parameters!r}")
        self.parameters = dict(parameters or {})
        self._cursor: Any = None
        self._statement = self._build()

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.database.redacted

    def _build(self) -> Any:
        column = self.cursor_column
        if self.query is not None:
            text = sa.text(self.query)
            if column is None:
                return text
            source: Any = text.columns(sa.column(column)).subquery("databay_query")
        else:
            assert self.table is not None
            schema, _, plain = self.table.rpartition(".")
            source = sa.table(plain, *([sa.column(column)] if column else []),
                              schema=schema or None)
        stmt: Any = sa.select(sa.literal_column("*")).select_from(source)
        if column is not None:
            stmt = stmt.order_by(source.c[column]).limit(self.chunk_size)
        return stmt

    @property
    def cursor(self) -> Any:
        """The last row's ``cursor_column`` value, or None (from the start). Always None
        without ``cursor_column``."""
        return self._cursor

    def seek(self, cursor: Any) -> None:
        """Continue after ``cursor`` (None: from the first row)."""
        if self.cursor_column is None:
            if cursor is not None:
                raise ValueError(f"{self!r} has no cursor_column: it cannot seek to "
                                 f"{cursor!r}")
            return
        self._cursor = cursor

    def pull(self, update: Update) -> list[dict[str, Any]] | Iterator[dict[str, Any]]:
        """The rows after the cursor (with ``cursor_column``: a list of at most
        ``chunk_size``), or every row as a stream (without it: an iterator that reads
        ``chunk_size`` rows per round trip while the link pushes chunk by chunk, so a
        table of any size is read in bounded memory; the statement runs, and fails, here)."""
        if self.cursor_column is None:
            return self._stream(self._statement)
        stmt = self._statement
        column = self.cursor_column
        if column is not None and self._cursor is not None:
            source = stmt.get_final_froms()[0]
            stmt = stmt.where(source.c[column] > sa.bindparam("databay_cursor",
                                                               self._cursor))
        try:
            with self.database.engine().connect() as conn:
                result = conn.execution_options(stream_results=True,
                                                yield_per=self.chunk_size).execute(
                    stmt, self.parameters)
                rows = [dict(m) for m in result.mappings()]
        except sa_exc.SQLAlchemyError as exc:
            raise SqlReadError(f"{self!r}: pull failed: {self.database.describe(exc)}",
                               transient=is_transient_db_error(exc)) from None
        if column is not None and rows:
            if column not in rows[-1]:
                raise SqlReadError(f"{self!r}: the rows have no column {column!r} "
                                   f"(they have {', '.join(rows[-1])})")
            self._cursor = _json_cursor(rows[-1][column])
        return rows

    def _stream(self, stmt: Any) -> Iterator[dict[str, Any]]:
        conn: Any = None
        try:
            conn = self.database.engine().connect()
            result = conn.execution_options(stream_results=True,
                                            yield_per=self.chunk_size).execute(
                stmt, self.parameters)
        except sa_exc.SQLAlchemyError as exc:
            if conn is not None:
                conn.close()
            raise SqlReadError(f"{self!r}: pull failed: {self.database.describe(exc)}",
                               transient=is_transient_db_error(exc)) from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return self._rows(conn, result)

    def _rows(self, conn: Any, result: Any) -> Iterator[dict[str, Any]]:
        try:
            for row in result.mappings():
                yield dict(row)
        except sa_exc.SQLAlchemyError as exc:
            raise SqlReadError(f"{self!r}: reading rows failed: "
                               f"{self.database.describe(exc)}",
                               transient=is_transient_db_error(exc)) from None
        finally:
            result.close()
            conn.close()

    def __repr__(self) -> str:
        what = f"table={self.table!r}" if self.table else f"query={self.query!r:.80}"
        extra = f", cursor_column={self.cursor_column!r}" if self.cursor_column else ""
        return f"SqlInlet(url={self.url!r}, {what}{extra})"
