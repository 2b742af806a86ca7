"""Delivery guarantees with databay-mongo: MongoInlet checkpoints in a FileStateStore that
survive a restart and are not committed when an outlet fails; a MongoOutlet whose server
comes back during a link's retries delivers each record once; a non-document payload
goes straight to a dead-letter outlet.

Real parts only: nx-27017 servers on 127.0.0.1 (see tests/mongo/_mongo_server.py) and
state files in a temporary folder."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databay import Link, Record
from databay.delivery import DEAD_LETTER, FileStateStore, RetryPolicy
from databay.testing import RecordsInlet
from databay_mongo import MongoInlet, MongoOutlet, MongoPayloadError, MongoWriteError
from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).parents[1] / "mongo"))
from _mongo_server import CLIENT_OPTIONS, FAST_OPTIONS, NxServer

SOURCE = "events"


@pytest.fixture(scope="module")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NxServer]:
    server = NxServer(tmp_path_factory.mktemp("nx-source"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def source(source_server: NxServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A source collection of this test's own, in the module's server."""
    name = f"delivery_{request.node.name[:40]}"
    with MongoClient(source_server.uri, **CLIENT_OPTIONS) as client:  # type: ignore[arg-type]
        client.drop_database(name)
        yield client[name][SOURCE]
        client.drop_database(name)


@pytest.fixture
def sink_server(tmp_path: Path) -> Iterator[NxServer]:
    """An nx-27017 of this test's own, free to stop and restart."""
    server = NxServer(tmp_path / "nx-sink")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nodes() -> Iterator[list[Any]]:
    """Every node a test makes; shut down afterwards."""
    made: list[Any] = []
    yield made
    for node in made:
        node.try_shutdown()


def stored(server: NxServer, collection: str = "out") -> list[Any]:
    with MongoClient(server.uri, **CLIENT_OPTIONS) as client:  # type: ignore[arg-type]
        return sorted(d["n"] for d in client["databay"][collection].find())


def inlet_on(source: Any, server: NxServer, nodes: list[Any], **kwargs: Any) -> MongoInlet:
    inlet = MongoInlet(source.database.name, SOURCE, uri=server.uri, **kwargs,
                       **CLIENT_OPTIONS)
    nodes.append(inlet)
    return inlet


def outlet_on(server: NxServer, nodes: list[Any], **kwargs: Any) -> MongoOutlet:
    options = {"database_name": "databay", "collection": "out", "retries": 0,
               **FAST_OPTIONS, **kwargs}
    outlet = MongoOutlet(uri=server.uri, **options)
    nodes.append(outlet)
    return outlet


def saved_cursor(state: Path) -> Any:
    data = json.loads(state.read_text())
    (value,) = data.values()
    return value


def test_mongo_inlet_resumes_after_a_restart_from_a_file_state_store(
        source: Any, source_server: NxServer, sink_server: NxServer, nodes: list[Any],
        tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    source.insert_many([{"n": n} for n in range(3)])

    def make_link() -> Link:
        return Link(inlet_on(source, source_server, nodes, projection={"_id": 0}),
                    outlet_on(sink_server, nodes), 1, tags="copy",
                    state_store=FileStateStore(state))

    first = make_link().transfer()
    assert first.committed and list(first.pushed.values()) == [3]
    cursor = saved_cursor(state)
    assert set(cursor) == {"$oid"}  # the last _id read, as JSON

    source.insert_many([{"n": n} for n in range(3, 5)])
    second = make_link().transfer()  # new inlet, outlet, link and store: the same file
    assert second.committed and second.pulled == 2
    assert stored(sink_server) == [0, 1, 2, 3, 4]  # each once: nothing re-read, nothing skipped
    assert saved_cursor(state) != cursor


def test_a_batch_the_outlet_did_not_take_is_read_again(
        source: Any, source_server: NxServer, sink_server: NxServer, nodes: list[Any],
        tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    source.insert_many([{"n": n} for n in range(2)])
    link = Link(inlet_on(source, source_server, nodes, projection={"_id": 0}),
                outlet_on(sink_server, nodes), 1, tags="copy",
                state_store=FileStateStore(state))
    assert link.transfer().committed
    committed = saved_cursor(state)

    source.insert_many([{"n": n} for n in range(2, 5)])
    sink_server.stop()
    with pytest.raises(MongoWriteError) as caught:
        link.transfer()
    assert caught.value.undelivered == 3 and caught.value.transient
    assert saved_cursor(state) == committed  # not committed

    sink_server.start()  # same port, empty (in-memory) database
    again = link.transfer()
    assert again.pulled == 3 and again.committed  # the same three documents, read again
    assert stored(sink_server) == [2, 3, 4]
    assert saved_cursor(state) != committed


class RetryLogged(logging.Handler):
    """Sets ``event`` when a link logs that it will retry a push."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying in" in record.getMessage():
            self.event.set()


@pytest.fixture
def retry_logged() -> Iterator[RetryLogged]:
    handler = RetryLogged()
    logger = logging.getLogger("databay")
    old = logger.level
    logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_a_server_back_during_the_link_retries_gets_each_record_once(
        sink_server: NxServer, nodes: list[Any], retry_logged: RetryLogged) -> None:
    outlet = outlet_on(sink_server, nodes)  # retries=0: the link's policy does the retrying
    link = Link(RecordsInlet([{"n": n} for n in range(20)]), outlet, 1, tags="back",
                retry=RetryPolicy(attempts=40, backoff=0.02, factor=1.5, max_delay=0.2,
                                  jitter=False))
    sink_server.stop()
    outcome: list[Any] = []
    transfer = threading.Thread(target=lambda: outcome.append(link.transfer()))
    transfer.start()
    try:
        assert retry_logged.event.wait(10), "the link never retried"
        sink_server.start()
    finally:
        transfer.join(30)
    assert not transfer.is_alive()
    (result,) = outcome
    assert result.pushed == {outlet: 20} and result.retried[outlet] >= 1
    assert not result.undelivered and not result.dead_lettered
    assert stored(sink_server) == list(range(20))  # each once


def test_a_non_document_goes_straight_to_the_dead_letter_outlet(
        source: Any, source_server: NxServer, sink_server: NxServer, nodes: list[Any],
        tmp_path: Path) -> None:
    def as_dead_letter_doc(records: list[Record]) -> list[Record]:
        return [Record({"payload": r.payload, "why": r.metadata[DEAD_LETTER]})
                for r in records]

    outlet = outlet_on(sink_server, nodes)
    dead = outlet_on(sink_server, nodes, collection="dead", processors=as_dead_letter_doc)
    state = tmp_path / "state.json"
    link = Link(RecordsInlet(["not a document", {"n": 1}]), outlet, 1, tags="mixed",
                retry=RetryPolicy(attempts=5, backoff=0.001), dead_letter=dead,
                state_store=FileStateStore(state))
    result = link.transfer()
    assert result.retried == {}  # permanent: no retry
    assert result.dead_lettered == {outlet: 2} and not result.undelivered
    assert stored(sink_server) == []  # nothing of the refused push was written
    with MongoClient(sink_server.uri, **CLIENT_OPTIONS) as client:  # type: ignore[arg-type]
        docs = list(client["databay"]["dead"].find({}, {"_id": 0}))
    assert [d["payload"] for d in docs] == ["not a document", {"n": 1}]
    for doc in docs:
        why = doc["why"]
        assert why["attempts"] == 1 and why["link"] == "mixed"
        assert why["error_type"] == MongoPayloadError.__name__
        assert why["outlet"] == repr(outlet) and "not a document" in why["error"]
