#!/usr/bin/env python3
"""Build every package's wheel and install each ALONE into a fresh venv.

For every folder of ``packages/`` holding a ``pyproject.toml`` (discovered, not listed):

1. build its wheel;
2. read from the wheel what it declares: name, version, requirements, ``databay`` entry
   points, import packages;
3. check the declarations: README.md and CHANGELOG.md beside the pyproject, a plugin
   declares a bounded ``databay-core`` range and a ``databay`` entry point;
4. create a fresh venv and install the wheel with its declared dependencies (first-party
   ones from the wheels just built, the rest from the package index), then ``pip check``;
5. in that venv: its plugin is discovered and loads without error, loading it imports none
   of its third-party dependencies, every name it registers resolves through
   ``databay.inlets`` / ``outlets`` / ``planners`` to a class of the right kind, its
   import packages import, and ``KNOWN_PROVIDERS`` (the ``pip install`` hint table)
   agrees with what it registers;
6. in that venv: every name the OTHER packages register raises ImportError with their
   ``pip install`` line;
7. in that venv: a real run of what the package provides, with ``python -m databay run``
   (or the package's own command) on a small pipeline file: a planner starts and runs a
   link, an inlet reads, an outlet writes, and the records are checked where they landed
   (databay-celery: a beat and a worker against a real ``redis-server``; databay-mongo:
   an nx-27017 server; databay-http: a local HTTP server). Servers come from the same
   helpers the tests use (``tests/celery``, ``tests/mongo``); a run whose server is
   missing is skipped with how to install it, and fails instead when ``$CI`` is set.

Uses uv when it is on PATH (much faster), else ``python -m venv`` and pip. Prints a
summary; exits 1 when any check failed, 2 on a usage error.

    python scripts/check_wheels.py [--only databay-http ...] [--keep] [--jobs N]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import email.parser
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORE = "databay-core"
KINDS = ("inlet", "outlet", "planner")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_name(pyproject: Path) -> str | None:
    """``[project] name`` of a pyproject.toml (tomllib, tomli, or a plain reading)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
        except ModuleNotFoundError:
            match = re.search(r'^\[project\][^\[]*?^name\s*=\s*["\']([^"\']+)',
                              pyproject.read_text(), re.MULTILINE | re.DOTALL)
            return match.group(1) if match else None
    with pyproject.open("rb") as f:
        name = tomllib.load(f).get("project", {}).get("name")
    return name if isinstance(name, str) else None


@dataclass
class Package:
    """One folder of packages/ and what its check found."""

    name: str
    path: Path
    wheel: Path | None = None
    version: str = "?"
    requires: list[str] = field(default_factory=list)
    entry_points: dict[str, str] = field(default_factory=dict)
    import_names: list[str] = field(default_factory=list)
    venv: Path | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)
    known: dict[str, dict[str, str]] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)  # step -> "ok" / "FAIL" / "skip"
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ran: str = ""  # what the real run moved (or why it was skipped)

    def ok(self, step: str) -> None:
        self.steps.setdefault(step, "ok")

    def fail(self, step: str, problem: str) -> None:
        self.steps[step] = "FAIL"
        self.problems.append(f"{step}: {problem}")

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def discover(packages_dir: Path) -> list[Package]:
    found = []
    for pyproject in sorted(packages_dir.glob("*/pyproject.toml")):
        name = project_name(pyproject)
        if not name:
            raise SystemExit(f"{pyproject}: no [project] name")
        found.append(Package(normalize(name), pyproject.parent))
    return found


# -- running tools -------------------------------------------------------------------


