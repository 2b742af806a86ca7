"""Delivery guarantees: retry policies, dead letters and checkpoint state stores.

See ``docs/delivery.md`` for what is guaranteed. In short:

- A :class:`RetryPolicy` on a link (or on one outlet, as ``outlet.retry_policy``)
  retries a failed push, to the failed outlet only, with exponential backoff and jitter.
- A link's ``dead_letter`` outlet receives a batch whose retries ran out, each record
  carrying ``DEAD_LETTER`` metadata (link, outlet, error, attempts).
- A link's ``state_store`` keeps the cursor of each checkpointable inlet, committed only
  after every outlet accepted the batch (or it went to the dead-letter outlet).

:class:`Delivery` applies all three for one link: the link asks it to deliver each
batch to each outlet and to begin, commit or rewind the checkpoint of each transfer.
"""

from __future__ import annotations

import logging
import os
import reprlib
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from databay._copy import copy_records as _copy_records
from databay._node import is_async_method
from databay._validate import returned_list
from databay.errors import TransferError
from databay.inlet import Inlet
from databay.record import Record
from databay.redact import redact_text

if TYPE_CHECKING:
    from databay.link import Link
    from databay.outlet import Outlet
    from databay.update import TransferResult, Update

__all__ = [
    "DEAD_LETTER",
    "CommitsCheckpoints",
    "FileStateStore",
    "MemoryStateStore",
    "RetryPolicy",
    "StateStore",
    "dead_letter_fields",
    "dead_letter_warning",
    "is_transient",
]

#: Metadata key of records sent to a dead-letter outlet: a dict with the keys
#: ``link``, ``outlet``, ``error``, ``error_type`` and ``attempts`` (see docs/delivery.md).
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


def dead_letter_fields(records: list[Record]) -> list[Record]:
    """A processor for a dead-letter outlet that stores payloads only (CsvOutlet,
    MongoOutlet, HttpOutlet, a plain FileOutlet): it puts each record's ``DEAD_LETTER``
    details into the payload, as the fields ``dead_letter_link``, ``dead_letter_outlet``,
    ``dead_letter_error``, ``dead_letter_error_type`` and ``dead_letter_attempts``. A
    dict payload gets them added (in a new dict); any other payload becomes
    ``{"payload": payload, ...}``. Records without details pass unchanged::

        dead_letter=CsvOutlet("dead.csv", processors=dead_letter_fields)

    In a pipeline file: ``processors = ["databay.delivery:dead_letter_fields"]``.
    """
    out = []
    for record in records:
        info = record.metadata.get(DEAD_LETTER)
        if not isinstance(info, dict):
            out.append(record)
            continue
        payload = record.payload
        fields = dict(payload) if isinstance(payload, dict) else {"payload": payload}
        fields.update({f"dead_letter_{key}": value for key, value in info.items()})
        out.append(Record(fields, record.metadata))
    return out


def dead_letter_warning(link: Link) -> str | None:
    """Why ``link``'s dead-letter outlet would lose the ``DEAD_LETTER`` details of the
    records it gets, or None: it says it stores payloads only
    (:attr:`~databay.outlet.Outlet.stores_metadata` is False) and has no processor of
    its own that could copy the details into the payload."""
    outlet = link.dead_letter
    if outlet is None or outlet.processors or \
            getattr(outlet, "stores_metadata", None) is not False:
        return None
    return (f"the dead-letter outlet {outlet!r} stores payloads only: dead-lettered records "
            f"would lose their DEAD_LETTER details (link, outlet, error, error_type, "
            f"attempts); use a FileOutlet with json_lines = true, or give the dead-letter "
            f"outlet the processor databay.delivery:dead_letter_fields, which copies the "
            f"details into the payload (see docs/delivery.md)")


# -- the delivery of one link ---------------------------------------------------------

_LOGGER = logging.getLogger("databay.Link")

_short = reprlib.Repr()
_short.maxlist = 3
_short.maxstring = 80
_short.maxother = 80

# Retry waits of every link wait on one condition: waits are rare, and a threading.Event
# per link would cost 1.2 KB of every idle link (see benchmarks/planners).
_WAITS = threading.Condition()

