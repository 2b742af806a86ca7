"""Tests of CounterInlet: the databay contract checks, then its own behaviour.

``databay.testing`` and the ``databay_check`` fixture come with databay-core (its pytest
plugin is installed with it); nothing to import or configure for the fixture.
"""

from __future__ import annotations

from typing import Any

import pytest
from databay import Link, Record
from databay.testing import CollectingOutlet, inlet_tests
from databay_example import CounterInlet


def first_two(records: list[Record]) -> None:
    # a new inlet per check, two transfers each
    assert [r.payload for r in records] == [10, 11]


# Every point of the inlet contract, checkpoints included, one test each.
TestCounterInletContract = inlet_tests(
    lambda metadata: CounterInlet(start=10, metadata=metadata), min_records=1,
    verify=first_two,
)


def test_the_contract_in_one_call(databay_check: Any) -> None:
    report = databay_check.inlet(lambda metadata: CounterInlet(step=5, metadata=metadata),
                                 min_records=1)
    assert [r.payload for r in report.records["sync"]] == [0, 5]
    assert not report.skipped


def test_found_through_databay_inlets(databay_check: Any) -> None:
    info = databay_check.plugin("example", provides={"inlet": ["CounterInlet"]})
    assert info.distribution == "databay-example"
    from databay.inlets import CounterInlet as registered

    assert registered is CounterInlet


def test_loading_the_plugin_does_not_import_the_inlet(databay_check: Any) -> None:
    databay_check.loads_lazily(["databay_example._counter"])


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
