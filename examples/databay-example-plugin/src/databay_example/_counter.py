"""CounterInlet: counts up, one number per pull."""

from __future__ import annotations

from typing import Any

from databay import Inlet, Update


class CounterInlet(Inlet):
    """Each pull returns the next number of the count ``start``, ``start + step``, ...

    :param start: the first number; the count starts again from it on each start.
    :param step: what each pull adds; not 0.
    :param metadata: global metadata for every record, passed on to ``Inlet``.
    """

    def __init__(
        self, start: int = 0, step: int = 1, metadata: dict[str, Any] | None = None
    ) -> None:
        super().__init__(metadata)
        for name, value in (("start", start), ("step", step)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"CounterInlet({name}=...) must be an int, got {value!r}")
        if step == 0:
            raise ValueError("CounterInlet(step=...) must not be 0, got 0")
        self.start = start
        self.step = step
        self._next = start

    def on_start(self) -> None:
        self._next = self.start

    def pull(self, update: Update) -> int:
        value = self._next
        self._next += self.step
        return value

    # Checkpoints: a link with a state store commits the cursor once the pull's record
    # was delivered, and seeks a new CounterInlet to it to resume the count.

    @property
    def cursor(self) -> int:
        """The number the next pull returns."""
        return self._next

    def seek(self, cursor: int | None) -> None:
        """Continue the count at ``cursor`` (None: at ``start``)."""
        self._next = self.start if cursor is None else int(cursor)

    def __repr__(self) -> str:
        return f"CounterInlet(start={self.start}, step={self.step}, metadata={self.metadata!r})"