# What the recovery of a refused batch asks its driver (sync or async) to do:
# (_WAIT, seconds) -> True if the wait was interrupted;
# (_PUSH, outlet, records) -> the exception the push raised, or None.
_WAIT, _PUSH = "wait", "push"
_Steps = Generator[tuple[Any, ...], Any, None]


@runtime_checkable
class CommitsCheckpoints(Protocol):
    """An outlet that can commit a link's cursors in the same transaction as its write.

    When a link has a state store, exactly one outlet, no groupers (so one batch a
    transfer), and that outlet's ``commits_checkpoints(store)`` returns True,
    :class:`Delivery` calls ``push_committing(records, update, store, cursors)``
    instead of ``push`` (retries too) and then does not ``store.set`` the cursors
    itself: ``cursors`` maps each state-store key to the cursor to commit, and the
    outlet writes the records and the cursors in one transaction, or neither. Only when
    nothing else of the transfer failed (every pull succeeded, nothing refused so far).
    Otherwise the normal order holds: ``push``, then the cursors committed after every
    outlet took the batch (at least once: a crash in between re-delivers the batch).
    """

    def commits_checkpoints(self, store: StateStore) -> bool:
        """Whether this outlet can commit cursors of ``store`` with its writes."""

    def push_committing(self, records: list[Record], update: Update, store: StateStore,
                        cursors: dict[str, Any]) -> None:
        """``push(records, update)`` and ``store``'s ``cursors``, in one transaction."""