def _env() -> dict[str, str]:
    """The environment without what would leak the dev setup into the fresh venvs."""
    drop = ("DATABAY_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "PIP_",
            "UV_PYTHON", "UV_PROJECT", "PYTEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(cmd: list[str], cwd: Path | None = None, timeout: float = 300,
        env: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        done = subprocess.run(cmd, cwd=cwd, env={**_env(), **(env or {})},
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f}s: {' '.join(cmd)}"
    return done.returncode, (done.stdout + done.stderr).strip()


def find_uv() -> list[str] | None:
    uv = shutil.which("uv")
    if uv:
        return [uv]
    if importlib.util.find_spec("uv") is not None:  # hatch's own uv, as a module
        return [sys.executable, "-m", "uv"]
    return None


class Tools:
    """Build, venv and install commands: uv when there is one, else venv and pip."""

    def __init__(self, uv: list[str] | None) -> None:
        self.uv = uv

    def build(self, pkg: Package, out: Path) -> tuple[int, str]:
        if self.uv:
            return run([*self.uv, "build", "--wheel", "--out-dir", str(out),
                        str(pkg.path)])
        return run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(out), str(pkg.path)])

    def venv(self, path: Path) -> tuple[int, str]:
        if self.uv:
            return run([*self.uv, "venv", "--quiet", "--python", sys.executable, str(path)])
        return run([sys.executable, "-m", "venv", str(path)])

    def install(self, python: Path, wheels: list[Path]) -> tuple[int, str]:
        args = [str(w) for w in wheels]
        if self.uv:
            return run([*self.uv, "pip", "install", "--quiet", "--python", str(python), *args])
        return run([str(python), "-m", "pip", "install", "--quiet", *args])

    def check(self, python: Path) -> tuple[int, str]:
        if self.uv:
            return run([*self.uv, "pip", "check", "--python", str(python)])
        return run([str(python), "-m", "pip", "check"])


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


# -- reading a wheel -----------------------------------------------------------------


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def req_name(req: str) -> str:
    match = _REQ_NAME.match(req)
    return normalize(match.group(1)) if match else req


def read_wheel(pkg: Package) -> None:
    assert pkg.wheel is not None
    with zipfile.ZipFile(pkg.wheel) as zf:
        names = zf.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(f"{info}/METADATA").decode())
        pkg.version = meta["Version"]
        pkg.requires = [r for r in meta.get_all("Requires-Dist") or []
                        if "extra ==" not in r.replace("extra==", "extra ==")]
        if not str(meta.get_payload()).strip():
            pkg.fail("metadata", "the wheel has no long description (readme)")
        ep_file = f"{info}/entry_points.txt"
        if ep_file in names:
            section = None
            for line in zf.read(ep_file).decode().splitlines():
                line = line.strip()
                if line.startswith("["):
                    section = line.strip("[]").strip()
                elif "=" in line and section == "databay":
                    key, _, value = line.partition("=")
                    pkg.entry_points[key.strip()] = value.strip()
        tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(
            (".dist-info", ".data"))}
        pkg.import_names = sorted(t[:-3] if t.endswith(".py") else t for t in tops)


def check_declarations(pkg: Package) -> None:
    for doc in ("README.md", "CHANGELOG.md"):
        if not (pkg.path / doc).is_file():
            pkg.fail("metadata", f"{doc} is missing beside {pkg.path / 'pyproject.toml'}")
    if pkg.name == CORE:
        pkg.ok("metadata")
        return
    core_reqs = [r for r in pkg.requires if req_name(r) == CORE]
    if not core_reqs:
        pkg.fail("metadata", f"does not depend on {CORE}")
    else:
        spec = core_reqs[0][len(_REQ_NAME.match(core_reqs[0]).group(0)):]  # type: ignore[union-attr]
        if not re.search(r"<|~=|==", spec):
            pkg.fail("metadata", f"its {CORE} range {spec.strip() or '(any)'!r} has no upper "
                                 f"bound; declare a compatible range such as '>=0.4,<0.5'")
    if not pkg.entry_points:
        pkg.fail("metadata", "declares no entry point in the 'databay' group: databay "
                             "cannot discover it")
    pkg.ok("metadata")


# -- probing a venv --------------------------------------------------------------------


