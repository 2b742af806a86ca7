"""Buffer: a processor that holds records back until its controllers release them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from databay._validate import callables
from databay.record import Record

__all__ = ["Buffer"]

_LOGGER = logging.getLogger("databay.Buffer")

Controller = Callable[["Buffer"], bool]


class Buffer:
    """Stores records across transfers and releases them all when its controllers agree.

    Use one buffer per link or per outlet, as a processor.

    :param count_threshold: release when more than this many records are stored.
    :param time_threshold: release when more than this many seconds passed since the
        first record was stored.
    :param custom_controllers: callables ``buffer -> bool``, checked before the others.
    :param on_reset: called after every release or :meth:`reset`.
    :param conjugate_controllers: release only when all controllers agree (AND); the
        default is any controller (OR).
    """

    def __init__(
        self,
        count_threshold: int | None = None,
        time_threshold: float | None = None,
        custom_controllers: Controller | Sequence[Controller] | None = None,
        on_reset: Callable[[], object] | None = None,
        conjugate_controllers: bool = False,
    ) -> None:
        thresholds = (("count_threshold", count_threshold), ("time_threshold", time_threshold))
        for arg, value in thresholds:
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or value < 0):
                raise ValueError(f"Buffer({arg}=...) must be a non-negative number or None, "
                                 f"got {value!r}")
        if on_reset is not None and not callable(on_reset):
            raise TypeError(f"Buffer(on_reset=...) must be callable, got {on_reset!r}")
        self.count_threshold = count_threshold
        self.time_threshold = time_threshold
        self.custom_controllers: list[Controller] = callables(
            custom_controllers, "custom_controllers", "Buffer")
        self.on_reset = on_reset
        self.conjugate_controllers = conjugate_controllers
        self.records: list[Record] = []
        self.flush = False
        self.time_start: float | None = None
        self._lock = threading.Lock()

    def count_controller(self, buffer: Buffer) -> bool:
        """True when more than ``count_threshold`` records are stored."""
        return self.count_threshold is not None and len(buffer.records) > self.count_threshold

    def time_controller(self, buffer: Buffer) -> bool:
        """True when more than ``time_threshold`` seconds passed since the first store."""
        if self.time_threshold is None or buffer.time_start is None:
            return False
        return time.time() - buffer.time_start > self.time_threshold

    def get_controllers(self) -> list[Controller]:
        """Controllers in the order they run: custom, count, time."""
        controllers = list(self.custom_controllers)
        if self.count_threshold is not None:
            controllers.append(self.count_controller)
        if self.time_threshold is not None:
            controllers.append(self.time_controller)
        return controllers

    def _should_release(self) -> bool:
        results = []
        for controller in self.get_controllers():
            try:
                result = bool(controller(self))
            except Exception:
                _LOGGER.exception("Buffer controller %r raised; it is skipped", controller)
                continue
            if result and not self.conjugate_controllers:
                return True
            if not result and self.conjugate_controllers:
                return False
            results.append(result)
        return self.conjugate_controllers and bool(results)

    def __call__(self, records: list[Record]) -> list[Record]:
        with self._lock:
            if records and self.time_start is None:
                self.time_start = time.time()
            self.records.extend(records)
            if not self.flush and not self._should_release():
                return []
            released = self.records
            self.records = []
            self._reset_locked()
            return released

    def reset(self) -> None:
        """Drop stored records, clear ``flush`` and the timer, call ``on_reset``."""
        with self._lock:
            self.records = []
            self._reset_locked()

    def _reset_locked(self) -> None:
        self.flush = False
        self.time_start = None
        if self.on_reset is not None:
            self.on_reset()
