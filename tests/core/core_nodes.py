"""Small inlets and outlets used by the core tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from databay import Inlet, Outlet, Record, Update


class ListInlet(Inlet):
    """Returns ``data`` on every pull."""

    def __init__(self, data: Any = None, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self.data = data
        self.pulls = 0
        self.starts = 0
        self.shutdowns = 0

    def pull(self, update: Update) -> Any:
        self.pulls += 1
        return self.data

    def on_start(self) -> None:
        self.starts += 1

    def on_shutdown(self) -> None:
        self.shutdowns += 1


class FailingInlet(Inlet):
    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.error = error or ValueError("inlet broke")

    def pull(self, update: Update) -> Any:
        raise self.error


class AsyncInlet(Inlet):
    """Awaits ``delay`` seconds, then returns ``data``."""

    def __init__(self, data: Any = 1, delay: float = 0.0) -> None:
        super().__init__()
        self.data = data
        self.delay = delay
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def pull(self, update: Update) -> Any:
        self.loops.append(asyncio.get_running_loop())
        await asyncio.sleep(self.delay)
        return self.data


class CollectOutlet(Outlet):
    """Keeps every batch it is given."""

    def __init__(self, processors: Any = None) -> None:
        super().__init__(processors)
        self.batches: list[list[Record]] = []
        self.updates: list[Update] = []
        self.threads: list[str] = []
        self.starts = 0
        self.shutdowns = 0

    @property
    def records(self) -> list[Record]:
        return [r for batch in self.batches for r in batch]

    def push(self, records: list[Record], update: Update) -> None:
        self.threads.append(threading.current_thread().name)
        self.batches.append(records)
        self.updates.append(update)

    def on_start(self) -> None:
        self.starts += 1

    def on_shutdown(self) -> None:
        self.shutdowns += 1


class AsyncCollectOutlet(CollectOutlet):
    async def push(self, records: list[Record], update: Update) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        super().push(records, update)


class FailingOutlet(Outlet):
    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.error = error or OSError("outlet broke")
        self.calls = 0

    def push(self, records: list[Record], update: Update) -> None:
        self.calls += 1
        raise self.error