PROBE = textwrap.dedent(r'''
    import importlib, importlib.metadata as md, json, re, sys
    task = json.loads(sys.argv[1])
    out = {"problems": [], "provides": {}, "known": {}}
    problems = out["problems"]

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    # third-party import names of the package's own requirements (core's deps excluded)
    by_dist = {}
    for module, dists in md.packages_distributions().items():
        for dist in dists:
            by_dist.setdefault(norm(dist), set()).add(module)
    core_deps = {norm(re.match(r"[A-Za-z0-9._-]+", r).group(0))
                 for r in (md.requires("databay-core") or [])}
    heavy = set()
    for dist in task["third_party"]:
        if dist not in core_deps:
            heavy |= by_dist.get(dist, set())

    before = set(sys.modules)
    import databay.plugins as plugins
    infos = plugins.plugins()
    loaded_heavy = sorted(m for m in heavy if m in sys.modules and m not in before)
    if loaded_heavy:
        problems.append("discovering plugins imported " + ", ".join(loaded_heavy)
                        + ": plugin modules (and the package __init__ they live in) must "
                        "import heavy libraries only when a class is used")
    mine = [i for i in infos if i.distribution and norm(i.distribution) == task["name"]]
    if task["name"] == "databay-core":
        mine = [i for i in infos if i.name == "builtins"]
    names = {i.name for i in mine}
    for ep in task["entry_points"]:
        if ep not in names:
            problems.append(f"entry point {ep!r} was not discovered (plugins: "
                            f"{[(i.name, i.distribution) for i in infos]})")
    for info in mine:
        if info.error:
            problems.append(f"plugin {info.name!r} failed to load: {info.error}")
        for kind, provided in info.provides.items():
            out["provides"].setdefault(kind, []).extend(provided)
    manager = plugins.get_plugin_manager()
    other_hooks = [caller.name for info in mine
                   for caller in manager.get_hookcallers(manager.get_plugin(info.name)) or []
                   if not caller.name.startswith("databay_register_")]
    if not out["provides"] and not other_hooks and not problems:
        # a plugin may only observe or add command-line options (databay-web)
        problems.append("its plugin registers no inlet, outlet or planner and implements "
                        "no other hook")

    import databay
    bases = {"inlet": databay.Inlet, "outlet": databay.Outlet, "planner": databay.BasePlanner}

    def lookup(kind, name):
        """(how, class): through the kind's namespace module where there is one."""
        try:
            namespace = importlib.import_module(f"databay.{kind}s")
        except ModuleNotFoundError as exc:
            if exc.name != f"databay.{kind}s":
                raise
            return f"databay.plugins.resolve({kind!r}, {name!r})", plugins.resolve(kind, name)
        return f"from databay.{kind}s import {name}", getattr(namespace, name)

    for kind, provided in out["provides"].items():
        for name in provided:
            try:
                how, cls = lookup(kind, name)
            except Exception as exc:
                problems.append(f"looking up the {kind} {name} raised "
                                f"{type(exc).__name__}: {exc}")
                continue
            if kind in bases and not (isinstance(cls, type) and issubclass(cls, bases[kind])):
                problems.append(f"{how} gave {cls!r}, not a {bases[kind].__name__} subclass")
    for module in task["import_names"]:
        try:
            importlib.import_module(module)
        except Exception as exc:
            problems.append(f"import {module} raised {type(exc).__name__}: {exc}")
    if task["name"] == "databay-core":
        for module in ("databay.testing", "databay.misc.inlet_tester"):
            try:
                importlib.import_module(module)
            except Exception as exc:
                problems.append(f"import {module} raised {type(exc).__name__}: {exc}")
    out["known"] = {kind: dict(names) for kind, names in plugins.KNOWN_PROVIDERS.items()}

    # names of the other packages: ImportError with their pip install line
    problems = out["hint_problems"] = []
    for kind, name, dist in task["absent"]:
        how = f"the {kind} {name}"
        try:
            how, _ = lookup(kind, name)
        except ImportError as exc:
            if f"pip install {dist}" not in str(exc):
                problems.append(f"{how} raised ImportError without 'pip install {dist}': {exc}")
        except Exception as exc:
            problems.append(f"{how} raised {type(exc).__name__}, not ImportError with "
                            f"'pip install {dist}': {exc}")
        else:
            problems.append(f"{how} worked although {dist} is not installed")
    print("@@PROBE@@" + json.dumps(out))
''')


def probe(pkg: Package, absent: list[tuple[str, str, str]], workdir: Path) -> dict[str, Any]:
    assert pkg.venv is not None
    task = {
        "name": pkg.name,
        "entry_points": sorted(pkg.entry_points) if pkg.name != CORE else [],
        "import_names": pkg.import_names,
        "third_party": sorted({req_name(r) for r in pkg.requires} - _FIRST_PARTY),
        "absent": absent,
    }
    code, output = run([str(venv_python(pkg.venv)), "-c", PROBE, json.dumps(task)], cwd=workdir)
    marker = "@@PROBE@@"
    if code != 0 or marker not in output:
        return {"problems": [f"the probe exited {code}: {output[-2000:]}"]}
    try:
        result: dict[str, Any] = json.loads(output.rsplit(marker, 1)[1].splitlines()[0])
    except (ValueError, IndexError) as exc:
        return {"problems": [f"the probe's output could not be read ({exc}): {output[-2000:]}"]}
    return result


