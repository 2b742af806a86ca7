"""The contract checks catch what they claim to catch, with messages that say so."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from databay import Inlet, Outlet, Record, Update
from databay.errors import TransferError
from databay.inlets import NullInlet
from databay.testing import (
    InletContract,
    OutletContract,
    check_inlet,
    check_inlet_pull,
    check_outlet,
)

# -- inlets that keep the contract --------------------------------------------------


class AsyncInlet(Inlet):
    """An async pull returning raw values and made records."""

    async def pull(self, update: Update) -> list[Any]:
        await asyncio.sleep(0)
        return [update.transfer_number, self.new_record("made", {"own": 1})]


class LoopBoundInlet(Inlet):
    """Opens a loop-bound resource in an async on_start and needs the same loop in pull."""

    async def on_start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[int] = asyncio.Queue()

    async def pull(self, update: Update) -> int:
        assert asyncio.get_running_loop() is self.loop
        await self.queue.put(update.transfer_number)
        return await self.queue.get()

    async def on_shutdown(self) -> None:
        del self.queue


def test_an_async_inlet_passes_in_every_mode() -> None:
    report = check_inlet(AsyncInlet, min_records=2)
    assert list(report.skipped) == ["checkpoint"]  # it does not override seek
    for records in report.records.values():
        assert [r.payload for r in records] == [0, "made", 1, "made"]
        assert records[1].metadata["own"] == 1


def test_async_lifecycle_passes_and_skips_an_application_loop() -> None:
    report = check_inlet(LoopBoundInlet, min_records=1)
    assert "pull[sync]" in report.passed and "pull[async]" in report.passed
    assert list(report.skipped) == ["pull[atransfer]", "checkpoint"]


def test_a_zero_argument_factory_gets_the_metadata_added() -> None:
    report = check_inlet(lambda: NullInlet(metadata={"own": 1}))
    assert "metadata" in report.passed


# -- inlets that break it -----------------------------------------------------------


class DropsMetadata(Inlet):
    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        super().__init__()

    def pull(self, update: Update) -> int:
        return 1


class BuildsRecordsByHand(Inlet):
    def pull(self, update: Update) -> Record:
        return Record("raw", {"source": "me"})


class ChangesItsMetadata(Inlet):
    def pull(self, update: Update) -> int:
        self.metadata["pulls"] = self.metadata.get("pulls", 0) + 1
        return 1


class SharesMetadata(Inlet):
    def pull(self, update: Update) -> list[Record]:
        shared = {**self.metadata, "__inlet__": str(self)}
        return [Record(1, shared), Record(2, shared)]


class HandsOutItsMetadata(Inlet):
    def pull(self, update: Update) -> Record:
        self.metadata["__inlet__"] = str(self)
        return Record(1, self.metadata)


class BadRepr(Inlet):
    def pull(self, update: Update) -> None:
        return None

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class StartsEveryTime(Inlet):
    def try_start(self) -> None:
        self.on_start()
        self._active = True

    def pull(self, update: Update) -> int:
        return 1


class CannotRestart(Inlet):
    def on_start(self) -> None:
        if getattr(self, "started", False):
            raise RuntimeError("already used")
        self.started = True

    def pull(self, update: Update) -> int:
        return 1


class NonePayloads(Inlet):
    def pull(self, update: Update) -> list[Any]:
        return [None]


class Raises(Inlet):
    def pull(self, update: Update) -> int:
        raise ConnectionError("source down")


class NewRecordDropsGlobal(Inlet):
    def new_record(self, payload: Any, metadata: dict[str, Any] | None = None) -> Record:
        return Record(payload, {**(metadata or {}), "__inlet__": str(self)})

    def pull(self, update: Update) -> int:
        return 1


class NewRecordChangesLocal(Inlet):
    def new_record(self, payload: Any, metadata: dict[str, Any] | None = None) -> Record:
        record = super().new_record(payload, metadata)
        if metadata is not None:
            metadata["seen"] = True
        return record

    def pull(self, update: Update) -> int:
        return 1


@pytest.mark.parametrize(("factory", "kwargs", "check", "message"), [
    (DropsMetadata, {}, "factory", "super().__init__(metadata)"),
    (BuildsRecordsByHand, {}, "pull[sync]", "lacks the inlet's global metadata"),
    (ChangesItsMetadata, {}, "pull[sync]", "changed the inlet's global metadata"),
    (SharesMetadata, {}, "pull[sync]", "share one metadata dict"),
    (HandsOutItsMetadata, {}, "pull[sync]", "shares the inlet's metadata dict"),
    (BadRepr, {}, "repr", "repr() of a BadRepr raised RuntimeError: no repr"),
    (StartsEveryTime, {}, "lifecycle", "on_start() ran 2 times"),
    (CannotRestart, {}, "lifecycle", "try_start() raised RuntimeError: already used"),
    (NonePayloads, {}, "pull[sync]", "None payload"),
    (NullInlet, {"min_records": 1}, "pull[sync]", "gave 0 records, expected at least 1"),
    (Raises, {}, "pull[sync]", "raised ConnectionError: source down"),
    (NewRecordDropsGlobal, {}, "new_record", "lacks the inlet's global metadata"),
    (NewRecordChangesLocal, {}, "new_record", "changed the metadata it was given"),
    (lambda: "not an inlet", {}, "factory", "not an Inlet"),
])
def test_a_broken_inlet_fails_the_named_check(
    factory: Any, kwargs: dict[str, Any], check: str, message: str
) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)) as caught:
        check_inlet(factory, **kwargs)
    assert str(caught.value).startswith(f"[{check}] ")


class DropsNothing(Inlet):
    def pull(self, update: Update) -> int:
        return 7


def test_an_outlet_may_be_allowed_to_change_records() -> None:
    report = check_outlet(ChangesRecords, allow_record_changes=True, modes=["sync"],
                          unverified="discards records")
    assert "push[sync]" in report.passed


def test_options_that_relax_checks() -> None:
    assert "lifecycle" in check_inlet(CannotRestart, restart=False).passed
    report = check_inlet(NonePayloads, allow_none_payload=True, modes=["sync"])
    assert [r.payload for r in report.records["sync"]] == [None, None]


def test_verify_failures_are_reported_with_the_check() -> None:
    def no_records_please(records: list[Record]) -> None:
        raise ValueError(f"{len(records)} records")

    with pytest.raises(AssertionError, match=r"^\[pull\[sync\]\] .*verify\(records\) raised "
                                             r"ValueError: 2 records"):
        check_inlet(DropsNothing, verify=no_records_please, modes=["sync"])


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"check_inlet\(modes=...\).*'threads'"):
        check_inlet(NullInlet, modes=["threads"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"check_outlet\(transfers=...\).*0"):
        check_outlet(NullOutletForTests, transfers=0, unverified="discards records")


def test_a_pull_check_on_an_instance_returns_the_records() -> None:
    records = check_inlet_pull(DropsNothing({"g": 1}), {"g": 1}, mode="async", transfers=3)
    assert [(r.payload, r.metadata["g"]) for r in records] == [(7, 1)] * 3


# -- outlets ------------------------------------------------------------------------


class NullOutletForTests(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        return None


class AsyncKeepingOutlet(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Any] = []

    async def on_start(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def push(self, records: list[Record], update: Update) -> None:
        assert asyncio.get_running_loop() is self.loop
        self.kept += [r.payload for r in records]


class ForgetsInit(Outlet):
    def __init__(self) -> None:
        pass

    def push(self, records: list[Record], update: Update) -> None:
        return None


class FailsOnEmpty(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        records[0].payload  # noqa: B018


class ChangesRecords(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        for record in records:
            record.metadata["written"] = True


class RefusesRecords(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        if records:
            raise TransferError("disk full", undelivered=len(records))


def test_an_async_outlet_passes() -> None:
    def kept_everything(outlet: Outlet, records: list[Record]) -> None:
        assert isinstance(outlet, AsyncKeepingOutlet)
        assert outlet.kept == [r.payload for r in records]
        assert len(records) == 6

    report = check_outlet(AsyncKeepingOutlet, verify=kept_everything)
    assert set(report.skipped) == {"push[atransfer]", "empty_batch[atransfer]",
                                   "delivery[atransfer]"}
    assert "push[async]" in report.passed and "push[sync]" in report.passed


@pytest.mark.parametrize(("factory", "check", "message"), [
    (ForgetsInit, "init", "call super().__init__(processors)"),
    (FailsOnEmpty, "empty_batch[sync]", "raised IndexError"),
    (ChangesRecords, "push[sync]", "push changed a record it was given"),
    (RefusesRecords, "push[sync]", "disk full"),
    (lambda: NullInlet(), "factory", "not an Outlet"),
])
def test_a_broken_outlet_fails_the_named_check(factory: Any, check: str, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)) as caught:
        check_outlet(factory, unverified="discards records")
    assert str(caught.value).startswith(f"[{check}] ")


# -- the base classes -----------------------------------------------------------------


class ContractWithoutFactory(InletContract):
    pass


class OutletContractWithoutFactory(OutletContract):
    pass


def test_a_contract_class_without_a_factory_says_what_to_define() -> None:
    with pytest.raises(AssertionError, match=r"must define make_inlet\(self, metadata\)"):
        ContractWithoutFactory().test_contract_new_record()
    with pytest.raises(AssertionError, match=r"must define make_outlet\(self\)"):
        OutletContractWithoutFactory().test_contract_push_sync()


class BrokenContract(InletContract):
    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        return ChangesItsMetadata(metadata)


def test_a_contract_class_fails_on_a_broken_inlet() -> None:
    contract = BrokenContract()
    contract.test_contract_new_record()  # new_record is fine
    with pytest.raises(AssertionError, match=r"^\[pull\[async\]\]"):
        contract.test_contract_pull_async()


class LoopBoundContract(InletContract):
    min_records = 1

    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        return LoopBoundInlet(metadata)


def test_a_contract_class_skips_atransfer_for_async_lifecycles() -> None:
    import unittest

    contract = LoopBoundContract()
    contract.test_contract_pull_async()
    with pytest.raises(unittest.SkipTest):
        contract.test_contract_pull_atransfer()


def test_importing_the_kit_does_not_import_pytest() -> None:
    import subprocess
    import sys

    code = "import sys, databay.testing; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"
