"""NullOutlet: discards records."""

from __future__ import annotations

from databay.outlet import Outlet
from databay.record import Record
from databay.update import Update


class NullOutlet(Outlet):
    """An outlet that accepts every batch and does nothing with it."""

    @property
    def stores_metadata(self) -> bool:
        """False: it keeps nothing."""
        return False

    def push(self, records: list[Record], update: Update) -> None:
        return None
