"""RabbitMQ as the Celery broker: ticks travel through RabbitMQ, while the locks and tick
records stay in Redis (``DATABAY_CELERY_REDIS``), each tick still run exactly once."""

from __future__ import annotations

import datetime
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _celery_nodes import connect
from _celery_support import (
    RedisServer,
    count_ticks,
    process_env,
    processes,
    stop_process,
    wait_until,
    write_pipeline,
)
from _rabbit_support import RabbitServer, rabbitmq_script

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

LINKS = ["north", "south"]


@pytest.fixture(scope="module")
def rabbit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitServer]:
    if rabbitmq_script() is None and not os.environ.get("CI"):
        # In CI (.ci/install-rabbitmq.sh installs it) a missing broker fails instead.
        pytest.skip("rabbitmq-server is not installed: bash .ci/install-rabbitmq.sh "
                    "(apt-get install rabbitmq-server) to run the RabbitMQ broker test")
    server = RabbitServer(tmp_path_factory.mktemp("rabbitmq"))
    try:
        yield server
    finally:
        server.stop()


def _rows(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


def _ms(tick: str) -> int:
    return round(datetime.datetime.fromisoformat(tick).timestamp() * 1000)


def test_rabbitmq_broker_one_beat_one_worker_each_tick_once(
        rabbit_server: RabbitServer, redis_server: RedisServer, prefix: str,
        workdir: Path) -> None:
    db = workdir / "ticks.sqlite"
    connect(str(db)).close()
    pipeline = write_pipeline(workdir / "pipeline.toml", db, LINKS)
    env = process_env(redis_server.url, pipeline, prefix,
                      DATABAY_CELERY_BROKER=rabbit_server.url,
                      DATABAY_CELERY_REDIS=redis_server.url)
    queue = f"{prefix}-queue"
    client = redis_server.client()

    def published_all() -> dict[str, int]:
        """The last tick beat published of each link (empty until it published each)."""
        raw = {n: client.get(f"{prefix}:last:{n}") for n in LINKS}
        return {} if None in raw.values() else {n: int(v) for n, v in raw.items()}

    with processes(workdir, env) as procs:
        worker = procs.planner_worker("worker", pipeline)
        try:
            wait_until(lambda: _rows(db, "SELECT pid FROM lifecycle WHERE event = 'start'"),
                       30, "the worker to start its links")
            # the worker consumes the tick queue on RabbitMQ
            wait_until(lambda: (rabbit_server.queue(queue) or (0, 0))[1] == 1, 15,
                       f"the worker to consume queue {queue!r} on RabbitMQ")
            started = time.time()
            beat = procs.beat("beat", pipeline)
            first = wait_until(published_all, 15, "beat to publish the first ticks")
            wait_until(lambda: all(t >= first[n] + 4000 for n, t in published_all().items()),
                       15, "beat to publish 5 ticks of each link")
            beat.send_signal(signal.SIGTERM)
            assert beat.wait(15) == 0, procs.log_of(beat)
            last = published_all()

            def drained() -> bool:
                done = {(link, _ms(tick)) for link, tick in _rows(db, "SELECT link, tick "
                                                                    "FROM ticks")}
                return all((n, last[n]) in done for n in LINKS)

            wait_until(drained, 15, "the worker to run every published tick")
            assert rabbit_server.queue(queue) == (0, 1), "every tick message consumed"
        except BaseException:
            print(procs.dump())
            raise
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0, procs.dump()

    assert _rows(db, "SELECT * FROM duplicates") == []
    for name in LINKS:
        ticks = sorted(_ms(t) for (t,) in _rows(db, "SELECT tick FROM ticks WHERE link = ?",
                                                name))
        # every tick from the first published to the last, once each: none missed.
        # (``first`` is the last tick published when the test first saw every link
        # published: beat may have published another tick of a link by then.)
        assert ticks and ticks[0] <= first[name], (name, ticks, first[name])
        assert ticks == list(range(ticks[0], last[name] + 1, 1000)), (name, ticks)
        assert len(ticks) >= 5, (name, ticks)
        assert ticks[0] >= int(started * 1000) // 1000 * 1000 - 1000, (name, ticks[0])
        # the tick records and locks live in Redis
        records = [client.get(f"{prefix}:done:{name}:{_wire(t)}") for t in ticks]
        assert [r and json.loads(r)["status"] for r in records] == ["ok"] * len(ticks), records
    assert {pid for (pid,) in _rows(db, "SELECT DISTINCT pid FROM ticks")} == {worker.pid}
    assert not list(client.scan_iter(f"{prefix}:lock:*")), "every link lock released"
    # the messages went through RabbitMQ, not through Redis (kombu's Redis transport keeps
    # a list named after the queue and _kombu.binding.* keys)
    assert not client.exists(queue)
    assert not list(client.scan_iter(f"_kombu.binding.{queue}*"))


def _wire(ms: int) -> str:
    """The tick as beat sends it (the record key)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds")


@pytest.mark.timeout(150)
def test_rabbitmq_redelivers_the_tick_of_a_killed_worker_at_once(
        rabbit_server: RabbitServer, redis_server: RedisServer, prefix: str,
        workdir: Path) -> None:
    """A worker SIGKILLed mid-transfer: RabbitMQ puts its unacknowledged message back as
    soon as the connection drops (the Redis broker's visibility timeout plays no part:
    it is left at 300 s here), and the other worker redoes the tick once the dead
    worker's link lock lapses."""
    db = workdir / "ticks.sqlite"
    connect(str(db)).close()
    pipeline = write_pipeline(workdir / "pipeline.toml", db, ["slow"], interval=2.0,
                              delay=2.5)
    env = process_env(redis_server.url, pipeline, prefix,
                      DATABAY_CELERY_BROKER=rabbit_server.url,
                      DATABAY_CELERY_REDIS=redis_server.url,
                      DATABAY_CELERY_LOCK_LEASE="2", DATABAY_CELERY_POLL="0.3")
    client = redis_server.client()
    with processes(workdir, env) as procs:
        w1 = procs.celery_worker("w1")
        w2 = procs.planner_worker("w2", pipeline)
        try:
            wait_until(lambda: len(_rows(db, "SELECT DISTINCT pid FROM lifecycle "
                                             "WHERE event = 'start'")) >= 2,
                       30, "both workers to start their links")
            wait_until(lambda: (rabbit_server.queue(f"{prefix}-queue") or (0, 0))[1] == 2,
                       15, "both workers to consume the queue on RabbitMQ")
            beat = procs.beat("beat", pipeline)
            link, tick, victim = wait_until(
                lambda: _rows(db, "SELECT link, tick, pid FROM starts"), 20,
                "a slow transfer to begin")[0]
            os.killpg(victim, signal.SIGKILL)
            killed = time.monotonic()
            survivor = w2 if victim == w1.pid else w1
            # no new ticks: a 2.5 s link ticking every 2 s outruns a one-slot survivor,
            # and the redelivered tick would wait behind a growing queue
            stop_process(beat)
            redone = wait_until(lambda: _rows(db, "SELECT pid FROM ticks WHERE link = ? "
                                                  "AND tick = ?", link, tick),
                                60, f"tick {tick} of {link} to be redone", step=0.1)
            # lock lease (2 s) + the transfer (2.5 s) + at most a tick or two queued before
            # it: far below the visibility timeout (300 s) that Redis would need
            assert time.monotonic() - killed < 60
            assert redone == [(survivor.pid,)]
            record = client.get(f"{prefix}:done:slow:{_wire(_ms(tick))}")
            assert record is not None and json.loads(record)["redo"] is True, record
            assert survivor.poll() is None
        except BaseException:
            print(procs.dump())
            raise
        # the first test stops its worker gracefully; on RabbitMQ an idle Celery worker
        # takes up to 10 s to notice SIGTERM (kombu's event loop polls for up to 10 s
        # when no timer is due), time this test need not spend
        os.killpg(survivor.pid, signal.SIGKILL)
    assert _rows(db, "SELECT * FROM duplicates") == []


@pytest.mark.timeout(240)
def test_rabbitmq_restart_loses_no_tick(rabbit_server: RabbitServer, redis_server: RedisServer,
                                        prefix: str, workdir: Path) -> None:
    """The broker restarts under a running beat and worker (last test of this module:
    it restarts the module's broker): beat waits for it, then coalesces the ticks it
    could not publish; the worker reconnects; no tick is lost or run twice."""
    interval_ms = 500
    db = workdir / "ticks.sqlite"
    connect(str(db)).close()
    pipeline = write_pipeline(workdir / "pipeline.toml", db, LINKS,
                              interval=interval_ms / 1000, delay=0.2)
    env = process_env(redis_server.url, pipeline, prefix,
                      DATABAY_CELERY_BROKER=rabbit_server.url,
                      DATABAY_CELERY_REDIS=redis_server.url,
                      DATABAY_CELERY_LOCK_LEASE="3", DATABAY_CELERY_BEAT_LEASE="3",
                      DATABAY_CELERY_POLL="0.2")
    client = redis_server.client()

    def ran(link: str) -> list[int]:
        return sorted(_ms(t) for (t,) in _rows(db, "SELECT tick FROM ticks WHERE link = ?",
                                                link))

    with processes(workdir, env) as procs:
        worker = procs.planner_worker("worker", pipeline)
        try:
            wait_until(lambda: (rabbit_server.queue(f"{prefix}-queue") or (0, 0))[1] == 1,
                       30, "the worker to consume the queue on RabbitMQ")
            beat = procs.beat("beat", pipeline)
            wait_until(lambda: all(len(ran(n)) >= 4 for n in LINKS), 30,
                       "4 ticks of each link")
            rabbit_server.halt()
            rabbit_server.resume()  # the broker is down for as long as it takes to start
            resumed = time.time()
            wait_until(lambda: all(any(t > (resumed + 2) * 1000 for t in ran(n))
                                   for n in LINKS), 60, "ticks to run after the restart")
            assert beat.poll() is None, procs.log_of(beat)
            beat.send_signal(signal.SIGTERM)
            assert beat.wait(15) == 0, procs.log_of(beat)
            last = {n: int(client.get(f"{prefix}:last:{n}")) for n in LINKS}
            wait_until(lambda: all(last[n] in ran(n) for n in LINKS), 30,
                       "the worker to run every published tick")
        except BaseException:
            print(procs.dump())
            raise
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, procs.dump()
        beat_log = procs.log_of(beat)

    assert _rows(db, "SELECT * FROM duplicates") == []
    for name in LINKS:
        counts = count_ticks(db, client, prefix, name, interval_ms, ran(name)[0], last[name])
        print(f"{name}: " + ", ".join(f"{len(v)} {k}" for k, v in counts.items()))
        assert (counts["lost"], counts["duplicated"]) == ([], []), (name, counts)
        assert counts["coalesced"], "the ticks of the outage were coalesced"
    assert beat_log.count("is unreachable (") == 1, "one line for the outage"
    assert beat_log.count("is reachable again after") == 1
