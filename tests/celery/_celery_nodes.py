"""Test nodes loaded by worker processes through pipeline files (``_celery_nodes:Name``).

:class:`TickInlet` produces the tick being run; :class:`TickTableOutlet` writes each
(link, tick) into SQLite with ``UNIQUE(link, tick)``, so a tick run twice fails loudly
(and is noted in the ``duplicates`` table). Every start of a push, and every
``on_start``/``on_shutdown``, is noted too.

:class:`ListOutlet` and :class:`CountingInlet` (checkpointable) are for tests that run
links in the test process.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any

from databay import Inlet, Outlet, Record
from databay.link import Update
from databay_celery import current_tick

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticks (link TEXT NOT NULL, tick TEXT NOT NULL, pid INTEGER,
                                  at REAL, UNIQUE(link, tick));
CREATE TABLE IF NOT EXISTS starts (link TEXT, tick TEXT, pid INTEGER, at REAL);
CREATE TABLE IF NOT EXISTS duplicates (link TEXT, tick TEXT, pid INTEGER, at REAL);
CREATE TABLE IF NOT EXISTS lifecycle (pid INTEGER, event TEXT, at REAL);
"""


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


class TickInlet(Inlet):
    """One record per transfer: the link name and tick time from the worker."""

    def pull(self, update: Update) -> Any:
        tick = current_tick()
        if tick is None:
            raise RuntimeError("TickInlet ran outside a databay-celery worker tick")
        return {"link": tick.link, "tick": tick.time.isoformat()}


class TickTableOutlet(Outlet):
    """Inserts each (link, tick) once; ``delay`` seconds between noting the start and
    inserting, for slow transfers (only for the link named ``slow_link``, if given)."""

    def __init__(self, path: str, delay: float = 0.0, slow_link: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.delay = delay
        self.slow_link = slow_link
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # workers with a thread pool share the connection

    def on_start(self) -> None:
        self._db = connect(self.path)
        self._db.execute("INSERT INTO lifecycle VALUES (?, 'start', ?)", (os.getpid(), time.time()))

    def on_shutdown(self) -> None:
        assert self._db is not None
        self._db.execute("INSERT INTO lifecycle VALUES (?, 'shutdown', ?)",
                         (os.getpid(), time.time()))
        self._db.close()
        self._db = None

    def push(self, records: list[Record], update: Update) -> None:
        with self._lock:
            self._push(records)

    def _push(self, records: list[Record]) -> None:
        db = self._db
        if db is None:
            raise RuntimeError("TickTableOutlet.push before on_start")
        for record in records:
            link, tick = record.payload["link"], record.payload["tick"]
            db.execute("INSERT INTO starts VALUES (?, ?, ?, ?)",
                       (link, tick, os.getpid(), time.time()))
            if self.delay and (self.slow_link is None or self.slow_link == link):
                time.sleep(self.delay)
            try:
                db.execute("INSERT INTO ticks VALUES (?, ?, ?, ?)",
                           (link, tick, os.getpid(), time.time()))
            except sqlite3.IntegrityError:
                db.execute("INSERT INTO duplicates VALUES (?, ?, ?, ?)",
                           (link, tick, os.getpid(), time.time()))
                raise


class ListOutlet(Outlet):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.got: list[Any] = []
        self.records: list[Record] = []
        self.fail = fail

    def push(self, records: list[Record], update: Update) -> None:
        if self.fail:
            raise RuntimeError("refused")
        self.got += [r.payload for r in records]
        self.records += records


class CountingInlet(Inlet):
    """Checkpointable: yields the next three numbers from its cursor."""

    def __init__(self) -> None:
        super().__init__()
        self.position = 0

    def pull(self, update: Update) -> Any:
        batch = list(range(self.position, self.position + 3))
        self.position += 3
        return batch

    @property
    def cursor(self) -> Any:
        return self.position

    def seek(self, cursor: Any) -> None:
        self.position = int(cursor)
