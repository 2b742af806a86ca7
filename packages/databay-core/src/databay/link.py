"""The Link: moves records from its inlets to its outlets, one transfer at a time."""

from __future__ import annotations

import datetime
import itertools
import logging
import sys
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from itertools import islice
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

from databay import _hooks, _runtime
from databay._copy import wrap_copies as _wrap_copies
from databay._node import is_async_method
from databay._validate import callables, flag, returned_list
from databay._validate import interval as _interval
from databay.delivery import Delivery, RetryPolicy, StateStore
from databay.errors import InvalidNodeError, RecordCopyError, UnsupportedScheduleError
from databay.inlet import Inlet
from databay.outlet import Outlet
from databay.record import Record
from databay.schedules import Interval, Schedule, as_schedule
from databay.update import TransferResult, Update

if TYPE_CHECKING:
    import asyncio

__all__ = ["Link", "TransferResult", "Update"]

_LOGGER = logging.getLogger("databay.Link")

def _hook_raised(name: str) -> None:
    _LOGGER.exception("a %s hook implementation raised; the transfer goes on", name)


Processor = Callable[[list[Record]], list[Record]]
Grouper = Callable[[list[list[Record]]], list[list[Record]]]
N = TypeVar("N", Inlet, Outlet)
#: How many records a link reads from a streaming pull before it pushes them.
DEFAULT_BATCH_SIZE = 10_000
_INLET: type = Inlet  # typed as plain `type`: mypy refuses abstract classes as values
_OUTLET: type = Outlet

def _nodes(value: Any, base: type[N], arg: str) -> list[N]:
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    for item in items:
        if not isinstance(item, base):
            raise TypeError(
                f"Link {arg} must be {base.__name__} instances (or a list of them), "
                f"got {type(item).__name__}: {item!r}"
            )
    return items


