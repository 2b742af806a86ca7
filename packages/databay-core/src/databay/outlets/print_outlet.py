"""PrintOutlet: prints records."""

from __future__ import annotations

from typing import Any

from databay.outlet import Outlet
from databay.record import Record
from databay.update import Update


class PrintOutlet(Outlet):
    """Prints ``"{update} {record}"`` for each record.

    :param only_payload: print the payload instead of the whole record.
    :param skip_update: leave out the update prefix.
    """

    def __init__(self, only_payload: bool = False, skip_update: bool = False,
                 processors: Any = None) -> None:
        super().__init__(processors)
        for name, value in (("only_payload", only_payload), ("skip_update", skip_update)):
            if not isinstance(value, int):  # bool, or 0/1 as the original took them
                raise TypeError(f"PrintOutlet({name}=...) must be True or False, "
                                f"got {type(value).__name__}: {value!r}")
        self.only_payload = only_payload
        self.skip_update = skip_update

    @property
    def stores_metadata(self) -> bool:
        """False with ``only_payload=True``; a whole record prints with its metadata."""
        return not self.only_payload

    def push(self, records: list[Record], update: Update) -> None:
        for record in records:
            shown = record.payload if self.only_payload else record
            print(shown if self.skip_update else f"{update} {shown}", flush=True)

    def __repr__(self) -> str:
        return f"PrintOutlet(only_payload={self.only_payload}, skip_update={self.skip_update})"
