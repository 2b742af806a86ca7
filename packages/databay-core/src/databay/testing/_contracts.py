"""Base classes that turn the checks into one test per check, for pytest or unittest.

They import no test framework: a skipped check raises :class:`unittest.SkipTest`, which
pytest reports as a skip.
"""

from __future__ import annotations

import unittest
from collections.abc import Iterable, Sequence
from typing import Any

from databay.inlet import Inlet
from databay.outlet import Outlet
from databay.record import Record
from databay.testing._inlet import (
    GLOBAL_METADATA,
    check_inlet_checkpoint,
    check_inlet_lifecycle,
    check_inlet_new_record,
    check_inlet_pull,
    make_inlet,
)
from databay.testing._outlet import (
    DEFAULT_PAYLOADS,
    _not_verified,
    check_outlet_delivery,
    check_outlet_empty_batch,
    check_outlet_init,
    check_outlet_lifecycle,
    check_outlet_push,
    make_outlet,
)
from databay.testing._support import Mode, check_repr, lifecycle_is_async

__all__ = ["InletContract", "OutletContract"]

_ASYNC_LIFECYCLE = ("async on_start/on_shutdown run on databay's shared loop, "
                    "not the application's")


class InletContract:
    """Mix in to a test class (``class TestMyInlet(InletContract):``) and define
    :meth:`make_inlet`; every ``test_contract_*`` method then checks one point of the
    inlet contract. Tune with the class attributes; check payloads in
    :meth:`verify_records`. A fixture the factory needs can be set up in an autouse
    fixture or ``setup_method`` of the subclass.
    """

    #: Transfers per Link mode.
    transfers: int = 2
    #: Records each transfer must give at least.
    min_records: int = 0
    #: Accept records whose payload is None.
    allow_none_payload: bool = False
    #: Check the inlet can be started again after a shutdown.
    restartable: bool = True
    #: Run the checkpoint contract on an inlet that overrides ``seek`` (its first pull
    #: must give records).
    checkpoint: bool = True

    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        """Return a new inlet built with ``metadata`` as its global metadata."""
        raise NotImplementedError(f"{type(self).__name__} must define make_inlet(self, metadata)")

    def verify_records(self, records: list[Record]) -> None:
        """Check the records a Link made of your inlet's data. Default: nothing more."""

    def _new_inlet(self) -> Inlet:
        return make_inlet(self.make_inlet, GLOBAL_METADATA)

    def _pull(self, mode: Mode) -> None:
        inlet = self._new_inlet()
        if mode == "atransfer" and lifecycle_is_async(inlet):
            raise unittest.SkipTest(_ASYNC_LIFECYCLE)
        check_inlet_pull(inlet, GLOBAL_METADATA, mode=mode, transfers=self.transfers,
                         min_records=self.min_records,
                         allow_none_payload=self.allow_none_payload,
                         verify=self.verify_records)

    def test_contract_repr(self) -> None:
        check_repr(self._new_inlet())

    def test_contract_metadata(self) -> None:
        self._new_inlet()  # make_inlet checks that the metadata reached Inlet.__init__

    def test_contract_new_record(self) -> None:
        check_inlet_new_record(self._new_inlet(), GLOBAL_METADATA)

    def test_contract_lifecycle(self) -> None:
        check_inlet_lifecycle(self._new_inlet(), self.restartable)

    def test_contract_pull_sync(self) -> None:
        self._pull("sync")

    def test_contract_pull_async(self) -> None:
        self._pull("async")

    def test_contract_pull_atransfer(self) -> None:
        self._pull("atransfer")

    def test_contract_checkpoint(self) -> None:
        """The checkpoint contract; an inlet that overrides neither ``cursor`` nor
        ``seek`` (no checkpoints) passes it as it is."""
        if not self.checkpoint:
            raise unittest.SkipTest("checkpoint = False")
        check_inlet_checkpoint(self.make_inlet, GLOBAL_METADATA)


