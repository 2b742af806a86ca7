"""databay-core's pytest plugin (entry point ``pytest11: databay``): the ``databay_check``
fixture, which runs the contracts of :mod:`databay.testing` on a plugin author's class::

    def test_my_outlet(databay_check, tmp_path):
        databay_check.outlet(lambda: MyOutlet(tmp_path / "out.csv"), read_back=read_rows)

It is inert unless a test asks for the fixture: loading it imports nothing of databay
(the fixture imports the kit when it runs), adds no hook, option or autouse fixture.
Disable it with ``-p no:databay``. The suite factories (``inlet_tests``,
``outlet_tests``, ``planner_tests``) are imported from :mod:`databay.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

_pytest: ModuleType | None
try:
    import pytest as _pytest
except ModuleNotFoundError:  # imported outside pytest (a docs build, a wheel check)
    _pytest = None

if TYPE_CHECKING:
    from databay.plugins import PluginInfo
    from databay.testing import ContractReport

__all__ = ["DatabayCheck", "databay_check"]


class DatabayCheck:
    """Runs a whole contract in one call; each method raises AssertionError naming the
    check that failed (see :mod:`databay.testing` for the options)."""

    def inlet(self, factory: Callable[..., Any], **options: Any) -> ContractReport:
        """:func:`databay.testing.check_inlet`."""
        from databay.testing import check_inlet

        return check_inlet(factory, **options)

    def outlet(self, factory: Callable[..., Any], **options: Any) -> ContractReport:
        """:func:`databay.testing.check_outlet` (give ``read_back=``)."""
        from databay.testing import check_outlet

        return check_outlet(factory, **options)

    def planner(self, factory: Callable[..., Any], **options: Any) -> None:
        """:func:`databay.testing.planners.check_planner`."""
        from databay.testing.planners import check_planner

        check_planner(factory, **options)

    def plugin(self, name: str,
               provides: Mapping[str, Iterable[str]] | None = None) -> PluginInfo:
        """:func:`databay.testing.check_plugin`."""
        from databay.testing import check_plugin

        return check_plugin(name, provides)

    def loads_lazily(self, modules: Iterable[str]) -> None:
        """:func:`databay.testing.check_plugin_loads_lazily`."""
        from databay.testing import check_plugin_loads_lazily

        check_plugin_loads_lazily(modules)

    def __repr__(self) -> str:
        return "databay_check"


def _databay_check() -> DatabayCheck:
    """Runs databay's contract checks: ``databay_check.inlet(factory, ...)``,
    ``.outlet(factory, read_back=...)``, ``.planner(factory)``, ``.plugin(name)``,
    ``.loads_lazily(modules)``."""
    return DatabayCheck()


if _pytest is not None:
    databay_check = _pytest.fixture(name="databay_check")(_databay_check)
