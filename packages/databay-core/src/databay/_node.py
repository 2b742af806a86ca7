"""What inlets and outlets share: the start/shutdown lifecycle."""

from __future__ import annotations

import threading
from typing import Any

from databay import _runtime

__all__ = ["Node"]

_ASYNC_CACHE: dict[tuple[type, str], bool] = {}


def is_async_method(obj: object, name: str) -> bool:
    """Whether ``type(obj).<name>`` is an ``async def`` (cached per class)."""
    cls = type(obj)
    key = (cls, name)
    found = _ASYNC_CACHE.get(key)
    if found is None:
        func = getattr(cls, name, None)
        code = getattr(getattr(func, "__func__", func), "__code__", None)
        # CO_COROUTINE, checked directly: importing inspect would double `import databay`
        found = _ASYNC_CACHE[key] = code is not None and bool(code.co_flags & 0x80)
    return found


class Node:
    """Lifecycle shared by :class:`~databay.Inlet` and :class:`~databay.Outlet`.

    ``try_start()`` and ``try_shutdown()`` call ``on_start()`` / ``on_shutdown()`` once per
    inactive/active transition, so a node shared by several links starts and stops once.
    ``on_start`` and ``on_shutdown`` may be ``async def``; they then run on the loop that
    runs the node's async ``pull``/``push``.
    """

    _active: bool = False

    def _lifecycle_lock(self) -> threading.Lock:
        lock: threading.Lock | None = self.__dict__.get("_databay_lifecycle_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_databay_lifecycle_lock", threading.Lock())
        return lock

    @property
    def active(self) -> bool:
        """True between a successful ``try_start()`` and the next ``try_shutdown()``."""
        return self._active

    def try_start(self) -> None:
        """Call ``on_start()`` unless the node is already active."""
        with self._lifecycle_lock():
            if self._active:
                return
            self._call_hook("on_start")
            self._active = True

    def try_shutdown(self) -> None:
        """Call ``on_shutdown()`` if the node is active."""
        with self._lifecycle_lock():
            if not self._active:
                return
            self._active = False
            self._call_hook("on_shutdown")

    def _call_hook(self, name: str) -> None:
        result = getattr(self, name)()
        if hasattr(result, "__await__"):
            _runtime.run_sync(_await(result), f"{type(self).__name__}.{name}()",
                              f"await {type(self).__name__}.{name}() yourself")

    def on_start(self) -> Any:
        """Called once before the node is first used. Override to open resources."""

    def on_shutdown(self) -> Any:
        """Called once after the node was last used. Override to release resources."""


async def _await(awaitable: Any) -> Any:
    return await awaitable
