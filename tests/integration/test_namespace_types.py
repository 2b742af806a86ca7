"""What mypy sees in the namespaces: first-party names are their distribution's classes,
any other name is a class of the namespace's kind (never ``Any``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

# Lines that must type-check (assert_type fails on Any), then lines that must not.
SNIPPET = '''
from typing import assert_type

import databay.outlets
import databay_csv
import databay_http
import databay_mongo
import databay_planners
from databay import BasePlanner, Inlet, Outlet
from databay.inlets import FileInlet, HttpInlet, SqliteInlet
from databay.inlets.http_inlet import HttpInlet as ShimHttpInlet
from databay.outlets import CsvOutlet, MongoOutlet, PrintOutlet, SqliteOutlet
from databay.planners import ApsPlanner, CeleryPlanner, SqlitePlanner
from databay_celery import CeleryPlanner as RealCeleryPlanner

assert_type(CsvOutlet("out.csv"), databay_csv.CsvOutlet)
assert_type(MongoOutlet(), databay_mongo.MongoOutlet)
assert_type(HttpInlet("http://x"), databay_http.HttpInlet)
assert_type(ShimHttpInlet("http://x"), databay_http.HttpInlet)
assert_type(ApsPlanner(), databay_planners.ApsPlanner)
assert_type(CeleryPlanner(), RealCeleryPlanner)
assert_type(PrintOutlet(), databay.outlets.print_outlet.PrintOutlet)
assert_type(FileInlet("in.txt"), databay.inlets.file_inlet.FileInlet)
outlet: Outlet = SqliteOutlet(path="db.sqlite", table="t")  # any signature: unknown
inlet: Inlet = SqliteInlet("db.sqlite")
planner: BasePlanner = SqlitePlanner(threads=2)

wrong_kind: int = SqliteOutlet(path="db.sqlite")
wrong_arg = CsvOutlet(no_such_argument=1)
from databay.outlets.csv_outlet import NotThere
'''

#: (a line of SNIPPET, the error mypy reports on it)
EXPECTED = [
    ('wrong_kind: int = SqliteOutlet(path="db.sqlite")', 'Incompatible types in assignment '
     '(expression has type "PluginOutlet", variable has type "int")  [assignment]'),
    ("wrong_arg = CsvOutlet(no_such_argument=1)",
     'Unexpected keyword argument "no_such_argument" for "CsvOutlet"  [call-arg]'),
    ("from databay.outlets.csv_outlet import NotThere",
     'Module "databay.outlets.csv_outlet" has no attribute "NotThere"  [attr-defined]'),
]


def test_mypy_sees_typed_namespaces(tmp_path: Path) -> None:
    source = textwrap.dedent(SNIPPET).lstrip("\n")
    (tmp_path / "snippet.py").write_text(source)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context",
         "--no-pretty", "--cache-dir", str(tmp_path / "cache"), "snippet.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=230)
    lines = source.splitlines()
    expected = [f"snippet.py:{lines.index(line) + 1}: error: {message}"
                for line, message in EXPECTED]
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert errors == expected, done.stdout + done.stderr
