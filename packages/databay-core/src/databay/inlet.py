"""The Inlet: where data comes from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from databay._node import Node
from databay.record import Record, _SharedMeta

if TYPE_CHECKING:
    from databay.update import Update

__all__ = ["Inlet"]

INLET_KEY = "__inlet__"
_new = object.__new__


def _check_checkpoint_key(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{where} must be a str or None, got {type(value).__name__}: {value!r}")
    if not value.strip():
        raise ValueError(f"{where} must be a non-empty str (or None for 'by position'), "
                         f"got {value!r}")
    return value


class Inlet(Node, ABC):
    """Produces data for links.

    Subclasses implement :meth:`pull` (plain or ``async def``). ``pull`` returns a list
    (one record per element), any other value (one record), a :class:`Record`, or
    ``None`` / ``[]`` for no data. Raw values are wrapped with :meth:`new_record`.

    :param metadata: global metadata, merged into every record this inlet creates.
    :param checkpoint_key: the key of this inlet's cursor in a link's state store
        (see :attr:`checkpoint_key`); None keys it by the inlet's position.
    """

    def __init__(
        self, metadata: dict[str, Any] | None = None, *, checkpoint_key: str | None = None
    ) -> None:
        if metadata is None:
            metadata = {}
        elif not isinstance(metadata, Mapping):
            raise TypeError(
                f"{type(self).__name__}(metadata=...) must be a dict, "
                f"got {type(metadata).__name__}: {metadata!r}"
            )
        self._metadata: dict[str, Any] = metadata  # type: ignore[assignment]
        if checkpoint_key is not None:
            # through __dict__: a subclass may define checkpoint_key as a read-only property
            self.__dict__["_checkpoint_key"] = _check_checkpoint_key(
                checkpoint_key, f"{type(self).__name__}(checkpoint_key=...)")

    @property
    def metadata(self) -> dict[str, Any]:
        """The inlet's global metadata."""
        return self.__dict__.get("_metadata") or {}

    @abstractmethod
    def pull(self, update: Update) -> Any:
        """Produce data for one transfer. May be ``async def``."""

    # -- checkpoints: inlets that can resume override both ---------------------------

    @property
    def cursor(self) -> Any:
        """The position after the last pull (JSON-like: numbers, strings, lists, dicts),
        or None. A link with a state store commits it once the pull's records are
        delivered. Override together with :meth:`seek`."""
        return None

    def seek(self, cursor: Any) -> None:
        """Continue reading at ``cursor``, a value :attr:`cursor` returned before. The
        link calls it to resume after a restart and to re-read a batch that was not
        delivered."""
        raise NotImplementedError(f"{type(self).__name__} does not support checkpoints")

    @property
    def checkpoint_key(self) -> str | None:
        """The key of this inlet's cursor within its link's state store; None (the
        default) means "by position", ``'<index>:<class name>'``.

        Set it (``Inlet(checkpoint_key=...)`` or ``inlet.checkpoint_key = "orders"``) so
        that the committed cursor survives reordering the link's inlets. The store key
        is ``'<link tags joined by ".">/<checkpoint_key>'``.
        """
        return self.__dict__.get("_checkpoint_key")  # type: ignore[no-any-return]

    @checkpoint_key.setter
    def checkpoint_key(self, value: str | None) -> None:
        self.__dict__["_checkpoint_key"] = (
            None if value is None
            else _check_checkpoint_key(value, f"{type(self).__name__}.checkpoint_key"))

    def new_record(self, payload: Any, metadata: dict[str, Any] | None = None) -> Record:
        """A record whose metadata is the global metadata, then ``metadata``, then
        ``'__inlet__'``: ``str(self)``.

        Records made without ``metadata`` share one cached metadata dict (rebuilt when
        the inlet's metadata changes), copied into the record's own dict the first time
        its :attr:`~databay.Record.metadata` is read: a change to one record's metadata
        is never seen by another.
        """
        state = self.__dict__
        cache = state.get("_databay_md_cache")
        if cache is not None and cache[0] == state.get("_metadata") and cache[3]:
            shared = cache[2]  # plain repr and metadata: the metadata dict alone decides
        else:
            shared = self._shared_metadata()
        record = _new(Record)
        record.payload = payload
        if metadata:
            if not isinstance(metadata, Mapping):
                raise TypeError(f"{type(self).__name__}.new_record(metadata=...) must be a "
                                f"dict, got {type(metadata).__name__}: {metadata!r}")
            own = dict(shared)
            own.update(metadata)
            own[INLET_KEY] = shared[INLET_KEY]
            record._metadata = own
        else:
            record._metadata = shared
        return record

    def _shared_metadata(self) -> _SharedMeta:
        """Metadata for the records this inlet's pulls produce: the global metadata and
        ``__inlet__``, rebuilt only when the metadata (or a custom repr) changes."""
        md = self.metadata
        custom = type(self).__repr__ is not Inlet.__repr__
        name = str(self) if custom else None
        cache = self.__dict__.get("_databay_md_cache")
        if cache is not None and cache[0] == md and (not custom or cache[1] == name):
            return cache[2]  # type: ignore[no-any-return]
        if name is None:
            name = str(self)
        shared = _SharedMeta(md)
        shared[INLET_KEY] = name
        plain = not custom and type(self).metadata is Inlet.metadata
        self.__dict__["_databay_md_cache"] = (dict(md), name, shared, plain)
        return shared

    def _to_records(self, data: Any) -> list[Record]:
        """Wrap what ``pull`` returned as a list of records (used by Link)."""
        if data is None:
            return []
        if type(data) is not list and not isinstance(data, list):
            if isinstance(data, Record):
                return [data]
            if isinstance(data, CoroutineType):
                data.close()
                name = type(self).__name__
                raise TypeError(
                    f"{name}.pull() returned a coroutine instead of data: it is a plain "
                    f"'def' that calls an async pull (such as super().pull(update) of an "
                    f"async inlet) without awaiting it. Declare it 'async def pull(self, "
                    f"update)' and 'await' the call, or call the inlet's synchronous form "
                    f"(HttpInlet: self.fetch(update))")
            data = [data]
        elif not data:
            return []
        shared = self._shared_metadata()
        new = object.__new__
        out: list[Record] = []
        append = out.append
        for item in data:
            if isinstance(item, Record):
                append(item)
            else:
                record = new(Record)
                record.payload = item
                record._metadata = shared
                append(record)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(metadata={self.metadata!r})"