_FIRST_PARTY: set[str] = set()


# -- a real run in the venv --------------------------------------------------------------


class Skip(Exception):
    """A run that cannot happen here (a server is missing); the message says how to fix it."""


def _lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines FileOutlet(json_lines=true) wrote, [] when none yet."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _need(records: list[Any], at_least: int, what: str) -> None:
    if len(records) < at_least:
        raise AssertionError(f"{what}: expected at least {at_least} record(s), got "
                             f"{len(records)}: {records[:5]!r}")


def _databay(python: Path, pipeline: str, cwd: Path, *args: str,
             env: dict[str, str] | None = None, timeout: float = 60) -> str:
    (cwd / "pipeline.toml").write_text(textwrap.dedent(pipeline))
    code, output = run([str(python), "-m", "databay", "run", "pipeline.toml", "--status",
                        "off", *args], cwd=cwd, timeout=timeout, env=env)
    if code != 0:
        raise AssertionError(f"databay run {' '.join(args)} exited {code}: {output[-2000:]}")
    return output


_FILE_OUTLET = """
    [[links.outlets]]
    type = "FileOutlet"
    default_filepath = "out.jsonl"
    json_lines = true
"""


def run_core(python: Path, cwd: Path) -> str:
    _databay(python, """
        [[links]]
        name = "dice"
        interval = "1s"
        [[links.inlets]]
        type = "RandomIntInlet"
        min = 1
        max = 6
    """ + _FILE_OUTLET, cwd, "--once")
    records = _lines(cwd / "out.jsonl")
    _need(records, 1, "RandomIntInlet -> FileOutlet, --once")
    if not 1 <= records[0]["payload"] <= 6:
        raise AssertionError(f"RandomIntInlet(1, 6) wrote {records[0]!r}")
    return "RandomIntInlet -> FileOutlet: 1 record"


def run_csv(python: Path, cwd: Path) -> str:
    (cwd / "in.csv").write_text("id,name\n1,ada\n2,grace\n3,linus\n")
    _databay(python, """
        [[links]]
        name = "copy"
        interval = "1s"
        [[links.inlets]]
        type = "CsvInlet"
        filepath = "in.csv"
        [[links.outlets]]
        type = "CsvOutlet"
        default_filepath = "out.csv"
    """, cwd, "--once")
    rows = (cwd / "out.csv").read_text().splitlines() if (cwd / "out.csv").exists() else []
    if len(rows) != 4 or "ada" not in rows[1] or "linus" not in rows[3]:
        raise AssertionError(f"CsvInlet -> CsvOutlet wrote {rows!r}, expected a header and "
                             f"the 3 rows of in.csv")
    return "CsvInlet -> CsvOutlet: 3 rows"


def run_planners(python: Path, cwd: Path) -> str:
    done = []
    for planner, extra in (("ApsPlanner", ""), ("SchedulePlanner", "refresh_interval = 0.1")):
        out = cwd / planner
        out.mkdir()
        _databay(python, f"""
            [planner]
            type = "{planner}"
            {extra}
            [[links]]
            name = "dice"
            interval = "100ms"
            [[links.inlets]]
            type = "RandomIntInlet"
        """ + _FILE_OUTLET, out, "--duration", "1.5s")
        records = _lines(out / "out.jsonl")
        _need(records, 3, f"{planner}, a 100ms link for 1.5 s")
        done.append(f"{planner}: {len(records)} ticks")
    return ", ".join(done)


