"""SqlOutlet against real databases (SQLite file, PostgreSQL started by the tests,
DATABASE_URL): batches, upserts, tables from metadata, error classes, redaction."""

from __future__ import annotations

from typing import Any

import pytest
from _sql_db import Db
from databay import Link, Record, Update
from databay.delivery import RetryPolicy, is_transient
from databay.errors import PermanentError, TransientError
from databay.testing import CollectingOutlet, OutletContract, RecordsInlet
from databay_sql import SqlConnectionError, SqlConstraintError, SqlOutlet, SqlTableError

UPDATE = Update(["t"], 0)
SECRET = "s3cr3t-Pa55w0rd"


def _records(rows: list[dict[str, Any]], **metadata: Any) -> list[Record]:
    return [Record(row, dict(metadata)) for row in rows]


def _chain(error: BaseException | None) -> str:
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return " ".join(f"{e!s} {e!r}" for e in seen)


def test_insert_one_batch(db: Db) -> None:
    table = db.name("items")
    db.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, name VARCHAR(50))')
    outlet = SqlOutlet(db.url, table)
    outlet.push(_records([{"id": i, "name": f"n{i}"} for i in range(100)]), UPDATE)
    outlet.push([], UPDATE)
    assert db.scalar(f'SELECT count(*) FROM "{table}"') == 100
    assert db.rows(f'SELECT name FROM "{table}" WHERE id = 7') == [{"name": "n7"}]


def test_create_table_and_upsert_overwrites_a_redelivered_batch(db: Db) -> None:
    table = db.name("upserts")
    outlet = SqlOutlet(db.url, table, mode="upsert", key="id", create_table=True)
    batch = _records([{"id": i, "value": i * 1.5, "name": "a"} for i in range(10)])
    outlet.push(batch, UPDATE)
    outlet.push(batch, UPDATE)  # redelivered
    outlet.push(_records([{"id": 3, "value": 0.0, "name": "b"}]), UPDATE)
    assert db.scalar(f'SELECT count(*) FROM "{table}"') == 10
    assert db.rows(f'SELECT value, name FROM "{table}" WHERE id = 3') == [
        {"value": 0.0, "name": "b"}]


def test_rows_with_different_columns(db: Db) -> None:
    table = db.name("mixed")
    db.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, a TEXT, b TEXT)')
    SqlOutlet(db.url, table).push(_records([{"id": 1, "a": "x"}, {"id": 2, "b": "y"},
                                            {"id": 3, "a": "z", "b": "w"}]), UPDATE)
    assert db.rows(f'SELECT id, a, b FROM "{table}" ORDER BY id') == [
        {"id": 1, "a": "x", "b": None}, {"id": 2, "a": None, "b": "y"},
        {"id": 3, "a": "z", "b": "w"}]


def test_metadata_picks_the_table(db: Db) -> None:
    first, second = db.name("first"), db.name("second")
    outlet = SqlOutlet(db.url, first, create_table=True)
    outlet.push([Record({"id": 1}), Record({"id": 2}, {SqlOutlet.TABLE: second})], UPDATE)
    assert db.scalar(f'SELECT count(*) FROM "{first}"') == 1
    assert db.scalar(f'SELECT count(*) FROM "{second}"') == 1


@pytest.mark.parametrize("name", ['x"; DROP TABLE y; --', "1abc", "a.b.c", "", "a b", 3])
def test_a_table_name_from_metadata_is_validated_never_interpolated(db: Db, name: Any) -> None:
    table = db.name("safe")
    outlet = SqlOutlet(db.url, table, create_table=True)
    with pytest.raises(SqlTableError) as caught:
        outlet.push([Record({"id": 1}), Record({"id": 2}, {SqlOutlet.TABLE: name})], UPDATE)
    assert isinstance(caught.value, PermanentError) and not is_transient(caught.value)
    assert caught.value.undelivered == 2


