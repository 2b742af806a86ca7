"""A MongoDB wire-protocol server for tests: nx-27017 on 127.0.0.1, or the server that
``MONGODB_URI`` names.

nx-27017 runs in memory on a free port, is stopped by the pid it writes to its pid file
(and, failing that, by the pid of the process started here), and can be restarted on
the same port to test reconnection. The module name is unique across the test folders
(they are not packages), so other tests can import it once ``tests/mongo`` is on
``sys.path``; ``tests/mongo/conftest.py`` holds the fixtures built on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = [
    "CLIENT_OPTIONS",
    "FAST_OPTIONS",
    "CuttingProxy",
    "NxServer",
    "free_port",
    "nx_executable",
    "wait_until",
]

#: Client options for tests: short, so that a dead server fails a test in seconds.
CLIENT_OPTIONS: dict[str, object] = {
    "serverSelectionTimeoutMS": 3000,
    "connectTimeoutMS": 3000,
    "socketTimeoutMS": 10000,
}
#: For tests that stop the server on purpose: failures must come fast.
FAST_OPTIONS: dict[str, object] = {
    "serverSelectionTimeoutMS": 250,
    "connectTimeoutMS": 250,
    "socketTimeoutMS": 2000,
}

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
#: how long a server gets to exit on SIGTERM before SIGKILL
TERM_GRACE = 2.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nx_executable() -> str | None:
    """The nx-27017 command next to this Python, else on PATH."""
    here = Path(sys.executable).parent / "nx-27017"
    if here.exists():
        return str(here)
    return shutil.which("nx-27017")


def wait_until(condition: object, timeout: float, what: str, interval: float = 0.02) -> None:
    """Call ``condition`` until it returns true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class NxServer:
    """One nx-27017 process on ``port``, with its files in ``workdir``: in memory, or
    with ``persistent=True`` in a SQLite file there that outlives a restart."""

    def __init__(self, workdir: Path, port: int | None = None, *,
                 persistent: bool = False) -> None:
        executable = nx_executable()
        if executable is None:
            raise RuntimeError("nx-27017 is not installed (pip install nx-27017)")
        self.executable = executable
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_file = self.workdir / f"nx-{self.port}.log"
        self.pid_file = self.workdir / f"nx-{self.port}.pid"
        self.db = str(self.workdir / f"nx-{self.port}.db") if persistent else "memory"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait (bounded) until it accepts connections."""
        if self.running:
            return
        self.pid_file.unlink(missing_ok=True)
        output = open(self.workdir / f"nx-{self.port}.out", "ab")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [self.executable, "--db", self.db, "--host", "127.0.0.1",
                 "-p", str(self.port), "--log-file", str(self.log_file),
                 "--pid-file", str(self.pid_file)],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )
        finally:
            output.close()
        self.starts += 1
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"nx-27017 exited with {process.returncode} on start; "
                                   f"see {self.workdir}")
            return _accepts(self.port)

        try:
            wait_until(ready, timeout, f"nx-27017 to accept connections on port {self.port}")
        except BaseException:
            self.stop()
            raise

    def _server_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server by its own pid (SIGTERM, then SIGKILL) and the process
        started here; wait until the port is free again."""
        process, self.process = self.process, None
        if process is None:
            return
        pid = self._server_pid()
        for target in {pid, process.pid} - {None}:
            assert target is not None
            if _alive(target):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(target, signal.SIGTERM)
        try:
            # memory storage: nothing to flush, so a server slow to leave is not waited for
            process.wait(min(timeout, TERM_GRACE))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        if pid is not None and pid != process.pid and _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _accepts(self.port), timeout,
                   f"port {self.port} to be closed")

    def restart(self) -> None:
        """Stop, then start again on the same port (memory storage: data is gone;
        ``persistent=True``: data is kept)."""
        self.stop()
        self.start()

    def __enter__(self) -> NxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CuttingProxy:
    """A TCP proxy in front of a server that can lose a reply on purpose.

    After :meth:`cut_next` the next client message that carries the given command is
    forwarded, the server's reply is read and dropped, and the client's connection is
    closed: the server did the work, the client never heard about it, which is what a
    connection lost mid-write looks like. With ``hang=True`` the connection stays open
    instead, so the client times out waiting for the reply.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self._hang = False
        self.cuts = 0
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self._accepter = threading.Thread(target=self._accept, name="cutting-proxy",
                                          daemon=True)
        self._accepter.start()

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def cut_next(self, command: str, hang: bool = False) -> None:
        """Lose the reply to the next message that carries ``command``; then close the
        connection, or with ``hang`` leave it open and silent."""
        with self._lock:
            self._marker = b"\x02" + command.encode() + b"\x00"
            self._hang = hang

    def _take_marker(self, data: bytes) -> str | None:
        with self._lock:
            if self._marker is not None and self._marker in data:
                self._marker = None
                self.cuts += 1
                return "hang" if self._hang else "cut"
        return None

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
            cut: list[str] = []  # "cut" or "hang": what to do with the server's next reply
            for args in ((client, server, True, cut), (server, client, False, cut)):
                thread = threading.Thread(target=self._pipe, args=args, daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool,
              cut: list[str]) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_client:
                    mode = self._take_marker(data)
                    if mode is not None:
                        cut.append(mode)
                elif cut:
                    # the server finished the write; its reply is lost
                    if cut.pop() == "cut":
                        break  # ...with the line
                    continue  # ...and the client waits for it in vain
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(sink)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def stop(self) -> None:
        """Close every connection and join every thread."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)
        self._accepter.join(5)
        for thread in self._threads:
            thread.join(5)
        alive = [t for t in [self._accepter, *self._threads] if t.is_alive()]
        if alive:
            raise RuntimeError(f"CuttingProxy: {len(alive)} thread(s) did not stop")
