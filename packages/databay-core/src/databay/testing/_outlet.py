"""Contract checks for outlets."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from databay.outlet import Outlet
from databay.record import Record
from databay.testing._support import (
    MODES,
    AsyncRecordsInlet,
    ContractReport,
    Mode,
    RecordsInlet,
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
    "DEFAULT_PAYLOADS",
    "OutletFactory",
    "ReadBack",
    "check_outlet",
    "check_outlet_delivery",
    "check_outlet_empty_batch",
    "check_outlet_init",
    "check_outlet_lifecycle",
    "check_outlet_push",
    "make_outlet",
]

#: Called with no argument, it returns a new outlet each time.
OutletFactory = Callable[[], Outlet]

#: ``read_back(outlet)`` returns what ``outlet`` wrote, read from where it wrote it (its
#: file, table, collection, server): one item per record delivered, in any order. Each
#: outlet the checks use comes new from the factory, so it is only what that outlet wrote.
ReadBack = Callable[[Outlet], Iterable[Any]]

#: What the checks push by default: flat dicts with the same keys, which every kind of
#: outlet (files, CSV, documents, HTTP JSON) can take.
DEFAULT_PAYLOADS: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "alpha", "value": 1.5},
    {"id": 2, "name": "beta", "value": -2.0},
    {"id": 3, "name": "gamma", "value": 0.0},
)


def make_outlet(factory: OutletFactory, check: str = "factory") -> Outlet:
    """A new outlet from ``factory``, checked to be an :class:`~databay.Outlet`."""
    with checking(check, factory, "the outlet factory"):
        outlet = factory()
    if not isinstance(outlet, Outlet):
        raise fail(check, factory, f"the factory returned {describe(outlet)} "
                                   f"({type(outlet).__name__}), not an Outlet")
    return outlet


def check_outlet_init(outlet: Outlet) -> None:
    """The outlet's constructor ran ``Outlet.__init__``: ``processors`` is a list."""
    processors = getattr(outlet, "processors", None)
    if not isinstance(processors, list):
        raise fail("init", outlet, f"its processors attribute is {processors!r}, not a list; "
                                   "call super().__init__(processors) in __init__")


def check_outlet_lifecycle(outlet: Outlet, restart: bool = True) -> None:
    """See :func:`databay.testing.check_lifecycle`."""
    check_lifecycle(outlet, "lifecycle", restart)


def _records_inlet(mode: Mode, payloads: Sequence[Any]) -> RecordsInlet:
    cls = AsyncRecordsInlet if mode == "async" else RecordsInlet
    return cls(payloads, metadata={"databay.testing.global": "global value"})


def check_outlet_push(
    outlet: Outlet,
    payloads: Sequence[Any] = DEFAULT_PAYLOADS,
    *,
    mode: Mode = "sync",
    transfers: int = 2,
    verify: Callable[[Outlet, list[Record]], Any] | None = None,
    allow_record_changes: bool = False,
) -> list[Record]:
    """Push records made of ``payloads`` through a :class:`~databay.Link`, ``transfers``
    times (``mode``: see :data:`~databay.testing.MODES`).

    Each transfer delivers every record (none undelivered, no error) and leaves the
    records unchanged (with ``copy_records=False`` other outlets see the same objects),
    unless ``allow_record_changes`` (say so in the outlet's docs).
    ``verify(outlet, records)`` may then check what the outlet wrote; it runs after the
    outlet was shut down. Returns the records pushed.
    """
    check = f"push[{mode}]"
    pushed: list[Record] = []
    snapshots: list[Record] = []

    def snapshot(records: list[Record]) -> list[Record]:
        pushed.extend(records)
        snapshots.extend(Record(copy.deepcopy(r.payload), copy.deepcopy(r.metadata))
                         for r in records)
        return records

    link = make_link(_records_inlet(mode, payloads), outlet, processors=[snapshot])
    with checking(check, outlet, f"a Link transfer ({mode})"):
        results = run_link(link, mode, transfers)
    check_transfer_results(check, outlet, results)
    for result in results:
        delivered = result.pushed.get(outlet, 0)
        if delivered != len(payloads) or result.undelivered:
            raise fail(check, outlet, f"transfer {result.update} delivered {delivered} of "
                                      f"{len(payloads)} records (undelivered: "
                                      f"{result.undelivered!r})")
    for now, then in zip(pushed, snapshots, strict=True):
        if allow_record_changes:
            break
        if now.payload != then.payload or now.metadata != then.metadata:
            raise fail(check, outlet, f"push changed a record it was given: {then!r} became "
                                      f"{now!r}; copy it before changing it")
    if outlet.active:
        raise fail(check, outlet, "still active after the link shut down")
    if verify is not None:
        with checking(check, outlet, "verify(outlet, records)"):
            verify(outlet, pushed)
    return pushed


