"""NullInlet: produces nothing."""

from __future__ import annotations

from typing import Any

from databay.inlet import Inlet
from databay.update import Update


class NullInlet(Inlet):
    """An inlet whose every pull returns no records."""

    def pull(self, update: Update) -> list[Any]:
        return []
