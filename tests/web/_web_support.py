"""Helpers of the databay-web tests: HTTP calls, a `databay run --http` subprocess, nodes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from databay.testing.planners import wait_until

SENTINEL = "S3ntinelSecretValue42"

#: A module for pipelines (``webnodes:FlakyInlet``...), put on PYTHONPATH.
NODES_MODULE = f'''
from databay import Inlet, Outlet

SENTINEL = {SENTINEL!r}


class CountInlet(Inlet):
    def pull(self, update):
        return [1, 2, 3]


class LeakyInlet(Inlet):
    """Fails every pull with an error that quotes credentials."""

    def pull(self, update):
        raise ConnectionError(
            f"GET https://user:{{SENTINEL}}@example.invalid/data?token={{SENTINEL}} "
            f"failed; password={{SENTINEL}}")


class SinkOutlet(Outlet):
    def push(self, records, update):
        pass
'''


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None,
            data: bytes | None = None, timeout: float = 10) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one request; 4xx/5xx are returned, not raised."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return reply.status, dict(reply.headers), reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def get_json(url: str) -> Any:
    status, _, body = request(url)
    assert status == 200, (status, body)
    return json.loads(body)


def pipeline_file(folder: Path, links: str) -> Path:
    path = folder / "pipeline.toml"
    path.write_text(links, encoding="utf-8")
    return path


def env_with(folder: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABAY_", "PYTEST_", "COV_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(folder), *filter(None, [os.environ.get(
        "PYTHONPATH")])])
    env.update(extra or {})
    return env


class DatabayRun:
    """``python -m databay ARGS`` with stderr in a file; ``url`` once it serves."""

    def __init__(self, folder: Path, *args: str, env: dict[str, str] | None = None) -> None:
        (folder / "webnodes.py").write_text(NODES_MODULE, encoding="utf-8")
        self.stderr_path = folder / "stderr.txt"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "databay", *args], cwd=folder,
                                     env=env if env is not None else env_with(folder),
                                     stdout=subprocess.DEVNULL, stderr=self._stderr,
                                     text=True)
        self.url = ""

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_serving(self, timeout: float = 30) -> str:
        found: list[str] = []

        def serving() -> bool:
            match = re.search(r"serving (http://\S+/)", self.stderr)
            if match:
                found.append(match.group(1))
            assert self.proc.poll() is None or found, f"exited {self.proc.returncode}: " \
                                                      f"{self.stderr}"
            return bool(found)

        wait_until(serving, timeout, "databay-web's 'serving' line")
        self.url = found[0]
        return self.url

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10)
        self._stderr.close()
        return code


def promtool() -> str | None:
    return shutil.which("promtool")


PROMTOOL_HOWTO = ("promtool is not installed: apt-get install prometheus (Debian), or put "
                  "promtool from https://prometheus.io/download/ on PATH")


def wait_for(predicate: Any, timeout: float = 20, what: str = "condition") -> None:
    wait_until(predicate, timeout, what)


__all__ = ["SENTINEL", "DatabayRun", "get_json", "pipeline_file", "promtool", "request",
           "time", "wait_for"]
