"""Lazy names for ``databay.inlets``, ``databay.outlets`` and ``databay.planners``.

``from databay.inlets import HttpInlet`` asks the plugin registry for ``HttpInlet``.
A name that a known distribution provides but that is not loaded raises ImportError
saying why: the ``pip install`` line when it is not installed, the variable that disabled
it, or the plugin's failure or entry-point name clash. An unknown name notes the plugins
that are installed but not loaded. ``ImportError``, not ``AttributeError``: ``from X import Y``
replaces an AttributeError's message with a generic one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from databay import plugins
from databay.errors import PluginNotFoundError
from databay.plugins import Kind

if TYPE_CHECKING:
    # What type checkers see for a name that no first-party distribution provides: a class
    # of the namespace's kind whose constructor they cannot know (any plugin may provide
    # it). For its own signature, import it from its distribution (databay_sqlite...).
    from databay.base_planner import BasePlanner
    from databay.inlet import Inlet
    from databay.outlet import Outlet

    class PluginInlet(Inlet):
        """An inlet class some plugin provides (its constructor is not known)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    class PluginOutlet(Outlet):
        """An outlet class some plugin provides (its constructor is not known)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    class PluginPlanner(BasePlanner):
        """A planner class some plugin provides (its constructor is not known)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

# (module globals, name) of every class cached in a namespace, forgotten when the
# registry changes (a plugin registered or unregistered at run time).
_cached: list[tuple[dict[str, Any], str]] = []


def forget() -> None:
    """Drop the classes cached in namespace modules."""
    while _cached:
        module_globals, name = _cached.pop()
        module_globals.pop(name, None)


plugins.on_change(forget)


def make_getattr(
    kind: Kind, module_name: str, module_globals: dict[str, Any],
    only: str | tuple[str, ...] | None = None,
    companions: dict[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a namespace module.

    With ``only``, the module is a compatibility shim for one name (such as
    ``databay.inlets.http_inlet``, which provides only ``HttpInlet``).

    With ``companions`` (name -> provided class), the shim also offers names that live
    beside that class in its plugin, such as an exception class of the original module.
    """
    allowed = (only,) if isinstance(only, str) else only
    companions = companions or {}

    def __getattr__(name: str) -> Any:
        if name in companions:
            owner = __getattr__(companions[name])
            for module in (owner.__module__, owner.__module__.partition(".")[0]):
                found = getattr(importlib.import_module(module), name, None)
                if found is not None:
                    return found
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        if name.startswith("__") or (allowed is not None and name not in allowed):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        provided = plugins.registry(kind).get(name)
        if provided is None:
            hint = plugins.missing_hint(kind, name)
            if hint is not None:
                try:
                    plugins.resolve(kind, name)
                except ImportError as exc:
                    raise PluginNotFoundError(f"cannot import {module_name}.{name}: {exc}",
                                              name=module_name) from None
            note = plugins.unloaded_note()  # failed, clashing or disabled plugins
            if note:
                raise ImportError(f"cannot import name {name!r} from {module_name!r}; {note}",
                                  name=module_name)
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        obj = provided.load()
        module_globals[name] = obj  # cached: the next access skips the registry
        _cached.append((module_globals, name))
        return obj

    def __dir__() -> list[str]:
        names = set(module_globals)
        names.update(allowed if allowed is not None else plugins.available(kind))
        names.update(companions)
        return sorted(names)

    return __getattr__, __dir__
