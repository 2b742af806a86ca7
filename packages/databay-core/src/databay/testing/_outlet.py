"""Contract checks for outlets."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
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
    "check_outlet",
    "check_outlet_empty_batch",
    "check_outlet_init",
    "check_outlet_lifecycle",
    "check_outlet_push",
    "make_outlet",
]

#: Called with no argument, it returns a new outlet each time.
OutletFactory = Callable[[], Outlet]

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
    payloads: Sequence[Any] = DEFAULT_PAYLOADS,
    modes: Sequence[Mode] = MODES,
    transfers: int = 2,
    restart: bool = True,
    verify: Callable[[Outlet, list[Record]], Any] | None = None,
    allow_record_changes: bool = False,
) -> ContractReport:
    """Run every outlet check on new outlets from ``factory``; raise AssertionError
    naming the first check that fails.

    :param factory: returns a new outlet on each call, with no argument.
    :param payloads: what each transfer pushes (default :data:`DEFAULT_PAYLOADS`).
    :param modes: the ways to drive the outlet through a Link (see :data:`MODES`).
    :param transfers: transfers per mode.
    :param restart: check that the outlet can be started again after a shutdown.
    :param verify: ``verify(outlet, records)`` after each mode, to check what was written.
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

    def new() -> Outlet:
        return make_outlet(factory)

    first = new()
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
            report.skipped[f"push[{mode}]"] = ("async on_start/on_shutdown run on databay's "
                                              "shared loop, not the application's")
            report.skipped[f"empty_batch[{mode}]"] = report.skipped[f"push[{mode}]"]
            continue
        check_outlet_empty_batch(outlet, mode=mode)
        report.passed.append(f"empty_batch[{mode}]")
        check_outlet_push(new(), payloads, mode=mode, transfers=transfers, verify=verify,
                          allow_record_changes=allow_record_changes)
        report.passed.append(f"push[{mode}]")
    return report
