"""MkDocs hooks of the databay site (mkdocs.yml ``hooks:``).

- Links from a page to a repository file outside docs/ (``../examples/pipelines/``) work
  on GitHub but not on the site: when the file exists they become the path as code with
  "(in the repository)"; when it does not, the build warns (and fails, strict).
- A page listed in ``nav`` that nobody has written yet (docs/architecture.md while it is
  being written) is left out of the nav with a log line instead of failing the build.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

LOG = logging.getLogger("mkdocs.hooks.databay")
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((\.\./[^)#\s]+)(#[^)\s]*)?\)")


def _prune(nav: list[Any], docs: Path) -> list[Any]:
    kept: list[Any] = []
    for item in nav:
        if isinstance(item, dict):
            (title, value), = item.items()
            if isinstance(value, list):
                value = _prune(value, docs)
                if value:
                    kept.append({title: value})
                continue
            if isinstance(value, str) and value.endswith(".md") and "://" not in value \
                    and not value.startswith("reference/") and not (docs / value).exists():
                LOG.info("nav: %s (%s) is not written yet; left out of the nav", value, title)
                continue
        kept.append(item)
    return kept


def _distributions() -> list[str]:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from gen_ref import distributions

    return distributions()


def _expand(nav: list[Any], docs: Path) -> list[Any]:
    """``Distributions: packages/`` and ``API reference: reference/``: one entry per
    distribution under packages/ (a new package appears without editing mkdocs.yml)."""
    out: list[Any] = []
    for item in nav:
        if isinstance(item, dict):
            (title, value), = item.items()
            if value == "packages/":
                item = {title: [{d: f"packages/{d}.md"} for d in _distributions()]}
            elif value == "reference/":
                item = {title: ["reference/index.md",
                                *({d: f"reference/{d}.md"} for d in _distributions())]}
            elif isinstance(value, list):
                item = {title: _expand(value, docs)}
        out.append(item)
    return out


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    config["nav"] = _prune(_expand(config["nav"] or [], docs), docs)
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs = Path(config["docs_dir"]).resolve()
    root = docs.parent
    here = (docs / page.file.src_uri).parent

    def repl(match: re.Match[str]) -> str:
        text, target, _anchor = match.groups()
        path = (here / target).resolve()
        if path.is_relative_to(docs):
            return match.group(0)  # inside the site: mkdocs checks it
        if not path.exists():
            LOG.warning("%s links to %s, which does not exist in the repository",
                        page.file.src_uri, target)
            return match.group(0)
        rel = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
        return f"{text} (`{rel}` in the repository)"

    return LINK.sub(repl, markdown)
