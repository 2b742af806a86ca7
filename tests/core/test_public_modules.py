"""Plugins and programs use only core's public modules: nothing outside ``databay/cli/``
imports a private module of ``databay.cli`` (pipelines live in ``databay.pipeline``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "packages" / "databay-core" / "src" / "databay" / "cli"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _sources() -> list[Path]:
    found = []
    for folder in ("packages", "tests", "examples", "benchmarks", "scripts"):
        found.extend(p for p in (ROOT / folder).rglob("*.py") if CLI not in p.parents)
    return found


def test_the_scan_sees_the_repository() -> None:
    assert len(_sources()) > 50
    assert any("databay.pipeline" in _imported_modules(p) for p in _sources())


def test_no_private_cli_module_is_imported_outside_the_cli() -> None:
    offenders = []
    for path in _sources():
        private = sorted(m for m in _imported_modules(path)
                         if m.startswith("databay.cli._") and not m.startswith("databay.cli.__"))
        if private:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(private)}")
    assert not offenders, ("use the public databay.pipeline (or databay.cli.main) instead:\n"
                           + "\n".join(offenders))


def _private_part(module: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__")
               for part in module.split(".")[1:])


def test_no_distribution_imports_a_private_module_of_another() -> None:
    owner = {top.name: dist.name for dist in (ROOT / "packages").iterdir()
             for top in (dist / "src").glob("*") if top.is_dir()}
    assert {"databay", "databay_http", "databay_csv"} <= owner.keys()
    offenders = []
    for dist in (ROOT / "packages").iterdir():
        for path in (dist / "src").rglob("*.py"):
            for module in _imported_modules(path):
                other = owner.get(module.split(".")[0])
                if other and other != dist.name and _private_part(module):
                    offenders.append(f"{path.relative_to(ROOT)} imports {module} ({other})")
    assert not offenders, ("a distribution may use only the public modules of another:\n"
                           + "\n".join(offenders))
