"""Delivery guarantees across connectors: databay-http and databay-csv nodes in one link,
with retries, a dead-letter outlet, and checkpoints in a FileStateStore that survive a
restart and a process killed with SIGKILL between a push and its commit.

Real parts only: an HTTP server on 127.0.0.1 (pytest-httpserver), files in a temporary
folder, and child Python processes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from databay import Link, Record, Update
from databay.delivery import DEAD_LETTER, FileStateStore, RetryPolicy
from databay_csv import CsvInlet, CsvOutlet, CsvWriteError
from databay_http import HttpInlet, HttpOutlet
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

WAIT = 10.0
FAST = RetryPolicy(attempts=3, backoff=0.001, jitter=False)


class Endpoint:
    """An HTTP endpoint whose answers a test scripts; keeps every body it received."""

    def __init__(self, server: HTTPServer, path: str) -> None:
        self.bodies: list[Any] = []
        self.answers: list[Callable[[Any], Response]] = []
        self.cond = threading.Condition()
        server.expect_request(path).respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"null")
        with self.cond:
            self.bodies.append(body)
            self.cond.notify_all()
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(body)

    def wait_for(self, count: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.bodies) >= count, WAIT), self.bodies


def status(code: int) -> Callable[[Any], Response]:
    return lambda _body: Response("", status=code)


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1")
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text)


# -- HttpInlet -> CsvOutlet ------------------------------------------------------------------

def test_http_feed_to_csv_resumes_and_rereads_after_a_failed_write(
        server: HTTPServer, tmp_path: Path) -> None:
    events: list[dict[str, Any]] = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    asked: list[str | None] = []

    def feed(request: Request) -> Response:
        since = request.args.get("since")
        asked.append(since)
        return Response(json.dumps([e for e in events if e["id"] > int(since or 0)]),
                        content_type="application/json")

    server.expect_request("/events").respond_with_handler(feed)
    state, folder = tmp_path / "state.json", tmp_path / "out"
    target = folder / "events.csv"

    def make_link() -> Link:
        inlet = HttpInlet(server.url_for("/events"), cursor_param="since", cursor_field="id")
        return Link(inlet, CsvOutlet(target), 1, tags="feed",
                    state_store=FileStateStore(state))

    link = make_link()
    link.on_start()
    assert link.transfer().committed
    events.append({"id": 3, "v": "c"})
    folder.rename(tmp_path / "away")
    folder.write_text("a file where the folder was")
    with pytest.raises(CsvWriteError):
        link.transfer()
    link.on_shutdown()  # the process "stops" with batch 3 not delivered
    assert json.loads(state.read_text()) == {"feed/0:HttpInlet": 2}
    folder.unlink()
    (tmp_path / "away").rename(folder)
    restarted = make_link()
    restarted.on_start()
    assert restarted.transfer().committed
    restarted.on_shutdown()
    assert [row["id"] for row in read_csv(target)] == ["1", "2", "3"]
    assert asked == [None, "2", "2"], "the restart asks again from the committed cursor"
    assert json.loads(state.read_text()) == {"feed/0:HttpInlet": 3}


# -- CsvInlet -> HttpOutlet, dead letters into a CSV file -------------------------------------

class DeadLetterCsv(CsvOutlet):
    """Dead letters as CSV rows: the payload and why it was refused. (A push override,
    not ``processors=``: the link pushes to its dead-letter outlet directly.)"""

    def push(self, records: list[Record], update: Update) -> None:
        super().push([Record({**r.payload,
                              "error_type": r.metadata[DEAD_LETTER]["error_type"],
                              "attempts": r.metadata[DEAD_LETTER]["attempts"]})
                      for r in records], update)


def test_csv_rows_to_http_with_retries_and_csv_dead_letters(
        server: HTTPServer, tmp_path: Path) -> None:
    endpoint = Endpoint(server, "/in")
    endpoint.answers = [status(503), status(200), status(422), status(200)]
    source, state = tmp_path / "rows.csv", tmp_path / "state.json"
    dead_file = tmp_path / "dead.csv"
    source.write_text("id,name\n1,a\n", encoding="utf-8")

    def make_link() -> tuple[Link, HttpOutlet]:
        outlet = HttpOutlet(server.url_for("/in"), retries=0)
        dead = DeadLetterCsv(dead_file)
        return Link(CsvInlet(source), outlet, 1, tags="rows", retry=FAST, dead_letter=dead,
                    state_store=FileStateStore(state)), outlet

    link, outlet = make_link()
    link.on_start()
    first = link.transfer()  # 503, then 200: delivered after one retry
    assert first.retried == {outlet: 1} and first.pushed == {outlet: 1} and first.committed
    append(source, "2,b\n")
    second = link.transfer()  # 422: permanent, straight to the dead-letter file
    link.on_shutdown()
    assert second.retried == {} and second.dead_lettered == {outlet: 1} and second.committed
    assert endpoint.bodies == [[{"id": "1", "name": "a"}]] * 2 + [[{"id": "2", "name": "b"}]]
    assert read_csv(dead_file) == [{"id": "2", "name": "b", "error_type": "HttpDeliveryError",
                                    "attempts": "1"}]
    restarted, _ = make_link()  # nothing left to send: both batches were handled
    restarted.on_start()
    assert restarted.transfer().pulled == 0
    restarted.on_shutdown()
    assert len(endpoint.bodies) == 3


# -- SIGKILL between push and commit ------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys
    from databay import Link
    from databay.delivery import FileStateStore
    from databay_csv import CsvInlet
    from databay_http import HttpOutlet

    source, url, state = sys.argv[1:4]
    link = Link(CsvInlet(source), HttpOutlet(url, retries=0, timeout=(5, 30)), 1,
                tags="rows", state_store=FileStateStore(state))
    result = link.transfer()
    print(result.pulled, result.committed, flush=True)
""")


def run_child(source: Path, url: str, state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(source), url, str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_process_killed_before_the_commit_sends_the_batch_again(
        server: HTTPServer, tmp_path: Path) -> None:
    endpoint = Endpoint(server, "/in")
    release = threading.Event()

    def hold(_body: Any) -> Response:  # received, but the answer never reaches the child
        release.wait(WAIT)
        return Response("", status=200)

    endpoint.answers = [hold, status(200)]
    source, state = tmp_path / "rows.csv", tmp_path / "state.json"
    source.write_text("id\n1\n2\n", encoding="utf-8")
    url = server.url_for("/in")
    child = run_child(source, url, state)
    try:
        endpoint.wait_for(1)  # the push is on the wire: kill before it can commit
        os.kill(child.pid, signal.SIGKILL)
        child.wait(WAIT)
    finally:
        release.set()
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=WAIT)
    assert child.returncode == -signal.SIGKILL
    assert not state.exists(), "killed before its commit"
    append(source, "3\n")
    again = run_child(source, url, state)
    out, err = again.communicate(timeout=WAIT * 3)
    assert again.returncode == 0, err
    assert out.split() == ["3", "True"]
    rows = [{"id": "1"}, {"id": "2"}]
    assert endpoint.bodies == [rows, [*rows, {"id": "3"}]], "the uncommitted batch came again"
    last = run_child(source, url, state)  # committed: nothing is sent twice any more
    out, err = last.communicate(timeout=WAIT * 3)
    assert last.returncode == 0, err
    assert out.split() == ["0", "True"]
    assert len(endpoint.bodies) == 2
