"""Every installed inlet, by name: ``from databay.inlets import HttpInlet``.

Names resolve lazily through the plugin registry; ``available()`` lists them. For type
checkers, the first-party names are their distribution's classes and any other name is
an ``Inlet`` subclass of unknown signature: import a third-party class from its own
distribution to have its signature checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from databay import plugins as _plugins
from databay._namespace import make_getattr as _make_getattr

if TYPE_CHECKING:
    # Types only: the first-party classes by their own modules (never imported at run
    # time, where the registry resolves every name).
    from databay_csv import CsvInlet as CsvInlet
    from databay_http import HttpInlet as HttpInlet
    from databay_mongo import MongoInlet as MongoInlet

    from databay._namespace import PluginInlet
    from databay.inlets.file_inlet import FileInlet as FileInlet
    from databay.inlets.null_inlet import NullInlet as NullInlet
    from databay.inlets.random_int_inlet import RandomIntInlet as RandomIntInlet

    def __getattr__(name: str) -> type[PluginInlet]:
        """Any other installed inlet: a class whose constructor type checkers cannot
        know; import it from its distribution for that."""

    def __dir__() -> list[str]: ...
else:
    __getattr__, __dir__ = _make_getattr("inlet", __name__, globals())


def available() -> list[str]:
    """Names of the installed inlets."""
    return _plugins.available("inlet")
