"""``databay validate`` catches what construction can catch (issue 14 point 4): every
connector parses its URIs, URLs, paths and names in its constructor, so a bad one is a
pipeline error (exit 2) for ``validate`` and for ``run`` alike, before anything starts;
before, ``mongodb://[bad`` passed ``validate`` and ``run --once`` exited 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: (link, the node's TOML lines, what its error line says)
CASES = [
    ("mongo-out", '[[links.outlets]]\ntype = "MongoOutlet"\nuri = "mongodb://[bad"',
     "outlets[0] (MongoOutlet): MongoOutlet(...) rejected its arguments: ValueError: "
     "MongoOutlet(uri=...) is not a valid MongoDB connection string: 'mongodb://[bad'"),
    ("mongo-in", '[[links.inlets]]\ntype = "MongoInlet"\nhost = "db:99999"',
     "inlets[0] (MongoInlet): MongoInlet(...) rejected its arguments: ValueError: "
     "MongoInlet(host=...) is not a valid host[:port] list: 'db:99999'"),
    ("mongo-state", '[links.state_store]\ntype = "MongoStateStore"\n'
                    'uri = "mongodb://h/?retryWrite=true"',
     "state_store (MongoStateStore): MongoStateStore(...) rejected its arguments: "
     "ValueError: MongoStateStore(uri=...) is not a valid MongoDB connection string"),
    ("redis-state", '[links.state_store]\ntype = "RedisStateStore"\n'
                    'url = "redis://127.0.0.1:9/zero"',
     "state_store (RedisStateStore): RedisStateStore(...) rejected its arguments: "
     "ValueError: RedisStateStore(url=...) is not a valid Redis URL"),
    ("file-in", '[[links.inlets]]\ntype = "FileInlet"\nfilepath = "in.txt"\n'
                'encoding = "utf-99"',
     "inlets[0] (FileInlet): FileInlet(...) rejected its arguments: ValueError: "
     "FileInlet(encoding=...): unknown encoding 'utf-99'"),
    ("csv-in", '[[links.inlets]]\ntype = "CsvInlet"\nfilepath = "a-folder"',
     "inlets[0] (CsvInlet): CsvInlet(...) rejected its arguments: ValueError: "
     "CsvInlet('a-folder'): filepath is a folder"),
    ("file-out", '[[links.outlets]]\ntype = "FileOutlet"\ndefault_filepath = "o\\u0000.txt"',
     "outlets[0] (FileOutlet): FileOutlet(...) rejected its arguments: ValueError: "
     "FileOutlet(default_filepath=...) must not contain a NUL byte"),
    ("csv-out", '[[links.outlets]]\ntype = "CsvOutlet"\ndefault_filepath = "x.csv"\n'
                'base_dir = "x.csv"',
     "outlets[0] (CsvOutlet): CsvOutlet(...) rejected its arguments: ValueError: "
     "CsvOutlet(base_dir=...) must be a folder"),
    ("http-in", '[[links.inlets]]\ntype = "HttpInlet"\nurl = "http://[bad"',
     "inlets[0] (HttpInlet): HttpInlet(...) rejected its arguments: ValueError: "
     "HttpInlet(url=...) must be an absolute http:// or https:// URL, got 'http://[bad'"),
    ("http-out", '[[links.outlets]]\ntype = "HttpOutlet"\nurl = "http://h:99999/in"',
     "outlets[0] (HttpOutlet): HttpOutlet(...) rejected its arguments: ValueError: "
     "HttpOutlet(url=...) must be an absolute http:// or https:// URL"),
]
PLANNER = ('[planner]\ntype = "CeleryPlanner"\nbroker_url = "redis://[bad"\n'
           'redis_url = "redis://127.0.0.1:9/0"\n')
PLANNER_ERROR = ("[planner] (CeleryPlanner): CeleryPlanner(...) rejected its arguments: "
                 "ValueError: databay-celery setting 'broker_url': invalid URL")


def pipeline(planner: str = "", only: str | None = None) -> str:
    parts = [planner]
    for name, node, _ in CASES:
        if only is not None and name != only:
            continue
        parts.append(f'[[links]]\nname = "{name}"\ninterval = 1\n{node}\n')
        if "[[links.inlets]]" not in node:
            parts.append('[[links.inlets]]\ntype = "NullInlet"\n')
        if "[[links.outlets]]" not in node:
            parts.append('[[links.outlets]]\ntype = "NullOutlet"\n')
    return "\n".join(parts)


def databay(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABAY_", "PYTEST_"))}
    env.pop("MONGODB_URI", None)
    return subprocess.run([sys.executable, "-m", "databay", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "x.csv").write_text("a\n")
    return tmp_path


def test_validate_reports_every_bad_address_and_path(work: Path) -> None:
    (work / "bad.toml").write_text(pipeline(PLANNER))
    done = databay("validate", "bad.toml", cwd=work)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    expected = [f"databay: error: bad.toml: {PLANNER_ERROR}"]
    expected += [f"databay: error: bad.toml: link '{name}', {text}" for name, _, text in CASES]
    for want in expected:
        assert any(line.startswith(want) for line in lines), f"{want}\n---\n{done.stderr}"
    assert f"bad.toml: {len(expected)} errors" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_refuses_the_same_file_with_exit_code_2_before_starting(work: Path) -> None:
    """docs/cli.md: 2 is an invalid pipeline file; 1 is kept for failures at run time."""
    (work / "bad.toml").write_text(pipeline(only="mongo-out"))
    done = databay("run", "--once", "bad.toml", cwd=work)
    assert done.returncode == 2, done.stderr
    assert "MongoOutlet(uri=...) is not a valid MongoDB connection string" in done.stderr
    assert "starting" not in done.stderr and "transfer" not in done.stdout
    assert "Traceback" not in done.stderr