def _unmatched(expected: list[Any], got: list[Any]) -> tuple[list[Any], list[Any]]:
    """The items of ``expected`` not in ``got`` and those of ``got`` not in ``expected``,
    counting repeats (payloads need not be hashable)."""
    left = list(got)
    missing = []
    for item in expected:
        for i, other in enumerate(left):
            if other == item:
                del left[i]
                break
        else:
            missing.append(item)
    return missing, left


def _some(items: list[Any], most: int = 3) -> str:
    shown = ", ".join(repr(i) for i in items[:most])
    return f"[{shown}{', ...' if len(items) > most else ''}] ({len(items)})"


def check_outlet_delivery(
    outlet: Outlet,
    records: Sequence[Record],
    read_back: ReadBack,
    *,
    as_written: Callable[[Any], Any] | None = None,
    mode: Mode = "sync",
) -> None:
    """What ``read_back(outlet)`` finds is exactly what was pushed: one item per record,
    equal to ``as_written(record.payload)`` (default: the payload itself; e.g.
    ``lambda p: {k: str(v) for k, v in p.items()}`` for CSV, which reads back strings),
    in any order. Catches an outlet that reports success but wrote some records, none,
    or others."""
    check = f"delivery[{mode}]"
    with checking(check, outlet, "read_back(outlet)"):
        got = list(read_back(outlet))
    with checking(check, outlet, "as_written(payload)"):
        expected = [as_written(r.payload) if as_written is not None else r.payload
                    for r in records]
    missing, unexpected = _unmatched(expected, got)
    if missing or unexpected:
        parts = [f"{len(expected)} records were pushed and reported delivered, but reading "
                 f"back what the outlet wrote found {len(got)}"]
        if missing:
            parts.append(f"not written: {_some(missing)}")
        if unexpected:
            parts.append(f"written but not pushed (or written differently): "
                         f"{_some(unexpected)}")
        raise fail(check, outlet, "; ".join(parts))


def _not_verified(outlet: object) -> AssertionError:
    return fail("delivery", outlet,
                "delivery not verified: pass read_back=<a function returning what the "
                "outlet wrote> (or verify=<a function checking it>), so the contract can "
                "tell an outlet that writes every record from one that writes some or none; "
                "for an outlet whose output cannot be read back, say why with "
                "unverified='...'")


def check_outlet_empty_batch(outlet: Outlet, *, mode: Mode = "sync") -> None:
    """A transfer that pulled nothing still calls ``push([])``; the outlet accepts it."""
    check = f"empty_batch[{mode}]"
    link = make_link(_records_inlet(mode, []), outlet)
    with checking(check, outlet, f"push([]) in a Link transfer ({mode})"):
        results = run_link(link, mode, 1)
    check_transfer_results(check, outlet, results)
    if results[0].undelivered:
        raise fail(check, outlet, f"an empty batch was reported undelivered: "
                                  f"{results[0].undelivered!r}")


