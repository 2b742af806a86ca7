"""Find the Python code blocks of the documentation: docs/**/*.md and every README.md.

A block is a fenced block whose info string starts with ``python`` or ``py``. The HTML
comment on the line just before the fence (invisible on the site and on GitHub) says how
to treat it:

- ``<!-- doctest: fragment -->``: not run (a piece of a larger program, or code that
  needs a service the tests do not start); say so in the text around it.
- ``<!-- doctest: plugins -->``: needs the plugin distributions. Usually not needed:
  a block that names a plugin module (``databay_http``...), ``databay.planners`` or any
  name in a plugin's ``__all__`` (``HttpInlet``, ``ApsPlanner``...) is marked already.

Every other block runs, in order, in one namespace per page (so a page can build on its
earlier blocks), in a temporary working directory, with ``https://example.com/`` served
by a local HTTP server and ``mongodb://localhost:27017`` by a local MongoDB server
(see ``test_code_blocks.py``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
MARK = re.compile(r"<!--\s*doctest:\s*(?P<what>[\w, -]+?)\s*-->")
KINDS = {"fragment", "plugins"}


@dataclass
class Block:
    file: Path
    line: int  # 1-based line of the opening fence
    code: str
    marks: frozenset[str]

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(ROOT).as_posix()}:{self.line}"


def documents() -> list[Path]:
    """The Markdown files whose Python blocks are executed."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_tools" not in p.parts)
    readmes = [ROOT / "README.md", *sorted(PACKAGES.glob("*/README.md"))]
    return [*docs, *(p for p in readmes if p.exists())]


def plugin_names() -> set[str]:
    """Names that only the plugin distributions provide: their import names and the
    names in their top-level ``__all__``."""
    names = {"databay.planners"}
    for init in PACKAGES.glob("databay-*/src/*/__init__.py"):
        if init.parts[-4] == "databay-core":
            continue
        names.add(init.parent.name)
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                names.update(n for n in ast.literal_eval(node.value) if not n.startswith("_"))
    return names


def needs_plugins(code: str, names: set[str]) -> bool:
    words = set(re.findall(r"[A-Za-z_][\w.]*", code))
    parts = {p for w in words for p in (w, *w.split("."))}
    return bool(parts & names) or any(w.startswith("databay.planners") for w in words)


def blocks(file: Path, names: set[str] | None = None) -> list[Block]:
    names = plugin_names() if names is None else names
    lines = file.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], match["indent"]
        lang = (match["info"].split() or [""])[0].lower().strip("{.")
        end = i + 1
        while end < len(lines) and not (lines[end].strip().startswith(fence)
                                        and lines[end].strip().strip(fence[0]) == ""):
            end += 1
        if lang in {"python", "py"}:
            body = [line[len(indent):] if line.startswith(indent) else line
                    for line in lines[i + 1:end]]
            marks: set[str] = set()
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            if j >= 0 and (mark := MARK.search(lines[j])):
                marks = {m.strip() for m in mark["what"].split(",")}
                unknown = marks - KINDS
                if unknown:
                    raise ValueError(f"{file}:{j + 1}: unknown doctest mark {sorted(unknown)}; "
                                     f"known: {sorted(KINDS)}")
            code = "\n".join(body) + "\n"
            if needs_plugins(code, names):
                marks.add("plugins")
            found.append(Block(file, i + 1, code, frozenset(marks)))
        i = end + 1
    return found
