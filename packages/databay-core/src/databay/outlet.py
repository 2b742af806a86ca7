"""The Outlet: where data goes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from databay._node import Node
from databay._validate import callables

if TYPE_CHECKING:
    from databay.record import Record
    from databay.update import Update

__all__ = ["MetadataKey", "Outlet"]


class MetadataKey(str):
    """Marks a class constant as a record metadata key, e.g.
    ``CSV_FILE: MetadataKey = 'CsvOutlet.CSV_FILE'``."""


Processor = Callable[[list["Record"]], list["Record"]]


class Outlet(Node, ABC):
    """Consumes records from links.

    Subclasses implement :meth:`push` (plain or ``async def``). It receives every batch,
    including empty ones, so outlets can flush on each transfer.

    :param processors: callables ``records -> records`` applied to each batch before
        this outlet's ``push``.
    """

    def __init__(self, processors: Processor | Sequence[Processor] | None = None) -> None:
        self.processors: list[Processor] = callables(processors, "processors", type(self))

    @abstractmethod
    def push(self, records: list[Record], update: Update) -> Any:
        """Consume one batch of records. May be ``async def``."""

    @property
    def stores_metadata(self) -> bool | None:
        """Whether :meth:`push` keeps each record's metadata, not only its payload: True,
        False, or None (the default) when the outlet does not say. A dead-letter outlet
        needs it to keep the ``DEAD_LETTER`` details; ``databay validate`` warns about
        one that says False and has no processor of its own."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
