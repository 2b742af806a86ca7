"""Helpers of the ``databay`` command tests: running the command as a subprocess, a
changing JSON source on 127.0.0.1, and a marker plugin that records its lifecycle."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: A module the pipelines name as ``clinodes:MarkerOutlet``: it appends its lifecycle
#: events (start, push-begin N, push-end N, shutdown) to the file ``marker``.
MARKER_MODULE = '''
import time
from databay import Inlet, Outlet


class MarkerOutlet(Outlet):
    def __init__(self, marker, push_seconds=0.0, slow_from=0, processors=None):
        super().__init__(processors)
        self.marker = marker
        self.push_seconds = push_seconds
        self.slow_from = slow_from

    def _note(self, text):
        with open(self.marker, "a") as f:
            f.write(text + "\\n")

    def on_start(self):
        self._note("start")

    def push(self, records, update):
        self._note(f"push-begin {update.transfer_number} {len(records)}")
        if update.transfer_number >= self.slow_from:
            time.sleep(self.push_seconds)
        self._note(f"push-end {update.transfer_number}")

    def on_shutdown(self):
        self._note("shutdown")


class FailingInlet(Inlet):
    def pull(self, update):
        raise ConnectionError("the source is down")


class RefusingOutlet(Outlet):
    def push(self, records, update):
        if records:
            raise ConnectionError("the database is down")


def only_even(records):
    return [r for r in records if r.payload["value"] % 2 == 0]


def tenfold(records):
    for r in records:
        r.payload["value"] *= 10
    return records
'''

RUN_TIMEOUT = 30.0


def cli_env(extra: dict[str, str] | None = None, pythonpath: Path | None = None
            ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABAY_", "PYTEST_", "COV_"))}
    env["PYTHONUNBUFFERED"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(pythonpath), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


def databay(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``python -m databay ARGS`` to completion."""
    return subprocess.run([sys.executable, "-m", "databay", *args], cwd=cwd,
                          env=env if env is not None else cli_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def csv_rows(path: Path) -> list[list[str]]:
    """The rows of a CSV file, checking that it ends with a complete line."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n"), f"{path} ends with an incomplete row: {text[-80:]!r}"
    return list(csv.reader(text.splitlines()))


class JsonSource:
    """An HTTP server on 127.0.0.1 whose ``/readings`` returns a new JSON list on each
    request: ``[{"n": <request number>, "value": <n * 10>}, {"n": ..., "value": ...}]``."""

    def __init__(self, per_request: int = 2) -> None:
        self.count = 0
        self.per_request = per_request
        self._lock = threading.Lock()
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with source._lock:
                    source.count += 1
                    n = source.count
                if self.path.startswith("/readings"):
                    body = json.dumps([{"n": n, "item": i, "value": n * 10 + i}
                                       for i in range(source.per_request)]).encode()
                    self.send_response(200)
                else:
                    body = b'{"error": "not found"}'
                    self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/readings"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


class Processes:
    """Starts ``python -m databay`` processes; kills any still running at teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str, cwd: Path, env: dict[str, str] | None = None
              ) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-m", "databay", *args], cwd=cwd,
                                env=env if env is not None else cli_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)
