"""Calling the transfer and planner hooks, for links and planners.

Hook callers are cached by name (None: no implementation) so that a transfer without
plugins costs one dict lookup. The plugin manager is imported on first use only (it
imports pluggy); it tells this module through :func:`databay.plugins.on_change` when
a plugin is registered or unregistered, and the cache is dropped.

:func:`fire` calls the implementations of a hook itself, in pluggy's order (last
registered first), each given the arguments it names: pluggy's general dispatch costs
about as much as a small transfer, and these hooks run on every transfer. A hook with a
wrapper implementation (``hookwrapper=True`` or ``wrapper=True``) goes through pluggy.
One implementation that raises is logged; the others are still called.
"""

from __future__ import annotations

import logging
from typing import Any

_LOGGER = logging.getLogger("databay.Link")

_cache: dict[str, Any] = {}
#: per hook name: the (function, argument names) to call, or None to call through pluggy
#: (argument names None: the implementation takes every argument of the spec)
_calls: dict[str, list[tuple[Any, tuple[str, ...] | None]] | None] = {}
_listening = False
TRANSFER_HOOKS = ("databay_transfer_started", "databay_transfer_finished",
                  "databay_transfer_failed")


def forget() -> None:
    """Drop the cached hook callers (the registry changed)."""
    _cache.clear()
    _calls.clear()


def caller(name: str) -> Any:
    """The hook caller ``name`` when some plugin implements it, else None."""
    try:
        return _cache[name]
    except KeyError:
        global _listening
        from databay import plugins  # first hook use: discovers plugins

        if not _listening:
            plugins.on_change(forget)
            _listening = True
        hook = getattr(plugins.get_plugin_manager().hook, name)
        found = _cache[name] = hook if hook.get_hookimpls() else None
        return found


def transfer_hooks_wanted() -> bool:
    """Whether any transfer hook has an implementation (cached)."""
    try:
        return _cache["transfer"]  # type: ignore[no-any-return]
    except KeyError:
        wanted = _cache["transfer"] = any(caller(n) is not None for n in TRANSFER_HOOKS)
        return wanted


def _plan(name: str) -> list[tuple[Any, tuple[str, ...] | None]] | None:
    hook = caller(name)
    if hook is None:
        return []
    impls = hook.get_hookimpls()
    if hook.spec is None or any(impl.hookwrapper or impl.wrapper for impl in impls):
        return None
    every = set(hook.spec.argnames)
    return [(impl.function, None if set(impl.argnames) == every else tuple(impl.argnames))
            for impl in reversed(impls)]


def fire(name: str, **kwargs: Any) -> None:
    """Call hook ``name``; an implementation that raises is logged, never propagated."""
    try:
        calls = _calls[name]
    except KeyError:
        calls = _calls[name] = _plan(name)
    if calls is None:  # a wrapper: pluggy's dispatch
        try:
            caller(name)(**kwargs)
        except Exception:
            _LOGGER.exception("a %s hook implementation raised; the transfer goes on", name)
        return
    for function, argnames in calls:
        try:
            if argnames is None:
                function(**kwargs)
            else:
                function(*[kwargs[arg] for arg in argnames])
        except Exception:
            _LOGGER.exception("a %s hook implementation raised; the transfer goes on", name)
