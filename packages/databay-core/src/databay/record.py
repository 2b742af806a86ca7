"""The Record: one piece of data with its metadata."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Record"]


class _SharedMeta(dict):  # type: ignore[type-arg]
    """Metadata shared by the records of one pull until one of them is accessed.

    Records wrapped by a link start with the same metadata object; ``Record.metadata``
    gives a record its own copy on first access, so sharing is never visible. Nothing
    ever mutates a _SharedMeta, which lets copies of records share it too.
    """

    __slots__ = ()


class Record:
    """A payload with a metadata dict.

    Records compare by value: two records are equal when their payloads and their
    metadata are equal. A record is hashable when its payload is.
    """

    __slots__ = ("_metadata", "payload")

    #: The data this record carries. Assignable, so processors can transform it.
    payload: Any

    def __init__(self, payload: Any, metadata: dict[str, Any] | None = None) -> None:
        if metadata is None:
            metadata = {}
        elif not isinstance(metadata, Mapping):
            raise TypeError(
                f"Record metadata must be a dict, got {type(metadata).__name__}: {metadata!r}"
            )
        self.payload = payload
        self._metadata: dict[str, Any] = metadata  # type: ignore[assignment]

    @property
    def metadata(self) -> dict[str, Any]:
        """The record's metadata: the inlet's global metadata, its own, and ``__inlet__``."""
        md = self._metadata
        if type(md) is _SharedMeta:
            md = self._metadata = dict(md)
        return md

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return bool(self.payload == other.payload and dict.__eq__(self._metadata,
                                                                      other._metadata))

    def __hash__(self) -> int:
        try:
            return hash(self.payload)
        except TypeError:
            raise TypeError(
                f"Record is unhashable because its payload of type "
                f"{type(self.payload).__name__} is unhashable"
            ) from None

    def __repr__(self) -> str:
        return f"Record(payload={self.payload!r}, metadata={dict.__repr__(self._metadata)})"
