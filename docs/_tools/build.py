"""`hatch run docs:build`: build the site strict and explain each problem found.

MkDocs stops at the end of a strict build with "Aborted with N warnings"; this prints
every WARNING line again, each with what usually causes it and how to fix it.
Arguments are passed to ``mkdocs build`` (e.g. ``--site-dir /tmp/site``).
"""

from __future__ import annotations

import subprocess
import sys

HINTS = [
    ("is not found in documentation files",
     "a link points to a page or file that does not exist: paths are relative to the page "
     "(docs/concepts/x.md links to ../cli.md); fix the path or create the page"),
    ("contains a link to",
     "a link does not resolve: check the path (relative to the page) and the #anchor "
     "(headings become lower-case-with-dashes anchors)"),
    ("does not contain an anchor",
     "the #anchor of a link names no heading on the target page: check the heading text"),
    ("not included in the \"nav\"",
     "a page exists in docs/ but is not in the nav of mkdocs.yml: add it there"),
    ("which is not found in the documentation files",
     "mkdocs.yml's nav names a page that does not exist: fix the path or create it"),
    ("Could not find cross-reference target",
     "an API reference [text][dotted.name] names something that has no reference entry: "
     "check the spelling, and that the name is in its module's __all__"),
    ("griffe", "a docstring could not be parsed (file and line above): fix the docstring"),
    ("mkdocstrings", "the API reference could not render a name: see the message above"),
]


def main() -> int:
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", *sys.argv[1:]]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(proc.stdout)
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("WARNING")]
    if proc.returncode == 0:
        return 0
    print("\nThe strict docs build failed. Problems, with the usual fix:", file=sys.stderr)
    for line in warnings or ["(no WARNING line: see the error above)"]:
        hint = next((h for needle, h in HINTS if needle in line), None)
        print(f"\n  {line}", file=sys.stderr)
        if hint:
            print(f"    -> {hint}", file=sys.stderr)
    print("\nBuild it yourself: hatch run docs:build (serve: hatch run docs:serve); "
          "docs/contributing-docs.md explains the rules.", file=sys.stderr)
    return proc.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
