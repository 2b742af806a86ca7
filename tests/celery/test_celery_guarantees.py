"""Each guarantee on its own, in this process, against the real Redis server."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _celery_nodes import CountingInlet, ListOutlet
from _celery_support import RedisServer, wait_until
from databay import Inlet, Link, plugins
from databay.delivery import FileStateStore
from databay.hookspecs import hookimpl
from databay.link import Update
from databay_celery import Beat, BeatLockedError, CeleryPlanner, Schedule, Settings, current_tick
from databay_celery._app import make_app
from databay_celery._guard import Guard
from databay_celery._registry import format_tick
from databay_celery._worker import Wait, _guarded

pytestmark = pytest.mark.timeout(60)


class TickInlet(Inlet):
    def pull(self, update: Update) -> Any:
        tick = current_tick()
        return None if tick is None else [tick.time.isoformat()]


class AsyncTickInlet(Inlet):
    async def pull(self, update: Update) -> Any:
        tick = current_tick()
        return None if tick is None else [tick.time.isoformat()]


@pytest.fixture
def settings(redis_server: RedisServer, prefix: str) -> Settings:
    return Settings(broker_url=redis_server.url, redis_url=redis_server.url, prefix=prefix,
                    queue=f"{prefix}-q", lock_lease=2.0, beat_lease=2.0, poll=0.2)


@pytest.fixture
def guard(settings: Settings) -> Iterator[Guard]:
    g = Guard(settings)
    yield g
    g.close()


def _tick(offset_s: float = 0.0) -> tuple[str, Any]:
    ms = int((time.time() + offset_s) * 1000) // 1000 * 1000
    text = format_tick(ms)
    from databay_celery._registry import parse_tick

    return text, parse_tick(text)


def test_a_redelivered_finished_tick_does_nothing(guard: Guard) -> None:
    outlet = ListOutlet()
    link = Link(TickInlet(), outlet, interval=1, tags="a")
    tick, when = _tick()
    assert _guarded(guard, link, "a", tick, when) == "ok"
    assert _guarded(guard, link, "a", tick, when) == "duplicate"
    assert outlet.got == [when.isoformat()]  # current_tick() gave the scheduled time
    record = guard.done("a", tick)
    assert record is not None and record["status"] == "ok" and record["pushed"] == 1


def test_async_nodes_see_the_current_tick(guard: Guard) -> None:
    # async nodes run on databay's loop thread; the tick travels with the context
    outlet = ListOutlet()
    link = Link(AsyncTickInlet(), outlet, interval=1, tags="b")
    tick, when = _tick()
    assert _guarded(guard, link, "b", tick, when) == "ok"
    assert outlet.got == [when.isoformat()]
    assert current_tick() is None  # and it does not outlive the transfer


def test_a_link_never_runs_beside_itself(guard: Guard) -> None:
    outlet = ListOutlet()
    link = Link(TickInlet(), outlet, interval=1, tags="a")
    tick, when = _tick()
    lease = guard.lock_link("a", tick)  # another worker runs this tick
    assert lease is not None
    try:
        with pytest.raises(Wait, match="same tick"):
            _guarded(guard, link, "a", tick, when)
        # a later tick waits while it may still start on time...
        later, later_when = _tick(+5)
        with pytest.raises(Wait, match="still runs"):
            _guarded(guard, link, "a", later, later_when)
        # ...and is skipped (noted, not queued) once the next tick is due
        late, late_when = _tick(-5)
        assert _guarded(guard, link, "a", late, late_when) == "skipped"
        assert guard.done("a", late)["status"] == "skipped"  # type: ignore[index]
    finally:
        lease.release()
    assert outlet.got == []
    assert _guarded(guard, link, "a", tick, when) == "ok"


def test_an_interrupted_tick_runs_again_and_waits_for_the_lock(guard: Guard) -> None:
    outlet = ListOutlet()
    link = Link(TickInlet(), outlet, interval=1, tags="a")
    tick, when = _tick(-30)
    guard.mark_started("a", tick)  # a worker began it, then died
    other = guard.lock_link("a", "a-later-tick")
    assert other is not None
    with pytest.raises(Wait, match="redo waits"):
        _guarded(guard, link, "a", tick, when)  # old, but not skipped: it must run
    other.release()
    assert _guarded(guard, link, "a", tick, when) == "ok (redone)"
    assert guard.done("a", tick)["redo"] is True  # type: ignore[index]
    assert len(outlet.got) == 1


def test_a_dead_holder_blocks_its_link_only_for_the_lease(settings: Settings) -> None:
    guard = Guard(dataclasses.replace(settings, lock_lease=1.0))
    dead = guard.lock_link("a", "t1")  # never renewed, never released: its worker died
    assert dead is not None
    assert guard.lock_link("a", "t2") is None
    took = wait_until(lambda: guard.lock_link("a", "t2"), 5, "the lease to expire")
    took.release()
    # a live holder renews its lease: nobody takes the lock from it
    live = guard.lock_link("b", "t1")
    assert live is not None
    live.keep()
    time.sleep(guard.settings.lock_lease * 1.5)
    assert guard.lock_link("b", "t2") is None
    live.release()
    assert not live.lost.is_set()
    guard.close()


def test_a_failed_transfer_is_recorded_not_retried_by_celery(guard: Guard,
                                                             caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    link = Link(TickInlet(), ListOutlet(fail=True), interval=1, tags="a")
    tick, when = _tick()
    assert _guarded(guard, link, "a", tick, when) == "failed"
    record = guard.done("a", tick)
    assert record is not None and "RuntimeError: refused" in record["error"]
    assert f"tick {tick} of link 'a' failed" in caplog.text
    assert _guarded(guard, link, "a", tick, when) == "duplicate"


def test_checkpoints_carry_over_between_workers(guard: Guard, tmp_path: Any) -> None:
    # two workers hold their own copy of the link; the state store is shared
    store = FileStateStore(tmp_path / "state.json")
    outlets = [ListOutlet(), ListOutlet()]
    links = [Link(CountingInlet(), outlets[i], interval=1, tags="c", state_store=store)
             for i in range(2)]
    for n in range(6):
        tick, when = _tick(n)
        assert _guarded(guard, links[n % 2], "c", tick, when) == "ok"
    got = sorted(outlets[0].got + outlets[1].got)
    assert got == list(range(18)), "nothing skipped, nothing read twice"


def _queued(client: Any, queue: str) -> list[Any]:
    bodies = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        assert message["content-type"] == "application/json"
        bodies.append(json.loads(base64.b64decode(message["body"])))
    return bodies


def test_beat_publishes_names_and_times_on_the_grid(settings: Settings,
                                                    redis_server: RedisServer) -> None:
    app = make_app(settings)
    beat = Beat(app, settings, {"a": Schedule("a", 500, True)}, "p.toml")
    stop = threading.Event()
    thread = threading.Thread(target=beat.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: beat.published >= 3, 5, "three ticks")
    finally:
        stop.set()
        thread.join(5)
        beat.guard.close()
    client = redis_server.client()
    bodies = _queued(client, settings.queue)
    assert len(bodies) >= 3
    ticks = []
    for args, kwargs, _embed in bodies:
        name, tick = args
        assert kwargs in ({}, {"due": tick}), "published ahead: with its due time"
        assert name == "a"
        ticks.append(tick)
    millis = sorted(round(datetime.datetime.fromisoformat(t).timestamp() * 1000)
                    for t in ticks)
    assert all(m % 500 == 0 for m in millis)
    assert millis == list(range(millis[0], millis[0] + 500 * len(millis), 500))
    assert client.get(f"{settings.prefix}:beat") is None, "the beat lock was released"


def test_second_beat_refused_standby_takes_over_on_the_same_grid(
        settings: Settings, redis_server: RedisServer) -> None:
    app = make_app(settings)
    first = Beat(app, settings, {"a": Schedule("a", 300, True)}, "p.toml")
    stop1, stop2 = threading.Event(), threading.Event()
    t1 = threading.Thread(target=first.run, args=(stop1,))
    t1.start()
    second = standby = None
    try:
        wait_until(first.leading.is_set, 5, "the first beat to lead")
        second = Beat(app, settings, {"a": Schedule("a", 300, True)}, "other.toml")
        with pytest.raises(BeatLockedError, match="another beat already runs.*p.toml"):
            second.run(threading.Event())
        standby = Beat(app, settings, {"a": Schedule("a", 300, True)}, "p.toml",
                       standby=True)
        t2 = threading.Thread(target=standby.run, args=(stop2,))
        t2.start()
        time.sleep(0.5)
        assert not standby.leading.is_set()
        stop1.set()
        t1.join(5)
        wait_until(standby.leading.is_set, 5, "the standby to take over")
        wait_until(lambda: standby.published >= 2, 5, "the standby to publish")
    finally:
        stop1.set()
        stop2.set()
        t1.join(5)
        if standby is not None:
            t2.join(5)
        for beat in (first, second, standby):
            if beat is not None:
                beat.guard.close()
    ticks = [args[1] for args, _, _ in _queued(redis_server.client(), settings.queue)]
    assert len(ticks) == len(set(ticks)), "no tick published twice across the takeover"
    millis = sorted(round(datetime.datetime.fromisoformat(t).timestamp() * 1000)
                    for t in ticks)
    assert millis == list(range(millis[0], millis[-1] + 1, 300)), "no tick missed either"


class _Hooks:
    def __init__(self) -> None:
        self.finished: list[str] = []

    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Update, result: Any) -> None:
        self.finished.append(".".join(link.tags))


def test_planner_worker_runs_ticks_and_fires_hooks(settings: Settings) -> None:
    outlet = ListOutlet()
    link = Link(TickInlet(), outlet, interval=1, tags="hooked", immediate_transfer=False)
    planner = CeleryPlanner(link, role="worker", broker_url=settings.broker_url,
                            prefix=settings.prefix, queue=settings.queue,
                            hostname="hooks@localhost")
    hooks = _Hooks()
    name = plugins.register(hooks, name="celery-test-hooks")
    thread = threading.Thread(target=planner.start)
    thread.start()
    try:
        wait_until(lambda: planner.running, 10, "the worker to run")
        app = make_app(settings)
        beat = Beat(app, settings, {}, "p.toml")
        tick = int(time.time()) * 1000
        # the link is busy elsewhere: the tick waits (re-sent by Celery with a countdown)
        other = beat.guard.lock_link("hooked", format_tick(tick))
        assert other is not None
        beat.publish("hooked", tick)
        beat.publish("hooked", tick)  # a duplicate message: runs once
        time.sleep(1.0)
        assert outlet.got == []
        other.release()
        wait_until(lambda: outlet.got, 15, "the tick to run")
        time.sleep(1.0)
        beat.guard.close()
    finally:
        planner.shutdown()
        thread.join(15)
        plugins.unregister(name)
    assert not thread.is_alive()
    assert outlet.got == [datetime.datetime.fromisoformat(format_tick(tick)).isoformat()]
    assert hooks.finished == ["hooked"]
    assert not link.outlets[0].active, "nodes shut down with the planner"


def test_beat_coalesces_the_ticks_it_could_not_publish_in_time(
        settings: Settings, redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """As on every databay planner: the ticks of a gap run once, as the latest of them;
    the others are logged and recorded, never dropped silently (however long the gap)."""
    guard = Guard(settings)
    now = int(time.time() * 1000) // 500 * 500
    guard.set_published("near", now - 1500)  # the previous beat died 3 ticks ago
    guard.set_published("far", now - 60_000)  # no beat for a minute
    schedules = {"near": Schedule("near", 500, True), "far": Schedule("far", 500, True)}
    beat = Beat(make_app(settings), settings, schedules, "p.toml")
    stop = threading.Event()
    thread = threading.Thread(target=beat.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: beat.published >= 6, 5, "six ticks")
    finally:
        stop.set()
        thread.join(5)
        beat.guard.close()
    sent: dict[str, list[int]] = {"near": [], "far": []}
    for (name, tick), _, _ in _queued(redis_server.client(), settings.queue):
        sent[name].append(round(datetime.datetime.fromisoformat(tick).timestamp() * 1000))
    try:
        for name, last in (("near", now - 1500), ("far", now - 60_000)):
            ticks = sorted(sent[name])
            assert ticks == list(range(ticks[0], ticks[-1] + 1, 500)), "then on the grid"
            record = guard.coalesced(name, format_tick(ticks[0]))
            assert record is not None, f"{name}: the coalesced ticks are recorded"
            assert record["first"] == last + 500
            assert record["first"] + record["count"] * 500 == ticks[0], "every tick between"
            assert guard.coalesced(name, format_tick(ticks[1])) is None
    finally:
        guard.close()
    assert caplog.text.count("were coalesced into tick") == 2, "one line a gap"
    assert "link 'far': 1" in caplog.text, "a minute of 500 ms ticks: over a hundred"


def test_bad_messages_are_refused_and_logged(settings: Settings,
                                            caplog: pytest.LogCaptureFixture) -> None:
    from databay_celery._registry import registry
    from databay_celery._worker import TASK_NAME

    owner = object()
    outlet = ListOutlet()
    registry.install({"known": Link(TickInlet(), outlet, interval=1, tags="k")}, owner)
    try:
        task = make_app(settings).tasks[TASK_NAME]
        tick, _ = _tick()
        assert task("unknown", tick) == "unknown"
        assert "no enabled link of that name (links: known" in caplog.text
        assert task("known", "yesterday") == "invalid"
        assert task("known", 1700000000) == "invalid"
        assert "must be an ISO 8601 string, got 'yesterday'" in caplog.text
        assert task("known", tick) == "ok"
        assert len(outlet.got) == 1
    finally:
        registry.uninstall(owner)


def test_retries_and_dead_letters_are_the_links_own(guard: Guard) -> None:
    from databay.delivery import DEAD_LETTER, RetryPolicy

    refusing, dead = ListOutlet(fail=True), ListOutlet()
    link = Link(TickInlet(), refusing, interval=1, tags="d", dead_letter=dead,
                retry=RetryPolicy(attempts=3, backoff=0, retry_on=(RuntimeError,)))
    tick, when = _tick()
    assert _guarded(guard, link, "d", tick, when) == "ok"  # delivered to the dead letters
    assert len(dead.records) == 1 and dead.records[0].metadata[DEAD_LETTER]["attempts"] == 3
    record = guard.done("d", tick)
    assert record is not None and record["errors"] == 1
