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

#: A custom controller, as in Databay 0.3: called with the list of stored records.
Controller = Callable[[list[Record]], bool]
#: An opt-in controller that sees the whole buffer (``time_start``, ``flush``, ...).
BufferController = Callable[["Buffer"], bool]


class Buffer:
    """Stores records across transfers and releases them all when its controllers agree.

    Use one buffer per link or per outlet, as a processor.

    :param count_threshold: release when more than this many records are stored.
    :param time_threshold: release when more than this many seconds passed since the
        first record was stored.
    :param custom_controllers: callables ``records -> bool``, called with the list of
        stored records (this call's included), checked before the others.
    :param on_reset: called after every release or :meth:`reset`.
    :param conjugate_controllers: release only when all controllers agree (AND); the
        default is any controller (OR).
    :param buffer_controllers: callables ``buffer -> bool`` (keyword only), for
        controllers that need more than the records, e.g. ``buffer.time_start``;
        checked after ``custom_controllers``.

    A controller that raises cannot decide, so the buffer does not hold the records
    back on its account: it logs the error at ERROR with the number of records and
    releases everything it stores, in either mode.
    """

    def __init__(
        self,
        count_threshold: int | None = None,
        time_threshold: float | None = None,
        custom_controllers: Controller | Sequence[Controller] | None = None,
        on_reset: Callable[[], object] | None = None,
        conjugate_controllers: bool = False,
        *,
        buffer_controllers: BufferController | Sequence[BufferController] | None = None,
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
        self.buffer_controllers: list[BufferController] = callables(
            buffer_controllers, "buffer_controllers", "Buffer")
        self.on_reset = on_reset
        self.conjugate_controllers = conjugate_controllers
        self.records: list[Record] = []
        self.flush = False
        self.time_start: float | None = None
        self._lock = threading.Lock()

    def count_controller(self, records: list[Record]) -> bool:
        """True when more than ``count_threshold`` records are stored."""
        return self.count_threshold is not None and len(records) > self.count_threshold

    def time_controller(self, records: list[Record]) -> bool:
        """True when more than ``time_threshold`` seconds passed since the first store."""
        if self.time_threshold is None or self.time_start is None:
            return False
        return time.time() - self.time_start > self.time_threshold

    def get_controllers(self) -> list[Controller]:
        """The controllers called with the stored records, in the order they run:
        custom, count, time (``buffer_controllers`` run between custom and count)."""
        controllers = list(self.custom_controllers)
        if self.count_threshold is not None:
            controllers.append(self.count_controller)
        if self.time_threshold is not None:
            controllers.append(self.time_controller)
        return controllers

    def _checks(self) -> list[tuple[Callable[..., object], object]]:
        """(controller, argument) pairs in the order they run."""
        records = self.records
        builtin = self.get_controllers()[len(self.custom_controllers):]
        return [*((c, records) for c in self.custom_controllers),
                *((c, self) for c in self.buffer_controllers),
                *((c, records) for c in builtin)]

    def _should_release(self) -> bool:
        decided = False
        for controller, argument in self._checks():
            try:
                result = bool(controller(argument))
            except Exception as exc:
                _LOGGER.error(
                    "Buffer controller %r raised %r; releasing the %d stored record(s) "
                    "rather than holding them back on an error", controller, exc,
                    len(self.records), exc_info=True)
                return True
            if result and not self.conjugate_controllers:
                return True
            if not result and self.conjugate_controllers:
                return False
            decided = True
        return self.conjugate_controllers and decided

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
