"""Delivery guarantees: retry policies, dead letters and checkpoint state stores.

See ``docs/delivery.md`` for what is guaranteed. In short:

- A :class:`RetryPolicy` on a link (or on one outlet, as ``outlet.retry_policy``)
  retries a failed push, to the failed outlet only, with exponential backoff and jitter.
- A link's ``dead_letter`` outlet receives a batch whose retries ran out, each record
  carrying ``DEAD_LETTER`` metadata (link, outlet, error, attempts).
- A link's ``state_store`` keeps the cursor of each checkpointable inlet, committed only
  after every outlet accepted the batch (or it went to the dead-letter outlet).
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

__all__ = [
    "DEAD_LETTER",
    "FileStateStore",
    "MemoryStateStore",
    "RetryPolicy",
    "StateStore",
    "is_transient",
]

#: Metadata key of records sent to a dead-letter outlet: a dict with the keys
#: ``link``, ``outlet``, ``error``, ``error_type`` and ``attempts``.
DEAD_LETTER = "databay.dead_letter"

#: Exception types retried by default when they do not say otherwise.
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


def is_transient(error: BaseException) -> bool:
    """Whether retrying may help: the error's own ``transient`` attribute when it has
    one (see :class:`~databay.errors.TransientError`), else True for connection errors
    and time-outs."""
    flag = getattr(error, "transient", None)
    if isinstance(flag, bool):
        return flag
    return isinstance(error, TRANSIENT_TYPES)


class RetryPolicy:
    """How often and how patiently to retry a failed push.

    :param attempts: total tries, the first one included (1 means no retry).
    :param backoff: seconds before the first retry.
    :param factor: multiplier of the delay after each retry.
    :param max_delay: cap on any single delay, in seconds.
    :param jitter: randomise each delay between half and all of its value, so that
        many retrying links do not hit a server at the same instant.
    :param retry_on: which errors to retry: a predicate, or a tuple of exception types;
        by default :func:`is_transient`.
    """

    def __init__(
        self,
        attempts: int = 3,
        backoff: float = 0.5,
        factor: float = 2.0,
        max_delay: float = 30.0,
        jitter: bool = True,
        retry_on: Callable[[BaseException], bool] | tuple[type[BaseException], ...] | None = None,
    ) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"RetryPolicy(attempts=...) must be an int >= 1, got {attempts!r}")
        for name, value, low in (("backoff", backoff, 0.0), ("factor", factor, 1.0),
                                 ("max_delay", max_delay, 0.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
                raise ValueError(f"RetryPolicy({name}=...) must be a number >= {low}, "
                                 f"got {value!r}")
        if isinstance(retry_on, tuple):
            types = retry_on
            retry_on = lambda error: isinstance(error, types)  # noqa: E731
        elif retry_on is not None and not callable(retry_on):
            raise TypeError("RetryPolicy(retry_on=...) must be a callable or a tuple of "
                            f"exception types, got {retry_on!r}")
        self.attempts = attempts
        self.backoff = float(backoff)
        self.factor = float(factor)
        self.max_delay = float(max_delay)
        self.jitter = jitter
        self.retry_on: Callable[[BaseException], bool] = retry_on or is_transient

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        import random  # here, not at module level: keeps `import databay` light

        delay = min(self.backoff * self.factor ** (attempt - 1), self.max_delay)
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay

    def next_delay(self, error: BaseException, attempt: int) -> float | None:
        """The wait before another try, or None when ``error`` after ``attempt``
        tries is final."""
        if attempt >= self.attempts or not self.retry_on(error):
            return None
        return self.delay(attempt)

    def __repr__(self) -> str:
        return (f"RetryPolicy(attempts={self.attempts}, backoff={self.backoff}, "
                f"factor={self.factor}, max_delay={self.max_delay}, jitter={self.jitter})")


class StateStore(ABC):
    """Where links keep their inlets' committed cursors. Values must be JSON-like
    (None, bool, numbers, strings, lists, dicts) for the file-backed store."""

    @abstractmethod
    def get(self, key: str) -> Any:
        """The value stored under ``key``, or None."""

    @abstractmethod
    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``, durably for persistent stores."""


class MemoryStateStore(StateStore):
    """Cursors kept in memory: survives link restarts, not process restarts."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            return self._data.get(key)

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value

    def __repr__(self) -> str:
        return "MemoryStateStore()"


class FileStateStore(StateStore):
    """Cursors in a JSON file, rewritten atomically (temporary file, fsync, rename) on
    every commit, so a crash leaves either the old or the new state, never a torn file.

    :param path: the JSON file; its folder is created when missing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"FileStateStore(path=...) must be a path, got {path!r}")
        if "\x00" in os.fspath(path):
            raise ValueError(f"FileStateStore(path=...) must not contain a NUL byte, "
                             f"got {os.fspath(path)!r}")
        self.path = os.path.abspath(os.fspath(path))
        self._lock = threading.Lock()
        self._data: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        import json

        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ValueError(f"FileStateStore: cannot read {self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"FileStateStore: {self.path} does not hold a JSON object")
        return data

    def get(self, key: str) -> Any:
        with self._lock:
            return self._data.get(key)

    def set(self, key: str, value: Any) -> None:
        import json
        import tempfile

        with self._lock:
            data = dict(self._data)
            data[key] = value
            try:
                text = json.dumps(data, sort_keys=True)
            except TypeError as exc:
                raise TypeError(f"FileStateStore: cursor for {key!r} is not JSON-serialisable: "
                                f"{value!r}") from exc
            folder = os.path.dirname(self.path)
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".databay-state-", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            self._data = data

    def __repr__(self) -> str:
        return f"FileStateStore({self.path!r})"
