"""The Inlet: where data comes from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from databay._node import Node
from databay.record import Record

if TYPE_CHECKING:
    from databay.link import Update

__all__ = ["Inlet"]

INLET_KEY = "__inlet__"


class Inlet(Node, ABC):
    """Produces data for links.

    Subclasses implement :meth:`pull` (plain or ``async def``). ``pull`` returns a list
    (one record per element), any other value (one record), a :class:`Record`, or
    ``None`` / ``[]`` for no data. Raw values are wrapped with :meth:`new_record`.

    :param metadata: global metadata, merged into every record this inlet creates.
    """

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        if metadata is None:
            metadata = {}
        elif not isinstance(metadata, Mapping):
            raise TypeError(
                f"{type(self).__name__}(metadata=...) must be a dict, "
                f"got {type(metadata).__name__}: {metadata!r}"
            )
        self._metadata: dict[str, Any] = metadata  # type: ignore[assignment]

    @property
    def metadata(self) -> dict[str, Any]:
        """The inlet's global metadata."""
        return self.__dict__.get("_metadata") or {}

    @abstractmethod
    def pull(self, update: Update) -> Any:
        """Produce data for one transfer. May be ``async def``."""

    def new_record(self, payload: Any, metadata: dict[str, Any] | None = None) -> Record:
        """A record whose metadata is the global metadata, then ``metadata``, then
        ``'__inlet__'``: ``str(self)``."""
        full = {**self.metadata, **metadata} if metadata else dict(self.metadata)
        full[INLET_KEY] = str(self)
        return Record(payload, full)

    def _to_records(self, data: Any) -> list[Record]:
        """Wrap what ``pull`` returned as a list of records (used by Link)."""
        if data is None:
            return []
        if isinstance(data, Record):
            return [data]
        if not isinstance(data, list):
            return [self.new_record(data)]
        if not data:
            return []
        name = str(self)
        base = self.metadata
        out: list[Record] = []
        append = out.append
        for item in data:
            if isinstance(item, Record):
                append(item)
            else:
                md = dict(base)
                md[INLET_KEY] = name
                append(Record(item, md))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(metadata={self.metadata!r})"
