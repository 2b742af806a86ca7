"""Outages, counted (issue 14 point 6): a link keeps transferring while its server stops
mid-run and comes back on the same port. With a RetryPolicy and a dead-letter outlet,
every record pulled ends up in the server or in the dead-letter file: the tests count
records lost (must be 0) and duplicated (must be 0), for MongoOutlet into nx-27017 and
for HttpOutlet into an HTTP server. A batch the server applied as it stopped, whose
answer was lost with it, may also be dead-lettered ("in doubt": at most one batch).

Two shapes of outage for each: one shorter than the link's retries (every record reaches
the server), and one that outlasts them (the batches of the outage are dead-lettered,
with their details, and the rest reaches the server).

Real parts only: nx-27017 with its data in a file (so that a restart keeps what was
written), an ``http.server`` on 127.0.0.1, a dead-letter file. Waits are bounded
wait-untils; the transfers run in a thread of their own that the tests always stop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from databay import Inlet, Link, Update
from databay.delivery import DEAD_LETTER, RetryPolicy
from databay.outlets.file_outlet import FileOutlet
from databay_http import HttpOutlet
from databay_mongo import MongoOutlet
from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).parents[1] / "mongo"))
from _mongo_server import CLIENT_OPTIONS, FAST_OPTIONS, NxServer, free_port, wait_until

BATCH = 10
WAIT = 20.0  # bound of every wait: generous for a loaded machine, never slept through
#: Outlasts a restart: up to ~60 tries of at most 0.25 s (server selection) + 0.1 s.
PATIENT = RetryPolicy(attempts=60, backoff=0.02, factor=1.5, max_delay=0.1, jitter=False)
#: Gives up within a second: an outage longer than that dead-letters batches.
IMPATIENT = RetryPolicy(attempts=3, backoff=0.02, factor=1.5, max_delay=0.1, jitter=False)


class Numbers(Inlet):
    """Each pull returns the next ``BATCH`` numbers as ``{"n": i}``; remembers them all."""

    def __init__(self) -> None:
        super().__init__()
        self.pulled: list[int] = []
        self._lock = threading.Lock()

    def pull(self, update: Update) -> list[dict[str, int]]:
        with self._lock:
            start = len(self.pulled)
            batch = list(range(start, start + BATCH))
            self.pulled += batch
        return [{"n": n} for n in batch]


class Retries(logging.Handler):
    """Counts the links' "retrying in" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying in" in record.getMessage():
            self.count += 1


@pytest.fixture
def retries() -> Iterator[Retries]:
    handler = Retries()
    logger = logging.getLogger("databay")
    old = logger.level
    logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


