"""databay-sql throughput and memory, measured in one run (not a timed test).

1. SqlOutlet inserting N small rows (default 100,000; batches of --batch rows, one
   transaction each) into SQLite and PostgreSQL, against a plain SQLAlchemy loop doing
   the same on the same database (``conn.execute(insert(table), rows)`` per batch in
   ``engine.begin()``). Prints rows per second and the ratio (goal: >= 0.9).
2. SqlInlet reading M rows (default 1,000,000) of a SQLite table with a cursor column
   in chunks; prints the peak memory growth (goal: < 100 MB), measured in a fresh process
   as the growth of its peak RSS (VmHWM, Linux).

PostgreSQL: a server started here with the tests' helper (Debian's initdb + pg_ctl in a
temporary folder), or ``DATABASE_URL``; skipped with a note when neither is there.

    hatch run test.all:python benchmarks/sql/bench_sql.py [--rows 100000] [--read-rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from databay import Record, Update
from databay_sql import SqlOutlet

ROOT = Path(__file__).resolve().parents[2]
UPDATE = Update(["bench"], 0)


def make_rows(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"item-{i}", "price": i * 0.25, "qty": i % 97}
            for i in range(n)]


def create(engine: sa.Engine, name: str) -> sa.Table:
    table = sa.Table(name, sa.MetaData(), sa.Column("id", sa.BigInteger),
                     sa.Column("name", sa.Text), sa.Column("price", sa.Float),
                     sa.Column("qty", sa.Integer))
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
    return table


def plain(engine: sa.Engine, rows: list[dict[str, Any]], batch: int) -> float:
    table = create(engine, "bench_plain")
    stmt = sa.insert(table)
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        with engine.begin() as conn:
            conn.execute(stmt, rows[i:i + batch])
    return time.perf_counter() - start


def outlet(url: str, engine: sa.Engine, rows: list[dict[str, Any]], batch: int) -> float:
    create(engine, "bench_outlet")
    sql = SqlOutlet(url, "bench_outlet")
    batches = [[Record(r) for r in rows[i:i + batch]] for i in range(0, len(rows), batch)]
    sql.push(batches[0][:1], UPDATE)  # reflect the table, warm the pool
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM bench_outlet"))
    start = time.perf_counter()
    for records in batches:
        sql.push(records, UPDATE)
    return time.perf_counter() - start


def bench_outlet(label: str, url: str, n: int, batch: int, repeat: int) -> None:
    rows = make_rows(n)
    sql = SqlOutlet(url, "bench_outlet")
    engine = sql.database.engine()  # the very engine (pool, connections) the outlet uses
    plains, outlets = [], []
    for _ in range(repeat):  # alternate, so that load spikes hit both
        plains.append(plain(engine, rows, batch))
        outlets.append(outlet(url, engine, rows, batch))
    best_plain, best_outlet = min(plains), min(outlets)
    print(f"{label}: {n} rows, batches of {batch}, best of {repeat}")
    print(f"  plain SQLAlchemy executemany: {n / best_plain:10.0f} rows/s "
          f"(median {n / statistics.median(plains):.0f})")
    print(f"  SqlOutlet.push:               {n / best_outlet:10.0f} rows/s "
          f"(median {n / statistics.median(outlets):.0f})")
    print(f"  ratio SqlOutlet / plain: {best_plain / best_outlet:.2f} (goal >= 0.9)")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE bench_plain"))
        conn.execute(sa.text("DROP TABLE bench_outlet"))


READER = """
import sys
from databay_sql import SqlInlet

def peak_kb():  # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")

inlet = SqlInlet(sys.argv[1], table="big", cursor_column="id", chunk_size=int(sys.argv[2]))
inlet.database.engine().connect().close()  # imports, engine, a connection: no rows
before = peak_kb()
total = 0
while True:
    rows = inlet.pull(None)
    if not rows:
        break
    total += len(rows)
after = peak_kb()
print(total, (after - before) / 1024)
"""


def bench_inlet(folder: Path, n: int, chunk: int) -> None:
    import sqlite3

    path = folder / "big.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT, price REAL, qty INT)")
    db.executemany("INSERT INTO big VALUES (?, ?, ?, ?)",
                   ((i, f"item-{i}", i * 0.25, i % 97) for i in range(1, n + 1)))
    db.commit()
    db.close()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(READER), f"sqlite:///{path}",
                           str(chunk)], capture_output=True, text=True, check=True)
    took = time.perf_counter() - start
    total, growth = done.stdout.split()
    print(f"SqlInlet (SQLite): {int(total)} rows in chunks of {chunk}, {took:.1f} s, "
          f"{int(total) / took:.0f} rows/s")
    print(f"  peak RSS growth while reading: {float(growth):.1f} MB (goal < 100 MB)")


def postgresql(folder: Path) -> tuple[str | None, Any]:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    sys.path.insert(0, str(ROOT / "tests" / "sql"))
    from _pg_server import PgServer, find_bindir, new_folder

    bindir = find_bindir()
    if bindir is None:
        return None, None
    server = PgServer(new_folder(), bindir)
    server.init()
    server.start()
    return server.url, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--read-rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_outlet("SQLite", f"sqlite:///{folder / 'bench.db'}", args.rows, args.batch,
                     args.repeat)
        url, server = postgresql(folder)
        if url is None:
            print("PostgreSQL: skipped (apt-get install postgresql, or set DATABASE_URL)")
        else:
            try:
                bench_outlet("PostgreSQL", url, args.rows, args.batch, args.repeat)
            finally:
                if server is not None:
                    server.remove()
        bench_inlet(folder, args.read_rows, args.chunk)


if __name__ == "__main__":
    main()
