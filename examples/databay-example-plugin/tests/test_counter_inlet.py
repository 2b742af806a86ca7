"""Tests of CounterInlet: the databay contract checks, then its own behaviour."""

from __future__ import annotations

from typing import Any

import pytest
from databay import Link, Record
from databay.testing import (
    CollectingOutlet,
    InletContract,
    check_inlet,
    check_plugin,
    check_plugin_loads_lazily,
)
from databay_example import CounterInlet


class TestCounterInletContract(InletContract):
    """Every point of the inlet contract, one test each."""

    min_records = 1  # every pull gives a number

    def make_inlet(self, metadata: dict[str, Any]) -> CounterInlet:
        return CounterInlet(start=10, metadata=metadata)

    def verify_records(self, records: list[Record]) -> None:
        # a new inlet per check, two transfers each
        assert [r.payload for r in records] == [10, 11]


def test_the_contract_in_one_call() -> None:
    report = check_inlet(lambda metadata: CounterInlet(step=5, metadata=metadata),
                         min_records=1)
    assert [r.payload for r in report.records["sync"]] == [0, 5]


def test_found_through_databay_inlets() -> None:
    info = check_plugin("example", provides={"inlet": ["CounterInlet"]})
    assert info.distribution == "databay-example"
    from databay.inlets import CounterInlet as registered

    assert registered is CounterInlet


def test_loading_the_plugin_does_not_import_the_inlet() -> None:
    check_plugin_loads_lazily(["databay_example._counter"])


def test_counts_from_start_again_after_a_restart() -> None:
    outlet = CollectingOutlet()
    link = Link(CounterInlet(start=3), outlet, interval=1)
    for _ in range(2):
        link.on_start()
        link.transfer()
        link.transfer()
        link.on_shutdown()
    assert [r.payload for r in outlet.records] == [3, 4, 3, 4]


@pytest.mark.parametrize(("args", "error"), [
    ({"step": 0}, ValueError),
    ({"step": 1.5}, TypeError),
    ({"start": "1"}, TypeError),
])
def test_bad_arguments_are_refused(args: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match="CounterInlet"):
        CounterInlet(**args)
