"""Real HTTP(S) servers on 127.0.0.1 for the databay-http tests (fixtures in conftest).

``LocalServer`` is a threaded ``http.server`` speaking HTTP/1.1 with keep-alive, whose
answers are scripted per path by the test: a reply, a hang (until the test releases it),
a dropped connection, or a trickled body. Every request is recorded with its client
address, so tests can see connection reuse. Servers are stopped in teardown, with every
handler thread joined.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

WAIT = 10.0  # upper bound of every wait-until in these tests


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int]
    at: float


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


class Hang:
    """Answer nothing until the test sets ``server.release`` (or the server stops)."""


class Drop:
    """Close the connection without answering."""


@dataclass
class Trickle:
    """Send headers announcing ``length`` bytes, then one byte per ``every`` seconds."""

    length: int = 1000
    every: float = 0.05


Handler = Callable[[Seen], Any]


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: LocalServer, tls: ssl.SSLContext | None) -> None:
        self.owner = owner
        self.tls = tls
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.conn_lock:
            self.connections.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that go away (timeouts, TLS refusals) are part of the tests


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)),
                    dict(self.headers.items()), body, self.client_address, time.monotonic())
        owner._record(seen)
        handler = owner.routes.get(parts.path)
        answer = handler(seen) if handler is not None else Reply(404, b"no such path")
        if isinstance(answer, Hang):
            owner.release.wait(WAIT * 3)
            answer = Reply(200, b"[]")
        if isinstance(answer, Drop):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(answer, Trickle):
            self.send_response(200)
            self.send_header("Content-Length", str(answer.length))
            self.end_headers()
            for _ in range(answer.length):
                if owner.release.wait(answer.every):
                    break
                self.wfile.write(b" ")
                self.wfile.flush()
            self.close_connection = True
            return
        if not isinstance(answer, Reply):
            answer = Reply(200, answer)
        data = answer.body.encode() if isinstance(answer.body, str) else answer.body
        self.send_response(answer.status)
        headers = {"Content-Type": "application/json", **answer.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class LocalServer:
    """A scripted HTTP(S) server on 127.0.0.1; see the module docstring."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        self.release = threading.Event()
        self._cond = threading.Condition()
        self._server = _Server(self, tls)
        self.port = self._server.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def reply(self, path: str, body: bytes | str = b"", status: int = 200,
              headers: dict[str, str] | None = None) -> None:
        """Answer every request to ``path`` with this reply."""
        fixed = Reply(status, body, headers or {})
        self.routes[path] = lambda _seen: fixed

    def script(self, path: str, *answers: Any) -> None:
        """Answer requests to ``path`` with ``answers`` in order, then repeat the last."""
        queue = list(answers)
        lock = threading.Lock()

        def handler(_seen: Seen) -> Any:
            with lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        self.routes[path] = handler

    def _record(self, seen: Seen) -> None:
        with self._cond:
            self.seen.append(seen)
            self._cond.notify_all()

    def requests_to(self, path: str) -> list[Seen]:
        with self._cond:
            return [s for s in self.seen if s.path == path]

    def wait_for(self, path: str, count: int = 1) -> list[Seen]:
        """Wait (bounded) until ``path`` got ``count`` requests."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.requests_to_unlocked(path)) >= count,
                                     timeout=WAIT)
            assert ok, f"{path} got {len(self.requests_to_unlocked(path))} of {count} requests"
            return self.requests_to_unlocked(path)

    def requests_to_unlocked(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        with self._server.conn_lock:
            open_connections = list(self._server.connections)
        for sock in open_connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins every handler thread
        self._thread.join(WAIT)


