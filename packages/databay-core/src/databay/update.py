"""What identifies one transfer (:class:`Update`) and what it did (:class:`TransferResult`).

This module sits below inlets, outlets and links: all of them use these two classes,
and it imports none of them (``Outlet`` is named in type hints only).
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from databay.outlet import Outlet

__all__ = ["TransferResult", "Update"]


class Update:
    """Identifies one transfer: the link's tags and the transfer's number.

    ``str(update)`` is ``"tag1.tag2.N"``, or ``"N"`` for a link without tags.
    ``due``: for a transfer a planner started on schedule, when its tick was due (Unix
    time; ``time.time()`` of the start minus ``due`` is how late it began), else None.
    """

    __slots__ = ("due", "tags", "transfer_number")

    def __init__(self, tags: list[str], transfer_number: int,
                 due: float | None = None) -> None:
        self.tags = tags
        self.transfer_number = transfer_number
        self.due = due

    def __str__(self) -> str:
        return ".".join([*self.tags, str(self.transfer_number)])

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Update):
            return NotImplemented
        return self.tags == other.tags and self.transfer_number == other.transfer_number

    def __hash__(self) -> int:
        return hash((tuple(self.tags), self.transfer_number))


class TransferResult:
    """What one transfer did. Returned by :meth:`Link.transfer` and given to the hooks.

    ``pulled``: records the inlets produced (before processors); ``pushed`` and
    ``undelivered``: records each outlet accepted or did not accept; ``errors``: the
    exceptions raised by nodes, processors or groupers (ignored or not); ``duration``:
    seconds from start to end; ``started``: ``time.perf_counter()`` at the start.
    """

    __slots__ = ("_handled", "committed", "dead_lettered", "duration", "errors", "pulled",
                 "pushed", "retried", "started", "undelivered", "update")

    def __init__(self, update: Update) -> None:
        self.update = update
        self.started = perf_counter()
        self.pulled = 0
        self.pushed: dict[Outlet, int] = {}
        self.undelivered: dict[Outlet, int] = {}
        #: retries made, per outlet
        self.retried: dict[Outlet, int] = {}
        #: records sent to the dead-letter outlet, per outlet that refused them
        self.dead_lettered: dict[Outlet, int] = {}
        #: whether the inlets' cursors were committed to the link's state store
        self.committed = False
        self.errors: list[BaseException] = []
        self.duration = 0.0
        self._handled = 0  # errors whose records reached the dead-letter outlet

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.errors

    @property
    def unhandled_errors(self) -> int:
        """Errors whose records were neither delivered nor sent to the dead-letter outlet."""
        return len(self.errors) - self._handled

    def __repr__(self) -> str:
        extra = ""
        if self.retried:
            extra += f", retried={self.retried}"
        if self.dead_lettered:
            extra += f", dead_lettered={self.dead_lettered}"
        return (f"TransferResult(update={self.update}, pulled={self.pulled}, "
                f"pushed={self.pushed}, undelivered={self.undelivered}{extra}, "
                f"errors={self.errors}, duration={self.duration:.6f})")
