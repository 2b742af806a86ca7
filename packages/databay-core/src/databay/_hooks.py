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

The three transfer hooks run twice per transfer, so links do not even go through
:func:`fire`: :func:`transfer_calls` gives, per hook, a tuple of functions that take the
spec's arguments positionally (``link, update[, error], result``), empty when no plugin
implements it; links read the module's ``transfer`` attribute (None until resolved, and
again after a registry change) and call each function in a ``try`` of their own.
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
#: positional argument names of the transfer hooks, as links pass them
_TRANSFER_ARGS = {"databay_transfer_started": ("link", "update"),
                  "databay_transfer_finished": ("link", "update", "result"),
                  "databay_transfer_failed": ("link", "update", "error", "result")}

Calls = tuple[Any, ...]
#: (started, finished, failed) calls for links, or None until :func:`transfer_calls`
transfer: tuple[Calls, Calls, Calls] | None = None


def forget() -> None:
    """Drop the cached hook callers (the registry changed)."""
    global transfer
    _cache.clear()
    _calls.clear()
    transfer = None


def transfer_calls() -> tuple[Calls, Calls, Calls]:
    """The functions to call for transfer started, finished and failed, each taking
    the hook's arguments positionally (resolved once, cached in ``transfer``)."""
    global transfer
    found = (_positional("databay_transfer_started"),
             _positional("databay_transfer_finished"),
             _positional("databay_transfer_failed"))
    transfer = found
    return found


def _positional(name: str) -> Calls:
    try:
        calls = _calls[name]
    except KeyError:
        calls = _calls[name] = _plan(name)
    order = _TRANSFER_ARGS[name]
    if calls is None:  # a wrapper: pluggy's dispatch, given keywords
        hook = caller(name)
        return (lambda *args: hook(**dict(zip(order, args, strict=True))),)
    out = []
    for function, argnames in calls:
        if argnames is None:
            argnames = tuple(caller(name).spec.argnames)
        if argnames == order:
            out.append(function)
        else:
            where = tuple(order.index(arg) for arg in argnames)
            out.append(_picking(function, where))
    return tuple(out)


def _picking(function: Any, where: tuple[int, ...]) -> Any:
    def call(*args: Any) -> Any:
        return function(*[args[i] for i in where])
    return call


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