def test_a_constraint_violation_rolls_the_whole_batch_back_and_is_dead_lettered(db: Db) -> None:
    table = db.name("unique")
    db.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
    outlet = SqlOutlet(db.url, table)
    with pytest.raises(SqlConstraintError) as caught:
        outlet.push(_records([{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]), UPDATE)
    assert isinstance(caught.value, PermanentError) and not is_transient(caught.value)
    assert db.scalar(f'SELECT count(*) FROM "{table}"') == 0  # nothing of the batch

    dead = CollectingOutlet()
    link = Link([RecordsInlet([{"id": 5, "name": None}])], [outlet], interval=1,  # NOT NULL
                dead_letter=dead, retry=RetryPolicy(attempts=3, backoff=0.01, jitter=False))
    result = link.transfer()
    assert not result.retried  # permanent: no retry
    assert len(dead.records) == 1
    assert db.scalar(f'SELECT count(*) FROM "{table}"') == 0


def test_a_payload_that_is_not_a_mapping_is_permanent(sqlite_db: Db) -> None:
    outlet = SqlOutlet(sqlite_db.url, sqlite_db.name("x"), create_table=True)
    with pytest.raises(SqlConstraintError, match="not a mapping"):
        outlet.push([Record([1, 2])], UPDATE)


def test_a_missing_table_without_create_table_is_permanent(db: Db) -> None:
    outlet = SqlOutlet(db.url, db.name("absent"))
    with pytest.raises(SqlTableError, match="create_table=True"):
        outlet.push(_records([{"id": 1}]), UPDATE)


def test_an_unknown_column_is_permanent(db: Db) -> None:
    table = db.name("cols")
    db.execute(f'CREATE TABLE "{table}" (id INTEGER)')
    with pytest.raises(SqlConstraintError, match="no column"):
        SqlOutlet(db.url, table).push(_records([{"id": 1, "nope": 2}]), UPDATE)


def test_an_unreachable_server_is_transient_and_retried_without_the_password() -> None:
    from _pg_server import free_port

    url = f"postgresql+psycopg://bob:{SECRET}@127.0.0.1:{free_port()}/db"
    outlet = SqlOutlet(url, "t", connect_timeout=2)
    assert SECRET not in repr(outlet) and SECRET not in outlet.url
    with pytest.raises(SqlConnectionError) as caught:
        outlet.push(_records([{"id": 1}]), UPDATE)
    assert isinstance(caught.value, TransientError) and is_transient(caught.value)
    assert SECRET not in _chain(caught.value)
    link = Link([RecordsInlet([{"id": 1}])], [outlet], interval=1, ignore_exceptions=True,
                retry=RetryPolicy(attempts=2, backoff=0.01, jitter=False))
    result = link.transfer()
    assert result.retried == {outlet: 1} and result.undelivered == {outlet: 1}


def test_the_server_going_away_mid_run_is_transient_then_recovers(
        pg_server: Any, tmp_path: Any) -> None:
    """PostgreSQL stopped: pushes fail transient; started again: they succeed."""
    from _sql_db import Db as _Db

    db = _Db("postgresql", pg_server.url)
    table = db.name("outage")
    outlet = SqlOutlet(pg_server.url, table, create_table=True, connect_timeout=2)
    outlet.push(_records([{"id": 1}]), UPDATE)
    db.engine.dispose()
    pg_server.stop("immediate")
    try:
        with pytest.raises(SqlConnectionError):
            outlet.push(_records([{"id": 2}]), UPDATE)
    finally:
        pg_server.start()
    outlet.push(_records([{"id": 3}]), UPDATE)
    assert [r["id"] for r in db.rows(f'SELECT id FROM "{table}" ORDER BY id')] == [1, 3]
    db.drop()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "merge"}, "'insert' or 'upsert'"),
    ({"mode": "upsert"}, "needs key="),
    ({"table": "bad name"}, "not a valid table name"),
    ({"key": "a.b", "mode": "upsert"}, "no 'table.' prefix"),
    ({"create_table": "yes"}, "True or False"),
    ({"connect_timeout": 0}, "positive number"),
])
def test_bad_arguments_are_refused_at_construction(kwargs: dict[str, Any], message: str) -> None:
    args = {"url": "sqlite:///x.db", "table": "t", **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        SqlOutlet(**args)


def test_bad_urls_are_refused_without_their_password() -> None:
    with pytest.raises(ValueError) as caught:
        SqlOutlet(f"nonsense://bob:{SECRET}@", "t")
    assert SECRET not in _chain(caught.value)
    with pytest.raises(TypeError):
        SqlOutlet(None, "t")  # type: ignore[arg-type]


def test_plugin_lookup() -> None:
    from databay.outlets import SqlOutlet as Found  # type: ignore[attr-defined]

    assert Found is SqlOutlet


class TestSqliteOutletContract(OutletContract):
    payloads = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]

    @pytest.fixture(autouse=True)
    def _db(self, tmp_path: Any) -> None:
        self.url = f"sqlite:///{tmp_path / 'contract.db'}"

    def make_outlet(self) -> SqlOutlet:
        return SqlOutlet(self.url, "contract", create_table=True)

    def read_back(self, outlet: Any) -> list[dict[str, Any]]:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url)
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.text("SELECT a, b FROM contract")).mappings()]
        engine.dispose()
        return rows
