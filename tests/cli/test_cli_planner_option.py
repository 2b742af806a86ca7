"""`databay run --planner NAME`: another planner than the file's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PIPELINE = """
[planner]
type = "ApsPlanner"
threads = 2

[[links]]
name = "numbers"
interval = "200ms"
[[links.inlets]]
type = "RandomIntInlet"
[[links.outlets]]
type = "FileOutlet"
default_filepath = "{out}"
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "databay", "run", *args, "--status", "lines"],
                          capture_output=True, text=True, timeout=60)


def test_planner_option_replaces_the_files_planner(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(PIPELINE.format(out=out.as_posix()))
    done = run(str(pipeline), "--planner", "SchedulePlanner", "--duration", "1s")
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) >= 3  # immediate + about 5 ticks
    ambiguous = run(str(pipeline), "--planner", "planners")
    assert ambiguous.returncode == 2
    assert "--planner planners: no such planner; installed planners: " in ambiguous.stderr
