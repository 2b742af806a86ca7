"""SqlStateStore, and exactly once: with a SqlOutlet on the same database the cursors
commit in the write transaction (databay.delivery.CommitsCheckpoints)."""

from __future__ import annotations

from typing import Any

import pytest
from _sql_db import Db
from databay import Link
from databay.delivery import FileStateStore, StateStore
from databay.testing import CollectingOutlet, RecordsInlet
from databay_sql import SqlInlet, SqlOutlet, SqlStateStore, SqlStateStoreError

KEY = "copy/0:SqlInlet"


def test_get_set_round_trip(db: Db) -> None:
    store = SqlStateStore(db.url, table=db.name("state"))
    assert store.get("a/b") is None
    store.set("a/b", 3)
    store.set("a/b", {"x": [1, "y"]})
    store.set("c", "2026-01-01T00:00:00")
    again = SqlStateStore(db.url, table=store.table_name)
    assert again.get("a/b") == {"x": [1, "y"]} and again.get("c") == "2026-01-01T00:00:00"
    with pytest.raises(TypeError, match="JSON"):
        store.set("a/b", object())


def test_errors_name_the_store_without_the_password() -> None:
    from _pg_server import free_port

    store = SqlStateStore(f"postgresql+psycopg://u:St0re-s3cret@127.0.0.1:{free_port()}/x",
                          connect_timeout=2)
    assert "St0re-s3cret" not in repr(store)
    with pytest.raises(SqlStateStoreError) as caught:
        store.get("k")
    assert caught.value.transient and "St0re-s3cret" not in str(caught.value)


def _source(db: Db, rows: int) -> str:
    table = db.name("src")
    db.execute(f'CREATE TABLE "{table}" (id INTEGER PRIMARY KEY, v INTEGER)')
    db.execute(f'INSERT INTO "{table}" (id, v) VALUES (:id, :v)',
               [{"id": i, "v": i * 10} for i in range(1, rows + 1)])
    return table


class RefusingSet(SqlStateStore):
    """A real SqlStateStore whose own ``set`` must not be called: the outlet commits."""

    def set(self, key: str, value: Any) -> None:
        raise AssertionError("set() called: the cursor was not committed with the write")


def test_same_database_commits_the_cursor_in_the_write_transaction(db: Db) -> None:
    source = _source(db, 12)
    target, state = db.name("dst"), db.name("state")
    store = RefusingSet(db.url, table=state)
    outlet = SqlOutlet(db.url, target, create_table=True)
    assert outlet.commits_checkpoints(store)
    assert not outlet.commits_checkpoints(SqlStateStore("sqlite:///elsewhere.db"))
    link = Link([SqlInlet(db.url, table=source, cursor_column="id", chunk_size=5)], [outlet],
                interval=1, tags="copy", state_store=store)
    for _ in range(4):
        assert link.transfer().committed
    assert db.scalar(f'SELECT count(*) FROM "{target}"') == 12
    assert SqlStateStore(db.url, table=state).get(KEY) == 12


def test_a_refused_batch_leaves_neither_rows_nor_cursor(db: Db) -> None:
    source = _source(db, 6)
    target, state = db.name("dst"), db.name("state")
    db.execute(f'CREATE TABLE "{target}" (id INTEGER PRIMARY KEY, v INTEGER CHECK (v < 40))')
    store = SqlStateStore(db.url, table=state)
    link = Link([SqlInlet(db.url, table=source, cursor_column="id", chunk_size=3)],
                [SqlOutlet(db.url, target)], interval=1, tags="copy", state_store=store,
                ignore_exceptions=True)
    link.transfer()  # ids 1-3: fine
    result = link.transfer()  # ids 4-6: v = 40.. refused by the CHECK
    assert not result.committed and result.undelivered
    assert db.scalar(f'SELECT count(*) FROM "{target}"') == 3
    assert store.get(KEY) == 3


def test_a_cursor_that_cannot_be_written_rolls_the_batch_back(sqlite_db: Db) -> None:
    db = sqlite_db
    target = db.name("dst")

    class Odd(RecordsInlet):
        @property
        def cursor(self) -> Any:
            return {1, 2}  # not JSON

        def seek(self, cursor: Any) -> None:
            pass

    link = Link([Odd([{"id": 1}])], [SqlOutlet(db.url, target, create_table=True)],
                interval=1, tags="copy", state_store=SqlStateStore(db.url),
                ignore_exceptions=True)
    result = link.transfer()
    assert not result.committed
    assert db.scalar(f'SELECT count(*) FROM "{target}"') == 0


@pytest.mark.parametrize("case", ["other database", "two outlets", "file store"])
def test_otherwise_push_then_commit(db: Db, tmp_path: Any, case: str) -> None:
    """At least once: the normal order, the store's own set()."""
    source = _source(db, 4)
    target = db.name("dst")
    outlets: list[Any] = [SqlOutlet(db.url, target, create_table=True)]
    store: StateStore = SqlStateStore(f"sqlite:///{tmp_path / 'other.db'}")
    if case == "two outlets":
        store = SqlStateStore(db.url, table=db.name("state"))
        outlets.append(CollectingOutlet())
    elif case == "file store":
        store = FileStateStore(tmp_path / "state.json")
    link = Link([SqlInlet(db.url, table=source, cursor_column="id")], outlets, interval=1,
                tags="copy", state_store=store)
    assert link.transfer().committed
    assert store.get(KEY) == 4
    assert db.scalar(f'SELECT count(*) FROM "{target}"') == 4
