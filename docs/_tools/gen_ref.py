"""The API reference: one page per distribution, one entry per name in every ``__all__``.

Run by mkdocs-gen-files during ``hatch run docs:build`` (see mkdocs.yml), and imported by
``tests/docs/test_reference.py``, which checks that every name in every public module's
``__all__`` has an entry. Nothing here needs editing when a package joins: a directory
``packages/<distribution>/src/<import name>/`` is found on its own.

Public modules are the ``.py`` files of ``packages/*/src/`` none of whose dotted parts
starts with ``_`` (``__init__`` stands for its package). A module without ``__all__``
declares no public names and gets no entries. A name that is another public name of the
same object (``databay.hookspecs.hookimpl`` is ``databay.hookimpl``) is documented once, at
its shortest path in the distribution that defines it, and listed as an alias elsewhere.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"
CORE = "databay-core"
ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|exc|data|obj|const|ref|term):"
                  r"`(~?)([^`]+)`")
_PLAIN = (str, bytes, int, float, complex, bool, tuple, frozenset, type(None))


@dataclass
class Entry:
    """One public name: ``module.name``, documented in full or as an alias of ``canonical``."""

    distribution: str
    module: str
    name: str
    canonical: str = ""

    @property
    def path(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def is_alias(self) -> bool:
        return self.canonical != self.path


@dataclass
class Module:
    distribution: str
    name: str
    file: Path
    all: list[str] | None
    doc: str = ""
    entries: list[Entry] = field(default_factory=list)


def plain_roles(text: str) -> str:
    """Sphinx roles as code: ``:class:`~a.b.C``` -> ```C```, ``:mod:`a.b``` -> ```a.b```."""
    def repl(match: re.Match[str]) -> str:
        tilde, target = match.groups()
        target = target.strip()
        if "<" in target and target.endswith(">"):  # :ref:`text <target>`
            return f"`{target.split('<')[0].strip()}`"
        return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"

    return ROLE.sub(repl, text)


def distributions() -> list[str]:
    """Every distribution under packages/, databay-core first."""
    names = sorted(p.name for p in PACKAGES.iterdir() if (p / "src").is_dir())
    return sorted(names, key=lambda n: n != CORE)


def module_name(src: Path, file: Path) -> str:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def declared_all(file: Path) -> list[str] | None:
    """``__all__`` as written in the source (a list or tuple of strings), else None."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = ast.literal_eval(node.value)  # type: ignore[arg-type]
            return [str(v) for v in value]
    return None


def public_modules(distribution: str) -> list[Module]:
    """The public modules of ``distribution``, shortest paths first."""
    src = PACKAGES / distribution / "src"
    found = []
    for file in sorted(src.rglob("*.py")):
        name = module_name(src, file)
        if not name or any(part.startswith("_") for part in name.split(".")):
            continue
        tree = ast.parse(file.read_text(encoding="utf-8"))
        found.append(Module(distribution, name, file, declared_all(file),
                            (ast.get_docstring(tree) or "").strip()))
    return sorted(found, key=lambda m: (m.name.count("."), m.name))


def _top_distribution(obj: Any, tops: dict[str, str]) -> str | None:
    module = getattr(obj, "__module__", None) or getattr(obj, "__name__", None)
    if not isinstance(module, str):
        return None
    return tops.get(module.split(".")[0])


def collect() -> list[Module]:
    """Every public module of every distribution with its entries, canonical paths set."""
    modules = [m for d in distributions() for m in public_modules(d)]
    tops = {m.name.split(".")[0]: m.distribution for m in modules}
    seen: dict[int, list[tuple[Entry, Any]]] = {}
    for module in modules:
        if module.all is None:
            continue
        try:
            runtime: Any = importlib.import_module(module.name)
        except Exception:  # e.g. databay_celery.app needs a broker URL: documented as is
            runtime = None
        for name in module.all:
            entry = Entry(module.distribution, module.name, name)
            entry.canonical = entry.path
            module.entries.append(entry)
            obj = getattr(runtime, name, None)
            if runtime is not None and not isinstance(obj, _PLAIN):
                seen.setdefault(id(obj), []).append((entry, obj))
    for group in seen.values():
        if len(group) < 2:
            continue
        home = _top_distribution(group[0][1], tops)
        own = [e for e, _ in group if e.distribution == home] or [e for e, _ in group]
        canonical = min(own, key=lambda e: (e.path.count("."), distributions().index(
            e.distribution)))
        for entry, _ in group:
            entry.canonical = canonical.path
    return modules


def page(distribution: str, modules: list[Module]) -> str:
    """The Markdown of one distribution's reference page."""
    lines = [f"# {distribution}", "",
             f"Every public name of `{distribution}`, module by module, generated from the "
             f"docstrings (`docs/_tools/gen_ref.py`). A name that is the same object as "
             f"another public name links to where it is documented.", ""]
    for module in modules:
        if module.distribution != distribution or not module.entries:
            continue
        lines += [f"## `{module.name}`", ""]
        if module.doc:
            lines += [plain_roles(module.doc.split("\n\n")[0]), ""]
        for entry in module.entries:
            if entry.is_alias:
                lines += [f"- `{entry.path}`: the same object as "
                          f"[`{entry.canonical}`][{entry.canonical}]", ""]
            else:
                lines += [f"::: {entry.path}", ""]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """``reference/<distribution>.md`` -> Markdown, plus ``reference/index.md``."""
    modules = collect()
    out = {f"reference/{d}.md": page(d, modules) for d in distributions()}
    index = ["# API reference", "",
             "One page per distribution, generated from the docstrings of every name in "
             "every public module's `__all__`.", ""]
    index += [f"- [{d}]({d}.md)" for d in distributions()]
    out["reference/index.md"] = "\n".join(index) + "\n"
    return out


def main() -> None:  # pragma: no cover - run by mkdocs-gen-files
    import mkdocs_gen_files

    for path, text in pages().items():
        with mkdocs_gen_files.open(path, "w") as f:
            f.write(text)


if __name__ in {"__main__", "<run_path>"} or __name__.startswith("mkdocs_gen_files"):
    main()
