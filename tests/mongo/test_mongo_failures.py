"""MongoOutlet when the server goes away: bounded retries, failures that say how many
records were not written, recovery when the server is back, and no duplicates when a
write was done but its reply was lost."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _mongo_server import CLIENT_OPTIONS, FAST_OPTIONS, CuttingProxy, NxServer
from databay import Link, Record, Update
from databay.testing import RecordsInlet
from databay_mongo import MongoOutlet, MongoWriteError
from pymongo import MongoClient

UPDATE = Update(["failures"], 0)


def records(start: int, count: int) -> list[Record]:
    return [Record({"n": n}) for n in range(start, start + count)]


def stored(uri: str, collection: str = "default_collection") -> list[int]:
    with MongoClient(uri, **CLIENT_OPTIONS) as client:  # type: ignore[arg-type]
        return sorted(d["n"] for d in client["databay"][collection].find())


@pytest.fixture
def outlets() -> Iterator[list[MongoOutlet]]:
    made: list[MongoOutlet] = []
    yield made
    for outlet in made:
        outlet.try_shutdown()
        outlet.disconnect()


class RetryWatcher(logging.Handler):
    """Sets ``retried`` when MongoOutlet logs its first retry."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.retried = threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        if "retry" in message:
            self.retried.set()


@pytest.fixture
def retry_watcher() -> Iterator[RetryWatcher]:
    watcher = RetryWatcher()
    logger = logging.getLogger("databay.MongoOutlet")
    logger.addHandler(watcher)
    old = logger.level
    logger.setLevel(logging.WARNING)
    yield watcher
    logger.removeHandler(watcher)
    logger.setLevel(old)


def test_server_stopped_mid_run_fails_with_the_count_then_recovers(
        own_server: NxServer, outlets: list[MongoOutlet], retry_watcher: RetryWatcher) -> None:
    outlet = MongoOutlet(uri=own_server.uri, retries=2, backoff=0.01, max_backoff=0.02,
                         **FAST_OPTIONS)
    outlets.append(outlet)
    link = Link(RecordsInlet([{"n": 1}, {"n": 2}, [{"n": 3}, {"n": 4}]]), outlet,
                interval=1, ignore_exceptions=True)
    link.on_start()
    first = link.transfer()
    assert first.pushed[outlet] == 3 and not first.errors
    assert stored(own_server.uri) == [1, 2, 3, 4]

    own_server.stop()
    with pytest.raises(MongoWriteError) as caught:
        outlet.push(records(10, 5), UPDATE)
    error = caught.value
    assert error.undelivered == 5 and error.written == 0 and len(error.records) == 5
    assert "5 of 5 record(s) not written" in str(error)
    assert "not confirmed written after 3 attempt(s)" in str(error)
    assert "AutoReconnect" in str(error) or "ServerSelectionTimeoutError" in str(error)
    assert sum("retry" in m for m in retry_watcher.messages) == 2  # bounded: 2 retries

    failed = link.transfer()  # through a link that ignores errors: counted and logged
    assert failed.undelivered[outlet] == 3 and isinstance(failed.errors[0], MongoWriteError)

    own_server.start()  # same port, empty (in-memory) database
    outlet.push(records(20, 3), UPDATE)
    again = link.transfer()
    assert again.pushed[outlet] == 3 and not again.errors
    assert stored(own_server.uri) == [1, 2, 3, 4, 20, 21, 22]
    link.on_shutdown()


def test_server_back_during_the_retries_loses_nothing(
        own_server: NxServer, outlets: list[MongoOutlet], retry_watcher: RetryWatcher) -> None:
    outlet = MongoOutlet(uri=own_server.uri, retries=100, backoff=0.02, max_backoff=0.1,
                         batch_size=40, **FAST_OPTIONS)
    outlets.append(outlet)
    outlet.push(records(0, 1), UPDATE)
    own_server.stop()
    outcome: list[BaseException | None] = []

    def push() -> None:
        try:
            outlet.push(records(100, 100), UPDATE)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    pusher = threading.Thread(target=push)
    pusher.start()
    try:
        assert retry_watcher.retried.wait(10), "the outlet never retried"
        own_server.start()
    finally:
        pusher.join(30)
    assert not pusher.is_alive()
    assert outcome == [None]
    assert stored(own_server.uri) == list(range(100, 200))  # all of them, once each


