"""The shared event loop's selector: I/O and timers behave as on asyncio's own loop."""

from __future__ import annotations

import asyncio
import selectors
import socket
import sys
import threading

import pytest
from databay import _runtime

linux_only = pytest.mark.skipif(not hasattr(selectors, "EpollSelector"),
                                reason="the precise selector replaces epoll only")


@linux_only
def test_shared_loop_uses_the_precise_epoll_selector() -> None:
    loop = _runtime.get_loop()
    selector = loop._selector  # type: ignore[attr-defined]
    assert isinstance(selector, selectors.EpollSelector)
    assert type(selector).__name__ == "PreciseEpollSelector"


@linux_only
def test_precise_selector_reports_ready_sockets_and_times_out_empty() -> None:
    loop = _runtime._new_loop()
    selector = loop._selector  # type: ignore[attr-defined]
    a, b = socket.socketpair()
    try:
        selector.register(a, selectors.EVENT_READ)
        assert selector.select(0.001) == []  # nothing to read: the wait ends empty
        b.send(b"x")
        ready = selector.select(5)  # returns at once: the data is there
        assert [(key.fileobj, events) for key, events in ready] == [(a, selectors.EVENT_READ)]
        assert [key.fileobj for key, _ in selector.select(None)] == [a]  # blocking form
        assert [key.fileobj for key, _ in selector.select(0)] == [a]  # polling form
    finally:
        selector.unregister(a)
        a.close()
        b.close()
        loop.close()


def test_timers_and_threadsafe_calls_run_on_the_new_loop() -> None:
    loop = _runtime._new_loop()
    order: list[str] = []

    async def main() -> None:
        done = asyncio.Event()
        loop.call_later(0.002, order.append, "late")
        loop.call_soon(order.append, "soon")
        await asyncio.sleep(0.003)
        # a call from another thread wakes the loop out of its select()
        caller = threading.Thread(target=loop.call_soon_threadsafe, args=(done.set,))
        caller.start()
        await asyncio.wait_for(done.wait(), 5)
        caller.join()
        order.append("woken")

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert order == ["soon", "late", "woken"]


@pytest.mark.skipif(sys.platform == "win32", reason="selector loops only")
def test_sleep_is_never_short_on_the_new_loop() -> None:
    loop = _runtime._new_loop()

    async def measure() -> list[float]:
        waits = []
        for _ in range(20):
            start = loop.time()
            await asyncio.sleep(0.002)
            waits.append(loop.time() - start)
        return waits

    try:
        waits = loop.run_until_complete(measure())
    finally:
        loop.close()
    # a timer may fire up to the clock's resolution early, as on asyncio's own loops
    assert min(waits) >= 0.002 - loop._clock_resolution  # type: ignore[attr-defined]
