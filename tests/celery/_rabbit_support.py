"""A real RabbitMQ broker for the databay-celery tests, on 127.0.0.1 and free ports.

The broker runs as the current user from a temporary directory: its own node name, data
and log directories, Erlang cookie (in a temporary ``HOME``) and its own ``epmd`` on a
free port, so it neither needs nor disturbs a system RabbitMQ (no service is used).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import amqp
from _celery_support import free_port, stop_process, wait_until

# Debian's /usr/sbin/rabbitmq-server is a wrapper that switches to the ``rabbitmq`` user
# and its own directories; the script behind it runs the broker as we are.
_SCRIPTS = ("/usr/lib/rabbitmq/bin/rabbitmq-server",)
_EPMD = ("/usr/lib/erlang/bin/epmd",)

#: How long the broker may take to accept AMQP connections (about 8 s on a laptop).
START_TIMEOUT = 40.0


def _find(name: str, known: tuple[str, ...]) -> str | None:
    for path in known:
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def rabbitmq_script() -> str | None:
    """The ``rabbitmq-server`` start script, or None when RabbitMQ is not installed."""
    return _find("rabbitmq-server", _SCRIPTS)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


class RabbitServer:
    """``rabbitmq-server`` in the foreground; :attr:`url` is its AMQP URL (user guest,
    which RabbitMQ accepts from the loopback interface only)."""

    def __init__(self, workdir: Path) -> None:
        script = rabbitmq_script()
        epmd = _find("epmd", _EPMD)
        if script is None or epmd is None:
            raise RuntimeError("rabbitmq-server is not installed: run .ci/install-rabbitmq.sh "
                               "(apt-get install rabbitmq-server)")
        self.workdir = workdir
        self.port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.log = workdir / "rabbitmq.log"
        self.epmd_log = workdir / "epmd.log"
        self.epmd_port = free_port()
        home = workdir / "home"
        for sub in (home, workdir / "mnesia", workdir / "logs", workdir / "plugins"):
            sub.mkdir(exist_ok=True)
        (workdir / "enabled_plugins").write_text("[].\n")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "HOME": str(home),  # the Erlang cookie is created there
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": f"rabbit-{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(workdir / "logs"),
            "RABBITMQ_LOGS": "-",  # to stdout, i.e. self.log
            "RABBITMQ_CONF_ENV_FILE": str(workdir / "rabbitmq-env.conf"),  # none: not /etc
            "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),  # none: the defaults
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(workdir / "plugins"),
        })
        self.epmd: subprocess.Popen[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._epmd_out = open(self.epmd_log, "wb")  # noqa: SIM115 - closed in stop()
        self._out = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self._script, self._env = script, env
        started = time.monotonic()
        try:
            # our own epmd on a free port (not the machine's 4369), stopped in stop()
            self.epmd = subprocess.Popen([epmd, "-port", str(self.epmd_port)], env=env,
                                         stdout=self._epmd_out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            wait_until(lambda: self._alive(self.epmd, "epmd", self.epmd_log)
                       and _accepts(self.epmd_port), 10, "epmd to listen")
            self._launch()
        except BaseException:
            self.stop()
            raise
        #: seconds from launch to the first AMQP connection accepted
        self.start_seconds = time.monotonic() - started

    def _launch(self) -> None:
        self.proc = subprocess.Popen([self._script], env=self._env, cwd=self.workdir,
                                     stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._ready, START_TIMEOUT, "rabbitmq-server to accept AMQP "
                   "connections", step=0.1)

    def halt(self) -> None:
        """Stop the broker (its durable queues and persistent messages stay on disk),
        keeping its node name, ports and data for :meth:`resume`."""
        if self.proc is not None:
            stop_process(self.proc, grace=15)

    def resume(self) -> None:
        """Start the broker again with the same node, ports and data."""
        self._launch()

    @staticmethod
    def _alive(proc: subprocess.Popen[bytes] | None, name: str, log: Path) -> bool:
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text(errors='replace')[-3000:]}")
        return True

    def _ready(self) -> bool:
        self._alive(self.proc, "rabbitmq-server", self.log)
        if not _accepts(self.port):
            return False
        connection = self.connection()
        try:
            connection.connect()
        except (OSError, amqp.exceptions.AMQPError):
            connection.collect()  # not up yet (the port opens before the broker is ready)
            return False
        connection.close()
        return True

    def connection(self) -> amqp.Connection:
        """A (not yet connected) AMQP connection to the broker as guest."""
        return amqp.Connection(f"127.0.0.1:{self.port}", userid="guest", password="guest",
                               connect_timeout=2)

    def queue(self, name: str) -> tuple[int, int] | None:
        """``(messages ready, consumers)`` of queue ``name``, None when it does not exist."""
        with self.connection() as connection:
            channel = connection.channel()
            try:
                _, messages, consumers = channel.queue_declare(name, passive=True)
            except amqp.exceptions.NotFound:
                return None
            return int(messages), int(consumers)

    def stop(self) -> None:
        """Stop the broker (SIGTERM to its process group, SIGKILL after a grace), then
        our epmd."""
        for proc in (self.proc, self.epmd):
            if proc is not None:
                stop_process(proc, grace=15)
        self._out.close()
        self._epmd_out.close()
