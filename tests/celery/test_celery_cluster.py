"""Beat and workers as real processes on a real Redis: each tick exactly once."""

from __future__ import annotations

import datetime
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from _celery_nodes import connect
from _celery_support import (
    RedisServer,
    process_env,
    processes,
    stop_process,
    wait_until,
    write_pipeline,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

LINKS = ["alpha", "beta", "gamma"]


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


def _published(client, prefix: str, link: str) -> int | None:
    raw = client.get(f"{prefix}:last:{link}")
    return None if raw is None else int(raw)


def _ms(tick: str) -> int:
    return round(datetime.datetime.fromisoformat(tick).timestamp() * 1000)


def test_three_links_two_workers_each_tick_once(redis_server: RedisServer, prefix: str,
                                                 workdir: Path) -> None:
    db = workdir / "ticks.sqlite"
    connect(str(db)).close()
    # the file's [planner] settings win over the environment's, however a role starts
    env = process_env(redis_server.url, workdir / "pipeline.toml", prefix)
    prefix = f"{prefix}-file"
    pipeline = write_pipeline(workdir / "pipeline.toml", db, LINKS,
                              planner=(f'queue = "{prefix}-q"', f'prefix = "{prefix}"'))
    client = redis_server.client()
    with processes(workdir, env) as procs:
        w1 = procs.celery_worker("w1")
        w2 = procs.databay_run_worker("w2", pipeline)
        try:
            # both workers built their links and started their nodes before any tick
            wait_until(lambda: len(_rows(db, "SELECT DISTINCT pid FROM lifecycle "
                                             "WHERE event = 'start'")) >= 2,
                       30, "both workers to start their links")
            beat = procs.beat("beat", pipeline)
            wait_until(lambda: all(_published(client, prefix, n) for n in LINKS), 15,
                       "beat to publish the first ticks")

            # a second beat, started by mistake, refuses with a clear message
            second = procs.beat("beat2", pipeline)
            assert second.wait(30) == 2
            refusal = procs.log_of(second)
            assert "another beat already runs" in refusal, refusal
            assert "--standby" in refusal

            time.sleep(9)  # let the cluster run: ~10 ticks per link
            beat.send_signal(signal.SIGTERM)
            assert beat.wait(15) == 0, procs.log_of(beat)
            last = {n: _published(client, prefix, n) for n in LINKS}

            def drained() -> bool:
                done = {(link, _ms(tick)) for link, tick in _rows(db, "SELECT link, tick "
                                                                    "FROM ticks")}
                return all((n, last[n]) in done for n in LINKS)

            wait_until(drained, 20, "the workers to run every published tick")
        except BaseException:
            print(procs.dump())
            raise
        for worker in (w1, w2):
            worker.send_signal(signal.SIGTERM)
        for worker in (w1, w2):
            assert worker.wait(20) == 0, procs.dump()

    assert _rows(db, "SELECT * FROM duplicates") == []
    for name in LINKS:
        ticks = sorted(_ms(t) for (t,) in _rows(db, "SELECT tick FROM ticks WHERE link = ?",
                                                name))
        assert len(ticks) >= 9, (name, ticks)
        # every tick of the grid from the first to the last published one, once each
        assert ticks == list(range(ticks[0], last[name] + 1, 1000)), (name, ticks)
    pids = {pid for (pid,) in _rows(db, "SELECT DISTINCT pid FROM ticks")}
    assert pids == {w1.pid, w2.pid}, "both workers did work"
    # the databay command's live status counted the transfers its worker ran (hooks)
    summary = procs.log_of(w2)
    for name in LINKS:
        ran = _rows(db, "SELECT COUNT(*) FROM ticks WHERE link = ? AND pid = ?", name,
                    w2.pid)[0][0]
        assert f"{name}: {ran} transfer{'s' * (ran != 1)}" in summary, (name, ran, summary[-2000:])
    # each link's outlet started once per worker process, shut down once when it stopped
    for pid in (w1.pid, w2.pid):
        events = [e for (e,) in _rows(db, "SELECT event FROM lifecycle WHERE pid = ? "
                                          "ORDER BY at", pid)]
        assert events == ["start"] * len(LINKS) + ["shutdown"] * len(LINKS), (pid, events)
    statuses = {client.get(k) is not None for k in client.scan_iter(f"{prefix}:done:*")}
    assert statuses == {True}
    assert not list(client.scan_iter(f"{prefix}:lock:*")), "every link lock released"


@pytest.mark.timeout(150)
def test_worker_killed_mid_transfer_its_tick_is_redone(redis_server: RedisServer,
                                                       prefix: str, workdir: Path) -> None:
    db = workdir / "ticks.sqlite"
    connect(str(db)).close()
    pipeline = write_pipeline(workdir / "pipeline.toml", db, ["slow", "quick"], delay=2.5,
                              slow_link="slow")
    env = process_env(redis_server.url, pipeline, prefix,
                      DATABAY_CELERY_LOCK_LEASE="2", DATABAY_CELERY_VISIBILITY_TIMEOUT="3",
                      DATABAY_CELERY_RESTORE_INTERVAL="1", DATABAY_CELERY_POLL="0.3")
    client = redis_server.client()
    with processes(workdir, env) as procs:
        w1 = procs.celery_worker("w1")
        w2 = procs.planner_worker("w2", pipeline)
        try:
            wait_until(lambda: len(_rows(db, "SELECT DISTINCT pid FROM lifecycle "
                                             "WHERE event = 'start'")) >= 2,
                       30, "both workers to start their links")
            beat = procs.beat("beat", pipeline)
            link, tick, victim = wait_until(
                lambda: _rows(db, "SELECT link, tick, pid FROM starts WHERE link = 'slow'"),
                20, "a slow transfer to begin")[0]
            os.killpg(victim, signal.SIGKILL)
            survivor = w2 if victim == w1.pid else w1
            assert survivor.poll() is None
            # the quick link keeps running on the survivor meanwhile
            wait_until(lambda: _rows(db, "SELECT COUNT(*) FROM ticks WHERE link = 'quick' "
                                         "AND pid = ?", survivor.pid)[0][0] >= 3,
                       30, "three quick ticks on the surviving worker", step=0.2)
            # then no new ticks: a survivor with one slot (the solo pool) falls ever
            # further behind a 2.5 s link that ticks every second, and the redelivered
            # tick waits at the back of that queue
            stop_process(beat)
            redone = wait_until(lambda: _rows(db, "SELECT pid FROM ticks WHERE link = ? "
                                                  "AND tick = ?", link, tick),
                                60, f"tick {tick} of {link} to be redone", step=0.2)
            assert redone == [(survivor.pid,)]
            record = client.get(f"{prefix}:done:slow:{_wire(tick)}")
            assert record is not None and '"redo": true' in record, record
        except BaseException:
            print(procs.dump())
            raise
    assert _rows(db, "SELECT * FROM duplicates") == []


def _wire(tick: str) -> str:
    """The tick as beat sends it (the record key), from the inlet's isoformat."""
    moment = datetime.datetime.fromisoformat(tick)
    return moment.isoformat(timespec="milliseconds")


def test_prefork_child_killed_mid_transfer_is_rejected_and_redone(
        redis_server: RedisServer, prefix: str, workdir: Path) -> None:
    """Celery's default pool: the parent sees its child die and puts the message back
    at once (reject_on_worker_lost), without waiting for the visibility timeout."""
    db = workdir / "ticks.sqlite"
    connect(str(db)).close()
    pipeline = write_pipeline(workdir / "pipeline.toml", db, ["slow"], interval=2.0,
                              delay=2.0)
    env = process_env(redis_server.url, pipeline, prefix, DATABAY_CELERY_LOCK_LEASE="2",
                      DATABAY_CELERY_POLL="0.3")
    with processes(workdir, env) as procs:
        parent = procs.spawn("prefork", "-m", "celery", "-A", "databay_celery.app", "worker",
                             "--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO",
                             "--without-gossip", "--without-mingle", "--without-heartbeat")
        try:
            wait_until(lambda: len(_rows(db, "SELECT DISTINCT pid FROM lifecycle "
                                             "WHERE event = 'start'")) >= 2,
                       30, "both children to start their links")
            procs.beat("beat", pipeline)
            link, tick, child = wait_until(
                lambda: _rows(db, "SELECT link, tick, pid FROM starts"), 20,
                "a slow transfer to begin")[0]
            assert child != parent.pid
            os.kill(child, signal.SIGKILL)
            redone = wait_until(lambda: _rows(db, "SELECT pid FROM ticks WHERE link = ? "
                                                  "AND tick = ?", link, tick),
                                20, f"tick {tick} to be redone", step=0.2)
            assert redone[0][0] not in (child, parent.pid)
            assert parent.poll() is None
        except BaseException:
            print(procs.dump())
            raise
    assert _rows(db, "SELECT * FROM duplicates") == []
