"""Contract checks for inlets."""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

from databay.delivery import StateStore
from databay.inlet import INLET_KEY, Inlet
from databay.record import Record
from databay.testing._support import (
    MODES,
    AsyncCollectingOutlet,
    CollectingOutlet,
    ContractReport,
    Mode,
    check_lifecycle,
    check_repr,
    check_transfer_results,
    checking,
    describe,
    fail,
    lifecycle_is_async,
    make_link,
    run_link,
)

__all__ = [
    "GLOBAL_METADATA",
    "InletFactory",
    "check_inlet",
    "check_inlet_checkpoint",
    "check_inlet_lifecycle",
    "check_inlet_metadata",
    "check_inlet_new_record",
    "check_inlet_pull",
    "make_inlet",
]

#: Called with ``metadata=<dict>`` (when it accepts a ``metadata`` argument) or with no
#: argument, it returns a new inlet each time. An inlet class whose other arguments
#: all have defaults is a factory too.
InletFactory = Callable[..., Inlet]

#: The global metadata the checks give inlets. Namespaced keys, so an inlet's own
#: metadata never collides with them.
GLOBAL_METADATA: dict[str, Any] = {
    "databay.testing.global": "global value",
    "databay.testing.overridden": "global value",
}
_LOCAL_METADATA: dict[str, Any] = {
    "databay.testing.local": "local value",
    "databay.testing.overridden": "local value",
}


