"""The API reference covers every public name of every distribution.

``docs/_tools/gen_ref.py`` generates one reference page per distribution from the
``__all__`` of every public module. These tests read each ``__all__`` from the source on
their own and check that the generated pages have an entry (a rendered ``:::`` entry, or
an alias line linking to one) for every name, and a page per distribution.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_tools"))

import gen_ref  # noqa: E402

pytestmark = pytest.mark.plugins  # the generator imports every distribution


def _declared() -> list[tuple[str, str, str]]:
    """(distribution, module, name) for every name of every public module's __all__."""
    out = []
    for src in sorted(ROOT.glob("packages/*/src")):
        for file in sorted(src.rglob("*.py")):
            parts = list(file.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if any(p.startswith("_") for p in parts):
                continue
            for node in ast.parse(file.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                    module = ".".join(parts)
                    out += [(src.parent.name, module, n) for n in ast.literal_eval(node.value)]
    return out


def test_every_name_in_every_all_has_a_reference_entry() -> None:
    pages = gen_ref.pages()
    declared = _declared()
    assert len(declared) > 100  # sanity: the walk found the packages
    missing = []
    for distribution, module, name in declared:
        text = pages[f"reference/{distribution}.md"]
        path = re.escape(f"{module}.{name}")
        if not re.search(rf"^::: {path}$|^- `{path}`: the same object as \[", text, re.M):
            missing.append(f"{module}.{name}")
    assert not missing, f"names in __all__ without a reference entry: {missing}"


def test_aliases_point_at_rendered_entries() -> None:
    pages = gen_ref.pages()
    rendered = {m for text in pages.values() for m in re.findall(r"^::: (\S+)$", text, re.M)}
    targets = {t for text in pages.values()
               for t in re.findall(r"the same object as \[`[^`]+`\]\[([^\]]+)\]", text)}
    assert targets and targets <= rendered


def test_a_page_per_distribution_in_the_reference_and_in_docs_packages() -> None:
    distributions = sorted(p.parent.name for p in ROOT.glob("packages/*/src"))
    assert sorted(gen_ref.distributions()) == distributions
    pages = gen_ref.pages()
    for distribution in distributions:
        assert f"reference/{distribution}.md" in pages
        assert (ROOT / "docs" / "packages" / f"{distribution}.md").is_file(), (
            f"docs/packages/{distribution}.md is missing: every distribution has a page "
            f"(its options, its errors); see docs/contributing-docs.md")
