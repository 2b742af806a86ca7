"""Every installed outlet, by name: ``from databay.outlets import CsvOutlet``.

Names resolve lazily through the plugin registry; ``available()`` lists them. For type
checkers, the first-party names are their distribution's classes and any other name is
an ``Outlet`` subclass of unknown signature: import a third-party class from its own
distribution to have its signature checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from databay import plugins as _plugins
from databay._namespace import make_getattr as _make_getattr

if TYPE_CHECKING:
    # Types only: the first-party classes by their own modules (never imported at run
    # time, where the registry resolves every name).
    from databay_csv import CsvOutlet as CsvOutlet
    from databay_http import HttpOutlet as HttpOutlet
    from databay_mongo import MongoOutlet as MongoOutlet

    from databay._namespace import PluginOutlet
    from databay.outlets.file_outlet import FileOutlet as FileOutlet
    from databay.outlets.null_outlet import NullOutlet as NullOutlet
    from databay.outlets.print_outlet import PrintOutlet as PrintOutlet

    def __getattr__(name: str) -> type[PluginOutlet]:
        """Any other installed outlet: a class whose constructor type checkers cannot
        know; import it from its distribution for that."""

    def __dir__() -> list[str]: ...
else:
    __getattr__, __dir__ = _make_getattr("outlet", __name__, globals())


def available() -> list[str]:
    """Names of the installed outlets."""
    return _plugins.available("outlet")
