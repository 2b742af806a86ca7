"""The Record: one piece of data with its metadata."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Record"]


class Record:
    """A payload with a metadata dict.

    Records compare by value: two records are equal when their payloads and their
    metadata are equal. A record is hashable when its payload is.
    """

    __slots__ = ("_metadata", "_payload")

    def __init__(self, payload: Any, metadata: dict[str, Any] | None = None) -> None:
        if metadata is None:
            metadata = {}
        elif not isinstance(metadata, Mapping):
            raise TypeError(
                f"Record metadata must be a dict, got {type(metadata).__name__}: {metadata!r}"
            )
        self._payload = payload
        self._metadata: dict[str, Any] = metadata  # type: ignore[assignment]

    @property
    def payload(self) -> Any:
        """The data this record carries. Assignable, so processors can transform it."""
        return self._payload

    @payload.setter
    def payload(self, value: Any) -> None:
        self._payload = value

    @property
    def metadata(self) -> dict[str, Any]:
        """The record's metadata: the inlet's global metadata, its own, and ``__inlet__``."""
        return self._metadata

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return bool(self._payload == other._payload and self._metadata == other._metadata)

    def __hash__(self) -> int:
        try:
            return hash(self._payload)
        except TypeError:
            raise TypeError(
                f"Record is unhashable because its payload of type "
                f"{type(self._payload).__name__} is unhashable"
            ) from None

    def __repr__(self) -> str:
        return f"Record(payload={self._payload!r}, metadata={self._metadata!r})"
