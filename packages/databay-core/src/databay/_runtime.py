"""The event loop that runs async nodes for synchronous callers.

``Link.transfer()`` is synchronous, but inlets and outlets may be ``async``. Instead of
building a new loop per transfer (which breaks loop-bound clients such as aiohttp or
motor sessions), every async node runs on one long-lived loop in a daemon thread.
Sync nodes never run on that loop, so they cannot block the async nodes of other links.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use."""
    import asyncio

    global _loop
    loop = _loop
    if loop is not None and not loop.is_closed():
        return loop
    with _lock:
        if _loop is None or _loop.is_closed():
            ready = threading.Event()
            new_loop = _new_loop()

            def run() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(ready.set)
                new_loop.run_forever()

            threading.Thread(target=run, name="databay-loop", daemon=True).start()
            ready.wait()
            _loop = new_loop
        return _loop


def _new_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose timers fire on time.

    epoll waits in whole milliseconds, rounded up, so on the default loop a timer due in
    9.2 ms fires after 10 (``asyncio.sleep(0.01)`` ends up to a millisecond late). Where
    epoll is the selector, this loop first waits on the epoll descriptor with select(),
    whose timeout has microsecond resolution, then collects the ready events at once.
    """
    import asyncio
    import select
    import selectors

    if not hasattr(selectors, "EpollSelector"):
        return asyncio.new_event_loop()  # kqueue is precise already; Windows: proactor

    class PreciseEpollSelector(selectors.EpollSelector):
        def select(self, timeout: float | None = None) -> list[
                tuple[selectors.SelectorKey, int]]:
            if timeout is not None and timeout > 0:
                try:
                    select.select([self.fileno()], [], [], timeout)
                except InterruptedError:
                    return []
                except ValueError:  # descriptor above FD_SETSIZE: epoll's own wait
                    return super().select(timeout)
                timeout = 0
            return super().select(timeout)

    return asyncio.SelectorEventLoop(PreciseEpollSelector())


def in_running_loop() -> bool:
    """True when the calling thread is running an event loop."""
    aio = sys.modules.get("asyncio")
    # Without asyncio imported no loop can be running; this keeps `import databay` light.
    return aio is not None and aio._get_running_loop() is not None


def run_sync(coro: Coroutine[Any, Any, T], what: str, alternative: str) -> T:
    """Run ``coro`` on the shared loop and wait for its result.

    Raises RuntimeError (naming ``alternative``) when called from a running event loop,
    where blocking would stall that loop.
    """
    if in_running_loop():
        coro.close()
        raise RuntimeError(
            f"{what} was called from inside a running event loop, where it would block "
            f"the loop; use '{alternative}' instead"
        )
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, get_loop()).result()
