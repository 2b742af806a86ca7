"""``InletTester``: the original Databay's test template for inlets, on :mod:`databay.testing`.

Subclass it in a test module and override :meth:`InletTester.get_inlet`::

    from databay.misc.inlet_tester import InletTester

    class MyInletTest(InletTester):
        def get_inlet(self):
            return [MyInlet(), MyInlet(option=True)]

Every test runs for each inlet returned, as a ``subTest``. The inlets get the global
metadata ``{'global': 'global'}`` added to their own before each test.
"""

from __future__ import annotations

import unittest
from collections.abc import Callable, Iterator
from typing import Any

from databay.inlet import Inlet
from databay.testing import (
    check_inlet_lifecycle,
    check_inlet_new_record,
    check_inlet_pull,
    check_repr,
)

__all__ = ["InletTester"]


class InletTester(unittest.TestCase):
    """A ``unittest.TestCase`` template for testing an :class:`~databay.Inlet`.

    Override :meth:`get_inlet`. The tests: ``new_record`` merges global and local
    metadata (local wins) (``test_new_record``, ``test_new_record_override_global``);
    pulling leaves the inlet's global metadata as it was and never hands its dict to a
    record (``test_dont_read_metadata``); ``pull`` gives records carrying the global
    metadata through a sync and an async link (``test_pull``, ``test_pull_async``);
    ``on_start``/``on_shutdown`` run once each (``test_lifecycle``).
    """

    #: Global metadata added to every inlet under test.
    gmetadata: dict[str, Any] = {"global": "global"}

    def get_inlet(self) -> Inlet | list[Inlet]:
        """Return a new inlet, or a list of new inlets, to test. Override this."""
        from databay.inlets.null_inlet import NullInlet

        return NullInlet()

    def setUp(self) -> None:
        inlets = self.get_inlet()
        self.inlets: list[Inlet] = list(inlets) if isinstance(inlets, (list, tuple)) \
            else [inlets]
        if not self.inlets:
            raise ValueError(f"{type(self).__name__}.get_inlet() returned no inlet")
        for inlet in self.inlets:
            if not isinstance(inlet, Inlet):
                raise TypeError(f"{type(self).__name__}.get_inlet() must return an Inlet or "
                                f"a list of them, got {type(inlet).__name__}: {inlet!r}")
            inlet._metadata = {**inlet.metadata, **self.gmetadata}
        self.inlet = self.inlets[0]

    def _each(self) -> Iterator[Inlet]:
        for inlet in self.inlets:
            self.inlet = inlet
            with self.subTest(inlet=repr(inlet)):
                yield inlet

    def _run(self, check: Callable[[Inlet], Any]) -> None:
        for inlet in self._each():
            check(inlet)

    def test_repr(self) -> None:
        self._run(check_repr)

    def test_new_record(self) -> None:
        """``new_record`` keeps the payload and merges global and local metadata."""
        self._run(lambda inlet: check_inlet_new_record(inlet, self.gmetadata))

    def test_new_record_override_global(self) -> None:
        """Local metadata given to ``new_record`` overrides the global metadata."""
        for inlet in self._each():
            record = inlet.new_record({"test": 123}, {"global": "local"})
            self.assertEqual(record.metadata["global"], "local",
                             "local metadata must override global metadata")
            self.assertEqual(inlet.metadata["global"], "global",
                             "new_record must not change the inlet's global metadata")

    def test_dont_read_metadata(self) -> None:
        """Pulling leaves the global metadata unchanged and unshared with records."""
        for inlet in self._each():
            for record in check_inlet_pull(inlet, self.gmetadata):
                record.metadata["databay.testing.probe"] = True
            self.assertNotIn("databay.testing.probe", inlet.metadata,
                             "records must not share the inlet's metadata dict")

    def test_pull(self) -> None:
        """``pull`` through a sync link gives records with the global metadata."""
        self._run(lambda inlet: check_inlet_pull(inlet, self.gmetadata, mode="sync"))

    def test_pull_async(self) -> None:
        """The same through a link that runs on databay's event loop."""
        self._run(lambda inlet: check_inlet_pull(inlet, self.gmetadata, mode="async"))

    def test_lifecycle(self) -> None:
        """``try_start``/``try_shutdown`` run ``on_start``/``on_shutdown`` once each."""
        self._run(check_inlet_lifecycle)
