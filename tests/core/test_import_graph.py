"""Core's modules import in one direction: no module-level import cycle.

Imports are read with ``ast`` from the installed ``databay`` package. Counted: every
import executed when a module is imported (top level, also inside ``try`` and plain
``if`` blocks). Not counted: imports under ``if TYPE_CHECKING:`` (type hints only), and
in the first check imports inside functions (run on first use); the second check
counts those too, so that a lazy import does not hide a circle between modules.
``from databay import x`` counts as an import of the submodule ``databay.x`` when there
is one, else of ``databay`` itself; the implicit import of a parent package is not
counted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import databay
import pytest


def _modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file under ``root``."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join([package, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports(nodes: Iterable[ast.AST], lazy: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements among ``nodes``, never those under TYPE_CHECKING; those
    inside functions only when ``lazy`` (they run on a function's first call)."""
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.orelse, lazy)
        elif lazy or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _imports(ast.iter_child_nodes(node), lazy)


def import_graph(root: Path, package: str, lazy: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at module level (with ``lazy``:
    also inside functions)."""
    modules = _modules(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree.body, lazy):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    drop = node.level - 1 if is_package else node.level
                    anchor = anchor[: len(anchor) - drop] if drop else anchor
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            for target in targets:
                # `import databay.a.b` imports databay.a.b (the longest known prefix)
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list ``[a, b, ..., a]``, or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return [*path[path.index(child):], child]
            elif child not in done:
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
                on_path.add(child)
    return None


CORE = Path(databay.__file__).parent


def test_core_has_no_module_level_import_cycle() -> None:
    graph = import_graph(CORE, "databay")
    assert "databay.link" in graph and "databay.plugins" in graph  # read the right tree
    cycle = find_cycle(graph)
    assert cycle is None, (
        "databay-core's modules import each other in a circle: " + " -> ".join(cycle or [])
        + ". Move what both need into a lower module, import type-only names under "
        "`if TYPE_CHECKING:`, or (last resort) import inside the function that needs it."
    )


def test_core_has_no_import_cycle_through_function_level_imports_either() -> None:
    cycle = find_cycle(import_graph(CORE, "databay", lazy=True))
    assert cycle is None, (
        "databay-core's modules import each other in a circle, counting imports inside "
        "functions: " + " -> ".join(cycle or []) + ". A lower module must not reach up; "
        "let the upper one register a callback instead (see databay.plugins.on_change)."
    )


@pytest.mark.parametrize("module", ["databay.update", "databay.record", "databay.errors",
                                    "databay.delivery"])
def test_the_lower_modules_import_nothing_above_them(module: str) -> None:
    graph = import_graph(CORE, "databay", lazy=True)
    above = {"databay.link", "databay.plugins", "databay.base_planner", "databay.hookspecs"}
    if module != "databay.delivery":  # the delivery of a link reads inlets' cursors
        above |= {"databay.inlet", "databay.outlet"}
    assert not graph[module] & above


def test_the_registry_imports_neither_planners_nor_links() -> None:
    """Not even inside functions: plugins.py must not know links or planners."""
    tree = ast.parse((CORE / "plugins.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and node.module == "databay" for alias in node.names}
    assert not imported & {"databay.link", "databay.base_planner", "databay._namespace"}
    assert not names & {"link", "base_planner", "_namespace"}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_check_finds_a_cycle_and_ignores_type_checking_and_local_imports(
        tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    _write(pkg, {
        "__init__.py": "from pkg.a import A\n",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
                "A = 1\n",
        "b.py": "from pkg import a\n\ndef f():\n    from pkg import c\n",
        "c.py": "import pkg.b\n",
    })
    graph = import_graph(pkg, "pkg")
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": set(), "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.b"}}
    assert find_cycle(graph) is None
    lazy = import_graph(pkg, "pkg", lazy=True)
    assert lazy["pkg.b"] == {"pkg.a", "pkg.c"}
    assert find_cycle(lazy) == ["pkg.b", "pkg.c", "pkg.b"]

    _write(pkg, {"a.py": "try:\n    from .c import C\nexcept ImportError:\n    pass\n"})
    graph = import_graph(pkg, "pkg")
    assert find_cycle(graph) == ["pkg.a", "pkg.c", "pkg.b", "pkg.a"]
