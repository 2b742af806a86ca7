"""``databay plugins`` and ``databay demo``, end to end as subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from _cli_support import Processes, cli_env, csv_rows, databay, wait_until

ROOT = Path(__file__).parents[2]


def test_plugins_json(tmp_path: Path) -> None:
    done = databay("plugins", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    builtins = by_name["builtins"]
    assert builtins["distribution"] == "databay-core"
    assert builtins["version"] == version("databay-core")
    assert {"FileOutlet", "NullOutlet", "PrintOutlet"} <= set(builtins["outlets"])
    assert {"FileInlet", "NullInlet", "RandomIntInlet"} <= set(builtins["inlets"])
    for name, dist, kind, provided in [
        ("http", "databay-http", "inlets", "HttpInlet"),
        ("csv", "databay-csv", "outlets", "CsvOutlet"),
        ("mongo", "databay-mongo", "outlets", "MongoOutlet"),
        ("planners", "databay-planners", "planners", "ApsPlanner"),
    ]:
        plugin = by_name[name]
        assert plugin["distribution"] == dist
        assert plugin["version"] == version(dist)
        assert plugin["error"] is None
        assert provided in plugin[kind]
    assert all(entry["distribution"] not in {"databay-http", "databay-csv"}
               for entry in data["not_installed"])


def test_plugins_disabled_are_installed_not_loaded(tmp_path: Path) -> None:
    env = cli_env({"DATABAY_LOAD_PLUGINS": ""})
    done = databay("plugins", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"builtins  (databay-core {version('databay-core')})"
    assert "  outlets:      FileOutlet, NullOutlet, PrintOutlet" in lines
    assert "  state stores: FileStateStore, MemoryStateStore" in lines
    csv_row = lines.index(f"csv  (databay-csv {version('databay-csv')})")
    assert lines[csv_row + 1] == (
        "  installed, not loaded: disabled by DATABAY_LOAD_PLUGINS='', which loads only the "
        "plugins it names (add 'csv' to it to load this one)")
    assert "Not installed:" not in lines and "pip install" not in done.stdout
    data = json.loads(databay("plugins", "--json", cwd=tmp_path, env=env).stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["builtins"]["loaded"] is True
    assert by_name["http"]["loaded"] is False
    assert by_name["http"]["disabled"].startswith("disabled by DATABAY_LOAD_PLUGINS=''")
    assert by_name["http"]["inlets"] == []  # not loaded: what it provides is not known
    assert data["not_installed"] == []


def test_plugins_disabled_by_name_and_what_uses_them(tmp_path: Path) -> None:
    env = cli_env({"DATABAY_DISABLE_PLUGINS": "csv"})
    done = databay("plugins", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert ("csv  (databay-csv {})\n  installed, not loaded: disabled by "
            "DATABAY_DISABLE_PLUGINS='csv' (remove 'csv' from it to load the plugin)\n"
            .format(version("databay-csv"))) in done.stdout
    assert "pip install databay-csv" not in done.stdout
    (tmp_path / "p.toml").write_text(
        '[[links]]\nname = "a"\ninterval = 1\n[[links.inlets]]\ntype = "NullInlet"\n'
        '[[links.outlets]]\ntype = "CsvOutlet"\nfilepath = "out.csv"\n')
    checked = databay("validate", "p.toml", cwd=tmp_path, env=env)
    assert checked.returncode == 2
    assert ("CsvOutlet is provided by 'databay-csv', which is installed but not loaded: "
            "disabled by DATABAY_DISABLE_PLUGINS='csv'") in checked.stderr
    imported = subprocess.run(
        [sys.executable, "-c", "from databay.outlets import CsvOutlet"], env=env,
        capture_output=True, text=True, timeout=60)
    assert imported.returncode == 1
    assert ("PluginNotFoundError: cannot import databay.outlets.CsvOutlet: CsvOutlet is "
            "provided by 'databay-csv', which is installed but not loaded: disabled by "
            "DATABAY_DISABLE_PLUGINS='csv'") in imported.stderr


def test_plugins_entry_point_clash_is_an_error_naming_both(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "acme_sqlite-0.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-sqlite\nVersion: 0.2\n")
    (info / "entry_points.txt").write_text("[databay]\ncsv = acme_sqlite\n")
    (site / "acme_sqlite.py").write_text(
        "from databay import Outlet\nfrom databay.hookspecs import hookimpl\n"
        "class SqliteOutlet(Outlet):\n    def push(self, records, update):\n        pass\n"
        "@hookimpl\ndef databay_register_outlets():\n    return [SqliteOutlet]\n")
    env = cli_env(pythonpath=site)  # first on sys.path: its entry point is seen first
    done = databay("plugins", cwd=tmp_path, env=env)
    assert done.returncode == 2
    csv_version = version("databay-csv")
    assert done.stderr.strip().splitlines()[-1] == (
        f"databay: error: entry-point name clash: databay-csv {csv_version} and acme-sqlite "
        f"0.2 each register a databay plugin named 'csv' (see above)")
    assert (f"csv  (databay-csv {csv_version})\n  error: entry-point name clash with "
            "acme-sqlite 0.2 (first-party: this one keeps the name 'csv')\n"
            "  inlets:       CsvInlet\n  outlets:      CsvOutlet\n") in done.stdout
    assert ("csv  (acme-sqlite 0.2)\n  error: entry-point name clash: acme-sqlite 0.2 and "
            f"databay-csv {csv_version} both register a databay plugin named 'csv'; "
            f"databay-csv {csv_version} (first-party) keeps the name.") in done.stdout
    imported = subprocess.run(
        [sys.executable, "-c", "from databay.outlets import CsvOutlet; print(CsvOutlet)\n"
         "from databay.outlets import SqliteOutlet"], env=env, capture_output=True,
        text=True, timeout=60)
    assert imported.stdout.strip() == "<class 'databay_csv._outlet.CsvOutlet'>"
    assert ("ImportError: cannot import name 'SqliteOutlet' from 'databay.outlets'; note that "
            "these installed databay plugins are not loaded: csv (acme-sqlite 0.2): "
            "entry-point name clash") in imported.stderr


def test_demo_pulls_readings_into_csv_files(tmp_path: Path) -> None:
    done = databay("demo", "--duration", "3", "--output", "demo-out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "demo-out"
    readings = csv_rows(out / "readings.csv")
    assert readings[0] == ["sensor", "seq", "time", "temperature_c", "humidity_pct"]
    assert len(readings) - 1 >= 2 * 3  # three sensors, at least two transfers in 3 s
    assert [int(row[1]) for row in readings[1:]] == list(range(1, len(readings)))
    assert {row[0] for row in readings[1:]} == {"greenhouse-1", "greenhouse-2", "cellar"}
    assert len({row[3] for row in readings[1:]}) > 3  # the temperatures change
    devices = csv_rows(out / "devices.csv")
    assert devices[0] == ["sensor", "time", "battery_pct", "rssi_dbm", "uptime_s"]
    assert len(devices) - 1 >= 3  # every 2 s
    transfers = (len(readings) - 1) // 3
    assert (f"  readings: {transfers} transfers, {3 * transfers} records pulled, "
            f"{3 * transfers} pushed, 0 errors") in done.stdout
    assert f"  {out / 'readings.csv'}  ({len(readings)} lines)" in done.stdout
    assert f"  {out / 'devices.csv'}  ({len(devices)} lines)" in done.stdout
    assert "Traceback" not in done.stderr


def test_demo_pipeline_is_the_shipped_example(tmp_path: Path) -> None:
    done = databay("demo", "--print-pipeline", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == (ROOT / "examples" / "pipelines" / "demo.toml").read_text()


def test_example_runs_against_the_served_source(tmp_path: Path, processes: Processes) -> None:
    server = processes.start("demo", "--serve-only", "--port", "0", cwd=tmp_path)
    assert server.stdout is not None
    first = server.stdout.readline()
    match = re.search(r"at (http://127\.0\.0\.1:\d+)/readings", first)
    assert match, first
    env = cli_env({"DATABAY_DEMO_SOURCE": match.group(1), "DATABAY_DEMO_OUTPUT": "example"})
    done = databay("run", str(ROOT / "examples" / "pipelines" / "demo.toml"), "--once",
                   cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert len(csv_rows(tmp_path / "example" / "readings.csv")) == 4
    assert len(csv_rows(tmp_path / "example" / "devices.csv")) == 4
    server.terminate()
    out, err = server.communicate(timeout=10)
    assert server.returncode == 0, err
    assert "source stopped after 2 requests" in out


def test_serve_only_says_what_a_wheel_user_can_run(tmp_path: Path,
                                                  processes: Processes) -> None:
    """The instructions name only what an installed databay has (no repository file)."""
    server = processes.start("demo", "--serve-only", "--port", "0", cwd=tmp_path)
    assert server.stdout is not None
    lines = [server.stdout.readline().rstrip("\n") for _ in range(5)]
    url = re.search(r"at (http://127\.0\.0\.1:\d+)/readings", lines[0])
    assert url, lines
    assert lines[1:4] == ["Run the demo pipeline against it, in another terminal:",
                          "    databay demo --print-pipeline > demo.toml",
                          f"    DATABAY_DEMO_SOURCE={url.group(1)} databay run demo.toml"]
    assert "examples/" not in "\n".join(lines)
    printed = databay("demo", "--print-pipeline", cwd=tmp_path)
    (tmp_path / "demo.toml").write_text(printed.stdout)  # what "> demo.toml" does
    env = cli_env({"DATABAY_DEMO_SOURCE": url.group(1), "DATABAY_DEMO_OUTPUT": "mine"})
    done = databay("run", "demo.toml", "--once", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert len(csv_rows(tmp_path / "mine" / "readings.csv")) == 4
    server.terminate()
    server.communicate(timeout=10)


def test_demo_without_its_plugins_says_what_to_install(tmp_path: Path) -> None:
    done = databay("demo", "--duration", "1", cwd=tmp_path,
                   env=cli_env({"DATABAY_DISABLE_PLUGINS": "http,csv"}))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "databay: error: databay demo needs databay-http, databay-csv: HttpInlet is provided "
        "by 'databay-http', which is installed but not loaded: disabled by "
        "DATABAY_DISABLE_PLUGINS='http,csv' (remove 'http' from it to load the plugin); "
        "CsvOutlet is provided by 'databay-csv', which is installed but not loaded: disabled "
        "by DATABAY_DISABLE_PLUGINS='http,csv' (remove 'csv' from it to load the plugin)")
    assert not (tmp_path / "databay-demo-output").exists()


@pytest.fixture
def mongo_uri(tmp_path: Path) -> Iterator[str]:
    """An nx-27017 server of this test's own (tests/mongo's helper), or MONGODB_URI."""
    import os

    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    sys.path.insert(0, str(ROOT / "tests" / "mongo"))
    try:
        from _mongo_server import NxServer, nx_executable
    finally:
        sys.path.remove(str(ROOT / "tests" / "mongo"))
    if nx_executable() is None:
        pytest.skip("nx-27017 is not installed")
    server = NxServer(tmp_path / "nx")
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


def test_demo_also_writes_to_mongodb(tmp_path: Path, mongo_uri: str) -> None:
    pymongo = pytest.importorskip("pymongo")
    database = f"databay_cli_{uuid.uuid4().hex[:10]}"
    done = databay("demo", "--duration", "1.5", "--mongo-uri", mongo_uri,
                   "--mongo-database", database, "--output", "out", cwd=tmp_path)
    client: Any = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000)
    try:
        assert done.returncode == 0, done.stderr
        docs = list(client[database]["readings"].find({}, {"_id": 0}))
        rows = csv_rows(tmp_path / "out" / "readings.csv")
        assert len(docs) == len(rows) - 1 >= 3
        assert sorted(d["seq"] for d in docs) == [int(r[1]) for r in rows[1:]]
        assert f"database '{database}', collection 'readings'" in done.stdout
    finally:
        client.drop_database(database)
        client.close()


def test_demo_stops_early_on_sigint(tmp_path: Path, processes: Processes) -> None:
    import signal

    proc = processes.start("demo", "--duration", "60", "--output", "out", cwd=tmp_path)
    wait_until(lambda: (tmp_path / "out" / "readings.csv").exists(), 15, "the first transfer")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "stopped by SIGINT" in out
    assert csv_rows(tmp_path / "out" / "readings.csv")[0][0] == "sensor"
