"""Suite factories: a whole contract as one test class, made in one line (the way the
Meltano SDK's ``get_tap_test_class`` works)::

    TestMyOutlet = outlet_tests(lambda tmp_path: MyOutlet(tmp_path / "out"), read_back=...)

A factory's parameters without a default (other than those the kit passes: ``metadata``
for inlets) name pytest fixtures, which the test class requests for each test. pytest is
imported only then, when a factory names fixtures.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from databay.inlet import Inlet
from databay.outlet import Outlet
from databay.record import Record
from databay.testing._contracts import InletContract, OutletContract
from databay.testing._inlet import _accepts_metadata
from databay.testing._outlet import DEFAULT_PAYLOADS, ReadBack

__all__ = ["fixture_names", "inlet_tests", "outlet_tests"]


def fixture_names(factory: Callable[..., Any], passed: Iterable[str] = ()) -> list[str]:
    """The parameters of ``factory`` that name pytest fixtures: those without a default
    that the kit does not pass itself (``passed``)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    skip = set(passed)
    return [p.name for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.default is p.empty and p.name not in skip]


def with_fixtures(cls: type, names: list[str]) -> None:
    """Give the test class ``cls`` an autouse fixture that requests ``names`` and keeps
    their values in ``self._databay_fixtures``."""
    cls._databay_fixtures = {}  # type: ignore[attr-defined]
    if not names:
        return
    import pytest

    def _databay_request_fixtures(self: Any, request: Any) -> None:
        self._databay_fixtures = {name: request.getfixturevalue(name) for name in names}

    cls._databay_request_fixtures = pytest.fixture(autouse=True)(  # type: ignore[attr-defined]
        _databay_request_fixtures)


def _name(cls: type, name: str | None, factory: Any, kind: str) -> None:
    base = getattr(factory, "__name__", "")
    if not base.isidentifier() or base == "<lambda>":
        base = kind
    cls.__name__ = cls.__qualname__ = name or f"Test{base}Contract"


def inlet_tests(
    factory: Callable[..., Inlet],
    *,
    name: str | None = None,
    min_records: int = 0,
    transfers: int = 2,
    allow_none_payload: bool = False,
    restartable: bool = True,
    checkpoint: bool = True,
    verify: Callable[[list[Record]], Any] | None = None,
) -> type[InletContract]:
    """A test class running the whole inlet contract (one test per check) on inlets from
    ``factory``; assign it to a ``Test...`` name in a test module. ``factory`` gets
    ``metadata=`` when it accepts it, and the fixtures it names. The options are those
    of :class:`InletContract` (``verify`` is its ``verify_records``)."""
    fixtures = fixture_names(factory, ("metadata",))
    passes_metadata = _accepts_metadata(factory)

    class Suite(InletContract):
        def verify_records(self, records: list[Record]) -> None:
            if verify is not None:
                verify(records)

    def make_with_metadata(self: Any, metadata: dict[str, Any]) -> Inlet:
        return factory(metadata=metadata, **self._databay_fixtures)

    def make_without(self: Any) -> Inlet:  # the kit adds the metadata afterwards
        return factory(**self._databay_fixtures)

    Suite.make_inlet = (make_with_metadata if passes_metadata  # type: ignore[assignment,method-assign]
                        else make_without)
    Suite.min_records = min_records
    Suite.transfers = transfers
    Suite.allow_none_payload = allow_none_payload
    Suite.restartable = restartable
    Suite.checkpoint = checkpoint
    with_fixtures(Suite, fixtures)
    _name(Suite, name, factory, "Inlet")
    return Suite


def outlet_tests(
    factory: Callable[..., Outlet],
    *,
    read_back: ReadBack | None = None,
    as_written: Callable[[Any], Any] | None = None,
    unverified: str | None = None,
    verify: Callable[[Outlet, list[Record]], Any] | None = None,
    name: str | None = None,
    payloads: Sequence[Any] = DEFAULT_PAYLOADS,
    transfers: int = 2,
    restartable: bool = True,
    allow_record_changes: bool = False,
) -> type[OutletContract]:
    """A test class running the whole outlet contract (one test per check) on outlets
    from ``factory``, which gets the fixtures it names. Delivery is checked through
    ``read_back(outlet)`` (or ``verify``), unless ``unverified`` says why it cannot be;
    see :func:`~databay.testing.check_outlet`."""
    if read_back is None and verify is None and unverified is None:
        raise TypeError("outlet_tests(...) needs read_back=<a function returning what the "
                        "outlet wrote> (or verify=...), or unverified='why it cannot be read "
                        "back'")
    if read_back is not None and unverified is not None:
        raise TypeError("outlet_tests(...): pass read_back=... or unverified=..., not both")
    fixtures = fixture_names(factory)

    class Suite(OutletContract):
        def make_outlet(self) -> Outlet:
            return factory(**self._databay_fixtures)  # type: ignore[attr-defined,no-any-return]

        def as_written(self, payload: Any) -> Any:
            return payload if as_written is None else as_written(payload)

    if read_back is not None:
        def read_back_method(self: Any, outlet: Outlet) -> Iterable[Any]:
            assert read_back is not None
            return read_back(outlet)

        Suite.read_back = read_back_method  # type: ignore[method-assign]
    if verify is not None:
        def verify_pushed(self: Any, outlet: Outlet, records: list[Record]) -> None:
            assert verify is not None
            verify(outlet, records)

        Suite.verify_pushed = verify_pushed  # type: ignore[method-assign]
    Suite.unverified = unverified
    Suite.payloads = payloads
    Suite.transfers = transfers
    Suite.restartable = restartable
    Suite.allow_record_changes = allow_record_changes
    with_fixtures(Suite, fixtures)
    _name(Suite, name, factory, "Outlet")
    return Suite
