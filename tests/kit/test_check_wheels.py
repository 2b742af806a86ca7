"""scripts/check_wheels.py passes good packages and names what is wrong with bad ones.

It runs on a packages/ folder made here: a copy of databay-core and small plugins, one
good and the others each broken in one way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_wheels.py"

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.27"]
build-backend = "hatchling.build"

[project]
name = "databay-{name}"
version = "0.1.0"
description = "test plugin"
readme = "README.md"
requires-python = ">=3.10"
dependencies = [{deps}]

[project.entry-points.databay]
{name} = "databay_{name}.plugin"

[tool.hatch.build.targets.wheel]
packages = ["src/databay_{name}"]
"""

NODES = """\
from databay import Inlet, Outlet


class {inlet}(Inlet):
    def pull(self, update):
        return 1


class {outlet}(Outlet):
    def push(self, records, update):
        pass
"""


def make_plugin(root: Path, name: str, cls: str, *, deps: str = '"databay-core>=0.4,<0.5"',
                plugin_head: str = "", changelog: bool = True, outlet: str = "") -> None:
    """A plugin package registering the inlet ``cls`` (and the outlet ``outlet``)."""
    pkg = root / f"databay-{name}"
    src = pkg / "src" / f"databay_{name}"
    src.mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PYPROJECT.format(name=name, deps=deps))
    (pkg / "README.md").write_text(f"# databay-{name}\n")
    if changelog:
        (pkg / "CHANGELOG.md").write_text("# Changelog\n")
    (src / "__init__.py").write_text("")
    (src / "_nodes.py").write_text(NODES.format(inlet=cls, outlet=outlet or "Unused"))
    (src / "plugin.py").write_text(plugin_head + textwrap.dedent(f"""
        from databay.hookspecs import hookimpl


        @hookimpl
        def databay_register_inlets():
            return ["databay_{name}._nodes:{cls}"]


        @hookimpl
        def databay_register_outlets():
            return {[f"databay_{name}._nodes:{outlet}"] if outlet else []}
        """))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_check_wheels_reports_each_kind_of_problem(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    shutil.copytree(ROOT / "packages" / "databay-core", packages / "databay-core",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    # a good plugin, whose name core's hint table knows
    make_plugin(packages, "http", "HttpInlet", deps='"databay-core>=0.4,<0.5", "idna"',
                outlet="HttpOutlet")
    # imports its dependency when the plugin loads, and its name gives no hint
    make_plugin(packages, "heavy", "HeavyInlet", deps='"databay-core>=0.4,<0.5", "idna"',
                plugin_head="import idna  # noqa: F401\n")
    # an unbounded core range and no changelog
    make_plugin(packages, "loose", "LooseInlet", deps='"databay-core>=0.4"', changelog=False)
    # a plugin module that fails to import
    make_plugin(packages, "broken", "BrokenInlet",
                plugin_head="raise RuntimeError('plugin module exploded')\n")

    done = subprocess.run([sys.executable, str(SCRIPT), "--packages-dir", str(packages)],
                          capture_output=True, text=True, timeout=280)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith("databay-") and "FAILED" not in line}
    for good in ("databay-http", "databay-core"):
        assert rows[good][2:7] == ["ok", "ok", "ok", "ok", "ok"], out
    assert rows["databay-core"][7:9] == ["ok", "(2)"], out  # HttpInlet, HttpOutlet hinted
    assert "inlets: HttpInlet; outlets: HttpOutlet" in out
    assert "discovering plugins imported idna" in out
    assert "inlet HeavyInlet is not in databay.plugins.KNOWN_PROVIDERS" in out
    assert "its databay-core range '>=0.4' has no upper bound" in out
    assert "CHANGELOG.md is missing" in out
    assert "plugin 'broken' failed to load: RuntimeError: plugin module exploded" in out
    assert "check_wheels: 3 of 5 packages FAILED" in out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--packages-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no databay-core" in done.stderr
