"""A real PostgreSQL server for the tests: Debian's ``initdb`` + ``pg_ctl`` in a
temporary folder, on a free port of 127.0.0.1, trust authentication. As root, the
server runs as the unprivileged ``postgres`` user (initdb refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

INSTALL_HINT = ("PostgreSQL is not installed: apt-get install postgresql (the tests "
                "start their own server with initdb + pg_ctl; .ci/install-postgresql.sh)")


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, or Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_folder() -> Path:
    """A fresh folder for a server, directly in the temporary directory: as root the
    server runs as 'postgres', which cannot enter root's private folders (pytest's)."""
    return Path(tempfile.mkdtemp(prefix="databay-pg-"))


class PgServer:
    """``start``, ``stop`` (fast or ``immediate``, like a crash) and ``start`` again."""

    def __init__(self, folder: Path, bindir: Path) -> None:
        self.folder = folder
        self.bindir = bindir
        self.data = folder / "data"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
                self.user = "postgres"
            except KeyError:
                self.user = "nobody"
        self.url = f"postgresql+psycopg://databay@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run([str(self.bindir / args[0]), *args[1:]], timeout=timeout,
                              user=self.user, cwd=self.folder, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        if done.returncode:
            log = self.folder / "log.txt"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): "
                               f"{done.stdout.decode(errors='replace')}\n{tail}")

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "databay", "--auth=trust",
                  "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.folder} -c fsync=off "
                   f"-c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.folder / "log.txt"), "-w", "-t", "60", "start", timeout=90)

    def stop(self, mode: str = "fast", missing_ok: bool = False) -> None:
        """Stop the server; ``immediate`` is like a crash. Raises if it was not stopped,
        unless ``missing_ok`` (then a server that is not running is fine)."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                      timeout=90)
        except RuntimeError:
            if not missing_ok:
                raise

    def remove(self) -> None:
        """Stop the server if it runs, and delete its folder."""
        self.stop("immediate", missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)
