"""The outlet contract checks delivery: what the outlet wrote is read back and must be
what was pushed (issue 13, point 8)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from databay import Outlet, Record, Update
from databay.testing import MODES, OutletContract, check_outlet, check_outlet_delivery


class KeepingOutlet(Outlet):
    """Keeps every payload it is given: its 'storage' is ``kept``."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Any] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.kept += [r.payload for r in records]


class WritesOneOfEach(KeepingOutlet):
    """Reports success, writes only the first record of each batch."""

    def push(self, records: list[Record], update: Update) -> None:
        self.kept += [r.payload for r in records[:1]]


class WritesNothing(KeepingOutlet):
    def push(self, records: list[Record], update: Update) -> None:
        return None


class WritesOthers(KeepingOutlet):
    def push(self, records: list[Record], update: Update) -> None:
        self.kept += [{**r.payload, "name": "?"} for r in records]


class KeepsStrings(KeepingOutlet):
    def push(self, records: list[Record], update: Update) -> None:
        self.kept += [str(r.payload) for r in records]


def kept(outlet: Outlet) -> list[Any]:
    assert isinstance(outlet, KeepingOutlet)
    return outlet.kept


def test_an_outlet_that_writes_everything_passes_with_its_read_back() -> None:
    report = check_outlet(KeepingOutlet, read_back=kept)
    assert [c for c in report.passed if c.startswith("delivery")] == [
        f"delivery[{m}]" for m in MODES]
    assert check_outlet(KeepsStrings, read_back=kept, as_written=str).passed == report.passed


@pytest.mark.parametrize(("factory", "message"), [
    (WritesOneOfEach, "6 records were pushed and reported delivered, but reading back what "
                      "the outlet wrote found 2; not written: [{'id': 2, 'name': 'beta', "
                      "'value': -2.0}, {'id': 3, 'name': 'gamma', 'value': 0.0}, {'id': 2, "
                      "'name': 'beta', 'value': -2.0}, ...] (4)"),
    (WritesNothing, "found 0; not written: "),
    (WritesOthers, "written but not pushed (or written differently): [{'id': 1, "
                   "'name': '?', 'value': 1.5}"),
])
def test_an_outlet_that_does_not_write_what_it_was_given_fails_delivery(
        factory: Any, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)) as caught:
        check_outlet(factory, read_back=kept)
    assert str(caught.value).startswith("[delivery[sync]] ")


def test_without_a_read_back_delivery_is_not_verified_and_says_what_to_pass() -> None:
    with pytest.raises(AssertionError) as caught:
        check_outlet(WritesNothing)
    message = str(caught.value)
    assert message.startswith("[delivery] WritesNothing")
    assert "delivery not verified: pass read_back=" in message
    assert "unverified='...'" in message


def test_unverified_says_why_and_reports_the_delivery_checks_skipped() -> None:
    report = check_outlet(WritesNothing, unverified="writes to a device we cannot read",
                          modes=["sync"])
    assert report.skipped == {"delivery[sync]": "not verified: writes to a device we "
                                                "cannot read"}
    assert "delivery[sync]" not in report.passed
    with pytest.raises(ValueError, match=r"unverified=...\) must say why"):
        check_outlet(WritesNothing, unverified=" ")
    with pytest.raises(ValueError, match="read_back=... or unverified=..., not both"):
        check_outlet(KeepingOutlet, read_back=kept, unverified="no")


def test_a_read_back_that_raises_fails_delivery_naming_it() -> None:
    def broken(outlet: Outlet) -> list[Any]:
        raise OSError("cannot open the file")

    with pytest.raises(AssertionError, match=r"^\[delivery\[sync\]\] .*read_back\(outlet\) "
                                             r"raised OSError: cannot open the file"):
        check_outlet(KeepingOutlet, read_back=broken)


def test_check_outlet_delivery_on_its_own() -> None:
    outlet = KeepingOutlet()
    outlet.kept = [1, 2, 2]
    check_outlet_delivery(outlet, [Record(2), Record(1), Record(2)], kept)
    with pytest.raises(AssertionError, match=r"^\[delivery\[async\]\] .*found 3; "
                                             r"not written: \[3\] \(1\); written but not "
                                             r"pushed .*\[2\] \(1\)"):
        check_outlet_delivery(outlet, [Record(1), Record(2), Record(3)], kept, mode="async")


class KeepingContract(OutletContract):
    def make_outlet(self) -> Outlet:
        return KeepingOutlet()

    def read_back(self, outlet: Outlet) -> list[Any]:
        return kept(outlet)


class TestKeepingOutletContract(KeepingContract):
    """Runs as tests: an outlet that writes everything passes every contract test."""


class BrokenContract(KeepingContract):
    def make_outlet(self) -> Outlet:
        return WritesOneOfEach()


class UnreadContract(OutletContract):
    def make_outlet(self) -> Outlet:
        return WritesNothing()


class UnverifiedContract(UnreadContract):
    unverified = "a sink"


def test_the_contract_class_checks_delivery_through_read_back() -> None:
    with pytest.raises(AssertionError, match=r"^\[delivery\[async\]\] .*found 2"):
        BrokenContract().test_contract_push_async()
    with pytest.raises(AssertionError, match=r"^\[delivery\] .*delivery not verified"):
        UnreadContract().test_contract_push_sync()
    UnverifiedContract().test_contract_push_sync()