class Link:
    """Moves records from inlets to outlets; a planner calls :meth:`transfer` on the
    link's interval or schedule.

    :param inlets: an Inlet or a list of them.
    :param outlets: an Outlet or a list of them.
    :param interval: time between transfers: a ``timedelta`` or a number of seconds.
    :param schedule: instead of ``interval``: a cron expression (``"30 2 * * *"``, in the
        machine's local zone) or a :mod:`databay.schedules` object (``Cron(expr,
        timezone="Europe/Berlin")``, ``Interval(...)`` with ``start``/``end``/``jitter``).
    :param tags: a string or list of strings naming the link (``Update`` shows them).
    :param copy_records: give each outlet its own copy of the records (default True).
    :param ignore_exceptions: log and skip failing nodes instead of raising (default False).
    :param inlet_concurrency: how many async inlets are pulled at once.
    :param immediate_transfer: transfer once at planner start (if the planner agrees).
    :param processors: callables ``records -> records`` applied to every transfer.
    :param groupers: callables ``batches -> batches`` that split records into batches.
    :param catch_exceptions: deprecated alias of ``ignore_exceptions``.
    :param name: deprecated; becomes ``tags=[name]``.
    :param retry: a :class:`~databay.delivery.RetryPolicy` for failed pushes (an
        outlet's own ``retry_policy`` attribute overrides it).
    :param dead_letter: an outlet that receives the records an outlet still refused
        after its retries (or at once for a permanent error), and those an outlet's or
        the link's processor or grouper raised on, each with ``DEAD_LETTER`` metadata
        saying why (see docs/delivery.md).
    :param state_store: where the cursors of checkpointable inlets are committed after
        each delivered transfer, and resumed from (the link needs tags to name them).
    :param batch_size: how many records the link reads from a streaming pull (a ``pull``
        that returns an iterator, a generator or an async generator) before it processes
        and pushes them to every outlet; default 10,000. Lists are never split.
    """

    def __init__(
        self,
        inlets: Inlet | Sequence[Inlet],
        outlets: Outlet | Sequence[Outlet],
        interval: datetime.timedelta | float | None = None,
        tags: str | Sequence[str] | None = None,
        copy_records: bool = True,
        ignore_exceptions: bool = False,
        catch_exceptions: bool | None = None,
        inlet_concurrency: int = 9999,
        immediate_transfer: bool = True,
        processors: Processor | Sequence[Processor] | None = None,
        groupers: Grouper | Sequence[Grouper] | None = None,
        name: str | None = None,
        *,
        schedule: str | Schedule | None = None,
        retry: RetryPolicy | None = None,
        dead_letter: Outlet | None = None,
        state_store: StateStore | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if catch_exceptions is not None:
            warnings.warn(
                "Link(catch_exceptions=...) is deprecated, use ignore_exceptions=...",
                DeprecationWarning, stacklevel=2,
            )
            ignore_exceptions = catch_exceptions
        if name is not None:
            warnings.warn(
                "Link(name=...) is deprecated, use tags=[...]; the name becomes the first tag",
                UserWarning, stacklevel=2,
            )
            if tags is None:
                tags = [name]
        self._inlets: list[Inlet] = []
        self._outlets: list[Outlet] = []
        self._schedule = _link_schedule(interval, schedule)
        self._tags = self._check_tags(tags)
        self.copy_records = flag(copy_records, "Link", "copy_records")
        self.ignore_exceptions = flag(ignore_exceptions, "Link", "ignore_exceptions")
        self.immediate_transfer = flag(immediate_transfer, "Link", "immediate_transfer")
        if isinstance(inlet_concurrency, bool) or not isinstance(inlet_concurrency, int) \
                or inlet_concurrency < 1:
            raise ValueError(
                f"Link(inlet_concurrency=...) must be a positive int, got {inlet_concurrency!r}"
            )
        self.inlet_concurrency = inlet_concurrency
        self.processors: list[Processor] = callables(processors, "processors", "Link")
        self.groupers: list[Grouper] = callables(groupers, "groupers", "Link")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(
                f"Link(retry=...) must be a databay.delivery.RetryPolicy, got {retry!r}")
        if dead_letter is not None and not isinstance(dead_letter, _OUTLET):
            raise TypeError(f"Link(dead_letter=...) must be an Outlet, got {dead_letter!r}")
        if state_store is not None:
            if not isinstance(state_store, StateStore):
                raise TypeError("Link(state_store=...) must be a databay.delivery.StateStore, "
                                f"got {state_store!r}")
            if not self._tags:
                raise ValueError("Link(state_store=...) needs tags: they name the link's "
                                 "checkpoints in the store")
        self.batch_size = batch_size
        self.retry = retry
        self.dead_letter = dead_letter
        self.state_store = state_store
        self._delivery = Delivery(self)
        # next() of itertools.count is atomic: unique transfer numbers without a lock
        self._counter = itertools.count()
        self._tick_due: float | None = None  # set by the planner for the next transfer
        self._job: Any = None
        self._all_sync = True
        self.add_inlets(inlets)
        self.add_outlets(outlets)

    # -- configuration --------------------------------------------------------------

    @staticmethod
    def _check_tags(tags: Any) -> list[str]:
        if tags is None:
            return []
        if isinstance(tags, str):
            return [tags]
        if isinstance(tags, (list, tuple)) and all(isinstance(t, str) for t in tags):
            return list(tags)
        raise TypeError(f"Link(tags=...) must be a string or a list of strings, got {tags!r}")

    @property
    def batch_size(self) -> int:
        """How many records are read from a streaming pull, processed and pushed at a
        time (see "Streaming pulls" in docs/concepts/inlets.md); a positive int."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Link(batch_size=...) must be a positive int (records per chunk "
                             f"of a streaming pull), got {value!r}")
        self._batch_size = value

    @property
    def tags(self) -> list[str]:
        """The link's tags."""
        return self._tags

    @property
    def name(self) -> str:
        """Deprecated: the first tag, or ``''``."""
        warnings.warn("Link.name is deprecated, use Link.tags", DeprecationWarning, stacklevel=2)
        return self._tags[0] if self._tags else ""

    @property
    def interval(self) -> datetime.timedelta:
        """Time between transfers. A link on a calendar schedule has none: reading it
        raises :class:`~databay.errors.UnsupportedScheduleError` (read :attr:`schedule`)."""
        schedule = self._schedule
        if isinstance(schedule, Interval):
            return schedule.every
        raise UnsupportedScheduleError(
            f"{self!r} runs on a calendar schedule ({schedule!r}), not an interval: read "
            f"link.schedule (a planner that runs such links sets supports_schedules = True)")

    @interval.setter
    def interval(self, value: datetime.timedelta | float) -> None:
        self._schedule = Interval(_interval(value, "Link"))

    @property
    def schedule(self) -> Schedule:
        """When the link transfers: an :class:`~databay.schedules.Interval` (also for
        ``interval=``) or a :class:`~databay.schedules.Cron`. Set it before the link is
        added to a planner."""
        return self._schedule

    @schedule.setter
    def schedule(self, value: str | Schedule) -> None:
        self._schedule = as_schedule(value, "Link", "schedule")

    @property
    def inlets(self) -> list[Inlet]:
        """The link's inlets (use ``add_inlets``/``remove_inlets`` to change them)."""
        return self._inlets

    @property
    def outlets(self) -> list[Outlet]:
        """The link's outlets (use ``add_outlets``/``remove_outlets`` to change them)."""
        return self._outlets

    @property
    def transfer_number(self) -> int:
        """How many transfers this link has started."""
        return int(repr(self._counter)[6:-1])  # "count(N)": N transfers started

    @property
    def job(self) -> Any:
        """The planner's handle for this link's schedule, or None."""
        return self._job

    def set_job(self, job: Any) -> None:
        """Used by planners to attach their scheduling handle."""
        self._job = job

    def _add(self, target: list[N], nodes: Any, base: type[N], arg: str) -> None:
        new = _nodes(nodes, base, arg)
        for node in new:
            if node in target or new.count(node) > 1:
                raise InvalidNodeError(f"{node!r} is already one of this link's {arg}")
        target.extend(new)
        self._update_sync()

    def _remove(self, target: list[N], nodes: Any, base: type[N], arg: str) -> None:
        for node in _nodes(nodes, base, arg):
            if node not in target:
                raise InvalidNodeError(f"{node!r} is not one of this link's {arg}")
            target.remove(node)
        self._update_sync()

    def _update_sync(self) -> None:
        outlets = [*self._outlets, *([self.dead_letter] if self.dead_letter else [])]
        self._all_sync = not any(_pulls_async(i) for i in self._inlets) and \
            not any(is_async_method(o, "push") for o in outlets)

    def add_inlets(self, inlets: Inlet | Sequence[Inlet]) -> None:
        """Add one inlet or a list of them. A duplicate raises InvalidNodeError."""
        self._add(self._inlets, inlets, _INLET, "inlets")

    def remove_inlets(self, inlets: Inlet | Sequence[Inlet]) -> None:
        """Remove inlets. One that is not in the link raises InvalidNodeError."""
        self._remove(self._inlets, inlets, _INLET, "inlets")

    def add_outlets(self, outlets: Outlet | Sequence[Outlet]) -> None:
        """Add one outlet or a list of them. A duplicate raises InvalidNodeError."""
        self._add(self._outlets, outlets, _OUTLET, "outlets")

    def remove_outlets(self, outlets: Outlet | Sequence[Outlet]) -> None:
        """Remove outlets. One that is not in the link raises InvalidNodeError."""
        self._remove(self._outlets, outlets, _OUTLET, "outlets")

    # -- lifecycle ------------------------------------------------------------------

    def on_start(self) -> None:
        """Start every inlet, then every outlet (each node once, however many links share it)."""
        self._each_node("try_start")

    def on_shutdown(self) -> None:
        """Shut down every inlet, then every outlet that is active."""
        self._each_node("try_shutdown")

    def reload_cursors(self) -> None:
        """Make the next transfer first seek each checkpointable inlet to its cursor
        committed in the state store. Planners that run one link in several processes
        call it before each transfer; otherwise only the first transfer resumes."""
        self._delivery.reload()

    def interrupt(self) -> None:
        """Stop waiting: a retry wait in progress ends at once and no further retry is
        made, until the next :meth:`on_start`. Planners call it on shutdown."""
        self._delivery.interrupt()

    @property
    def _interrupted(self) -> bool:
        return self._delivery.interrupted

    def _each_node(self, method: str) -> None:
        if method == "try_start":
            self._delivery.interrupted = False
        extra = [self.dead_letter] if self.dead_letter is not None else []
        for node in [*self._inlets, *self._outlets, *extra]:
            try:
                getattr(node, method)()
            except Exception as exc:
                if not self.ignore_exceptions:
                    raise
                _LOGGER.exception("%s: %s.%s() raised (ignored): %s", self, node, method, exc)

    # -- transfer -------------------------------------------------------------------

    def transfer(self) -> TransferResult:
        """Run one transfer: pull every inlet, process, group, push every batch to
        every outlet. Returns what happened.

        A link whose nodes are all synchronous runs in the calling thread; async nodes
        run on databay's shared event loop. From async code use :meth:`atransfer`.
        """
        if self._all_sync:
            aio = sys.modules.get("asyncio")
            if aio is not None and aio._get_running_loop() is not None:
                raise RuntimeError(
                    "Link.transfer() was called from inside a running event loop, where it "
                    "would block the loop; use 'await link.atransfer()' instead"
                )
            return self._transfer_sync()
        return _runtime.run_sync(self.atransfer(), "Link.transfer()", "await link.atransfer()")

    def _begin(self) -> tuple[Update, TransferResult, float]:
        number = next(self._counter)
        due = self._tick_due
        if due is not None:
            self._tick_due = None
        update = Update(self._tags, number, due)
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s transfer", update)
        calls = (_hooks.transfer or _hooks.transfer_calls())[0]
        for call in calls:
            try:
                call(self, update)
            except Exception:
                _hook_raised("databay_transfer_started")
        result = TransferResult(update)
        return update, result, result.started

    def _end(self, result: TransferResult, started: float, error: BaseException | None,
             cursors: dict[int, Any] | None) -> TransferResult:
        if error is not None and cursors is not None:
            self._delivery.rewind(cursors)
        result.duration = perf_counter() - started
        if error is not None:
            for call in (_hooks.transfer or _hooks.transfer_calls())[2]:
                try:
                    call(self, result.update, error, result)
                except Exception:
                    _hook_raised("databay_transfer_failed")
            return result
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s done", result.update)
        for call in (_hooks.transfer or _hooks.transfer_calls())[1]:
            try:
                call(self, result.update, result)
            except Exception:
                _hook_raised("databay_transfer_finished")
        return result

    def _transfer_sync(self) -> TransferResult:
        # The hot path of sync-only links: kept flat on purpose (see benchmarks/core).
        update, result, started = self._begin()
        delivery = self._delivery
        cursors = delivery.begin() if self.state_store is not None else None
        try:
            records: list[Record] = []  # pull
            streams: list[tuple[Inlet, Any]] | None = None
            for inlet in self._inlets:
                try:
                    data = inlet.pull(update)
                except Exception as exc:
                    self._failed(exc, result, f"pulling from {inlet!r}")
                    continue
                if data is not None:
                    if type(data) is not list and _is_stream(data):
                        streams = [*(streams or []), (inlet, data)]
                    else:
                        records += inlet._to_records(data)
            result.pulled = len(records)
            if streams is not None and self._stream_sync(records, streams, update, result,
                                                         cursors):
                batches, refused = [], None  # delivered chunk by chunk
            else:
                batches, refused = self._process(records, result) if self.processors \
                    or self.groupers else ([records], None)  # process
            if refused:
                delivery.refuse(refused, update, result)
            for batch in batches:  # push
                for outlet in self._outlets:
                    delivery.push(outlet, batch, update, result)
                if result.undelivered:
                    delivery.check(result)
            if cursors is not None:  # commit
                delivery.commit(cursors, result)
        except BaseException as exc:
            self._end(result, started, exc, cursors)
            raise
        return self._end(result, started, None, cursors)

    def _deliver_sync(self, records: list[Record], update: Update,
                      result: TransferResult, copied: bool = False) -> None:
        """Process and push one chunk of records to every outlet (sync); ``copied``: the
        records are already the outlet's own copies (see :meth:`_wrap_chunk`)."""
        delivery = self._delivery
        batches, refused = self._process(records, result) if self.processors \
            or self.groupers else ([records], None)
        if refused:
            delivery.refuse(refused, update, result)
        for batch in batches:
            for outlet in self._outlets:
                delivery.push(outlet, batch, update, result, copied)
            if result.undelivered:
                delivery.check(result)

    def _wrap_chunk(self, inlet: Inlet, chunk: list[Any]) -> tuple[list[Record], bool]:
        """Records for a chunk a stream yielded, and whether they are copies already.

        With ``copy_records`` and a single outlet that has no processors, and no link
        processors or groupers, nothing but that outlet ever sees the chunk's records:
        they are created as copies of what the inlet yielded right away, instead of
        wrapped, then copied again for the outlet (one record object per item, not two).
        Anything that cannot be copied takes the usual path, which reports it."""
        outlets = self._outlets
        if (self.copy_records and len(outlets) == 1 and not outlets[0].processors
                and not self.processors and not self.groupers):
            try:
                return _wrap_copies(chunk, inlet._shared_metadata()), True
            except RecordCopyError:
                pass  # wrapped as usual; the delivery's copy raises it where it always did
        return inlet._to_records(chunk), False

    def _stream_sync(self, records: list[Record], streams: list[tuple[Inlet, Any]],
                     update: Update, result: TransferResult,
                     cursors: dict[int, Any] | None) -> bool:
        """Deliver the list-returning inlets' records (if any), then each stream chunk by
        chunk: read ``batch_size`` records, process, push to every outlet, commit the
        cursors, read the next. False if nothing came: the caller then delivers the
        empty pull as for a list."""
        delivered = bool(records)
        if records:
            self._deliver_sync(records, update, result)
            if cursors is not None:
                self._delivery.commit_chunk(cursors, result)
        for inlet, stream in streams:
            if not isinstance(stream, Iterator):
                _close(stream)
                raise TypeError(_async_stream_in_sync(inlet))
            try:
                while True:
                    try:
                        chunk = list(islice(stream, self._batch_size))
                    except Exception as exc:
                        self._failed(exc, result, f"pulling from {inlet!r}")
                        break
                    if not chunk:
                        break
                    chunk, copied = self._wrap_chunk(inlet, chunk)
                    result.pulled += len(chunk)
                    delivered = True
                    self._deliver_sync(chunk, update, result, copied)
                    if cursors is not None:
                        self._delivery.commit_chunk(cursors, result)
            finally:
                _close(stream)
        return delivered

    async def atransfer(self) -> TransferResult:
        """Run one transfer on the running event loop (see :meth:`transfer`).

        Async inlets are pulled concurrently (at most ``inlet_concurrency`` at once) and
        each batch is pushed to all outlets concurrently. Sync nodes run in the loop's
        default executor, so they never block it.
        """
        import asyncio  # imported on first async use: keeps `import databay` light

        update, result, started = self._begin()
        delivery = self._delivery
        cursors = delivery.begin() if self.state_store is not None else None
        try:
            records, streams = await self._apull(update, result)
            if streams and await self._astream(records, streams, update, result, cursors):
                batches, refused = [], None  # delivered chunk by chunk
            else:
                batches, refused = self._process(records, result) if self.processors \
                    or self.groupers else ([records], None)  # process
            if refused:
                await delivery.arefuse(refused, update, result)
            outlets = self._outlets
            for batch in batches:  # push
                if len(outlets) == 1:  # no task to spawn, no extra turn of the loop
                    await delivery.apush(outlets[0], batch, update, result)
                else:
                    await asyncio.gather(*(delivery.apush(o, batch, update, result)
                                           for o in outlets))
                delivery.check(result)
            if cursors is not None:  # commit
                delivery.commit(cursors, result)
        except BaseException as exc:
            self._end(result, started, exc, cursors)
            raise
        return self._end(result, started, None, cursors)

    async def _adeliver(self, records: list[Record], update: Update,
                        result: TransferResult, copied: bool = False) -> None:
        """Process and push one chunk of records to every outlet (async); ``copied`` as
        for :meth:`_deliver_sync`."""
        asyncio = sys.modules["asyncio"]
        delivery = self._delivery
        batches, refused = self._process(records, result) if self.processors \
            or self.groupers else ([records], None)
        if refused:
            await delivery.arefuse(refused, update, result)
        outlets = self._outlets
        for batch in batches:
            if len(outlets) == 1:
                await delivery.apush(outlets[0], batch, update, result, copied)
            else:
                await asyncio.gather(*(delivery.apush(o, batch, update, result)
                                       for o in outlets))
            delivery.check(result)

    async def _astream(self, records: list[Record], streams: list[tuple[Inlet, Any]],
                       update: Update, result: TransferResult,
                       cursors: dict[int, Any] | None) -> bool:
        """:meth:`_stream_sync` on the running loop: async iterators are read on the loop,
        sync ones in the loop's executor (a chunk at a time)."""
        loop = sys.modules["asyncio"].get_running_loop()
        delivered = bool(records)
        if records:
            await self._adeliver(records, update, result)
            if cursors is not None:
                self._delivery.commit_chunk(cursors, result)
        size = self._batch_size
        for inlet, stream in streams:
            try:
                while True:
                    try:
                        if isinstance(stream, AsyncIterator):
                            chunk = await _atake(stream, size)
                        else:
                            chunk = await loop.run_in_executor(None, _take, stream, size)
                    except Exception as exc:
                        self._failed(exc, result, f"pulling from {inlet!r}")
                        break
                    if not chunk:
                        break
                    chunk, copied = self._wrap_chunk(inlet, chunk)
                    result.pulled += len(chunk)
                    delivered = True
                    await self._adeliver(chunk, update, result, copied)
                    if cursors is not None:
                        self._delivery.commit_chunk(cursors, result)
            finally:
                await _aclose(stream)
        return delivered

    # -- transfer steps shared by the sync and async paths ----------------------------

    async def _apull(self, update: Update, result: TransferResult
                     ) -> tuple[list[Record], list[tuple[Inlet, Any]]]:
        """Pull every inlet concurrently; async pulls go to gather as they are. Returns
        the records of list-returning pulls, and the streams (iterators) to read."""
        asyncio = sys.modules["asyncio"]
        pulls = [inlet.pull(update) if is_async_method(inlet, "pull")
                 else _apull_sync(inlet, update) for inlet in self._inlets]
        if len(pulls) > self.inlet_concurrency:
            semaphore = asyncio.Semaphore(self.inlet_concurrency)
            pulls = [_limited(semaphore, p) for p in pulls]
        if len(pulls) == 1:  # no task to spawn, no extra turn of the loop
            try:
                outcomes: list[Any] = [await pulls[0]]
            except Exception as exc:
                outcomes = [exc]
        else:
            outcomes = await asyncio.gather(*pulls, return_exceptions=True)
        records: list[Record] = []
        streams: list[tuple[Inlet, Any]] = []
        for inlet, outcome in zip(self._inlets, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # streams not read yet are closed when collected
                self._failed(outcome, result, f"pulling from {inlet!r}")
            elif outcome is not None and type(outcome) is not list and _is_stream(outcome):
                streams.append((inlet, outcome))
            else:
                records += inlet._to_records(outcome)
        result.pulled = len(records)
        return records, streams

    def _process(self, records: list[Record], result: TransferResult
                 ) -> tuple[list[list[Record]], list[tuple[Exception, list[Record]]]]:
        """The link's processors, then its groupers: the batches to push, and the
        records a processor or grouper raised on, for the dead-letter outlet (without
        one, such an error is raised, or logged and the records go on unprocessed)."""
        refused: list[tuple[Exception, list[Record]]] = []
        for processor in self.processors:
            try:
                records = returned_list(processor(records), processor, "processor")
            except Exception as exc:
                if self.dead_letter is None:
                    self._failed(exc, result, f"link processor {processor!r}")
                else:
                    refused.append((exc, records))
                    records = []
        batches = [records]
        for grouper in self.groupers:
            try:
                batches = returned_list(grouper(batches), grouper, "grouper")
            except Exception as exc:
                if self.dead_letter is None:
                    self._failed(exc, result, f"grouper {grouper!r}")
                else:
                    refused.append((exc, [r for batch in batches for r in batch]))
                    batches = [[]]
        return batches, refused

    def _failed(self, exc: Exception, result: TransferResult, doing: str) -> None:
        """An inlet, processor or grouper failed: raise, or log and go on."""
        result.errors.append(exc)
        if not self.ignore_exceptions:
            raise exc
        _LOGGER.error("%s: %s raised (ignored): %r", result.update, doing, exc, exc_info=exc)

    def __repr__(self) -> str:
        schedule = self._schedule
        when = (f"interval:{schedule.every}" if isinstance(schedule, Interval)
                and schedule.is_plain_interval else f"schedule:{schedule}")
        return (
            f"Link(tags:{self._tags}, {when}, "
            f"inlets:{self._inlets}, outlets:{self._outlets})"
        )


def _link_schedule(interval: Any, schedule: Any) -> Schedule:
    if interval is not None and schedule is not None:
        raise ValueError("Link takes interval=... or schedule=..., not both (an interval with "
                         "start, end or jitter is schedule=databay.schedules.Interval(...))")
    if interval is None and schedule is None:
        raise TypeError("Link() needs interval=... (a datetime.timedelta or a number of seconds) "
                        "or schedule=... "
                        "(a cron expression such as '30 2 * * *', or a databay.schedules "
                        "Cron / Interval)")
    if interval is not None:
        if isinstance(interval, (str, Schedule)):
            raise TypeError(f"Link(interval=...) must be a datetime.timedelta or a number of "
                            f"seconds, got {interval!r}: pass a cron expression or a schedule "
                            f"as schedule=...")
        return Interval(_interval(interval, "Link"))
    return as_schedule(schedule, "Link", "schedule")


def _pulls_async(inlet: Inlet) -> bool:
    """Whether the inlet's pull is ``async def`` (a coroutine or an async generator)."""
    if is_async_method(inlet, "pull"):
        return True
    func = getattr(type(inlet), "pull", None)
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    return code is not None and bool(code.co_flags & 0x200)  # CO_ASYNC_GENERATOR


_NOT_STREAMS = frozenset({dict, str, int, float, bool, bytes, tuple, Record})


def _is_stream(data: Any) -> bool:
    """Whether a pull's result is read chunk by chunk: an iterator or async iterator."""
    if type(data) in _NOT_STREAMS:  # the usual single values, without the ABC checks
        return False
    return isinstance(data, (Iterator, AsyncIterator)) and not isinstance(data, Record)


def _async_stream_in_sync(inlet: Inlet) -> str:
    return (f"{type(inlet).__name__}.pull() returned an async iterator from a plain 'def': "
            f"declare it 'async def pull(self, update)' (an async generator may 'yield' "
            f"its records), so that the link reads it on an event loop")


def _close(stream: Any) -> None:
    """Close a generator the link stops reading (runs its ``finally`` blocks)."""
    close = getattr(stream, "close", None)
    if close is not None and not isinstance(stream, AsyncIterator):
        close()


def _take(stream: Iterator[Any], size: int) -> list[Any]:
    return list(islice(stream, size))


async def _atake(stream: AsyncIterator[Any], size: int) -> list[Any]:
    chunk: list[Any] = []
    append = chunk.append
    async for item in stream:
        append(item)
        if len(chunk) >= size:
            break
    return chunk


async def _aclose(stream: Any) -> None:
    if isinstance(stream, AsyncIterator):
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    else:
        loop = sys.modules["asyncio"].get_running_loop()
        await loop.run_in_executor(None, _close, stream)


async def _apull_sync(inlet: Inlet, update: Update) -> Any:
    loop = sys.modules["asyncio"].get_running_loop()
    return await loop.run_in_executor(None, inlet.pull, update)


async def _limited(semaphore: asyncio.Semaphore, awaitable: Any) -> Any:
    async with semaphore:
        return await awaitable
