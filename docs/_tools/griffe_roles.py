"""Griffe extension: Sphinx roles in docstrings (``:class:`~databay.Link```) as code.

databay's docstrings use reST roles; mkdocstrings renders Markdown. The roles become
plain code (never a cross-reference, so a name outside databay cannot break the strict
build); see ``gen_ref.plain_roles``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import griffe

sys.path.insert(0, str(Path(__file__).parent))
from gen_ref import plain_roles


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
