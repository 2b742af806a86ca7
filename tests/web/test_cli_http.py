"""`databay run --http` and `databay demo --http` as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _web_support import SENTINEL, DatabayRun, env_with, get_json, pipeline_file, request
from databay import plugins
from databay.testing.planners import wait_until
from prometheus_client.parser import text_string_to_metric_families

PIPELINE = """
[[links]]
name = "counting"
interval = "100ms"

[[links.inlets]]
type = "webnodes:CountInlet"

[[links.outlets]]
type = "webnodes:SinkOutlet"

[[links]]
name = "leaky"
interval = "100ms"
ignore_exceptions = true

[[links.inlets]]
type = "webnodes:LeakyInlet"

[[links.outlets]]
type = "webnodes:SinkOutlet"
"""


@pytest.fixture
def runs() -> Iterator[Any]:
    started: list[DatabayRun] = []

    def start(folder: Path, *args: str, **kwargs: Any) -> DatabayRun:
        run = DatabayRun(folder, *args, **kwargs)
        started.append(run)
        return run

    try:
        yield start
    finally:
        for run in started:
            run.stop()


def test_run_serves_metrics_ready_and_links(tmp_path: Path, runs: Any) -> None:
    path = pipeline_file(tmp_path, PIPELINE)
    run = runs(tmp_path, "run", str(path), "--http", "0", "--status", "off",
               env=env_with(tmp_path, {"DATABAY_HTTP_TOKEN": "env-token-123"}))
    url = run.wait_serving().rstrip("/")
    assert url.startswith("http://127.0.0.1:")
    wait_until(lambda: request(url + "/ready")[0] == 200, 20, "/ready 200")
    wait_until(lambda: all(link["counts"]["transfers"] >= 2
                           for link in get_json(url + "/api/links")["links"]), 20,
               "2 transfers per link")
    _, _, body = request(url + "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    transfers = {(s.labels["link"], s.labels["outcome"]): s.value
                 for s in families["databay_transfers"].samples}
    assert transfers[("counting", "succeeded")] >= 2
    assert transfers[("leaky", "errors")] >= 2  # errors the link ignores
    assert SENTINEL not in body
    data = get_json(url + "/api/links")
    assert [link["name"] for link in data["links"]] == ["counting", "leaky"]
    assert SENTINEL not in json.dumps(data)
    assert data["links"][1]["state"] == "failing"
    status, _, _ = request(url + "/api/links/counting/pause", "POST",
                           {"Authorization": "Bearer env-token-123"})
    assert status == 200
    assert get_json(url + "/api/links")["links"][0]["state"] == "paused"
    assert run.stop() == 0
    assert SENTINEL not in run.stderr


def test_bad_http_option_is_a_usage_error(tmp_path: Path) -> None:
    path = pipeline_file(tmp_path, PIPELINE)
    (tmp_path / "webnodes.py").write_text("", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "databay", "run", str(path), "--http",
                           "not-a-port", "--status", "off"], cwd=tmp_path,
                          env=env_with(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "argument --http: 'not-a-port': the port must be a number" in done.stderr
    assert "Traceback" not in done.stderr


def test_non_loopback_without_token_warns_at_start(tmp_path: Path, runs: Any) -> None:
    path = pipeline_file(tmp_path, PIPELINE)
    run = runs(tmp_path, "run", str(path), "--http", "0.0.0.0:0", "--status", "off")
    run.wait_serving()
    wait_until(lambda: "not a loopback address, without a token" in run.stderr, 10,
               "the warning")


def test_help_lists_the_options() -> None:
    done = subprocess.run([sys.executable, "-m", "databay", "run", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert "--http [HOST:]PORT" in done.stdout and "--http-token TOKEN" in done.stdout


def test_demo_serves_the_page_while_it_runs(tmp_path: Path, runs: Any) -> None:
    run = runs(tmp_path, "demo", "--http", "0", "--duration", "30s", "--status", "off",
               "--output", str(tmp_path / "out"))
    url = run.wait_serving().rstrip("/")
    status, _, page = request(url + "/")
    assert status == 200 and "<title>databay</title>" in page
    wait_until(lambda: any(link["counts"]["transfers"] >= 1
                           for link in get_json(url + "/api/links")["links"]), 30,
               "a demo transfer")
    status, _, metrics = request(url + "/metrics")
    assert status == 200 and 'databay_transfers_total{link="' in metrics
    assert "databay_planner_running" in metrics


def test_without_http_the_plugin_adds_no_transfer_hook() -> None:
    from databay_web import plugin

    hooks = {name for name in dir(plugin) if name.startswith("databay_transfer")}
    assert hooks == set()
    manager = plugins.get_plugin_manager()
    assert not [impl for impl in manager.hook.databay_transfer_finished.get_hookimpls()
                if impl.plugin_name.startswith("databay-web")]