def check_outlet(
    factory: OutletFactory,
    *,
    read_back: ReadBack | None = None,
    as_written: Callable[[Any], Any] | None = None,
    verify: Callable[[Outlet, list[Record]], Any] | None = None,
    unverified: str | None = None,
    payloads: Sequence[Any] = DEFAULT_PAYLOADS,
    modes: Sequence[Mode] = MODES,
    transfers: int = 2,
    restart: bool = True,
    allow_record_changes: bool = False,
) -> ContractReport:
    """Run every outlet check on new outlets from ``factory``; raise AssertionError
    naming the first check that fails.

    Delivery is part of the contract: give ``read_back`` (or ``verify``), or say with
    ``unverified`` why the outlet's output cannot be read back; with none of them the
    ``delivery`` check fails ("delivery not verified").

    :param factory: returns a new outlet on each call, with no argument.
    :param read_back: ``read_back(outlet)`` returns what the outlet wrote (see
        :data:`ReadBack`); after each mode it must match what was pushed
        (:func:`check_outlet_delivery`).
    :param as_written: how a pushed payload looks when read back (default: unchanged).
    :param verify: ``verify(outlet, records)`` after each mode, for checks of your own
        (what was written, how); counts as verifying delivery when there is no
        ``read_back``.
    :param unverified: why delivery cannot be verified (the ``delivery`` checks are then
        reported skipped with this reason).
    :param payloads: what each transfer pushes (default :data:`DEFAULT_PAYLOADS`).
    :param modes: the ways to drive the outlet through a Link (see :data:`MODES`).
    :param transfers: transfers per mode.
    :param restart: check that the outlet can be started again after a shutdown.
    :param allow_record_changes: accept an outlet that changes the records it is given
        (harmless with ``Link(copy_records=True)``, the default).
    """
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"check_outlet(modes=...) items must be one of {MODES}, "
                             f"got {mode!r}")
    if isinstance(transfers, bool) or not isinstance(transfers, int) or transfers < 1:
        raise ValueError(f"check_outlet(transfers=...) must be a positive int, "
                         f"got {transfers!r}")
    if unverified is not None and (not isinstance(unverified, str) or not unverified.strip()):
        raise ValueError(f"check_outlet(unverified=...) must say why delivery cannot be "
                         f"verified, got {unverified!r}")
    if unverified is not None and read_back is not None:
        raise ValueError("check_outlet: pass read_back=... or unverified=..., not both")

    def new() -> Outlet:
        return make_outlet(factory)

    first = new()
    if read_back is None and verify is None and unverified is None:
        raise _not_verified(first)
    report = ContractReport(describe(first))
    check_repr(first)
    report.passed.append("repr")
    check_outlet_init(first)
    report.passed.append("init")
    check_outlet_lifecycle(new(), restart)
    report.passed.append("lifecycle")
    for mode in modes:
        outlet = new()
        if mode == "atransfer" and lifecycle_is_async(outlet):
            why = "async on_start/on_shutdown run on databay's shared loop, not the application's"
            for name in ("empty_batch", "push", "delivery"):
                report.skipped[f"{name}[{mode}]"] = why
            continue
        check_outlet_empty_batch(outlet, mode=mode)
        report.passed.append(f"empty_batch[{mode}]")
        outlet = new()
        pushed = check_outlet_push(outlet, payloads, mode=mode, transfers=transfers,
                                   verify=verify, allow_record_changes=allow_record_changes)
        report.passed.append(f"push[{mode}]")
        if read_back is not None:
            check_outlet_delivery(outlet, pushed, read_back, as_written=as_written, mode=mode)
            report.passed.append(f"delivery[{mode}]")
        elif verify is not None:
            report.passed.append(f"delivery[{mode}]")  # verify(outlet, records) checked it
        else:
            report.skipped[f"delivery[{mode}]"] = f"not verified: {unverified}"
    return report
