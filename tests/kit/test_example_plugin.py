"""The example plugin of docs/writing-a-plugin.md: the guide shows its files as they
are, and installed from outside packages/ into a fresh venv it is discovered through
``databay.inlets``, passes the kit's checks and its own tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "writing-a-plugin.md"
EXAMPLE = ROOT / "examples" / "databay-example-plugin"
CORE = ROOT / "packages" / "databay-core"

_FILE_TITLE = re.compile(r"^\*\*`([^`]+)`\*\*$")
_FENCE = re.compile(r"^(`{3,})[\w-]*$")


def guide_files(text: str) -> dict[str, str]:
    """The files the guide shows: a ``**`path`**`` line, then a fenced block."""
    files: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        title = _FILE_TITLE.match(lines[i])
        i += 1
        if not title:
            continue
        while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("<!--")):
            i += 1  # blank lines and HTML comments (the <!-- doctest: ... --> marks)
        fence = _FENCE.match(lines[i]) if i < len(lines) else None
        assert fence, f"{title.group(1)}: no code block after its title in the guide"
        end = lines.index(fence.group(1), i + 1)
        body = lines[i + 1:end]
        files[title.group(1)] = "\n".join(body) + "\n" if body else ""
        i = end + 1
    return files


def example_files() -> dict[str, str]:
    return {
        p.relative_to(EXAMPLE).as_posix(): p.read_text()
        for p in sorted(EXAMPLE.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def test_the_guide_shows_every_file_of_the_example_as_it_is() -> None:
    shown = guide_files(GUIDE.read_text())
    actual = example_files()
    assert sorted(shown) == sorted(actual)
    for path, content in actual.items():
        assert shown[path] == content, f"{path} differs between the guide and {EXAMPLE}"


def test_the_guide_parser_finds_differences() -> None:
    text = ("**`a.py`**\n\n```python\nx = 1\n```\n\n**`empty`**\n\n```text\n```\n"
            "**`b.py`**\n\n<!-- doctest: fragment -->\n```python\ny = 2\n```\n")
    assert guide_files(text) == {"a.py": "x = 1\n", "empty": "", "b.py": "y = 2\n"}
    assert guide_files(text.replace("x = 1", "x = 2")) != guide_files(text)


def _installer() -> list[str] | None:
    uv = shutil.which("uv")
    return [uv] if uv else None


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABAY_", "PYTHON", "VIRTUAL_ENV", "PYTEST_"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(cmd: list[str], cwd: Path, timeout: float = 120) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=_clean_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, (f"{' '.join(map(str, cmd))} exited {done.returncode}\n"
                                  f"{done.stdout}\n{done.stderr}")
    return done.stdout


PROBE = textwrap.dedent("""
    import sys
    import databay, databay.plugins as plugins
    found = {p.name: p for p in plugins.plugins()}
    assert "databay_example.plugin" in sys.modules
    assert "databay_example._counter" not in sys.modules, "discovery imported the inlet"
    from databay.inlets import CounterInlet
    from databay.testing import check_inlet
    from databay.misc.inlet_tester import InletTester
    import databay_example

    assert CounterInlet is databay_example.CounterInlet
    assert "site-packages" in databay.__file__, databay.__file__  # installed, not the repo
    info = found["example"]
    assert (info.distribution, info.version, info.error) == ("databay-example", "0.1.0", None)
    assert info.provides == {"inlet": ["CounterInlet"]}
    report = check_inlet(CounterInlet, min_records=1)
    assert not report.skipped, report
    print("probe ok:", ", ".join(report.passed))
""")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_example_installs_alone_and_works(tmp_path: Path) -> None:
    plugin = tmp_path / "databay-example"
    shutil.copytree(EXAMPLE, plugin, ignore=shutil.ignore_patterns("__pycache__",
                                                                   ".pytest_cache"))
    venv = tmp_path / "venv"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    uv = _installer()
    if uv:
        _run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path)
        _run([*uv, "pip", "install", "--quiet", "--python", str(python), str(CORE),
              f"{plugin}[test]"], tmp_path, timeout=180)
        _run([*uv, "pip", "check", "--python", str(python)], tmp_path)
    else:
        _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
        _run([str(python), "-m", "pip", "install", "--quiet", str(CORE), f"{plugin}[test]"],
             tmp_path, timeout=180)
        _run([str(python), "-m", "pip", "check"], tmp_path)
    out = _run([str(python), "-c", PROBE], tmp_path)
    assert "probe ok: repr, metadata, new_record, lifecycle, pull[sync]" in out
    tests = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], plugin)
    assert re.search(r"^\d+ passed", tests.splitlines()[-1]), tests
    assert "failed" not in tests.splitlines()[-1] and "skipped" not in tests.splitlines()[-1]