def test_shutdown_while_retrying_stops_waiting_and_reports_the_records(
        own_server: NxServer, outlets: list[MongoOutlet], retry_watcher: RetryWatcher) -> None:
    outlet = MongoOutlet(uri=own_server.uri, retries=5, backoff=30, max_backoff=30,
                         **FAST_OPTIONS)
    outlets.append(outlet)
    outlet.try_start()
    own_server.stop()
    errors: list[BaseException] = []
    pusher = threading.Thread(target=lambda: _push_catching(outlet, records(0, 4), errors))
    pusher.start()
    assert retry_watcher.retried.wait(10)
    outlet.try_shutdown()  # must not wait out the 30 s backoff
    pusher.join(10)
    assert not pusher.is_alive()
    assert isinstance(errors[0], MongoWriteError) and errors[0].undelivered == 4
    assert "shut down while retrying" in str(errors[0])


def _push_catching(outlet: MongoOutlet, batch: list[Record], errors: list[BaseException]) -> None:
    try:
        outlet.push(batch, UPDATE)
    except BaseException as exc:
        errors.append(exc)


@pytest.fixture
def proxy(own_server: NxServer) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(own_server.port)
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("upsert_key", [None, "n"])
def test_a_write_done_but_unacknowledged_is_not_written_twice(
        own_server: NxServer, proxy: CuttingProxy, outlets: list[MongoOutlet],
        retry_watcher: RetryWatcher, upsert_key: Any) -> None:
    outlet = MongoOutlet(uri=proxy.uri, retries=3, backoff=0.01, upsert_key=upsert_key,
                         **CLIENT_OPTIONS)  # type: ignore[arg-type]
    outlets.append(outlet)
    outlet.push(records(0, 1), UPDATE)  # connected through the proxy
    proxy.cut_next("update" if upsert_key else "insert")
    outlet.push(records(1, 50), UPDATE)  # the server writes; the reply is lost
    assert proxy.cuts == 1 and retry_watcher.retried.is_set()
    assert stored(own_server.uri) == list(range(51))  # each once


def test_a_reply_that_never_comes_times_out_and_the_write_is_not_repeated(
        own_server: NxServer, proxy: CuttingProxy, outlets: list[MongoOutlet],
        retry_watcher: RetryWatcher) -> None:
    outlet = MongoOutlet(uri=proxy.uri, retries=3, backoff=0.01, socketTimeoutMS=300,
                         serverSelectionTimeoutMS=3000)
    outlets.append(outlet)
    outlet.push(records(0, 1), UPDATE)
    proxy.cut_next("insert", hang=True)
    outlet.push(records(1, 20), UPDATE)
    assert proxy.cuts == 1
    assert any("NetworkTimeout" in m for m in retry_watcher.messages)
    assert stored(own_server.uri) == list(range(21))


def test_a_user_id_that_collides_after_a_lost_reply_is_reported_not_hidden(
        own_server: NxServer, proxy: CuttingProxy, outlets: list[MongoOutlet],
        retry_watcher: RetryWatcher) -> None:
    # with _ids given by the payload the outlet cannot tell its own earlier write from
    # someone else's document: it says so instead of counting the record as written
    outlet = MongoOutlet(uri=proxy.uri, retries=3, backoff=0.01,
                         **CLIENT_OPTIONS)  # type: ignore[arg-type]
    outlets.append(outlet)
    outlet.push(records(0, 1), UPDATE)
    proxy.cut_next("insert")
    batch = [Record({"_id": f"id{n}", "n": n}) for n in range(1, 4)]
    with pytest.raises(MongoWriteError) as caught:
        outlet.push(batch, UPDATE)
    assert caught.value.records == batch and "11000" in str(caught.value)
    assert stored(own_server.uri) == [0, 1, 2, 3]