class OutletContract:
    """Mix in to a test class (``class TestMyOutlet(OutletContract):``) and define
    :meth:`make_outlet` and :meth:`read_back`; every ``test_contract_*`` method then
    checks one point of the outlet contract. Delivery is part of it: define
    :meth:`read_back` (or :meth:`verify_pushed`), or set :attr:`unverified` to say why
    the outlet's output cannot be read back; with none of them the push tests fail with
    "delivery not verified".
    """

    #: Transfers per Link mode.
    transfers: int = 2
    #: What each transfer pushes.
    payloads: Sequence[Any] = DEFAULT_PAYLOADS
    #: Check the outlet can be started again after a shutdown.
    restartable: bool = True
    #: Accept an outlet that changes the records it is given.
    allow_record_changes: bool = False
    #: Why delivery cannot be verified, for an outlet whose output cannot be read back
    #: (the delivery checks are then skipped with this reason).
    unverified: str | None = None

    def make_outlet(self) -> Outlet:
        """Return a new outlet."""
        raise NotImplementedError(f"{type(self).__name__} must define make_outlet(self)")

    def read_back(self, outlet: Outlet) -> Iterable[Any]:
        """Return what ``outlet`` (new from :meth:`make_outlet`, shut down by now) wrote,
        read from where it wrote it: one item per record, compared with
        :meth:`as_written` of each pushed payload, in any order."""
        raise NotImplementedError(f"{type(self).__name__} must define read_back(self, outlet)")

    def as_written(self, payload: Any) -> Any:
        """How a pushed payload looks when read back. Default: unchanged."""
        return payload

    def verify_pushed(self, outlet: Outlet, records: list[Record]) -> None:
        """Check that ``outlet`` (shut down by now) delivered ``records``. Default: nothing."""

    def _overrides(self, name: str) -> bool:
        return getattr(type(self), name) is not getattr(OutletContract, name)

    def _new_outlet(self) -> Outlet:
        return make_outlet(self.make_outlet)

    def _skip_if_async_lifecycle(self, outlet: Outlet, mode: Mode) -> None:
        if mode == "atransfer" and lifecycle_is_async(outlet):
            raise unittest.SkipTest(_ASYNC_LIFECYCLE)

    def _push(self, mode: Mode) -> None:
        outlet = self._new_outlet()
        self._skip_if_async_lifecycle(outlet, mode)
        reads_back = self._overrides("read_back")
        if not (reads_back or self._overrides("verify_pushed") or self.unverified):
            raise _not_verified(outlet)
        pushed = check_outlet_push(outlet, self.payloads, mode=mode,
                                   transfers=self.transfers, verify=self.verify_pushed,
                                   allow_record_changes=self.allow_record_changes)
        if reads_back:
            check_outlet_delivery(outlet, pushed, self.read_back, as_written=self.as_written,
                                  mode=mode)

    def _empty(self, mode: Mode) -> None:
        outlet = self._new_outlet()
        self._skip_if_async_lifecycle(outlet, mode)
        check_outlet_empty_batch(outlet, mode=mode)

    def test_contract_repr(self) -> None:
        check_repr(self._new_outlet())

    def test_contract_init(self) -> None:
        check_outlet_init(self._new_outlet())

    def test_contract_lifecycle(self) -> None:
        check_outlet_lifecycle(self._new_outlet(), self.restartable)

    def test_contract_empty_batch_sync(self) -> None:
        self._empty("sync")

    def test_contract_empty_batch_async(self) -> None:
        self._empty("async")

    def test_contract_empty_batch_atransfer(self) -> None:
        self._empty("atransfer")

    def test_contract_push_sync(self) -> None:
        self._push("sync")

    def test_contract_push_async(self) -> None:
        self._push("async")

    def test_contract_push_atransfer(self) -> None:
        self._push("atransfer")
