"""Ticks published ahead (Settings.lead): held by the worker until due, each run once,
and handed back to the broker (never dropped) by a worker that stops while holding them."""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
from typing import Any

import pytest
from _celery_support import RedisServer, wait_until
from databay import Inlet, Link
from databay.link import Update
from databay_celery import Beat, CeleryPlanner, Schedule, Settings, current_tick
from databay_celery._app import make_app
from databay_celery._worker import WAKE_MS

pytestmark = pytest.mark.timeout(60)


class StampInlet(Inlet):
    """Records (tick time, wall time of the pull) of each transfer."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[tuple[float, float]] = []

    def pull(self, update: Update) -> Any:
        tick = current_tick()
        assert tick is not None
        self.ran.append((tick.time.timestamp(), time.time()))
        return None


@pytest.fixture
def settings(redis_server: RedisServer, prefix: str) -> Settings:
    return Settings(broker_url=redis_server.url, redis_url=redis_server.url, prefix=prefix,
                    queue=f"{prefix}-q", lock_lease=2.0, beat_lease=2.0, poll=0.2, lead=1.5)


def _messages(client: Any, queue: str) -> list[tuple[dict[str, Any], list[Any], dict[str, Any]]]:
    out = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"], args, kwargs))
    return out


def _ms(text: str) -> int:
    return round(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def test_beat_publishes_each_tick_ahead_with_its_due_time(settings: Settings,
                                                          redis_server: RedisServer) -> None:
    beat = Beat(make_app(settings), settings, {"a": Schedule("a", 1000, False)}, "p.toml")
    stop = threading.Event()
    thread = threading.Thread(target=beat.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: beat.published >= 1, 5, "a tick")
        seen = time.time()
    finally:
        stop.set()
        thread.join(5)
        beat.guard.close()
    messages = _messages(redis_server.client(), settings.queue)
    assert messages
    headers, (name, tick), kwargs = messages[0]
    due = _ms(tick)
    assert name == "a" and due % 1000 == 0
    assert seen * 1000 < due, "published before its tick was due"
    assert kwargs == {"due": tick}, "the due time travels with the tick"
    assert _ms(headers["eta"]) == due - WAKE_MS, "held in the worker's timer until then"


def test_worker_holds_a_tick_published_ahead_until_due_and_runs_it_once(
        settings: Settings) -> None:
    inlet = StampInlet()
    link = Link(inlet, [], interval=60, tags="ahead", immediate_transfer=False)
    planner = CeleryPlanner(link, role="worker", broker_url=settings.broker_url,
                            prefix=settings.prefix, queue=settings.queue,
                            hostname="ahead@localhost", concurrency=4)
    thread = threading.Thread(target=planner.start)
    thread.start()
    beat = Beat(make_app(settings), settings, {}, "p.toml")
    try:
        wait_until(lambda: planner.running, 10, "the worker to run")
        now = int(time.time() * 1000)
        due = now + 1500
        for _ in range(2):  # a duplicate message (a second beat, a redelivery): once
            beat._send("ahead", due, due=due, now=now)
        wait_until(lambda: inlet.ran, 10, "the tick to run")
        time.sleep(0.5)
    finally:
        planner.shutdown()
        thread.join(15)
        beat.guard.close()
    assert len(inlet.ran) == 1
    tick, ran = inlet.ran[0]
    assert tick == due / 1000
    assert ran >= due / 1000, "not started before its due time"
    assert ran - due / 1000 < 0.5, "started when due, not at the next poll"


def test_worker_stopping_while_it_holds_ticks_hands_them_back(settings: Settings,
                                                              redis_server: RedisServer
                                                              ) -> None:
    """A warm shutdown with ticks held until due (Celery's timer) does not lose them:
    kombu restores its unacknowledged messages to the queue as the worker's channel
    closes, and the next worker holds them in turn and runs each tick once, when due."""
    client = redis_server.client()

    def worker(inlet: StampInlet, name: str) -> CeleryPlanner:
        return CeleryPlanner(Link(inlet, [], interval=60, tags="held",
                                  immediate_transfer=False),
                             role="worker", broker_url=settings.broker_url,
                             prefix=settings.prefix, queue=settings.queue,
                             hostname=f"{name}@localhost", concurrency=2)

    first_inlet, second_inlet = StampInlet(), StampInlet()
    first = worker(first_inlet, "first")
    t1 = threading.Thread(target=first.start)
    t1.start()
    beat = Beat(make_app(settings), settings, {}, "p.toml")
    second = t2 = None
    try:
        wait_until(lambda: first.running, 10, "the first worker to run")
        now = int(time.time() * 1000)
        dues = [now + 5000, now + 5500]
        for due in dues:
            beat._send("held", due, due=due, now=now)
        wait_until(lambda: client.llen(settings.queue) == 0
                   and client.hlen("unacked") == 2, 5, "the worker to hold both ticks")
        first.shutdown()
        t1.join(15)
        assert not t1.is_alive()
        assert first_inlet.ran == [], "not run before due"
        queued = sorted(_ms(args[1]) for _h, args, _k in _messages(client, settings.queue))
        assert queued == dues, "handed back to the queue, not dropped"
        assert client.hlen("unacked") == 0
        assert time.time() * 1000 < dues[0], "the test is too slow to show it"
        second = worker(second_inlet, "second")
        t2 = threading.Thread(target=second.start)
        t2.start()
        wait_until(lambda: len(second_inlet.ran) == 2, 15, "both ticks to run")
        time.sleep(0.3)
    finally:
        first.shutdown()
        t1.join(15)
        if second is not None and t2 is not None:
            second.shutdown()
            t2.join(15)
        beat.guard.close()
    assert sorted(round(tick * 1000) for tick, _ran in second_inlet.ran) == dues, "once each"
    assert all(ran >= tick for tick, ran in second_inlet.ran), "when due, not before"