def run_http(python: Path, cwd: Path) -> str:
    import http.server
    import threading

    posted: list[Any] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"greeting": "hello"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            posted.append(json.loads(self.rfile.read(length) or b"null"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _databay(python, f"""
            [[links]]
            name = "relay"
            interval = "1s"
            [[links.inlets]]
            type = "HttpInlet"
            url = "{url}/in"
            [[links.outlets]]
            type = "HttpOutlet"
            url = "{url}/out"
        """ + _FILE_OUTLET, cwd, "--once")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    records = _lines(cwd / "out.jsonl")
    _need(records, 1, "HttpInlet -> FileOutlet")
    _need(posted, 1, "HttpInlet -> HttpOutlet (POSTs received)")
    if "hello" not in json.dumps(posted) or records[0]["payload"] != {"greeting": "hello"}:
        raise AssertionError(f"HttpInlet -> FileOutlet/HttpOutlet moved {records!r} and "
                             f"{posted!r}, expected the served JSON")
    return "HttpInlet -> HttpOutlet + FileOutlet: 1 record"


def _test_support(folder: str, module: str) -> Any:
    """A server helper of the tests (``tests/FOLDER/MODULE.py``), imported here so that
    this script finds servers exactly as the tests do; Skip when it cannot be imported."""
    path = str(ROOT / "tests" / folder)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Skip(f"the test helper tests/{folder}/{module}.py cannot be imported with "
                   f"{sys.executable} ({exc}): run this script with 'hatch run python "
                   f"scripts/check_wheels.py'") from None


def run_mongo(python: Path, cwd: Path) -> str:
    support = _test_support("mongo", "_mongo_server")
    if support.nx_executable() is None:
        raise Skip("no MongoDB server for the run: nx-27017 is not installed (hatch's "
                   "default env has it: 'hatch run python scripts/check_wheels.py')")
    server = support.NxServer(cwd)
    server.start()
    try:
        _databay(python, f"""
            [[links]]
            name = "dice"
            interval = "1s"
            [[links.inlets]]
            type = "RandomIntInlet"
            [[links.outlets]]
            type = "MongoOutlet"
            uri = "{server.uri}"
            database_name = "wheels"
            collection = "dice"
            wrap_key = "n"
        """, cwd, "--once")
        code, output = run([str(python), "-c", textwrap.dedent(f"""
            import pymongo
            client = pymongo.MongoClient({server.uri!r}, serverSelectionTimeoutMS=5000)
            print(client.wheels.dice.count_documents({{"n": {{"$gte": 0}}}}))
        """)], cwd=cwd, timeout=60)
    finally:
        server.stop()
    if code != 0 or output.strip().splitlines()[-1:] != ["1"]:
        raise AssertionError(f"MongoOutlet wrote no document (count: {output[-1000:]})")
    return "RandomIntInlet -> MongoOutlet: 1 document"


def run_sql(python: Path, cwd: Path) -> str:
    """SqlInlet -> SqlOutlet between two SQLite files, checkpoints in SqlStateStore (no
    server: SQLite is in the standard library)."""
    code, output = run([str(python), "-c", textwrap.dedent("""
        import sqlite3
        db = sqlite3.connect("source.db")
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)")
        db.executemany("INSERT INTO items VALUES (?, ?)", [(i, str(i)) for i in range(1, 8)])
        db.commit()
    """)], cwd=cwd, timeout=60)
    if code != 0:
        raise AssertionError(f"could not create the source database: {output[-1000:]}")
    pipeline = """
        [[links]]
        name = "copy"
        tags = ["copy"]
        interval = "1s"
        [links.state_store]
        type = "SqlStateStore"
        url = "sqlite:///target.db"
        [[links.inlets]]
        type = "SqlInlet"
        url = "sqlite:///source.db"
        table = "items"
        cursor_column = "id"
        chunk_size = 5
        [[links.outlets]]
        type = "SqlOutlet"
        url = "sqlite:///target.db"
        table = "items"
        create_table = true
    """
    for _ in range(2):  # two runs: the second resumes from the committed cursor
        _databay(python, pipeline, cwd, "--once")
    code, output = run([str(python), "-c", textwrap.dedent("""
        import sqlite3
        print(sqlite3.connect("target.db").execute("SELECT count(*) FROM items").fetchone()[0])
    """)], cwd=cwd, timeout=60)
    if code != 0 or output.strip().splitlines()[-1:] != ["7"]:
        raise AssertionError(f"SqlOutlet did not copy the 7 rows exactly once: {output[-1000:]}")
    return "SqlInlet -> SqlOutlet (SQLite, SqlStateStore): 7 rows in 2 runs"


def run_celery(python: Path, cwd: Path) -> str:
    support = _test_support("celery", "_celery_support")
    try:
        redis_server = support.RedisServer(cwd)
    except RuntimeError as exc:
        raise Skip(str(exc)) from None
    (cwd / "pipeline.toml").write_text(textwrap.dedent("""
        [planner]
        type = "CeleryPlanner"
        [[links]]
        name = "dice"
        interval = "200ms"
        [[links.inlets]]
        type = "RandomIntInlet"
    """ + _FILE_OUTLET))
    env = {**_env(), "DATABAY_CELERY_BROKER": redis_server.url,
           "DATABAY_CELERY_PREFIX": "wheels", "DATABAY_CELERY_QUEUE": "wheels"}
    procs: dict[str, subprocess.Popen[str]] = {}
    logs: dict[str, Path] = {}
    try:
        for role in ("worker", "beat"):
            logs[role] = cwd / f"{role}.log"
            with logs[role].open("w") as log:
                procs[role] = subprocess.Popen(
                    [str(python), "-m", "databay", "run", "pipeline.toml", "--role", role,
                     "--status", "off", "--log-level", "INFO"], cwd=cwd, env=env,
                    stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while len(_lines(cwd / "out.jsonl")) < 3:
            gone = [r for r, p in procs.items() if p.poll() is not None]
            if gone or time.monotonic() > deadline:
                why = f"{', '.join(gone)} exited" if gone else "timed out after 60 s"
                raise AssertionError(f"beat + worker ran {len(_lines(cwd / 'out.jsonl'))} "
                                     f"tick(s), {why}:\n" + "\n".join(
                                         f"--- {r}:\n{logs[r].read_text()[-1500:]}"
                                         for r in procs))
            time.sleep(0.1)
        for proc in procs.values():
            proc.terminate()  # SIGTERM: a graceful stop, exit code 0
        for role, proc in procs.items():
            try:
                code = proc.wait(30)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"the {role} did not stop within 30 s of SIGTERM") \
                    from None
            if code != 0:
                raise AssertionError(f"the {role} exited {code} on SIGTERM:\n"
                                     f"{logs[role].read_text()[-1500:]}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        redis_server.stop()
    return f"beat + worker on redis-server: {len(_lines(cwd / 'out.jsonl'))} ticks"


def run_web(python: Path, cwd: Path) -> str:
    """databay run --http on core's ThreadPlanner: the page, /ready and /metrics answer."""
    import urllib.request

    (cwd / "pipeline.toml").write_text(textwrap.dedent("""
        [[links]]
        name = "dice"
        interval = "100ms"
        [[links.inlets]]
        type = "RandomIntInlet"
    """ + _FILE_OUTLET))
    log = cwd / "stderr.txt"
    with log.open("w") as err:
        proc = subprocess.Popen([str(python), "-m", "databay", "run", "pipeline.toml", "--http",
                                 "0", "--status", "off"], cwd=cwd, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=err, text=True)
    try:
        deadline = time.monotonic() + 60
        url = ""
        while time.monotonic() < deadline:
            found = re.search(r"serving (http://\S+/)", log.read_text())
            if found:
                url = found.group(1)
                break
            if proc.poll() is not None:
                raise AssertionError(f"databay run --http exited {proc.returncode}:\n"
                                     f"{log.read_text()[-1500:]}")
            time.sleep(0.1)
        if not url:
            raise AssertionError(f"databay run --http did not serve:\n{log.read_text()[-1500:]}")
        metrics = ""
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url + "metrics", timeout=10) as reply:
                metrics = reply.read().decode()
            if re.search(r'databay_transfers_total\{link="dice",outcome="succeeded"\} [3-9]',
                         metrics) or re.search(r'outcome="succeeded"\} \d\d', metrics):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"/metrics did not count 3 transfers:\n{metrics[-1500:]}")
        with urllib.request.urlopen(url + "ready", timeout=10) as reply:
            ready = reply.read().decode().strip()
        with urllib.request.urlopen(url, timeout=10) as reply:
            page = reply.read().decode()
        if ready != "ready" or "<title>databay</title>" not in page:
            raise AssertionError(f"/ready said {ready!r}; the page: {page[:200]!r}")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        if code != 0:
            raise AssertionError(f"databay run --http exited {code} on SIGTERM:\n"
                                 f"{log.read_text()[-1500:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return "databay run --http on ThreadPlanner: /metrics, /ready and the page answer"


#: The real run of each package of this repository, by distribution name; one of them
#: without a run fails (packages of another --packages-dir are not run).
RUNS = {
    "databay-core": run_core,
    "databay-csv": run_csv,
    "databay-planners": run_planners,
    "databay-http": run_http,
    "databay-mongo": run_mongo,
    "databay-celery": run_celery,
    "databay-web": run_web,
    "databay-sql": run_sql,
}


def run_package(pkg: Package, work: Path) -> None:
    if pkg.venv is None:
        pkg.steps.setdefault("run", "skip")
        return
    ours = pkg.path.resolve().parent == (ROOT / "packages").resolve()
    runner = RUNS.get(pkg.name) if ours else None
    if runner is None:
        if ours:
            pkg.fail("run", f"check_wheels has no real run for {pkg.name}: add one to RUNS "
                            f"(a planner starts and runs a link, an inlet reads, an outlet "
                            f"writes)")
        else:  # the runs are written for this repository's packages, by name
            pkg.steps["run"] = "skip"
            pkg.ran = "skipped: not one of this repository's packages"
        return
    cwd = work / f"run-{pkg.name}"
    cwd.mkdir()
    try:
        pkg.ran = runner(venv_python(pkg.venv), cwd)
    except Skip as exc:
        if os.environ.get("CI"):
            pkg.fail("run", f"skipped in CI: {exc}")
        else:
            pkg.steps["run"] = "skip"
            pkg.ran = f"skipped: {exc}"
        return
    except Exception as exc:
        pkg.fail("run", f"{type(exc).__name__}: {exc}")
        return
    pkg.ok("run")


# -- the steps --------------------------------------------------------------------------


def build_all(pkgs: list[Package], tools: Tools, wheels: Path, jobs: int) -> None:
    def build(pkg: Package) -> None:
        out = wheels / pkg.name
        out.mkdir()
        code, output = tools.build(pkg, out)
        built = sorted(out.glob("*.whl"))
        if code != 0 or len(built) != 1:
            pkg.fail("build", f"exit {code}, wheels {[w.name for w in built]}: {output[-2000:]}")
            return
        pkg.wheel = built[0]
        pkg.ok("build")
        read_wheel(pkg)

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(build, pkgs))


def install_one(pkg: Package, tools: Tools, by_name: dict[str, Package], work: Path) -> None:
    if pkg.wheel is None:
        pkg.steps["install"] = "skip"
        return
    wheels = [pkg.wheel]
    for req in pkg.requires:  # first-party dependencies come from the wheels just built
        dep = by_name.get(req_name(req))
        if dep is not None:
            if dep.wheel is None:
                pkg.fail("install", f"needs {dep.name}, whose wheel did not build")
                return
            wheels.append(dep.wheel)
    pkg.venv = work / f"venv-{pkg.name}"
    code, output = tools.venv(pkg.venv)
    if code == 0:
        code, output = tools.install(venv_python(pkg.venv), wheels)
    if code != 0:
        pkg.fail("install", output[-3000:])
        pkg.venv = None
        return
    pkg.ok("install")
    code, output = tools.check(venv_python(pkg.venv))
    if code != 0:
        pkg.fail("pip check", output[-2000:])
    else:
        pkg.ok("pip check")


def absent_names(pkg: Package, pkgs: list[Package]) -> list[tuple[str, str, str]]:
    """(kind, name, distribution) of the names the other packages provide, which ``pkg``'s
    venv does not have. Only names in the hint table: the others are reported with the
    package that registers them (:func:`check_known_providers`)."""
    installed = {pkg.name} | {req_name(r) for r in pkg.requires}
    known = _known_table(pkgs)
    absent = []
    for other in pkgs:
        if other.name in installed or other.name == CORE:
            continue
        for kind, names in known.items():
            absent += [(kind, name, other.name) for name, dist in names.items()
                       if normalize(dist) == other.name]
    return sorted(absent)


def _known_table(pkgs: list[Package]) -> dict[str, dict[str, str]]:
    for pkg in pkgs:
        if pkg.known:
            return pkg.known
    return {}


def check_known_providers(pkgs: list[Package]) -> None:
    """The pip-install hint table agrees with what each package registers."""
    known = _known_table(pkgs)
    if not known:
        return
    for pkg in pkgs:
        if pkg.name == CORE or not pkg.provides:
            continue
        table = {(kind, name) for kind, names in known.items() for name, dist in names.items()
                 if normalize(dist) == pkg.name}
        registered = {(kind, name) for kind, names in pkg.provides.items() for name in names}
        for kind, name in sorted(registered - table):
            pkg.fail("hints", f"{kind} {name} is not in databay.plugins.KNOWN_PROVIDERS: "
                              f"without {pkg.name} installed, its name gives no "
                              f"'pip install {pkg.name}' hint")
        for kind, name in sorted(table - registered):
            pkg.fail("hints", f"KNOWN_PROVIDERS says {pkg.name} provides the {kind} {name}, "
                              f"but it does not register it")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages-dir", type=Path, default=ROOT / "packages")
    parser.add_argument("--only", nargs="*", default=None,
                        help="check only these packages (databay-core is always built)")
    parser.add_argument("--keep", action="store_true", help="keep the venvs and wheels")
    parser.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 2))
    args = parser.parse_args(argv)
    started = time.perf_counter()

    pkgs = discover(args.packages_dir)
    by_name = {p.name: p for p in pkgs}
    _FIRST_PARTY.update(by_name)
    if CORE not in by_name:
        print(f"no {CORE} in {args.packages_dir}", file=sys.stderr)
        return 2
    if args.only:
        unknown = {normalize(n) for n in args.only} - set(by_name)
        if unknown:
            print(f"--only: unknown packages {sorted(unknown)}; found {sorted(by_name)}",
                  file=sys.stderr)
            return 2
    checked = [p for p in pkgs if not args.only or p.name in {normalize(n) for n in args.only}]
    tools = Tools(find_uv())
    print(f"check_wheels: {len(pkgs)} packages in {args.packages_dir}: "
          f"{', '.join(p.name for p in pkgs)} (using {'uv' if tools.uv else 'venv + pip'})",
          flush=True)

    work = Path(tempfile.mkdtemp(prefix="databay-wheels-"))
    try:
        wheels = work / "wheels"
        wheels.mkdir()
        # every package is built: the hint checks need to know what the others register
        build_all(pkgs, tools, wheels, args.jobs)
        for pkg in pkgs:
            if pkg.wheel is not None:
                check_declarations(pkg)

        def install_and_probe(pkg: Package) -> None:
            try:
                _install_and_probe(pkg)
            except Exception as exc:  # report it with the package, check the others
                pkg.fail("install", f"check_wheels itself failed: {type(exc).__name__}: {exc}")

        def _install_and_probe(pkg: Package) -> None:
            t0 = time.perf_counter()
            install_one(pkg, tools, by_name, work)
            if pkg.venv is not None:
                result = probe(pkg, [], work)
                pkg.provides = result.get("provides", {})
                pkg.known = result.get("known", {})
                if result["problems"]:
                    for problem in result["problems"]:
                        pkg.fail("plugin", problem)
                else:
                    pkg.ok("plugin")
            pkg.seconds = time.perf_counter() - t0

        # every package is installed and probed (see above); only --only ones are reported
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(install_and_probe, pkgs))
        check_known_providers(pkgs)

        def hints(pkg: Package) -> None:
            if pkg.venv is None:
                pkg.steps.setdefault("hints", "skip")
                return
            absent = absent_names(pkg, pkgs)
            result = probe(pkg, absent, work)
            for problem in result.get("hint_problems", result["problems"]):
                pkg.fail("hints", problem)
            pkg.steps.setdefault("hints", f"ok ({len(absent)})")

        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(hints, checked))
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda pkg: run_package(pkg, work), checked))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    report(checked, time.perf_counter() - started)
    return 1 if any(p.failed for p in checked) else 0


