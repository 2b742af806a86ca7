"""SqlInlet against real databases: tables, queries with parameters, incremental reads
by a cursor column in chunks, seek, the kit's inlet and checkpoint contracts."""

from __future__ import annotations

from typing import Any

import pytest
from _sql_db import Db
from databay import Link, Outlet, Record, Update
from databay.testing import CollectingOutlet, InletContract
from databay_sql import SqlInlet, SqlReadError

UPDATE = Update(["t"], 0)


def _fill(db: Db, rows: int = 25) -> str:
    table = db.name("src")
    db.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, name VARCHAR(20), '
               f'kind VARCHAR(5))')
    db.execute(f'INSERT INTO "{table}" (id, name, kind) VALUES (:id, :name, :kind)',
               [{"id": i, "name": f"n{i}", "kind": "even" if i % 2 == 0 else "odd"}
                for i in range(1, rows + 1)])
    return table


def test_a_table_whole_on_every_pull(db: Db) -> None:
    table = _fill(db, 5)
    inlet = SqlInlet(db.url, table=table)
    first = list(inlet.pull(UPDATE))
    assert sorted(r["id"] for r in first) == [1, 2, 3, 4, 5]
    assert first[0].keys() == {"id", "name", "kind"}
    assert len(list(inlet.pull(UPDATE))) == 5 and inlet.cursor is None


def test_a_whole_table_streams_in_bounded_memory(db: Db) -> None:
    """Without cursor_column a pull is a stream: the link reads it chunk by chunk, so
    the rows of a whole table are never all in memory at once."""
    table = _fill(db, 25)
    inlet = SqlInlet(db.url, table=table, chunk_size=4)
    rows = inlet.pull(UPDATE)
    assert not isinstance(rows, list)
    sizes: list[int] = []

    class Sizes(Outlet):
        def push(self, records: list[Record], update: Update) -> None:
            sizes.append(len(records))

    result = Link(SqlInlet(db.url, table=table, chunk_size=4), Sizes(), interval=1,
                  batch_size=10).transfer()
    assert result.pulled == 25 and sizes == [10, 10, 5]
    assert sorted(r["id"] for r in rows) == list(range(1, 26))  # the first stream, too


def test_incremental_by_cursor_column_in_chunks(db: Db) -> None:
    table = _fill(db)
    inlet = SqlInlet(db.url, table=table, cursor_column="id", chunk_size=10)
    assert [len(inlet.pull(UPDATE)) for _ in range(4)] == [10, 10, 5, 0]
    assert inlet.cursor == 25
    db.execute(f'INSERT INTO "{table}" (id, name) VALUES (26, :n)', {"n": "late"})
    assert [r["name"] for r in inlet.pull(UPDATE)] == ["late"]
    inlet.seek(20)
    assert [r["id"] for r in inlet.pull(UPDATE)] == [21, 22, 23, 24, 25, 26]
    inlet.seek(None)
    assert inlet.pull(UPDATE)[0]["id"] == 1


def test_a_query_with_bound_parameters_and_a_cursor(db: Db) -> None:
    table = _fill(db)
    inlet = SqlInlet(db.url, query=f'SELECT id, name FROM "{table}" WHERE kind = :kind',
                     cursor_column="id", chunk_size=4, parameters={"kind": "odd"})
    ids = [r["id"] for r in inlet.pull(UPDATE)]
    assert ids == [1, 3, 5, 7]
    assert [r["id"] for r in inlet.pull(UPDATE)] == [9, 11, 13, 15]
    hostile = "x' OR '1'='1"
    other = SqlInlet(db.url, query=f'SELECT id FROM "{table}" WHERE kind = :kind',
                     parameters={"kind": hostile})
    assert list(other.pull(UPDATE)) == []


def test_a_link_with_a_state_store_resumes_after_a_restart(db: Db) -> None:
    from databay_sql import SqlStateStore

    table = _fill(db)
    store = SqlStateStore(db.url, table=db.name("state"))
    seen = []
    for _ in range(2):  # two "processes": new inlet and link, the same store
        inlet = SqlInlet(db.url, table=table, cursor_column="id", chunk_size=10)
        outlet = CollectingOutlet()
        link = Link([inlet], [outlet], interval=1, tags="copy", state_store=store)
        link.transfer()
        seen += [r.payload["id"] for r in outlet.records]
    assert seen == list(range(1, 21))


def test_a_missing_table_is_a_read_error(db: Db) -> None:
    with pytest.raises(SqlReadError) as caught:
        SqlInlet(db.url, table=db.name("absent")).pull(UPDATE)
    assert caught.value.transient is False


def test_an_unreachable_server_is_a_transient_read_error() -> None:
    from _pg_server import free_port

    inlet = SqlInlet(f"postgresql+psycopg://u:pw-s3cret@127.0.0.1:{free_port()}/x",
                     table="t", connect_timeout=2)
    with pytest.raises(SqlReadError) as caught:
        inlet.pull(UPDATE)
    assert caught.value.transient is True and "pw-s3cret" not in str(caught.value)
    assert "pw-s3cret" not in repr(inlet)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "either table= .* or query="),
    ({"table": "t", "query": "SELECT 1"}, "not both"),
    ({"table": "t; DROP TABLE x"}, "not a valid table name"),
    ({"table": "t", "cursor_column": "a b"}, "not a valid column name"),
    ({"table": "t", "chunk_size": 0}, "positive int"),
    ({"query": "  "}, "non-empty SQL"),
])
def test_bad_arguments_are_refused_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        SqlInlet("sqlite:///x.db", **kwargs)


def test_seek_without_cursor_column_is_refused(sqlite_db: Db) -> None:
    inlet = SqlInlet(sqlite_db.url, table="t")
    inlet.seek(None)
    with pytest.raises(ValueError, match="no cursor_column"):
        inlet.seek(3)


def test_plugin_lookup() -> None:
    from databay.inlets import SqlInlet as Found  # type: ignore[attr-defined]

    assert Found is SqlInlet


class TestSqliteInletContract(InletContract):
    min_records = 1

    @pytest.fixture(autouse=True)
    def _db(self, tmp_path: Any) -> None:
        import sqlalchemy as sa

        self.url = f"sqlite:///{tmp_path / 'contract.db'}"
        engine = sa.create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)"))
            conn.execute(sa.text("INSERT INTO items VALUES (:id, :v)"),
                         [{"id": i, "v": str(i)} for i in range(1, 51)])
        engine.dispose()

    def make_inlet(self, metadata: dict[str, Any]) -> SqlInlet:
        return SqlInlet(self.url, table="items", cursor_column="id", chunk_size=3,
                        metadata=metadata)
