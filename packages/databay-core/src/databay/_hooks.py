"""Calling the transfer and planner hooks, for links and planners.

Hook callers are cached by name (None: no implementation) so that a transfer without
plugins costs one dict lookup. The plugin manager is imported on first use only (it
imports pluggy); it tells this module through :func:`databay.plugins.on_change` when
a plugin is registered or unregistered, and the cache is dropped.
"""

from __future__ import annotations

import logging
from typing import Any

_LOGGER = logging.getLogger("databay.Link")

_cache: dict[str, Any] = {}
_listening = False
TRANSFER_HOOKS = ("databay_transfer_started", "databay_transfer_finished",
                  "databay_transfer_failed")


def forget() -> None:
    """Drop the cached hook callers (the registry changed)."""
    _cache.clear()


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


def fire(name: str, **kwargs: Any) -> None:
    """Call hook ``name``; an implementation that raises is logged, never propagated."""
    hook = caller(name)
    if hook is None:
        return
    try:
        hook(**kwargs)
    except Exception:
        _LOGGER.exception("a %s hook implementation raised; the transfer goes on", name)