def report(pkgs: list[Package], seconds: float) -> None:
    steps = ["build", "metadata", "install", "pip check", "plugin", "hints", "run"]
    print("hints (n): n names of other packages checked to give their 'pip install' line")
    width = max(len(p.name) for p in pkgs)
    print()
    print(f"{'package':<{width}}  {'version':<9} " + " ".join(f"{s:<9}" for s in steps)
          + " provides")
    for p in pkgs:
        provided = "; ".join(f"{k}s: {', '.join(v)}" for k, v in sorted(p.provides.items()))
        print(f"{p.name:<{width}}  {p.version:<9} "
              + " ".join(f"{p.steps.get(s, 'skip'):<9}" for s in steps) + f" {provided}")
    print()
    for p in pkgs:
        if p.ran:
            print(f"run {p.name}: {p.ran}")
    failed = [p for p in pkgs if p.failed]
    for p in failed:
        print(f"\n{p.name} FAILED:")
        for problem in p.problems:
            print(textwrap.indent(problem, "  - ", lambda line: True).replace(
                "\n  - ", "\n    "))
    verdict = (f"{len(failed)} of {len(pkgs)} packages FAILED" if failed
               else f"all {len(pkgs)} packages OK")
    print(f"\ncheck_wheels: {verdict} ({seconds:.1f}s)")


if __name__ == "__main__":
    sys.exit(main())
