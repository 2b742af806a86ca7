"""The command with databay-core alone (the hatch ``test.core`` cell): built-in pipelines
run with ``--once``, and everything else says what to install."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _cli_support import databay

pytestmark = [
    pytest.mark.core_only,
    pytest.mark.skipif(bool(list(entry_points(group="databay"))),
                       reason="plugin distributions are installed"),
]

BUILTIN_PIPELINE = """
[[links]]
name = "numbers"
interval = "1s"

[[links.inlets]]
type = "RandomIntInlet"
min = 5
max = 5

[[links.outlets]]
type = "FileOutlet"
default_filepath = "numbers.txt"
"""


def test_plugins_lists_the_builtins_and_what_to_install(tmp_path: Path) -> None:
    done = databay("plugins", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [p["name"] for p in data["plugins"]] == ["builtins"]
    missing = {entry["distribution"] for entry in data["not_installed"]}
    assert {"databay-http", "databay-csv", "databay-mongo", "databay-planners"} <= missing


def test_builtin_pipeline_runs_once_without_a_planner(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(BUILTIN_PIPELINE)
    done = databay("run", "p.toml", "--once", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "numbers.txt").read_text() == "5\n"
    scheduled = databay("run", "p.toml", cwd=tmp_path)
    assert scheduled.returncode == 2
    assert "no planner installed: pip install databay-planners" in scheduled.stderr


def test_connectors_name_their_distribution(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(BUILTIN_PIPELINE.replace("RandomIntInlet", "HttpInlet"))
    done = databay("run", "p.toml", "--once", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        "databay: error: p.toml: link 'numbers', inlets[0], key 'type': HttpInlet is provided "
        "by the distribution 'databay-http', which is not installed: pip install databay-http")


def test_demo_says_what_to_install(tmp_path: Path) -> None:
    done = databay("demo", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "databay: error: databay demo needs databay-http, databay-csv, databay-planners, not "
        "installed: pip install databay-http databay-csv databay-planners")