def _accepts_metadata(factory: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind is p.VAR_KEYWORD
        or (p.name == "metadata" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        for p in params
    )


def make_inlet(factory: InletFactory, metadata: dict[str, Any], check: str = "factory") -> Inlet:
    """A new inlet from ``factory`` whose global metadata includes ``metadata``.

    A factory that accepts ``metadata`` gets it, and the inlet must then hold it (which
    catches a constructor that does not pass ``metadata`` on to ``Inlet.__init__``).
    Otherwise the metadata is added to the inlet's own after construction.
    """
    passed = _accepts_metadata(factory)
    with checking(check, factory, "the inlet factory"):
        inlet = factory(metadata=dict(metadata)) if passed else factory()
    if not isinstance(inlet, Inlet):
        raise fail(check, factory, f"the factory returned {describe(inlet)} "
                                   f"({type(inlet).__name__}), not an Inlet")
    if passed:
        check_inlet_metadata(inlet, metadata, check)
    else:
        inlet._metadata = {**inlet.metadata, **metadata}
    return inlet


def check_inlet_metadata(inlet: Inlet, metadata: dict[str, Any], check: str = "metadata") -> None:
    """``inlet.metadata`` holds ``metadata``: the constructor passed it on to
    ``Inlet.__init__``."""
    held = inlet.metadata
    missing = {k: v for k, v in metadata.items() if k not in held or held[k] != v}
    if missing:
        raise fail(check, inlet, f"was built with metadata={metadata!r} but its .metadata is "
                                 f"{held!r}; pass metadata on: super().__init__(metadata)")


def _check_record_metadata(
    check: str, inlet: Inlet, record: Record, global_metadata: dict[str, Any]
) -> None:
    md = record.metadata
    if not isinstance(md, dict):
        raise fail(check, inlet, f"{record!r} has metadata of type {type(md).__name__}, "
                                 "not dict")
    lost = [k for k in global_metadata if k not in md]
    if lost:
        raise fail(check, inlet, f"{record!r} lacks the inlet's global metadata {lost!r}; "
                                 "create records with self.new_record(payload, metadata) "
                                 "or return raw payloads, not Record(...)")
    if not isinstance(md.get(INLET_KEY), str):
        raise fail(check, inlet, f"{record!r} has no {INLET_KEY!r} metadata naming its "
                                 "inlet; create records with self.new_record(...)")
    if md is inlet.metadata:
        raise fail(check, inlet, f"{record!r} shares the inlet's metadata dict: changing the "
                                 "record's metadata would change the inlet's")


def check_inlet_new_record(inlet: Inlet, global_metadata: dict[str, Any] | None = None) -> None:
    """``new_record`` wraps the payload in a :class:`~databay.Record` whose metadata is
    the global metadata, then the local metadata (overriding), then ``'__inlet__'``;
    neither dict is changed or shared with the record."""
    check = "new_record"
    gmd = dict(inlet.metadata) if global_metadata is None else global_metadata
    local = dict(_LOCAL_METADATA)
    if gmd:  # override one of the inlet's own global keys too
        local[next(iter(gmd))] = "local value"
    before_global = copy.deepcopy(dict(inlet.metadata))
    before_local = copy.deepcopy(local)
    payload = {"databay.testing": [1, 2.5, "three"]}
    with checking(check, inlet, "new_record(payload, metadata)"):
        record = inlet.new_record(payload, local)
        plain = inlet.new_record(payload)
    if local != before_local:
        raise fail(check, inlet, f"new_record changed the metadata it was given: "
                                 f"{before_local!r} became {local!r}")
    for made, own in ((record, local), (plain, {})):
        if not isinstance(made, Record):
            raise fail(check, inlet, f"new_record returned {type(made).__name__}, not a Record")
        if made.payload != payload:
            raise fail(check, inlet, f"new_record changed the payload: {payload!r} became "
                                     f"{made.payload!r}")
        _check_record_metadata(check, inlet, made, {k: v for k, v in gmd.items() if k not in own})
        expected = {**gmd, **own}
        wrong = {k: made.metadata.get(k) for k, v in expected.items() if made.metadata.get(k) != v}
        if wrong:
            raise fail(check, inlet, f"new_record metadata {made.metadata!r} has {wrong!r}; "
                                     f"expected global metadata {gmd!r} overridden by the local "
                                     f"metadata {own!r}")
    if record.metadata is local:
        raise fail(check, inlet, "new_record used the caller's metadata dict as the record's")
    if inlet.metadata != before_global:
        raise fail(check, inlet, f"new_record changed the inlet's global metadata: "
                                 f"{before_global!r} became {inlet.metadata!r}")
    record.metadata["databay.testing.probe"] = True
    if "databay.testing.probe" in inlet.metadata or "databay.testing.probe" in local:
        raise fail(check, inlet, "a record's metadata is shared with the inlet's or the "
                                 "caller's metadata: changing one changes the other")


def check_inlet_lifecycle(inlet: Inlet, restart: bool = True) -> None:
    """See :func:`databay.testing.check_lifecycle`."""
    check_lifecycle(inlet, "lifecycle", restart)


def check_inlet_pull(
    inlet: Inlet,
    global_metadata: dict[str, Any] | None = None,
    *,
    mode: Mode = "sync",
    transfers: int = 2,
    min_records: int = 0,
    allow_none_payload: bool = False,
    verify: Callable[[list[Record]], Any] | None = None,
) -> list[Record]:
    """Pull through a :class:`~databay.Link` ``transfers`` times (``mode``: see
    :data:`~databay.testing.MODES`) and check the records the link made of the data.

    Each transfer gives at least ``min_records`` records; each record carries the global
    metadata and ``'__inlet__'`` in a dict of its own; a payload is not None unless
    ``allow_none_payload``; the inlet's global metadata is unchanged afterwards.
    ``verify(records)`` may check the payloads. Returns the records.
    """
    check = f"pull[{mode}]"
    gmd = dict(inlet.metadata) if global_metadata is None else global_metadata
    before = copy.deepcopy(dict(inlet.metadata))
    collector = AsyncCollectingOutlet() if mode == "async" else CollectingOutlet()
    link = make_link(inlet, collector)
    with checking(check, inlet, f"a Link transfer ({mode})"):
        results = run_link(link, mode, transfers)
    check_transfer_results(check, inlet, results)
    if len(collector.batches) != transfers:
        raise fail(check, inlet, f"{transfers} transfers gave {len(collector.batches)} batches")
    for n, batch in enumerate(collector.batches):
        if len(batch) < min_records:
            raise fail(check, inlet, f"transfer {n} gave {len(batch)} records, expected at "
                                     f"least {min_records}")
    records = collector.records
    seen: dict[int, Record] = {}
    for record in records:
        if not isinstance(record, Record):
            raise fail(check, inlet, f"the link produced {record!r}, not a Record")
        if record.payload is None and not allow_none_payload:
            raise fail(check, inlet, f"{record!r} has a None payload; return None or [] from "
                                     "pull for no data (or pass allow_none_payload=True)")
        _check_record_metadata(check, inlet, record, gmd)
        wrong = {k: record.metadata[k] for k, v in gmd.items() if record.metadata[k] != v}
        if wrong:
            raise fail(check, inlet, f"{record!r} changed the global metadata {gmd!r} to "
                                     f"{wrong!r}")
        other = seen.setdefault(id(record.metadata), record)
        if other is not record:
            raise fail(check, inlet, f"{record!r} and {other!r} share one metadata dict; give "
                                     "each record its own (self.new_record does)")
    if inlet.metadata != before:
        raise fail(check, inlet, f"pulling changed the inlet's global metadata: {before!r} "
                                 f"became {inlet.metadata!r}")
    if inlet.active:
        raise fail(check, inlet, "still active after the link shut down")
    if verify is not None:
        with checking(check, inlet, "verify(records)"):
            verify(records)
    return records


class _JsonStateStore(StateStore):
    """Keeps each cursor as JSON text, as :class:`~databay.delivery.FileStateStore` does
    across restarts, so what a link reads back is what a restarted process would get.
    A cursor that is not JSON is noted (for the check to report), not stored."""

    def __init__(self, data: dict[str, str] | None = None) -> None:
        self.data: dict[str, str] = dict(data or {})
        self.refused: list[tuple[Any, Exception]] = []

    def get(self, key: str) -> Any:
        text = self.data.get(key)
        return None if text is None else json.loads(text)

    def set(self, key: str, value: Any) -> None:
        try:
            self.data[key] = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            self.refused.append((value, exc))

    def __repr__(self) -> str:
        return "databay.testing JSON state store"


def _as_json(check: str, inlet: Inlet, cursor: Any, when: str) -> Any:
    """``cursor`` after a JSON round trip; a failure when it is not JSON-like."""
    try:
        return json.loads(json.dumps(cursor, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise fail(check, inlet, f"its cursor {when} is {cursor!r} ({type(cursor).__name__}), "
                                 f"which is not JSON-like ({exc}); state stores keep cursors "
                                 "as JSON: return None, bools, numbers, strings, lists or "
                                 "dicts of them") from exc


def _payloads(records: list[Record]) -> list[Any]:
    return [r.payload for r in records]


def check_inlet_checkpoint(
    factory: InletFactory,
    global_metadata: dict[str, Any] | None = None,
) -> str | None:
    """The checkpoint contract, for an inlet that overrides ``seek`` (and ``cursor``);
    returns why it was skipped (the inlet does not support checkpoints), else None.

    Through a :class:`~databay.Link` with a state store that keeps cursors as JSON:
    ``checkpoint_key`` is None or a non-empty str; ``cursor`` is JSON-like before and
    after each pull; ``seek(cursor)`` (the JSON form), then a pull, re-reads what the
    pull after that cursor gave; and a new inlet from ``factory``, resumed by its link
    from the cursor committed after the first pull, continues after it (its first pull
    gives what the first inlet's second pull gave). The first pull must give records,
    or re-reading could not be told from reading nothing.
    """
    check = "checkpoint"
    gmd = GLOBAL_METADATA if global_metadata is None else global_metadata
    inlet = make_inlet(factory, gmd, check)
    cls = type(inlet)
    with checking(check, inlet, "checkpoint_key"):
        key = inlet.checkpoint_key
    if key is not None and (not isinstance(key, str) or not key):
        raise fail(check, inlet, f"checkpoint_key is {key!r}; it must be None (keyed by "
                                 "position in the link) or a non-empty str")
    if cls.seek is Inlet.seek:
        if cls.cursor is not Inlet.cursor:
            raise fail(check, inlet, "it overrides cursor but not seek: a link would commit "
                                     "its cursor and never resume from it; override both")
        return f"{cls.__name__} does not support checkpoints (it does not override seek)"
    if cls.cursor is Inlet.cursor:
        raise fail(check, inlet, "it overrides seek but not cursor: a link would commit "
                                 "None and resume from the start; override both")

    def transfer(link: Any, store: _JsonStateStore, n: int) -> list[Record]:
        outlet = link.outlets[0]
        before = len(outlet.records)
        with checking(check, inlet, f"transfer {n} of a Link with a state store"):
            result = link.transfer()
        check_transfer_results(check, inlet, [result])
        if store.refused:
            value, exc = store.refused[0]
            raise fail(check, inlet, f"the link could not commit its cursor {value!r} "
                                     f"({type(value).__name__}): not JSON-like ({exc}); "
                                     "return None, bools, numbers, strings, lists or dicts")
        if not result.committed:
            raise fail(check, inlet, f"transfer {n} delivered every record but committed no "
                                     "cursor")
        records: list[Record] = outlet.records[before:]
        return records

    store = _JsonStateStore()
    link = make_link(inlet, CollectingOutlet(), state_store=store)
    with checking(check, inlet, "Link.on_start()"):
        link.on_start()
    try:
        start = _as_json(check, inlet, inlet.cursor, "before the first pull")
        first = transfer(link, store, 1)
        committed = dict(store.data)
        after_first = _as_json(check, inlet, inlet.cursor, "after the first pull")
        second = transfer(link, store, 2)
        _as_json(check, inlet, inlet.cursor, "after the second pull")
        if not first:
            raise fail(check, inlet, "its first pull gave no records, so the checkpoint "
                                     "checks cannot tell re-reading from reading nothing: "
                                     "give it data to read (or pass checkpoint=False)")
        with checking(check, inlet, f"seek({start!r})"):
            inlet.seek(start)
        again = transfer(link, store, 3)
        if _payloads(again) != _payloads(first):
            raise fail(check, inlet, f"seek({start!r}), the cursor before the first pull, "
                                     f"then a pull gave {_payloads(again)!r}, not what the "
                                     f"first pull gave, {_payloads(first)!r}: seek must "
                                     "move the inlet back to the cursor")
    finally:
        with checking(check, inlet, "Link.on_shutdown()"):
            link.on_shutdown()

    fresh = make_inlet(factory, gmd, check)
    resumed_store = _JsonStateStore(committed)
    resumed = make_link(fresh, CollectingOutlet(), state_store=resumed_store)
    with checking(check, fresh, "Link.on_start()"):
        resumed.on_start()
    try:
        inlet = fresh
        continued = transfer(resumed, resumed_store, 1)
    finally:
        with checking(check, fresh, "Link.on_shutdown()"):
            resumed.on_shutdown()
    if _payloads(continued) != _payloads(second):
        raise fail(check, fresh, f"a new inlet resumed from the cursor committed after the "
                                 f"first pull, {after_first!r}, pulled "
                                 f"{_payloads(continued)!r}, not what followed that cursor, "
                                 f"{_payloads(second)!r}: seek must continue after the "
                                 "cursor")
    return None


def check_inlet(
    factory: InletFactory,
    *,
    modes: Sequence[Mode] = MODES,
    transfers: int = 2,
    min_records: int = 0,
    allow_none_payload: bool = False,
    restart: bool = True,
    verify: Callable[[list[Record]], Any] | None = None,
    checkpoint: bool = True,
) -> ContractReport:
    """Run every inlet check on new inlets from ``factory``; raise AssertionError naming
    the first check that fails.

    :param factory: returns a new inlet on each call; called with ``metadata=<dict>`` when
        it accepts ``metadata`` (an inlet class does), else with no argument.
    :param modes: the ways to drive the inlet through a Link (see :data:`MODES`).
    :param transfers: transfers per mode.
    :param min_records: records each transfer must give at least.
    :param allow_none_payload: accept records whose payload is None.
    :param restart: check that the inlet can be started again after a shutdown.
    :param verify: called with the records of each mode, to check payloads.
    :param checkpoint: run the checkpoint contract (:func:`check_inlet_checkpoint`) on an
        inlet that overrides ``seek``; it needs records from the first pull.
    """
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"check_inlet(modes=...) items must be one of {MODES}, got {mode!r}")
    if isinstance(transfers, bool) or not isinstance(transfers, int) or transfers < 1:
        raise ValueError(f"check_inlet(transfers=...) must be a positive int, got {transfers!r}")

    def new() -> Inlet:
        return make_inlet(factory, GLOBAL_METADATA)

    first = new()
    report = ContractReport(describe(first))
    check_repr(first)
    report.passed.append("repr")
    report.passed.append("metadata")
    check_inlet_new_record(first, GLOBAL_METADATA)
    report.passed.append("new_record")
    check_inlet_lifecycle(new(), restart)
    report.passed.append("lifecycle")
    for mode in modes:
        inlet = new()
        if mode == "atransfer" and lifecycle_is_async(inlet):
            report.skipped[f"pull[{mode}]"] = ("async on_start/on_shutdown run on databay's "
                                              "shared loop, not the application's")
            continue
        report.records[mode] = check_inlet_pull(
            inlet, GLOBAL_METADATA, mode=mode, transfers=transfers, min_records=min_records,
            allow_none_payload=allow_none_payload, verify=verify,
        )
        report.passed.append(f"pull[{mode}]")
    if not checkpoint:
        report.skipped["checkpoint"] = "checkpoint=False"
    else:
        skipped = check_inlet_checkpoint(factory, GLOBAL_METADATA)
        if skipped is None:
            report.passed.append("checkpoint")
        else:
            report.skipped["checkpoint"] = skipped
    return report
