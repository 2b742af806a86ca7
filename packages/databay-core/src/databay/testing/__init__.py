"""Contract checks for inlet, outlet and planner authors (``pip install databay-core``
ships them, with a pytest plugin).

Four ways to use them; all raise :class:`AssertionError` naming the check that failed,
and none needs pytest to import (pytest runs them all):

* Suite factories, one line per class (a factory's parameters without a default name
  pytest fixtures)::

      from databay.testing import inlet_tests, outlet_tests

      TestMyInlet = inlet_tests(lambda metadata: MyInlet("arg", metadata=metadata))
      TestMyOutlet = outlet_tests(lambda tmp_path: MyOutlet(tmp_path / "out"),
                                  read_back=read_what_was_written)

* The ``databay_check`` fixture of databay-core's pytest plugin::

      def test_my_outlet(databay_check, tmp_path):
          databay_check.outlet(lambda: MyOutlet(tmp_path / "out"), read_back=read_rows)

* Functions, for any test::

      from databay.testing import check_inlet, check_outlet

      def test_my_inlet():
          check_inlet(lambda metadata: MyInlet("arg", metadata=metadata), min_records=1)

* Base classes, one test per check::

      from databay.testing import InletContract

      class TestMyInlet(InletContract):
          min_records = 1

          def make_inlet(self, metadata):
              return MyInlet("arg", metadata=metadata)

What is checked, for sync and ``async`` nodes alike: ``repr``/``str`` work; an inlet
passes ``metadata`` on to ``Inlet.__init__`` and ``new_record`` merges global and local
metadata without changing or sharing either; ``try_start``/``try_shutdown`` run
``on_start``/``on_shutdown`` once each (and again after a restart); the node works in a
:class:`~databay.Link` driven three ways (:data:`MODES`): ``transfer()`` with a sync
partner, ``transfer()`` with an async partner, and ``await atransfer()`` in an
application's own loop. Records carry the global metadata and ``'__inlet__'`` in a dict
of their own; an outlet accepts empty batches, delivers every record and does not change
the records it is given. Delivery is read back (``check_outlet(read_back=...)``: what
the outlet wrote must be what was pushed), and an inlet that overrides ``seek`` keeps
the checkpoint contract (:func:`check_inlet_checkpoint`).

:func:`check_plugin` checks a plugin's registration: it was discovered and loaded, has
no misspelt hook, and every name it registers imports as a class of its kind;
:func:`check_plugin_loads_lazily` checks that discovering plugins imports no heavy library.

Planner authors: :mod:`databay.testing.planners` holds the planner contract.
The original's ``InletTester`` (a ``unittest.TestCase``) is in
:mod:`databay.misc.inlet_tester`, built on these checks.
"""

from __future__ import annotations

from databay.testing._contracts import InletContract, OutletContract
from databay.testing._inlet import (
    GLOBAL_METADATA,
    InletFactory,
    check_inlet,
    check_inlet_checkpoint,
    check_inlet_lifecycle,
    check_inlet_metadata,
    check_inlet_new_record,
    check_inlet_pull,
    make_inlet,
)
from databay.testing._outlet import (
    DEFAULT_PAYLOADS,
    OutletFactory,
    ReadBack,
    check_outlet,
    check_outlet_delivery,
    check_outlet_empty_batch,
    check_outlet_init,
    check_outlet_lifecycle,
    check_outlet_push,
    make_outlet,
)
from databay.testing._plugin import check_plugin, check_plugin_loads_lazily
from databay.testing._suites import inlet_tests, outlet_tests
from databay.testing._support import (
    MODES,
    AsyncCollectingOutlet,
    AsyncRecordsInlet,
    CollectingOutlet,
    ContractReport,
    Mode,
    RecordsInlet,
    check_lifecycle,
    check_repr,
    lifecycle_is_async,
    run_link,
)

__all__ = [
    "DEFAULT_PAYLOADS",
    "GLOBAL_METADATA",
    "MODES",
    "AsyncCollectingOutlet",
    "AsyncRecordsInlet",
    "CollectingOutlet",
    "ContractReport",
    "InletContract",
    "InletFactory",
    "Mode",
    "OutletContract",
    "OutletFactory",
    "ReadBack",
    "RecordsInlet",
    "check_inlet",
    "check_inlet_checkpoint",
    "check_inlet_lifecycle",
    "check_inlet_metadata",
    "check_inlet_new_record",
    "check_inlet_pull",
    "check_lifecycle",
    "check_outlet",
    "check_outlet_delivery",
    "check_outlet_empty_batch",
    "check_outlet_init",
    "check_outlet_lifecycle",
    "check_outlet_push",
    "check_plugin",
    "check_plugin_loads_lazily",
    "check_repr",
    "inlet_tests",
    "lifecycle_is_async",
    "make_inlet",
    "make_outlet",
    "outlet_tests",
    "run_link",
]
