"""RedisStateStore: checkpoint cursors shared by the workers of a pipeline, on a real
Redis server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _celery_nodes import CountingInlet, ListOutlet
from _celery_support import RedisServer, free_port
from databay import Link, plugins
from databay.pipeline import build_pipeline, parse_toml
from databay_celery import RedisStateStore, Settings, StateStoreError
from databay_celery._guard import Guard
from databay_celery._registry import format_tick, parse_tick
from databay_celery._worker import _guarded

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def store(redis_server: RedisServer, prefix: str) -> Iterator[RedisStateStore]:
    s = RedisStateStore(redis_server.url, key=f"{prefix}:state")
    yield s
    s.client.delete(s.key)
    s.close()


def test_values_round_trip_as_json_and_are_shared(
        store: RedisStateStore, redis_server: RedisServer) -> None:
    assert store.get("orders.0") is None
    store.set("orders.0", {"offset": 42, "file": "a.log"})
    store.set("orders.1", [1, "two", None])
    other = RedisStateStore(redis_server.url, key=store.key)  # another worker
    try:
        assert other.get("orders.0") == {"offset": 42, "file": "a.log"}
        assert other.get("orders.1") == [1, "two", None]
        other.set("orders.0", 43)
        assert store.get("orders.0") == 43
    finally:
        other.close()
    separate = RedisStateStore(redis_server.url, key=store.key + "-other")
    try:
        assert separate.get("orders.0") is None  # another key, another pipeline
    finally:
        separate.close()


def test_workers_take_turns_on_a_link_without_skipping_or_repeating(
        store: RedisStateStore, redis_server: RedisServer, prefix: str) -> None:
    settings = Settings(broker_url=redis_server.url, redis_url=redis_server.url,
                        prefix=prefix, queue=f"{prefix}-q", lock_lease=2.0,
                        beat_lease=2.0, poll=0.2)
    guard = Guard(settings)
    outlets = [ListOutlet(), ListOutlet()]
    stores = [store, RedisStateStore(redis_server.url, key=store.key)]
    # the same link, rebuilt by two worker processes, each with its own inlet
    links = [Link(CountingInlet(), outlet, interval=1, tags="counts", state_store=s)
             for outlet, s in zip(outlets, stores, strict=True)]
    try:
        for n, worker in enumerate([0, 1, 1, 0, 1]):
            tick = format_tick(1_700_000_000_000 + n * 1000)
            assert _guarded(guard, links[worker], "counts", tick, parse_tick(tick)) == "ok"
    finally:
        stores[1].close()
        guard.close()
    delivered = sorted(outlets[0].got + outlets[1].got)
    assert delivered == list(range(15))  # every number once: none skipped, none repeated
    assert outlets[0].got == [0, 1, 2, 9, 10, 11]


def test_bad_input_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABAY_CELERY_REDIS", "DATABAY_CELERY_BROKER", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="needs a Redis URL: pass url=... or set the "
                                         "environment variable DATABAY_CELERY_REDIS"):
        RedisStateStore()
    with pytest.raises(ValueError, match=r"must be a Redis URL .*got 'amqp://\*\*\*@mq:5672"):
        RedisStateStore("amqp://user:secret@mq:5672//")
    with pytest.raises(ValueError, match=r"is not a valid Redis URL: 'redis://\[bad'"):
        RedisStateStore("redis://[bad")
    with pytest.raises(ValueError, match=r"Redis URL: 'redis://\*\*\*@h:99999/0': Port out"):
        RedisStateStore("redis://:pw@h:99999/0")
    with pytest.raises(ValueError, match="the database must be a number, got 'zero'"):
        RedisStateStore("redis://127.0.0.1:1/zero")  # redis-py would quietly use db 0
    with pytest.raises(ValueError, match="key=...\\) must be a non-empty string"):
        RedisStateStore("redis://127.0.0.1:1/0", key="")
    monkeypatch.setenv("DATABAY_CELERY_BROKER", "redis://:hunter2@127.0.0.1:6390/2")
    from_env = RedisStateStore()
    assert repr(from_env) == "RedisStateStore(url='redis://***@127.0.0.1:6390/2', " \
                             "key='databay:state')"
    from_env.close()


def test_a_cursor_that_is_not_json_is_refused(store: RedisStateStore) -> None:
    with pytest.raises(TypeError, match="cursor for 'k' is not JSON-serialisable"):
        store.set("k", object())
    assert store.get("k") is None


def test_an_unreachable_server_raises_without_the_password() -> None:
    store = RedisStateStore(f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    store.client.connection_pool.connection_kwargs["socket_connect_timeout"] = 2
    try:
        with pytest.raises(StateStoreError, match="reading the cursor 'k' failed") as info:
            store.get("k")
        assert "hunter2" not in str(info.value)
        with pytest.raises(StateStoreError, match="committing the cursor 'k' failed") as info:
            store.set("k", 1)
        assert "hunter2" not in str(info.value)
    finally:
        store.close()


def test_registered_as_a_state_store_for_pipeline_files(
        redis_server: RedisServer, prefix: str) -> None:
    assert plugins.resolve("state_store", "RedisStateStore") is RedisStateStore
    data = parse_toml(f"""
[[links]]
name = "counts"
interval = "1s"

[links.state_store]
type = "RedisStateStore"
url = "${{STATE_REDIS}}"
key = "{prefix}:file"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "NullOutlet"
""", "pipeline.toml")
    pipeline = build_pipeline(data, "pipeline.toml", {"STATE_REDIS": redis_server.url})
    store = pipeline.links[0].link.state_store
    assert isinstance(store, RedisStateStore)
    assert store.key == f"{prefix}:file"
    store.close()


PLANNER_STORE_PIPELINE = """
[planner]
type = "CeleryPlanner"

[planner.state_store]
type = "RedisStateStore"
url = "{url}"
key = "{key}"

[[links]]
name = "counts"
interval = "1s"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "NullOutlet"

[[links]]
name = "own"
interval = "1s"

[links.state_store]
type = "MemoryStateStore"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "NullOutlet"
"""


def test_a_planner_state_store_reaches_the_links_of_every_worker(
        tmp_path: Path, redis_server: RedisServer, prefix: str) -> None:
    from databay.delivery import MemoryStateStore
    from databay_celery import CeleryPlanner
    from databay_celery._registry import _Registry

    path = tmp_path / "pipeline.toml"
    path.write_text(PLANNER_STORE_PIPELINE.format(url=redis_server.url, key=prefix),
                    encoding="utf-8")
    # under Celery's own command line, the worker builds the links from the file
    worker = _Registry()
    worker.load(str(path))
    counts, own = worker._links["counts"], worker._links["own"]
    assert isinstance(counts.state_store, RedisStateStore) and counts.state_store.key == prefix
    assert isinstance(own.state_store, MemoryStateStore)  # a link's own store wins
    counts.state_store.close()
    # databay run --role worker / CeleryPlanner.from_pipeline: the planner holds it and
    # lends it to its links when they start, as every planner does
    planner = CeleryPlanner.from_pipeline(path)
    planner._load_pipeline_links()
    store = planner.state_store
    assert isinstance(store, RedisStateStore) and store.key == prefix
    store.close()
    with pytest.raises(TypeError, match="state_store=...\\) must be a databay.delivery"):
        CeleryPlanner(state_store="redis://x")  # type: ignore[arg-type]
