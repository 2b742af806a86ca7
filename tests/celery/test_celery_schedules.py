"""CeleryPlanner on calendar schedules: beat's tick times for cron links (daylight-saving
days included, without waiting), beat publishing per-second cron ticks, and beat with two
worker processes running each cron tick exactly once."""

from __future__ import annotations

import base64
import datetime
import json
import signal
import sqlite3
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from _celery_nodes import ListOutlet, TickInlet, connect
from _celery_support import RedisServer, process_env, processes, wait_until
from databay import Link
from databay.schedules import Cron, Interval
from databay_celery import Beat, Schedule, Settings
from databay_celery._app import make_app
from databay_celery._beat import NEVER
from databay_celery._guard import Guard
from databay_celery._registry import format_tick
from databay_celery._worker import Wait, _guarded

pytestmark = pytest.mark.timeout(90)

UTC = datetime.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def ms(dt: datetime.datetime) -> int:
    return round(dt.timestamp() * 1000)


def at(tz: datetime.tzinfo, *args: int) -> int:
    return ms(datetime.datetime(*args, tzinfo=tz))  # type: ignore[misc]


# -- tick times, without waiting ----------------------------------------------------------


def test_cron_ticks_follow_the_schedule_across_clock_changes() -> None:
    daily = Schedule.of("nightly", Cron("30 2 * * *", "Europe/Berlin"), False)
    assert daily.calendar is not None and daily.interval_ms == 0
    # spring forward: 02:30 does not exist on 29 March 2026 -> once, at 03:00 CEST
    assert daily.after(at(BERLIN, 2026, 3, 28, 12)) == at(BERLIN, 2026, 3, 29, 3)
    # fall back: 02:30 happens twice on 25 October -> once, at the first (CEST, +02:00)
    first = daily.after(at(BERLIN, 2026, 10, 24, 12))
    assert first == ms(datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    assert daily.after(first) == ms(datetime.datetime(2026, 10, 26, 1, 30, tzinfo=UTC))
    # coalescing: the latest tick that fell due, and how many before it
    latest = daily.latest(at(BERLIN, 2026, 4, 2, 12), since=at(BERLIN, 2026, 3, 29, 3))
    assert latest == at(BERLIN, 2026, 4, 2, 2, 30)
    assert daily.count(at(BERLIN, 2026, 3, 29, 3), latest) == 4


def test_first_tick_of_a_fresh_beat() -> None:
    now = at(UTC, 2026, 6, 1, 12, 0, 0) + 250
    cron = Cron("0 * * * *", "UTC")
    assert Schedule.of("a", cron, True).first(now) == now  # immediate: a tick of its own
    assert Schedule.of("a", cron, False).first(now) == at(UTC, 2026, 6, 1, 13)
    later = Cron("0 * * * *", "UTC", start=datetime.datetime(2026, 7, 1, tzinfo=UTC))
    assert Schedule.of("a", later, True).first(now) == at(UTC, 2026, 7, 1)


def test_interval_schedules_keep_the_grid_with_start_and_end() -> None:
    plain = Schedule.of("a", datetime.timedelta(seconds=5), True)
    assert (plain.interval_ms, plain.first(12_345), plain.after(10_000)) == (5000, 10_000,
                                                                              15_000)
    assert plain == Schedule("a", 5000, True)
    start = datetime.datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
    end = datetime.datetime(2026, 1, 1, 0, 0, 12, tzinfo=UTC)
    grid = Schedule.of("b", Interval(5, start=start, end=end, jitter=0.5), False)
    assert grid.first(ms(start) - 60_000) == ms(start)
    assert grid.after(ms(start)) == ms(start) + 5000
    assert grid.after(ms(start) + 10_000) == NEVER  # past the end
    assert grid.latest(ms(end) + 60_000, since=ms(start)) == ms(start) + 10_000
    assert all(0 <= grid.delay() <= 500 for _ in range(50))


# -- beat publishes cron ticks -------------------------------------------------------------


@pytest.fixture
def settings(redis_server: RedisServer, prefix: str) -> Settings:
    return Settings(broker_url=redis_server.url, redis_url=redis_server.url, prefix=prefix,
                    queue=f"{prefix}-q", lock_lease=2.0, beat_lease=2.0, poll=0.2)


def test_a_cron_tick_that_finds_its_link_busy_waits_then_is_skipped(
        settings: Settings) -> None:
    guard = Guard(settings)
    link = Link(TickInlet(), ListOutlet(), schedule=Cron("*/10 * * * * *", "UTC"), tags="c")
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    busy = guard.lock_link("c", format_tick(ms(now) - 60_000))  # an earlier tick still runs
    assert busy is not None
    try:
        # the tick's next fire is still ahead: it may yet start on time, so it waits
        upcoming = now + datetime.timedelta(seconds=30 - now.second % 10)
        with pytest.raises(Wait, match="still runs"):
            _guarded(guard, link, "c", format_tick(ms(upcoming)), upcoming)
        # its next fire (10 s later) has passed: skipped and recorded
        old = now - datetime.timedelta(seconds=30 + now.second % 10)
        assert _guarded(guard, link, "c", format_tick(ms(old)), old) == "skipped"
        assert guard.done("c", format_tick(ms(old)))["status"] == "skipped"  # type: ignore[index]
    finally:
        busy.release()
        guard.close()


def test_beat_publishes_per_second_cron_ticks(settings: Settings,
                                              redis_server: RedisServer) -> None:
    app = make_app(settings)
    beat = Beat(app, settings,
                {"c": Schedule.of("c", Cron("* * * * * *", "Europe/Berlin"), False)}, "p.toml")
    stop = threading.Event()
    thread = threading.Thread(target=beat.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: beat.published >= 3, 10, "three cron ticks")
        sent_at = time.time()
    finally:
        stop.set()
        thread.join(5)
        beat.guard.close()
        app.close()
    client = redis_server.client()
    ticks = []
    for raw in client.lrange(settings.queue, 0, -1):
        args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
        ticks.append(round(datetime.datetime.fromisoformat(args[1]).timestamp() * 1000))
    ticks.sort()
    assert len(ticks) >= 3
    assert all(t % 1000 == 0 for t in ticks), ticks  # whole seconds
    assert ticks == list(range(ticks[0], ticks[0] + 1000 * len(ticks), 1000))
    assert ticks[-1] <= (sent_at + settings.lead) * 1000, "published at most lead ahead"


# -- beat and two workers: each cron tick exactly once ----------------------------------


PIPELINE = """
[planner]
type = "CeleryPlanner"
role = "${{DATABAY_ROLE:-worker}}"
{links}
"""

LINK = """
[[links]]
name = "{name}"
schedule = "* * * * * *"
timezone = "America/New_York"
immediate_transfer = false
[[links.inlets]]
type = "_celery_nodes:TickInlet"
[[links.outlets]]
type = "_celery_nodes:TickTableOutlet"
path = "{db}"
"""


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.mark.slow
def test_beat_and_two_workers_run_each_cron_tick_once(redis_server: RedisServer, prefix: str,
                                                      workdir: Path) -> None:
    db = workdir / "ticks.sqlite"
    connect(str(db)).close()
    names = ["east", "west"]
    pipeline = workdir / "pipeline.toml"
    pipeline.write_text(PIPELINE.format(links="".join(LINK.format(name=n, db=db)
                                                      for n in names)))
    env = process_env(redis_server.url, pipeline, prefix)
    client = redis_server.client()
    with processes(workdir, env) as procs:
        w1 = procs.databay_run_worker("w1", pipeline)
        w2 = procs.databay_run_worker("w2", pipeline)
        try:
            wait_until(lambda: len(_rows(db, "SELECT DISTINCT pid FROM lifecycle "
                                             "WHERE event = 'start'")) >= 2,
                       30, "both workers to start their links")
            beat = procs.beat("beat", pipeline)
            wait_until(lambda: len(_rows(db, "SELECT tick FROM ticks")) >= 8, 30,
                       "cron ticks to run")
            beat.send_signal(signal.SIGTERM)
            assert beat.wait(15) == 0, procs.log_of(beat)
            last = {n: int(client.get(f"{prefix}:last:{n}")) for n in names}

            def drained() -> bool:
                done = {(link, round(datetime.datetime.fromisoformat(t).timestamp() * 1000))
                        for link, t in _rows(db, "SELECT link, tick FROM ticks")}
                return all((n, last[n]) in done for n in names)

            wait_until(drained, 20, "the workers to run every published tick")
        except BaseException:
            print(procs.dump())
            raise
        for worker in (w1, w2):
            worker.send_signal(signal.SIGTERM)
        for worker in (w1, w2):
            assert worker.wait(20) == 0, procs.dump()
    assert _rows(db, "SELECT * FROM duplicates") == []
    for name in names:
        ticks = sorted(round(datetime.datetime.fromisoformat(t).timestamp() * 1000)
                       for (t,) in _rows(db, "SELECT tick FROM ticks WHERE link = ?", name))
        assert len(ticks) >= 3, (name, ticks)
        # whole seconds, every one from the first to the last published, once each
        assert ticks == list(range(ticks[0], last[name] + 1, 1000)), (name, ticks)
