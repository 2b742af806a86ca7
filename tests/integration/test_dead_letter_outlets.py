"""Dead letters say why in outlets that store payloads only (issue 14.3): CsvOutlet and
MongoOutlet as dead letters, with :func:`databay.delivery.dead_letter_fields` putting the
``DEAD_LETTER`` details into the payload; without it, ``dead_letter_warning`` (and so
``databay validate``) says the details would be lost.

Real parts: CSV files in a temporary folder, an nx-27017 server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databay import Link, Outlet, Record, Update
from databay.delivery import RetryPolicy, dead_letter_fields, dead_letter_warning
from databay.errors import PermanentError
from databay.testing import RecordsInlet
from databay_csv import CsvOutlet
from databay_mongo import MongoOutlet
from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).parents[1] / "mongo"))
from _mongo_server import CLIENT_OPTIONS, FAST_OPTIONS, NxServer

FAST = RetryPolicy(attempts=3, backoff=0.001, jitter=False)


class Refusing(Outlet):
    def __init__(self, error: Exception, processors: Any = None) -> None:
        super().__init__(processors)
        self.error = error

    def push(self, records: list[Record], update: Update) -> None:
        raise self.error

    def __repr__(self) -> str:
        return "Refusing()"


class Accepting(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        pass


def broken(records: list[Record]) -> list[Record]:
    raise ValueError("processor broke")


PATHS = {
    "retries exhausted": (lambda: Refusing(ConnectionError("down")), {"retry": FAST},
                          "Refusing()", "ConnectionError", 3),
    "permanent error": (lambda: Refusing(PermanentError("bad")), {"retry": FAST},
                        "Refusing()", "PermanentError", 1),
    "outlet processor raised": (lambda: Refusing(PermanentError("-"), processors=broken), {},
                                "Refusing()", "ValueError", 0),
    "link processor raised": (Accepting, {"processors": broken}, None, "ValueError", 0),
}


def transfer(link: Link, use_async: bool) -> Any:
    return asyncio.run(link.atransfer()) if use_async else link.transfer()


def records_inlet() -> RecordsInlet:
    return RecordsInlet([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("path", list(PATHS))
def test_csv_dead_letters_carry_why(tmp_path: Path, path: str, use_async: bool) -> None:
    make, options, outlet, error_type, attempts = PATHS[path]
    dead_file = tmp_path / "dead.csv"
    dead = CsvOutlet(dead_file, processors=dead_letter_fields)
    link = Link(records_inlet(), make(), 1, tags="rows", dead_letter=dead, **options)
    result = transfer(link, use_async)
    assert sum(result.dead_lettered.values()) == 2 and result.unhandled_errors == 0
    with open(dead_file, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["id"], r["name"]) for r in rows] == [("1", "a"), ("2", "b")]
    for row in rows:
        assert row["dead_letter_link"] == "rows"
        assert row["dead_letter_outlet"] == (outlet or "")
        assert row["dead_letter_error_type"] == error_type
        assert row["dead_letter_attempts"] == str(attempts)
        assert error_type in row["dead_letter_error"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NxServer]:
    nx = NxServer(tmp_path_factory.mktemp("nx-dead"))
    nx.start()
    try:
        yield nx
    finally:
        nx.stop()


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("path", list(PATHS))
def test_mongo_dead_letters_carry_why(server: NxServer, path: str, use_async: bool,
                                      request: pytest.FixtureRequest) -> None:
    make, options, outlet, error_type, attempts = PATHS[path]
    collection = f"dead_{abs(hash(request.node.name))}"
    dead = MongoOutlet(uri=server.uri, database_name="databay", collection=collection,
                       retries=0, processors=dead_letter_fields, **FAST_OPTIONS)
    try:
        link = Link(records_inlet(), make(), 1, tags="docs", dead_letter=dead, **options)
        result = transfer(link, use_async)
    finally:
        dead.try_shutdown()
    assert sum(result.dead_lettered.values()) == 2 and result.unhandled_errors == 0
    with MongoClient(server.uri, **CLIENT_OPTIONS) as client:  # type: ignore[arg-type]
        docs = list(client["databay"][collection].find({}, {"_id": 0}).sort("id"))
    assert [d["id"] for d in docs] == [1, 2]
    for doc in docs:
        assert doc["dead_letter_link"] == "docs"
        assert doc["dead_letter_outlet"] == outlet
        assert doc["dead_letter_error_type"] == error_type
        assert doc["dead_letter_attempts"] == attempts


def test_payload_only_dead_letters_are_warned_about(tmp_path: Path, server: NxServer) -> None:
    def warning(dead: Outlet) -> str | None:
        return dead_letter_warning(Link(records_inlet(), Accepting(), 1, dead_letter=dead))

    csv_out = CsvOutlet(tmp_path / "dead.csv")
    mongo_out = MongoOutlet(uri=server.uri, database_name="databay", collection="dead",
                            **FAST_OPTIONS)
    assert csv_out.stores_metadata is False and mongo_out.stores_metadata is False
    for dead in (csv_out, mongo_out):
        text = warning(dead)
        assert text is not None and "DEAD_LETTER details" in text
        assert "dead_letter_fields" in text
    assert warning(CsvOutlet(tmp_path / "dead.csv", processors=dead_letter_fields)) is None
