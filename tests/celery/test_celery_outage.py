"""Redis stopped and restarted under a running cluster: beat keeps going, no tick is
lost or run twice, and a standby beat does not take over because of it."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from _celery_nodes import connect
from _celery_support import (
    RedisServer,
    count_ticks,
    find_redis_server,
    process_env,
    processes,
    tick_ms,
    wait_until,
    write_pipeline,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

LINKS = ["alpha", "beta"]
INTERVAL_MS = 500
#: short leases, so that the outage outlasts them (the hard case: locks expire meanwhile)
SETTINGS = {"DATABAY_CELERY_BEAT_LEASE": "3", "DATABAY_CELERY_LOCK_LEASE": "3",
            "DATABAY_CELERY_POLL": "0.2", "DATABAY_CELERY_VISIBILITY_TIMEOUT": "10",
            "DATABAY_CELERY_RESTORE_INTERVAL": "1"}


def _rows(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


def _ran(db: Path, link: str) -> list[int]:
    return sorted(tick_ms(t) for (t,) in _rows(db, "SELECT tick FROM ticks WHERE link = ?",
                                                link))


def _redis(workdir: Path, persist: bool) -> RedisServer:
    try:
        find_redis_server()
    except RuntimeError as missing:
        pytest.skip(str(missing))
    (workdir / "redis").mkdir()
    return RedisServer(workdir / "redis", persist=persist)


def _outage(server: RedisServer, workdir: Path) -> tuple[dict[str, dict[str, list[int]]],
                                                         dict[str, str], float]:
    """Two workers, a beat and a standby on ``server``; Redis stopped for 5 s mid-run,
    then started again. Every process must live through it and stop cleanly. Returns
    each link's tick counts (see ``count_ticks``), the logs, and when Redis stopped."""
    db = workdir / "ticks.sqlite"
    connect(str(db)).close()
    prefix = "outage"
    # transfers take 0.2 s: one is in flight, holding its link's lock, when Redis stops
    pipeline = write_pipeline(workdir / "pipeline.toml", db, LINKS,
                              interval=INTERVAL_MS / 1000, delay=0.2)
    env = process_env(server.url, pipeline, prefix, **SETTINGS)
    client = server.client()
    with processes(workdir, env) as procs:
        workers = [procs.planner_worker(f"w{i}", pipeline) for i in (1, 2)]
        try:
            wait_until(lambda: len(_rows(db, "SELECT DISTINCT pid FROM lifecycle WHERE "
                                             "event = 'start'")) >= 2,
                       30, "both workers to start their links")
            beat = procs.beat("beat", pipeline)
            wait_until(lambda: all(len(_ran(db, n)) >= 4 for n in LINKS), 30,
                       "the cluster to run 4 ticks of each link")
            standby = procs.beat("standby", pipeline, "--standby")
            wait_until(lambda: "beat on standby" in procs.log_of(standby), 30,
                       "the standby to wait")

            server.halt()
            halted = time.time()
            time.sleep(5)  # the outage under test: Redis (broker and locks) is gone 5 s
            server.resume()
            resumed = time.time()

            def ran_after_resume() -> bool:
                return all(any(t > (resumed + 3) * 1000 for t in _ran(db, n)) for n in LINKS)

            wait_until(ran_after_resume, 40, "ticks to run again after Redis came back")
            assert beat.poll() is None, procs.log_of(beat)
            # the standby stayed a standby (stopped first: it takes over when beat stops)
            standby.send_signal(signal.SIGTERM)
            assert standby.wait(15) == 0, procs.log_of(standby)
            beat.send_signal(signal.SIGTERM)
            assert beat.wait(15) == 0, procs.log_of(beat)
            last = {n: int(client.get(f"{prefix}:last:{n}")) for n in LINKS}
            wait_until(lambda: all(last[n] in _ran(db, n) for n in LINKS), 30,
                       "the workers to run every published tick")
        except BaseException:
            print(procs.dump())
            raise
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(20) == 0, procs.dump()
        logs = {name: procs.log_of(p) for name, p in
                (("beat", beat), ("standby", standby), ("w1", workers[0]),
                 ("w2", workers[1]))}

    assert _rows(db, "SELECT * FROM duplicates") == []
    counts = {}
    for name in LINKS:
        counts[name] = count_ticks(db, client, prefix, name, INTERVAL_MS, _ran(db, name)[0],
                                   last[name])
        print(f"{name}: " + ", ".join(f"{len(v)} {k}" for k, v in counts[name].items()))
    beat_log = logs["beat"]
    assert beat_log.count("is unreachable (") == 1, "one line for the outage, not one a tick"
    assert beat_log.count("is reachable again after") == 1
    assert "were coalesced into tick" in beat_log
    assert "beat took over" not in logs["standby"], "the standby stayed a standby"
    for worker in ("w1", "w2"):
        assert logs[worker].count("is unreachable (") <= 1, logs[worker][-3000:]
    assert not list(client.scan_iter(f"{prefix}:lock:*")), "every link lock released"
    return counts, logs, halted


def test_redis_restart_loses_no_tick_and_moves_no_beat(workdir: Path) -> None:
    server = _redis(workdir, persist=True)
    try:
        counts, logs, _ = _outage(server, workdir)
    finally:
        server.stop()
    for name, count in counts.items():
        assert (count["lost"], count["duplicated"]) == ([], []), (name, count)
        # the ticks of the outage (about 10) were coalesced into the one run after it
        assert len(count["coalesced"]) >= 6, count
    assert "lost its data" not in logs["beat"]


def test_redis_restart_without_its_data_is_survived_and_said(workdir: Path) -> None:
    """A Redis without persistence forgets queued ticks and records when it restarts:
    nothing ends, ticks go on, and beat says which ticks may not have run."""
    server = _redis(workdir, persist=False)
    try:
        counts, logs, halted = _outage(server, workdir)
    finally:
        server.stop()
    assert "lost its data (it restarted without persistence)" in logs["beat"]
    for name, count in counts.items():
        assert count["duplicated"] == [], (name, count)
        # at most the ticks queued when Redis stopped, which beat's error names
        assert all(t <= halted * 1000 for t in count["lost"]), (name, count, halted)
        assert len(count["lost"]) <= 2, (name, count)
