"""SIGKILL of a `databay run` copying rows, at random points, restarted until done:
every row exactly once when SqlOutlet and SqlStateStore share the target database, at
least once when the checkpoints live elsewhere (a FileStateStore). Bounded in time."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _sql_db import Db

pytestmark = pytest.mark.slow

ROWS = 1500
KILLS = 4


def _start(cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.Popen([sys.executable, "-m", "databay", "run", "pipeline.toml",
                             "--status", "off"], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=(cwd / "log.txt").open("ab"))


def _count(db: Db, table: str) -> int:
    try:
        return int(db.scalar(f'SELECT count(DISTINCT id) FROM "{table}"'))
    except Exception:  # not created yet
        return 0


def _run_with_kills(cwd: Path, db: Db, table: str, seed: int) -> None:
    """Kill the run KILLS times at random moments (before it is done), then let a last
    run finish; everything within a bounded time."""
    rng = random.Random(seed)
    seen = []
    for kill in range(KILLS):
        proc = _start(cwd)
        try:
            # a random point of the copy: once a random number of rows are in, plus a
            # random fraction of a transfer
            target = min(ROWS - 1, _count(db, table) + rng.randint(1, ROWS // (KILLS + 1)))
            deadline = time.monotonic() + 60
            while _count(db, table) < target and proc.poll() is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"kill {kill}: no progress to {target} rows in 60 s:"
                                         f"\n{(cwd / 'log.txt').read_text()[-3000:]}")
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.1))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        seen.append(_count(db, table))
    # the kills hit the copy while it ran, not before or after it
    assert any(0 < n < ROWS for n in seen), seen
    proc = _start(cwd)
    try:
        deadline = time.monotonic() + 90
        while _count(db, table) < ROWS:
            if proc.poll() is not None:
                raise AssertionError(f"databay run exited {proc.returncode}:\n"
                                     f"{(cwd / 'log.txt').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"only {_count(db, table)} of {ROWS} rows after 90 s:\n"
                                     f"{(cwd / 'log.txt').read_text()[-3000:]}")
            time.sleep(0.1)
        time.sleep(0.5)  # a transfer in flight finishes (it would add duplicates if any)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)


def _pipeline(cwd: Path, inlet: str, target_url: str, table: str, store: str) -> None:
    (cwd / "pipeline.toml").write_text(textwrap.dedent(f"""
        [planner]
        type = "ThreadPlanner"

        [[links]]
        name = "copy"
        tags = ["copy"]
        interval = "50ms"
        {store}
        {inlet}
        [[links.outlets]]
        type = "SqlOutlet"
        url = "{target_url}"
        table = "{table}"
        create_table = true
    """))


def _sqlite_source(path: Path) -> str:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE src (id INTEGER PRIMARY KEY, v TEXT)")
    db.executemany("INSERT INTO src VALUES (?, ?)", [(i, f"v{i}") for i in range(1, ROWS + 1)])
    db.commit()
    db.close()
    return f"""
        [[links.inlets]]
        type = "SqlInlet"
        url = "sqlite:///{path}"
        table = "src"
        cursor_column = "id"
        chunk_size = 20
    """


def _check(db: Db, table: str, exactly_once: bool) -> None:
    rows = db.rows(f'SELECT id, count(*) AS n FROM "{table}" GROUP BY id')
    assert len(rows) == ROWS  # every row arrived
    assert {int(r["id"]) for r in rows} == set(range(1, ROWS + 1))
    if exactly_once:
        assert [r for r in rows if r["n"] != 1] == []


@pytest.mark.parametrize("seed", [1])
def test_sqlite_to_postgresql_same_database_store_is_exactly_once(
        pg_server: Any, tmp_path: Path, seed: int) -> None:
    db = Db("postgresql", pg_server.url)
    table, state = db.name("copy"), db.name("state")
    try:
        store = f"""[links.state_store]
        type = "SqlStateStore"
        url = "{pg_server.url}"
        table = "{state}"
        """
        _pipeline(tmp_path, _sqlite_source(tmp_path / "src.db"), pg_server.url, table, store)
        _run_with_kills(tmp_path, db, table, seed)
        _check(db, table, exactly_once=True)
    finally:
        db.drop()


def test_sqlite_to_postgresql_file_store_is_at_least_once(pg_server: Any,
                                                          tmp_path: Path) -> None:
    db = Db("postgresql", pg_server.url)
    table = db.name("copy")
    try:
        store = f"""[links.state_store]
        type = "FileStateStore"
        path = "{tmp_path / 'state.json'}"
        """
        _pipeline(tmp_path, _sqlite_source(tmp_path / "src.db"), pg_server.url, table, store)
        _run_with_kills(tmp_path, db, table, 2)
        _check(db, table, exactly_once=False)
    finally:
        db.drop()


def test_csv_to_sqlite_same_database_store_is_exactly_once(tmp_path: Path) -> None:
    with (tmp_path / "src.csv").open("w") as f:
        f.write("id,v\n")
        f.writelines(f"{i},v{i}\n" for i in range(1, ROWS + 1))
    url = f"sqlite:///{tmp_path / 'target.db'}"
    db = Db("sqlite", url)
    table = db.name("copy")
    inlet = f"""
        [[links.inlets]]
        type = "CsvInlet"
        filepath = "{tmp_path / 'src.csv'}"
        max_rows = 20
    """
    store = f"""[links.state_store]
        type = "SqlStateStore"
        url = "{url}"
        """
    _pipeline(tmp_path, inlet, url, table, store)
    _run_with_kills(tmp_path, db, table, 3)
    _check(db, table, exactly_once=True)
    db.drop()


def test_postgresql_stopped_mid_copy_and_restarted_loses_nothing(pg_server: Any,
                                                                 tmp_path: Path) -> None:
    """A link copies SQLite -> PostgreSQL continuously (checkpoints in PostgreSQL);
    the server is stopped like a crash mid-copy and started again: every row arrives,
    once."""
    import threading

    from databay import Link
    from databay.delivery import RetryPolicy
    from databay_sql import SqlInlet, SqlOutlet, SqlStateStore

    _sqlite_source(tmp_path / "src.db")
    db = Db("postgresql", pg_server.url)
    table, state = db.name("copy"), db.name("state")
    link = Link(SqlInlet(f"sqlite:///{tmp_path / 'src.db'}", table="src", cursor_column="id",
                         chunk_size=20),
                SqlOutlet(pg_server.url, table, create_table=True, connect_timeout=2),
                interval=1, tags="copy",
                state_store=SqlStateStore(pg_server.url, table=state, connect_timeout=2),
                retry=RetryPolicy(attempts=3, backoff=0.1, jitter=False))
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        while not stop.is_set():
            try:
                if link.transfer().pulled == 0:
                    stop.wait(0.05)
            except Exception as exc:  # as a planner does: log, go on
                failures.append(exc)  # the link rewound its inlet to the last commit
                stop.wait(0.1)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while _count(db, table) < ROWS // 3:
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        db.engine.dispose()
        pg_server.stop("immediate")
        time.sleep(1.0)  # the outage: transfers fail meanwhile
        pg_server.start()
        while _count(db, table) < ROWS:
            assert time.monotonic() < deadline, f"{_count(db, table)} of {ROWS} after 60 s"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        worker.join(30)
    assert failures, "the outage failed no transfer: the server was not really stopped"
    _check(db, table, exactly_once=True)
    db.drop()
