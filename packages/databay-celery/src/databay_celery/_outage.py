"""One period during which Redis or the broker cannot be reached: logged when it begins
and when it ends (not once per try), with a backoff between tries."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["Outage"]

_LOGGER = logging.getLogger("databay.CeleryPlanner")

#: While an outage lasts, a reminder is logged this often (seconds).
REMINDER = 300.0


class Outage:
    """Tracks the outage of ``what`` (``"Redis"``, ``"the broker"``...) for one process
    or role; thread-safe.

    :meth:`failed` is called after each failed try and returns how long to wait before
    the next one (``first`` seconds, doubling up to ``cap``); :meth:`recovered` after a
    try that worked.
    """

    def __init__(self, what: str, *, first: float = 0.25, cap: float = 5.0,
                 logger: logging.Logger = _LOGGER) -> None:
        self.what = what
        self.first = first
        self.cap = max(cap, first)
        self._logger = logger
        self._lock = threading.Lock()
        self._since: float | None = None
        self._delay = first
        self._reminded = 0.0
        self._back = threading.Event()
        self._back.set()
        #: outages seen so far (for tests and status)
        self.count = 0

    @property
    def active(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException, doing: str, cap: float | None = None) -> float:
        """Note a failed try at ``doing`` (named in the first line of the outage); the
        seconds to wait before the next try (at most ``cap``, when given)."""
        with self._lock:
            now = time.monotonic()
            if self._since is None:
                self._since = self._reminded = now
                self._delay = self.first
                self._back.clear()
                self.count += 1
                self._logger.warning("%s is unreachable (%s): retrying with a backoff of up "
                                     "to %.1f s until it answers, nothing is given up: %s: "
                                     "%s", self.what, doing, self.cap, type(exc).__name__,
                                     exc)
            elif now - self._reminded >= REMINDER:
                self._reminded = now
                self._logger.warning("%s still unreachable after %.0f s (%s): %s: %s",
                                     self.what, now - self._since, doing,
                                     type(exc).__name__, exc)
            delay = self._delay
            self._delay = min(self._delay * 2, self.cap)
            return delay if cap is None else min(delay, cap)

    def recovered(self) -> float | None:
        """Note a try that worked; the outage's length when one just ended, else None."""
        if self._since is None:  # the common case, without the lock
            return None
        with self._lock:
            if self._since is None:
                return None
            lasted = time.monotonic() - self._since
            self._since = None
            self._back.set()
            self._logger.warning("%s is reachable again after an outage of %.1f s",
                                 self.what, lasted)
            return lasted

    def pause(self, seconds: float, stop: threading.Event | None = None) -> None:
        """Wait ``seconds``, or less: until the outage ends (any user of this outage saw
        the server answer) or ``stop`` is set."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return
            if self._back.wait(min(left, 0.2)):
                return
