"""Helpers shared by the contract checks: collecting nodes, run modes, failure reports."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from databay._node import Node, is_async_method
from databay.inlet import Inlet
from databay.link import Link, TransferResult, Update
from databay.outlet import Outlet
from databay.record import Record

__all__ = [
    "MODES",
    "AsyncCollectingOutlet",
    "AsyncRecordsInlet",
    "CollectingOutlet",
    "ContractReport",
    "Mode",
    "RecordsInlet",
    "check_repr",
    "lifecycle_is_async",
    "run_link",
]

#: How a check drives a node through a :class:`~databay.Link`:
#:
#: ``"sync"``: ``link.transfer()`` with a synchronous partner node (a link of sync nodes
#: only runs in the calling thread);
#: ``"async"``: ``link.transfer()`` with an ``async`` partner node (the link runs on
#: databay's shared event loop, sync nodes in its executor);
#: ``"atransfer"``: ``await link.atransfer()`` inside ``asyncio.run``, as an async
#: application would (skipped for nodes whose ``on_start``/``on_shutdown`` are async,
#: which run on databay's shared loop, not the application's).
Mode = Literal["sync", "async", "atransfer"]
MODES: tuple[Mode, ...] = ("sync", "async", "atransfer")

_INTERVAL = datetime.timedelta(seconds=1)
TAGS = ["databay-testing"]


class CollectingOutlet(Outlet):
    """A synchronous outlet that keeps every batch it is given, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Record]] = []

    def push(self, records: list[Record], update: Update) -> None:
        self.batches.append(list(records))

    @property
    def records(self) -> list[Record]:
        """Every record received, across batches."""
        return [r for batch in self.batches for r in batch]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batches={len(self.batches)})"


class AsyncCollectingOutlet(CollectingOutlet):
    """:class:`CollectingOutlet` with an ``async`` push."""

    async def push(self, records: list[Record], update: Update) -> None:  # type: ignore[override]
        self.batches.append(list(records))


class RecordsInlet(Inlet):
    """A synchronous inlet whose every pull returns a fresh copy of ``payloads``, each
    wrapped with :meth:`~databay.Inlet.new_record`."""

    def __init__(self, payloads: Sequence[Any], metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self.payloads = list(payloads)

    def pull(self, update: Update) -> list[Record]:
        return [self.new_record(p) for p in copy.deepcopy(self.payloads)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.payloads)} payloads)"


class AsyncRecordsInlet(RecordsInlet):
    """:class:`RecordsInlet` with an ``async`` pull."""

    async def pull(self, update: Update) -> list[Record]:  # type: ignore[override]
        return [self.new_record(p) for p in copy.deepcopy(self.payloads)]


@dataclass
class ContractReport:
    """What :func:`~databay.testing.check_inlet` or :func:`~databay.testing.check_outlet`
    verified: the checks that passed, those skipped (with why), and, for inlets, the
    records each mode produced so a test can assert more about them."""

    node: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    records: dict[str, list[Record]] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.node}: {len(self.passed)} checks passed, {len(self.skipped)} skipped"]
        lines += [f"  ok    {name}" for name in self.passed]
        lines += [f"  skip  {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


def describe(node: object) -> str:
    """``repr(node)``, or a fallback naming its class when repr itself fails."""
    try:
        return repr(node)
    except Exception as exc:
        return f"<{type(node).__name__} (repr raised {type(exc).__name__})>"


def fail(check: str, node: object, message: str) -> AssertionError:
    """The AssertionError a failed check raises: ``[check] node: message``."""
    return AssertionError(f"[{check}] {describe(node)}: {message}")


@contextmanager
def checking(check: str, node: object, doing: str) -> Iterator[None]:
    """Turn an exception raised by the node's code into a failure of ``check``."""
    try:
        yield
    except AssertionError:
        raise
    except Exception as exc:
        raise fail(check, node, f"{doing} raised {type(exc).__name__}: {exc}") from exc


def check_repr(node: Node, check: str = "repr") -> None:
    """``repr(node)`` and ``str(node)`` return strings without raising: links, logs and
    the ``'__inlet__'`` metadata of records all use them."""
    for func in (repr, str):
        try:
            text = func(node)
        except Exception as exc:
            raise AssertionError(
                f"[{check}] {func.__name__}() of a {type(node).__name__} raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(text, str) or not text:
            raise AssertionError(f"[{check}] {func.__name__}() of a {type(node).__name__} "
                                 f"returned {text!r}, not a non-empty str")


def lifecycle_is_async(node: Node) -> bool:
    """Whether the node's ``on_start`` or ``on_shutdown`` is ``async def``."""
    return is_async_method(node, "on_start") or is_async_method(node, "on_shutdown")


def run_link(link: Link, mode: Mode, transfers: int) -> list[TransferResult]:
    """Start the link's nodes, run ``transfers`` transfers as ``mode`` says, shut down."""
    link.on_start()
    try:
        if mode == "atransfer":
            import asyncio

            async def run() -> list[TransferResult]:
                return [await link.atransfer() for _ in range(transfers)]

            return asyncio.run(run())
        return [link.transfer() for _ in range(transfers)]
    finally:
        link.on_shutdown()


def make_link(inlet: Inlet, outlet: Outlet, **kwargs: Any) -> Link:
    """A link the checks use: copy_records off, so the records the inlet made are the
    records the outlet receives."""
    return Link(inlet, outlet, interval=_INTERVAL, tags=TAGS, copy_records=False, **kwargs)


def check_lifecycle(node: Node, check: str = "lifecycle", restart: bool = True) -> None:
    """``try_start()`` calls ``on_start()`` once however often it is called, sets
    ``active``; ``try_shutdown()`` calls ``on_shutdown()`` once and clears it. With
    ``restart``, the node can be started and shut down again (planners restart links)."""
    calls = {"on_start": 0, "on_shutdown": 0}
    saved = {name: node.__dict__.get(name) for name in calls}
    for name in calls:
        original: Callable[[], Any] = getattr(node, name)

        def counting(_name: str = name, _original: Callable[[], Any] = original) -> Any:
            calls[_name] += 1
            return _original()

        node.__dict__[name] = counting
    try:
        if node.active:
            raise fail(check, node, "a new node is already active before try_start(); "
                                    "do not set _active or override 'active'")
        rounds = 2 if restart else 1
        for n in range(1, rounds + 1):
            with checking(check, node, "try_start()"):
                node.try_start()
                node.try_start()
            if calls["on_start"] != n:
                raise fail(check, node, f"on_start() ran {calls['on_start']} times after "
                                        f"{n} round(s) of two try_start() calls, expected {n}; "
                                        "do not override try_start()")
            if not node.active:
                raise fail(check, node, "not active after try_start()")
            with checking(check, node, "try_shutdown()"):
                node.try_shutdown()
                node.try_shutdown()
            if calls["on_shutdown"] != n:
                raise fail(check, node, f"on_shutdown() ran {calls['on_shutdown']} times "
                                        f"after {n} round(s) of two try_shutdown() calls, "
                                        f"expected {n}; do not override try_shutdown()")
            if node.active:
                raise fail(check, node, "still active after try_shutdown()")
    finally:
        for name, value in saved.items():
            if value is None:
                node.__dict__.pop(name, None)
            else:
                node.__dict__[name] = value


def check_transfer_results(check: str, node: object, results: list[TransferResult]) -> None:
    """Every transfer finished without errors."""
    for result in results:
        if result.errors:
            raise fail(check, node, f"transfer {result.update} had errors: {result.errors!r}")