class Running:
    """Transfers ``link`` over and over in a thread until :meth:`stop`."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.errors: list[BaseException] = []
        self.transfers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outage-transfers",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.link.transfer()
            except BaseException as exc:  # a failure the test must see, not a hang
                self.errors.append(exc)
                return
            self.transfers += 1
            self._stop.wait(0.005)  # pacing, so that the outage falls mid-run

    def stop(self) -> None:
        self._stop.set()
        self.link.interrupt()  # ends a retry wait at once
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the transfers did not stop"


def dead_lettered(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [(x["payload"]["n"], x["metadata"][DEAD_LETTER]) for x in lines]


def tally(pulled: list[int], delivered: list[int], dead: list[int]) -> tuple[int, int, int]:
    """(lost, duplicated, in doubt): numbers pulled that are nowhere; extra copies in the
    server or in the dead-letter file; numbers that are in both.

    A number in both is a batch the server applied while its answer was lost with the
    server (it stopped between writing and replying): the outlet cannot know it landed,
    so at-least-once delivery dead-letters it. At most the one batch in flight when the
    server stopped can be in doubt; a copy twice in the same place is a duplicate.
    """
    stored, dropped = Counter(delivered), Counter(dead)
    lost = sum(1 for n in pulled if n not in stored and n not in dropped)
    duplicated = sum(count - 1 for count in (stored + dropped).values() if count > 1) - \
        sum(1 for n in stored if n in dropped)
    in_doubt = sum(1 for n in stored if n in dropped)
    return lost, duplicated, in_doubt


def outage(
    running: Running,
    delivered: Callable[[], int],
    stop_server: Callable[[], None],
    start_server: Callable[[], None],
    down_until: Callable[[], bool],
) -> None:
    """Let ``running`` deliver for a while, stop its server mid-run, keep it down until
    ``down_until()``, start it again on the same port, and let it deliver some more."""
    wait_until(lambda: delivered() >= 5 * BATCH or running.errors, WAIT,
               "records to reach the server before the outage")
    stop_server()
    wait_until(lambda: down_until() or running.errors, WAIT, "the outage to be noticed")
    start_server()
    after = delivered()
    wait_until(lambda: delivered() >= after + 5 * BATCH or running.errors, WAIT,
               "records to reach the server after it came back")
    running.stop()
    assert not running.errors, running.errors


# -- MongoDB --------------------------------------------------------------------------


@pytest.fixture
def nx(tmp_path: Path) -> Iterator[NxServer]:
    server = NxServer(tmp_path / "nx", persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def mongo_numbers(server: NxServer) -> list[int]:
    with MongoClient(server.uri, **CLIENT_OPTIONS) as client:  # type: ignore[arg-type]
        return [d["n"] for d in client["databay"]["out"].find({}, {"n": 1})]


@pytest.mark.parametrize("shape", ["within-retries", "outlasting-retries"])
def test_mongo_outage_mid_run_loses_and_duplicates_nothing(
        nx: NxServer, tmp_path: Path, retries: Retries, shape: str) -> None:
    dead_file = tmp_path / "dead.jsonl"
    inlet = Numbers()
    # retries=0: the link's policy does all the retrying, across the restart
    outlet = MongoOutlet("databay", "out", uri=nx.uri, retries=0, **FAST_OPTIONS)
    link = Link(inlet, outlet, 1, tags="outage",
                retry=PATIENT if shape == "within-retries" else IMPATIENT,
                dead_letter=FileOutlet(dead_file, json_lines=True))
    up = [True]
    count = [0]

    def delivered() -> int:
        if up[0]:
            count[0] = len(mongo_numbers(nx))
        return count[0]

    def stop() -> None:
        up[0] = False
        nx.stop()

    def start() -> None:
        nx.start()  # the same port and data file
        up[0] = True

    def noticed() -> bool:
        if shape == "within-retries":
            return retries.count >= 5
        return len(dead_lettered(dead_file)) >= 2 * BATCH  # two batches gave up

    running = Running(link)
    try:
        outage(running, delivered, stop, start, noticed)
    finally:
        running.stop()
        outlet.try_shutdown()
    stored = mongo_numbers(nx)
    dead = dead_lettered(dead_file)
    lost, duplicated, in_doubt = tally(inlet.pulled, stored, [n for n, _ in dead])
    print(f"\nMongoOutlet outage ({shape}): {len(inlet.pulled)} pulled, {len(stored)} stored, "
          f"{len(dead)} dead-lettered, {lost} lost, {duplicated} duplicated, "
          f"{in_doubt} in doubt, "
          f"{running.transfers} transfers, {retries.count} retries")
    assert lost == 0 and duplicated == 0
    assert in_doubt <= BATCH, "more than the batch in flight at the stop went both ways"
    if shape == "within-retries":
        assert not dead and retries.count >= 5
    else:
        assert len(dead) >= 2 * BATCH
        details = dead[0][1]
        assert details["link"] == "outage" and details["attempts"] == IMPATIENT.attempts
        assert details["error_type"] == "MongoWriteError"
    assert set(stored) | {n for n, _ in dead} == set(inlet.pulled)


# -- HTTP -----------------------------------------------------------------------------


class Receiver:
    """An HTTP server on a fixed port of 127.0.0.1 that keeps every JSON array POSTed to
    it; it can go away (stop listening, cut every open connection, keep-alive ones
    included) and come back.

    A request is taken (its numbers kept) and answered under one lock, and going away
    takes that lock: a request the server is reading when it goes away is dropped
    unanswered, as by a server that died before handling it. (A server that dies after
    handling a request but before its answer reaches the client makes the client send it
    again: HTTP delivery is at-least-once, see databay-http's README.)"""

    def __init__(self) -> None:
        self.port = free_port()
        self.numbers: list[int] = []
        self.lock = threading.Lock()
        self.closing = False
        self.connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/in"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the client reuses connections

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections.add(self.connection)

            def finish(self) -> None:
                with receiver.lock:
                    receiver.connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    if receiver.closing:  # going away: not handled, not answered
                        self.close_connection = True
                        return
                    receiver.numbers += [item["n"] for item in json.loads(body)]
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        with self.lock:
            self.closing = False
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        with self.lock:
            self.closing = True
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        server.shutdown()
        server.server_close()  # joins the handler threads
        assert self._thread is not None
        self._thread.join(WAIT)

    def delivered(self) -> int:
        with self.lock:
            return len(self.numbers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("shape", ["within-retries", "outlasting-retries"])
def test_http_outage_mid_run_loses_and_duplicates_nothing(
        receiver: Receiver, tmp_path: Path, retries: Retries, shape: str) -> None:
    dead_file = tmp_path / "dead.jsonl"
    inlet = Numbers()
    outlet = HttpOutlet(receiver.url, retries=0, timeout=(0.5, 2.0))
    link = Link(inlet, outlet, 1, tags="outage",
                retry=PATIENT if shape == "within-retries" else IMPATIENT,
                dead_letter=FileOutlet(dead_file, json_lines=True))

    def noticed() -> bool:
        if shape == "within-retries":
            return retries.count >= 5
        return len(dead_lettered(dead_file)) >= 2 * BATCH

    running = Running(link)
    try:
        outage(running, receiver.delivered, receiver.stop, receiver.start, noticed)
    finally:
        running.stop()
        outlet.try_shutdown()
    dead = dead_lettered(dead_file)
    with receiver.lock:
        stored = list(receiver.numbers)
    lost, duplicated, in_doubt = tally(inlet.pulled, stored, [n for n, _ in dead])
    print(f"\nHttpOutlet outage ({shape}): {len(inlet.pulled)} pulled, {len(stored)} "
          f"received, {len(dead)} dead-lettered, {lost} lost, {duplicated} duplicated, "
          f"{in_doubt} in doubt, "
          f"{running.transfers} transfers, {retries.count} retries")
    assert lost == 0 and duplicated == 0
    assert in_doubt <= BATCH, "more than the batch in flight at the stop went both ways"
    if shape == "within-retries":
        assert not dead and retries.count >= 5
    else:
        assert len(dead) >= 2 * BATCH
        details = dead[0][1]
        assert details["link"] == "outage" and details["attempts"] == IMPATIENT.attempts
        assert details["error_type"] == "HttpDeliveryError"
