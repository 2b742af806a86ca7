"""databay-core's pytest plugin and suite factories: a three-line test module runs a
whole contract on a user's class; loading the plugin costs nothing and changes nothing
(issue 13, point 10)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from databay import Inlet, Link, Outlet, Record, Update
from databay.testing import InletContract, OutletContract, inlet_tests, outlet_tests
from databay.testing.planners import PlannerContract, planner_tests

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "packages" / "databay-core"

#: A user's package: an outlet writing lines to a file, and an inlet reading them back.
USER_NODES = '''
import json
from pathlib import Path

from databay import Inlet, Outlet


class LineOutlet(Outlet):
    def __init__(self, path, processors=None):
        super().__init__(processors)
        self.path = Path(path)

    def push(self, records, update):
        with self.path.open("a") as f:
            for record in records:
                f.write(json.dumps(record.payload) + "\\n")


class DropsLines(LineOutlet):
    def push(self, records, update):
        super().push(records[:1], update)


def read_lines(outlet):
    text = outlet.path.read_text() if outlet.path.exists() else ""
    return [json.loads(line) for line in text.splitlines()]


class LineInlet(Inlet):
    def __init__(self, path, metadata=None):
        super().__init__(metadata)
        self.path = Path(path)
        self.position = 0

    def pull(self, update):
        lines = self.path.read_text().splitlines()[self.position:self.position + 1]
        self.position += len(lines)
        return lines

    @property
    def cursor(self):
        return self.position

    def seek(self, cursor):
        self.position = cursor or 0
'''

THREE_LINES = '''
from databay.testing import outlet_tests
from user_nodes import LineOutlet, read_lines
TestLineOutlet = outlet_tests(lambda tmp_path: LineOutlet(tmp_path / "o"), read_back=read_lines)
'''

WITH_THE_FIXTURE = '''
from user_nodes import DropsLines, LineInlet, read_lines


def test_inlet(databay_check, tmp_path):
    (tmp_path / "in.txt").write_text("a\\nb\\nc\\n")
    report = databay_check.inlet(lambda metadata: LineInlet(tmp_path / "in.txt", metadata))
    assert "checkpoint" in report.passed


def test_outlet(databay_check, tmp_path):
    paths = iter(tmp_path / f"{n}.txt" for n in range(100))
    databay_check.outlet(lambda: DropsLines(next(paths)), read_back=read_lines)
'''

#: Run inside pytest: databay must not have been imported by loading the plugin.
INERT = '''
import sys


def test_loading_the_plugin_imported_nothing_of_databay():
    assert not [m for m in sys.modules if m == "databay" or m.startswith("databay.")]
'''


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a new process on ``folder``, with the plugin loaded by module name (so
    this works whether or not the installed metadata has the entry point yet)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABAY_", "PYTEST_", "COV_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(folder), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:databay", "-p", "_databay_pytest", "-q", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "user_nodes.py").write_text(USER_NODES)
    return tmp_path


@pytest.mark.timeout(200)
def test_a_three_line_module_runs_the_whole_outlet_contract(project: Path) -> None:
    (project / "test_three.py").write_text(THREE_LINES.lstrip())
    assert len(THREE_LINES.strip().splitlines()) == 3
    done = _pytest(project, "-rA", "test_three.py")
    assert done.returncode == 0, done.stdout + done.stderr
    passed = [line.split("::")[-1] for line in done.stdout.splitlines()
              if line.startswith("PASSED")]
    assert sorted(passed) == sorted(n for n in dir(OutletContract)
                                    if n.startswith("test_contract_"))
    assert "skipped" not in done.stdout.splitlines()[-1]


@pytest.mark.timeout(200)
def test_the_fixture_runs_contracts_and_names_the_failed_check(project: Path) -> None:
    (project / "test_fixture.py").write_text(WITH_THE_FIXTURE)
    done = _pytest(project, "test_fixture.py")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout.splitlines()[-1]
    assert "AssertionError: [delivery[sync]] " in done.stdout
    assert "found 2; not written:" in done.stdout


@pytest.mark.timeout(200)
def test_loading_the_plugin_imports_nothing_and_adds_only_its_fixture(project: Path) -> None:
    (project / "test_inert.py").write_text(INERT)
    done = _pytest(project, "test_inert.py")
    assert done.returncode == 0, done.stdout + done.stderr
    listed = _pytest(project, "--fixtures", "test_inert.py")
    assert "databay_check" in listed.stdout
    code = ("import sys, _databay_pytest; "
            "print([m for m in sys.modules if m.split('.')[0] == 'databay'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_plugin_is_declared_and_installed_as_a_pytest11_entry_point(
        request: pytest.FixtureRequest) -> None:
    pyproject = (CORE / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\ndatabay = "_databay_pytest"' in pyproject
    assert '"src/_databay_pytest.py"' in pyproject  # in the wheel
    found = [ep for ep in metadata.entry_points(group="pytest11")
             if ep.dist is not None and ep.dist.name == "databay-core"]
    if not found:
        pytest.skip("this environment's databay-core metadata predates the pytest11 entry "
                    "point: rebuild it (hatch env remove test)")
    assert [(ep.name, ep.value) for ep in found] == [("databay", "_databay_pytest")]
    plugin = request.config.pluginmanager.get_plugin("databay")
    assert plugin is not None and plugin.__name__ == "_databay_pytest"


# -- the suite factories, run here as tests of this module ------------------------------


class Rows(Inlet):
    def __init__(self, rows: list[int], metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self.rows = rows
        self.at = 0

    def pull(self, update: Update) -> list[int]:
        batch = self.rows[self.at:self.at + 2]
        self.at += len(batch)
        return batch

    @property
    def cursor(self) -> int:
        return self.at

    def seek(self, cursor: Any) -> None:
        self.at = cursor or 0


class Keeps(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Any] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.kept += [r.payload for r in records]


@pytest.fixture
def rows() -> list[int]:
    return list(range(10))


TestRowsSuite = inlet_tests(lambda rows, metadata: Rows(rows, metadata), min_records=1,
                            name="TestRowsSuite")
TestKeepsSuite = outlet_tests(Keeps, read_back=lambda outlet: outlet.kept)  # type: ignore[attr-defined]


def _planner(links: list[Link], **options: Any) -> Any:
    from test_kit_planner import LoopPlanner

    return LoopPlanner(links, **options)


TestLoopPlannerSuite = planner_tests(_planner, name="TestLoopPlannerSuite")


def test_the_factories_make_contract_classes_named_for_the_test_module() -> None:
    assert issubclass(TestRowsSuite, InletContract) and TestRowsSuite.min_records == 1
    assert TestKeepsSuite.__name__ == "TestKeepsContract"
    assert issubclass(TestLoopPlannerSuite, PlannerContract)
    assert inlet_tests(Rows).__name__ == "TestRowsContract"
    with pytest.raises(TypeError, match=r"outlet_tests\(...\) needs read_back="):
        outlet_tests(Keeps)
    with pytest.raises(TypeError, match="not both"):
        outlet_tests(Keeps, read_back=list, unverified="no")


def test_a_factory_class_needs_no_pytest_to_run(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["pytest"] = None  # no pytest at all
        from databay.inlets import NullInlet
        from databay.testing import inlet_tests
        suite = inlet_tests(NullInlet)()
        for name in dir(suite):
            if name.startswith("test_contract_"):
                getattr(suite, name)()
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
