"""The command with databay-core alone (the hatch ``test.core`` cell): built-in pipelines
run with ``--once``, and everything else says what to install."""

from __future__ import annotations

import json
import signal
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _cli_support import Processes, cli_env, databay, wait_until

ROOT = Path(__file__).parents[2]

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


def test_without_planner_table_core_runs_the_links_on_its_own_planner(
        tmp_path: Path, processes: Processes) -> None:
    (tmp_path / "p.toml").write_text(BUILTIN_PIPELINE)
    checked = databay("validate", "p.toml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[0] == "p.toml: OK: 1 link (numbers), planner ThreadPlanner"
    # scheduled: the immediate transfer, then one a second, until SIGTERM
    proc = processes.start("run", "p.toml", "--log-level", "INFO", cwd=tmp_path)
    numbers = tmp_path / "numbers.txt"
    wait_until(lambda: numbers.exists() and numbers.read_text().count("5") >= 2, 20,
               "the immediate transfer and the first tick a second later")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "stopped by SIGTERM" in out
    assert "ThreadPlanner(threads:4) stopped" in err
    assert set(numbers.read_text().split()) == {"5"}


def test_the_random_numbers_example_needs_only_core(tmp_path: Path) -> None:
    example = ROOT / "examples" / "pipelines" / "random-numbers.toml"
    assert "Needs only databay-core" in example.read_text()
    env = cli_env({"DICE_OUTPUT": str(tmp_path / "dice.txt")})
    done = databay("run", str(example), "--once", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    rolls = [int(n) for n in (tmp_path / "dice.txt").read_text().split()]
    assert len(rolls) == 2 and all(1 <= n <= 6 for n in rolls)
    scheduled = databay("run", str(example), "--duration", "1.2", "--log-level", "INFO",
                        cwd=tmp_path, env=env)
    assert scheduled.returncode == 0, scheduled.stderr
    assert "ThreadPlanner(threads:4) stopped" in scheduled.stderr


THIRD_PARTY_PLANNER = """
from databay.hookspecs import hookimpl
from databay.planners.thread_planner import ThreadPlanner


class AcmePlanner(ThreadPlanner):
    pass


@hookimpl
def databay_register_planners():
    return [AcmePlanner]
"""


def test_a_third_party_planner_counts_as_installed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "acme_planner-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-planner\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[databay]\nacme = acme_planner\n")
    (site / "acme_planner.py").write_text(THIRD_PARTY_PLANNER)
    env = cli_env(pythonpath=site)
    (tmp_path / "p.toml").write_text(BUILTIN_PIPELINE)
    (tmp_path / "named.toml").write_text('[planner]\ntype = "AcmePlanner"\n' + BUILTIN_PIPELINE)
    done = databay("validate", "p.toml", "named.toml", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "p.toml: OK: 1 link (numbers), planner ThreadPlanner" in lines
    assert "named.toml: OK: 1 link (numbers), planner AcmePlanner" in lines
    run = databay("run", "p.toml", "--planner", "AcmePlanner", "--duration", "0.5",
                  "--log-level", "INFO", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert "AcmePlanner(threads:4) stopped" in run.stderr


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
