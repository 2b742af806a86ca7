"""Copying records for ``Link(copy_records=True)``.

``copy.deepcopy`` is general but slow: it keeps a memo and dispatches through the copy
protocol for every object. Payloads are nearly always plain JSON-like data, so those
are copied by a direct walk, and anything else falls back to ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
from typing import Any

from databay.errors import RecordCopyError
from databay.record import Record, _SharedMeta

_ATOMIC = frozenset({int, float, str, bool, type(None), bytes, complex})


def _walk(obj: Any) -> Any:
    cls = type(obj)
    if cls in _ATOMIC:
        return obj
    if cls is dict:
        return {k: v if type(v) in _ATOMIC else _walk(v) for k, v in obj.items()}
    if cls is list:
        return [v if type(v) in _ATOMIC else _walk(v) for v in obj]
    if cls is tuple:
        return tuple([v if type(v) in _ATOMIC else _walk(v) for v in obj])
    return copy.deepcopy(obj)


def copy_record(record: Record) -> Record:
    """An independent copy of ``record``: payload and metadata copied deeply."""
    try:
        if type(record) is not Record:  # a subclass may carry more state
            return copy.deepcopy(record)  # type: ignore[no-any-return]
        try:
            payload = _walk(record.payload)
            metadata = record._metadata
            if type(metadata) is not _SharedMeta:  # shared metadata is never mutated
                metadata = _walk(metadata)
        except RecursionError:  # self-referencing data: deepcopy's memo handles cycles
            payload = copy.deepcopy(record.payload)
            metadata = copy.deepcopy(record._metadata)
    except Exception as exc:
        raise RecordCopyError(
            f"cannot copy {record!r} for an outlet ({type(exc).__name__}: {exc}); "
            f"make the payload deep-copyable (define __deepcopy__) or create the Link "
            f"with copy_records=False so outlets share the records"
        ) from exc
    new = Record.__new__(Record)
    new.payload = payload
    new._metadata = metadata
    return new


def copy_records(records: list[Record]) -> list[Record]:
    """Copy every record of a batch. The common case, a plain Record with a flat dict
    payload and the metadata its inlet shares, is copied inline."""
    out: list[Record] = []
    append = out.append
    new = Record.__new__
    atomic = _ATOMIC
    for record in records:
        payload = record.payload
        if type(record) is Record and type(payload) is dict \
                and type(record._metadata) is _SharedMeta:
            for value in payload.values():
                if type(value) not in atomic:
                    break
            else:
                copy = new(Record)
                copy.payload = payload.copy()
                copy._metadata = record._metadata
                append(copy)
                continue
        append(copy_record(record))
    return out


def wrap_copies(items: list[Any], shared: _SharedMeta) -> list[Record]:
    """Records for a chunk a stream yielded, each already an independent copy: what
    ``Inlet._to_records`` and then :func:`copy_records` give, in one pass and with one
    record object per item instead of two (fewer allocations, fewer collector runs).
    The link uses it when the records go to one outlet only, with no processor or
    grouper that could see or hold the uncopied ones (see ``Link._wrap_chunk``).

    A dict of immutable scalars is copied with ``dict.copy()`` (a shallow copy is a deep
    one when the values cannot change); a Record the stream yielded is copied like any
    record; anything else is wrapped and copied by :func:`copy_record`."""
    out: list[Record] = []
    append = out.append
    new = Record.__new__
    atomic = _ATOMIC
    for item in items:
        if type(item) is dict:
            for value in item.values():
                if type(value) not in atomic:
                    break
            else:
                record = new(Record)
                record.payload = item.copy()
                record._metadata = shared
                append(record)
                continue
        elif isinstance(item, Record):
            append(copy_record(item))
            continue
        record = new(Record)
        record.payload = item
        record._metadata = shared
        append(copy_record(record))
    return out