class Delivery:
    """How one link delivers: copies, outlet processors, retries, dead letters and
    checkpoints. Each :class:`~databay.link.Link` has one and asks it to

    - :meth:`push` (or :meth:`apush`) one batch to one outlet,
    - :meth:`refuse` (or :meth:`arefuse`) records its own processors or groupers
      raised on, when it has a dead-letter outlet,
    - :meth:`check` that the batch reached every outlet, else raise,
    - :meth:`begin`, :meth:`commit` or :meth:`rewind` the checkpoint of a transfer.

    Its policy is the link's: ``retry``, ``dead_letter``, ``state_store``,
    ``copy_records`` and ``ignore_exceptions`` are read from the link on every use.
    What happens after a refusal (retry, wait, dead letter) is decided in one place,
    :meth:`_recover`, and carried out by a sync or an async driver. Every record that
    reaches the dead-letter outlet carries ``DEAD_LETTER`` details, whatever refused it.
    """

    __slots__ = ("_link", "_positions", "_resumed", "_together", "_written", "interrupted")

    def __init__(self, link: Link) -> None:
        self._link = link
        #: set by :meth:`interrupt`: no retry waits or retries until cleared
        self.interrupted = False
        self._resumed = False
        #: this transfer's cursors before pulling (None without a state store)
        self._positions: dict[int, Any] | None = None
        #: (outlet, cursors) when the outlet commits the cursors with its write
        self._together: tuple[Outlet, dict[str, Any]] | None = None
        #: True once that outlet's push_committing succeeded (the cursors are written)
        self._written = False

    # -- deliver one batch to one outlet ---------------------------------------------

    def push(self, outlet: Outlet, batch: list[Record], update: Update,
             result: TransferResult, copied: bool = False) -> None:
        """Deliver ``batch`` to ``outlet`` (sync): copied if the link copies records
        (unless ``copied``: the records are the outlet's own copies already), through the
        outlet's processors, retried and dead-lettered by the policy; the outcome is
        counted in ``result``."""
        try:
            records = self._prepare(outlet, batch) if ((self._link.copy_records
                                                        and not copied)
                                                       or outlet.processors) else batch.copy()
        except Exception as exc:  # the outlet's processor raised: no push was tried
            self._drive(self._refused(exc, outlet, batch, 0, result), update)
            return
        self._commit_with(outlet, result)
        try:
            self._push_once(outlet, records, update)
        except Exception as exc:
            self._drive(self._recover(exc, outlet, records, result), update)
        else:
            result.pushed[outlet] = result.pushed.get(outlet, 0) + len(records)

    async def apush(self, outlet: Outlet, batch: list[Record], update: Update,
                    result: TransferResult, copied: bool = False) -> None:
        """:meth:`push` on the running event loop; a sync outlet runs in its executor."""
        try:
            records = self._prepare(outlet, batch) if ((self._link.copy_records
                                                        and not copied)
                                                       or outlet.processors) else batch.copy()
        except Exception as exc:  # the outlet's processor raised: no push was tried
            await self._adrive(self._refused(exc, outlet, batch, 0, result), update)
            return
        self._commit_with(outlet, result)
        try:
            await self._apush_once(outlet, records, update)
        except Exception as exc:
            await self._adrive(self._recover(exc, outlet, records, result), update)
        else:
            result.pushed[outlet] = result.pushed.get(outlet, 0) + len(records)

    def refuse(self, refused: list[tuple[Exception, list[Record]]], update: Update,
               result: TransferResult) -> None:
        """Hand records the link's own processors or groupers raised on to the
        dead-letter outlet: each pair is ``(error, records)``."""
        for exc, records in refused:
            self._drive(self._refused(exc, None, records, 0, result), update)

    async def arefuse(self, refused: list[tuple[Exception, list[Record]]], update: Update,
                      result: TransferResult) -> None:
        """:meth:`refuse` on the running event loop."""
        for exc, records in refused:
            await self._adrive(self._refused(exc, None, records, 0, result), update)

    def check(self, result: TransferResult) -> None:
        """Raise the last error when some records reached neither their outlet nor the
        dead-letter outlet, unless the link ignores exceptions."""
        if result.undelivered and not self._link.ignore_exceptions:
            lost = ", ".join(f"{n} to {o!r}" for o, n in result.undelivered.items())
            _LOGGER.error("%s: records not delivered: %s", result.update, lost)
            raise result.errors[-1]

    def _commit_with(self, outlet: Outlet, result: TransferResult) -> None:
        """Decide whether ``outlet`` commits this transfer's cursors with its write
        (see :class:`CommitsCheckpoints`)."""
        self._together, self._written = None, False
        link = self._link
        store, positions = link.state_store, self._positions
        if (store is None or positions is None or len(link.outlets) != 1 or link.groupers
                or result.errors or not isinstance(outlet, CommitsCheckpoints)):
            return
        if outlet.commits_checkpoints(store):
            inlets = link.inlets
            self._together = (outlet, {self._key(i, inlets[i]): inlets[i].cursor
                                       for i in positions})

    def _push_once(self, outlet: Outlet, records: list[Record], update: Update) -> None:
        together = self._together
        if together is not None and together[0] is outlet:
            store = self._link.state_store
            assert store is not None
            outlet.push_committing(records, update, store, together[1])  # type: ignore[attr-defined]
            self._written = True
        else:
            outlet.push(records, update)

    async def _apush_once(self, outlet: Outlet, records: list[Record], update: Update) -> None:
        together = self._together
        if together is not None and together[0] is outlet:
            loop = sys.modules["asyncio"].get_running_loop()
            await loop.run_in_executor(None, self._push_once, outlet, records, update)
        else:
            await _apush_once(outlet, records, update)

    def _prepare(self, outlet: Outlet, batch: list[Record]) -> list[Record]:
        """The batch as ``outlet`` receives it: copied if asked, then its processors."""
        records = _copy_records(batch) if self._link.copy_records else list(batch)
        for processor in outlet.processors:
            records = returned_list(processor(records), processor, "processor")
        return records

    # -- after a refusal: the policy, then its two drivers -----------------------------

    def _recover(self, exc: Exception, outlet: Outlet, records: list[Record],
                 result: TransferResult) -> _Steps:
        """``outlet`` refused ``records`` with ``exc``: retry while the policy allows,
        then hand them to the dead-letter outlet (or count them undelivered)."""
        attempt = 1
        while True:
            delay = self._retry_delay(outlet, exc, attempt, len(records), result)
            if delay is None or (yield _WAIT, delay):
                break
            attempt += 1
            error = yield _PUSH, outlet, records
            if error is None:
                result.pushed[outlet] = result.pushed.get(outlet, 0) + len(records)
                return
            exc = error
        yield from self._refused(exc, outlet, records, attempt, result)

    def _refused(self, exc: Exception, outlet: Outlet | None, records: list[Record],
                 attempts: int, result: TransferResult) -> _Steps:
        """``records`` are final: to the dead-letter outlet with why, else undelivered.
        ``outlet`` is None for records the link's own processors or groupers refused;
        ``attempts`` is 0 when no push was tried."""
        dead_letter = self._link.dead_letter
        if dead_letter is None:
            self._lost(exc, outlet, records, result)
            return
        try:
            dead = self._dead_letters(dead_letter, exc, outlet, records, attempts)
        except Exception as dead_exc:  # a processor of the dead-letter outlet raised
            error: Exception | None = dead_exc
        else:
            error = yield _PUSH, dead_letter, dead
        if error is not None:
            _LOGGER.error("%s: the dead-letter outlet %r refused %d record(s) too: %r",
                          result.update, dead_letter, len(records), error)
            self._lost(exc, outlet, records, result)
            return
        result.errors.append(exc)
        result._handled += 1
        key = dead_letter if outlet is None else outlet
        result.dead_lettered[key] = result.dead_lettered.get(key, 0) + len(records)
        _LOGGER.warning("%s: %d record(s) refused by %s went to the dead-letter outlet %r: %r",
                        result.update, len(records),
                        "the link's processing" if outlet is None else repr(outlet),
                        dead_letter, exc)

    def _drive(self, steps: _Steps, update: Update) -> None:
        """Carry out ``steps`` in this thread."""
        answer: Any = None
        try:
            while True:
                step = steps.send(answer)
                if step[0] is _WAIT:
                    with _WAITS:
                        answer = _WAITS.wait_for(lambda: self.interrupted, timeout=step[1])
                    continue
                try:
                    self._push_once(step[1], step[2], update)
                except Exception as error:
                    answer = error
                else:
                    answer = None
        except StopIteration:
            return

    async def _adrive(self, steps: _Steps, update: Update) -> None:
        """Carry out ``steps`` on the running event loop (waits do not block it)."""
        asyncio = sys.modules["asyncio"]
        answer: Any = None
        try:
            while True:
                step = steps.send(answer)
                if step[0] is _WAIT:
                    deadline = perf_counter() + step[1]
                    while not self.interrupted and (left := deadline - perf_counter()) > 0:
                        await asyncio.sleep(min(left, 0.05))
                    answer = self.interrupted
                    continue
                try:
                    await self._apush_once(step[1], step[2], update)
                except Exception as error:
                    answer = error
                else:
                    answer = None
        except StopIteration:
            return

    def interrupt(self) -> None:
        """End a retry wait in progress at once; make no further retry until cleared."""
        with _WAITS:
            self.interrupted = True
            _WAITS.notify_all()

    def _retry_delay(self, outlet: Outlet, exc: Exception, attempt: int, count: int,
                     result: TransferResult) -> float | None:
        """Seconds to wait before retrying ``outlet``, or None to give up."""
        policy: RetryPolicy | None = getattr(outlet, "retry_policy", None) or self._link.retry
        if policy is None or self.interrupted:
            return None
        delay = policy.next_delay(exc, attempt)
        if delay is not None:
            result.retried[outlet] = result.retried.get(outlet, 0) + 1
            _LOGGER.warning("%s: push of %d record(s) to %r failed (attempt %d of %d), "
                            "retrying in %.2f s: %r", result.update, count, outlet, attempt,
                            policy.attempts, delay, exc)
        return delay

    def _dead_letters(self, dead_letter: Outlet, exc: Exception, outlet: Outlet | None,
                      records: list[Record], attempts: int) -> list[Record]:
        """Copies of ``records`` carrying why they were refused, through the dead-letter
        outlet's own processors (as for any push)."""
        link = self._link
        # redacted: a plugin's error may quote a credential (databay.redact)
        info = {"link": ".".join(link.tags) or redact_text(repr(link)),
                "outlet": None if outlet is None else redact_text(repr(outlet)),
                "error": redact_text(repr(exc)), "error_type": type(exc).__name__,
                "attempts": attempts}
        dead = []
        for record in records:
            copy = Record(record.payload, dict(record.metadata))
            copy.metadata[DEAD_LETTER] = dict(info)
            dead.append(copy)
        for processor in dead_letter.processors:
            dead = returned_list(processor(dead), processor, "processor")
        return dead

    def _lost(self, exc: Exception, outlet: Outlet | None, records: list[Record],
              result: TransferResult) -> None:
        """Count ``records`` as not delivered (raised later by :meth:`check`, or logged)."""
        result.errors.append(exc)
        lost = len(records)
        if outlet is None:  # the link's processing refused them; nothing reached an outlet
            if not self._link.ignore_exceptions:
                raise exc
            _LOGGER.error("%s: %d record(s) lost (error ignored): %r; records: %s",
                          result.update, lost, exc, _short.repr(records), exc_info=exc)
            return
        said = getattr(exc, "undelivered", None)  # a TransferError may say "only some"
        if isinstance(exc, TransferError) and isinstance(said, int) and 0 < said < lost:
            result.pushed[outlet] = result.pushed.get(outlet, 0) + lost - said
            lost = said
        result.undelivered[outlet] = result.undelivered.get(outlet, 0) + lost
        if self._link.ignore_exceptions:
            _LOGGER.error(
                "%s: %d record(s) not delivered to %r (error ignored): %r; records: %s",
                result.update, lost, outlet, exc, _short.repr(records), exc_info=exc,
            )

    # -- checkpoints ------------------------------------------------------------------

    def begin(self) -> dict[int, Any]:
        """Resume from the state store on the first transfer (or after
        :meth:`reload`); return the checkpointable inlets' cursors before pulling."""
        link = self._link
        store = link.state_store
        assert store is not None
        positions: dict[int, Any] = {}
        for index, inlet in enumerate(link.inlets):
            if type(inlet).seek is Inlet.seek:
                continue
            if not self._resumed:
                saved = store.get(self._key(index, inlet))
                if saved is not None:
                    inlet.seek(saved)
                    _LOGGER.info("%r resumes from its committed cursor %r", inlet, saved)
            positions[index] = inlet.cursor
        self._resumed = True
        self._positions, self._together, self._written = positions, None, False
        return positions

    def commit(self, positions: dict[int, Any], result: TransferResult) -> None:
        """Commit the cursors if every record was delivered; else rewind, so that the
        next transfer reads the same data again."""
        written = self._written
        self._together, self._written, self._positions = None, False, None
        if result.undelivered or len(result.errors) > result._handled:
            self.rewind(positions)
            return
        link = self._link
        store = link.state_store
        assert store is not None
        if written:
            result.committed = True  # written with the batch (CommitsCheckpoints)
            return
        for index in positions:
            inlet = link.inlets[index]
            store.set(self._key(index, inlet), inlet.cursor)
        result.committed = True

    def commit_chunk(self, positions: dict[int, Any], result: TransferResult) -> None:
        """Commit the cursors after one delivered chunk of a streaming pull and keep them
        in ``positions``, so that a later failure rewinds to this chunk's end, not to the
        transfer's start. Once anything in the transfer failed, nothing more is
        committed (the transfer's :meth:`commit` then rewinds to the last commit)."""
        written, self._together, self._written = self._written, None, False
        if result.undelivered or len(result.errors) > result._handled:
            return
        link = self._link
        store = link.state_store
        assert store is not None
        for index in positions:
            inlet = link.inlets[index]
            cursor = inlet.cursor
            if not written:  # else committed with the chunk's write (CommitsCheckpoints)
                store.set(self._key(index, inlet), cursor)
            positions[index] = cursor

    def rewind(self, positions: dict[int, Any]) -> None:
        """Seek each inlet back to its cursor from before the transfer."""
        inlets = self._link.inlets
        for index, cursor in positions.items():
            try:
                inlets[index].seek(cursor)
            except Exception:
                _LOGGER.exception("%r could not rewind to %r", inlets[index], cursor)

    def reload(self) -> None:
        """Make the next :meth:`begin` resume from the store again."""
        self._resumed = False

    def _key(self, index: int, inlet: Inlet) -> str:
        own = inlet.checkpoint_key or f"{index}:{type(inlet).__name__}"
        return f"{'.'.join(self._link.tags)}/{own}"


async def _apush_once(outlet: Outlet, records: list[Record], update: Update) -> None:
    if is_async_method(outlet, "push"):
        await outlet.push(records, update)
    else:
        loop = sys.modules["asyncio"].get_running_loop()
        await loop.run_in_executor(None, outlet.push, records, update)
