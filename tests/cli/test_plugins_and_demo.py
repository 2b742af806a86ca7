"""``databay plugins`` and ``databay demo``, end to end as subprocesses."""

from __future__ import annotations

import json
import re
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


def test_plugins_text_and_what_is_not_installed(tmp_path: Path) -> None:
    done = databay("plugins", cwd=tmp_path, env=cli_env({"DATABAY_LOAD_PLUGINS": ""}))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"builtins  (databay-core {version('databay-core')})"
    assert "  outlets:      FileOutlet, NullOutlet, PrintOutlet" in lines
    assert "  state stores: FileStateStore, MemoryStateStore" in lines
    assert "  databay-http  (HttpInlet, HttpOutlet): pip install databay-http" in lines
    planners = [line for line in lines if line.startswith("  databay-planners  (")]
    assert len(planners) == 1
    assert "SchedulePlanner" in planners[0]
    assert planners[0].endswith("): pip install databay-planners")
    data = json.loads(databay("plugins", "--json", cwd=tmp_path,
                              env=cli_env({"DATABAY_LOAD_PLUGINS": ""})).stdout)
    assert [p["name"] for p in data["plugins"]] == ["builtins"]
    assert {"distribution": "databay-csv", "inlets": ["CsvInlet"], "outlets": ["CsvOutlet"]} \
        in data["not_installed"]


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


def test_demo_without_its_plugins_says_what_to_install(tmp_path: Path) -> None:
    done = databay("demo", "--duration", "1", cwd=tmp_path,
                   env=cli_env({"DATABAY_DISABLE_PLUGINS": "http,csv"}))
    assert done.returncode == 2
    assert done.stderr.strip() == ("databay: error: databay demo needs databay-http, "
                                   "databay-csv, not installed: pip install databay-http "
                                   "databay-csv")
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
