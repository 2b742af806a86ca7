"""Live status of running links, built on the observability hooks.

:class:`StatusTracker` is a plugin object implementing ``databay_transfer_started``,
``databay_transfer_finished`` and ``databay_transfer_failed``; it counts per link.
A display shows the counts: :class:`LiveDisplay` redraws a table in place on a
terminal, :class:`LineDisplay` writes one plain line per transfer otherwise.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from copy import copy as _copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from databay import plugins
from databay.hookspecs import hookimpl
from databay.misc.logs import DEFAULT_FORMAT, ISO8601Formatter
from databay.redact import redact_text

if TYPE_CHECKING:
    from databay.link import Link, TransferResult, Update

__all__ = ["LineDisplay", "LinkStats", "LiveDisplay", "NullDisplay", "StatusTracker",
           "make_display", "summary_lines", "unhandled_errors"]


@dataclass
class LinkStats:
    """Counts for one link since the command started."""

    name: str
    transfers: int = 0  #: finished or failed
    failed: int = 0  #: transfers that raised
    errors: int = 0  #: errors raised or ignored (ignore_exceptions) in its transfers
    pulled: int = 0  #: records the inlets produced
    pushed: int = 0  #: records the outlets accepted (counted once per outlet)
    undelivered: int = 0  #: records an outlet did not accept
    dead_lettered: int = 0  #: records sent to the link's dead-letter outlet instead
    running: int = 0  #: transfers in flight
    last_at: float | None = None  #: wall-clock time the last transfer ended
    last_duration: float | None = None
    last_error: str | None = None
    next_fire: datetime.datetime | None = None  #: when the planner fires the link next


Listener = Callable[[LinkStats, "Update", "TransferResult", "BaseException | None"], None]


class StatusTracker:
    """Counts transfers per named link; registered as a plugin while a command runs."""

    PLUGIN_NAME = "databay-cli-status"

    def __init__(self, names: dict[Link, str]) -> None:
        self._names = dict(names)
        self._stats = {link: LinkStats(name) for link, name in names.items()}
        self._lock = threading.Lock()
        self.listeners: list[Listener] = []
        self._registered: str | None = None
        #: the planner's ``next_fire_time``, set while it runs: fills ``next_fire``
        self.next_fire: Callable[[Link], datetime.datetime | None] | None = None

    def register(self) -> None:
        self._registered = plugins.register(self, name=self.PLUGIN_NAME)

    def unregister(self) -> None:
        if self._registered is not None:
            plugins.unregister(self._registered)
            self._registered = None

    def __enter__(self) -> StatusTracker:
        self.register()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unregister()

    def snapshot(self) -> list[LinkStats]:
        """A copy of every link's counts, in the file's order."""
        with self._lock:
            copies = {link: _copy(stats) for link, stats in self._stats.items()}
        self._fill_next(copies)
        return list(copies.values())

    def _fill_next(self, copies: dict[Link, LinkStats]) -> None:
        lookup = self.next_fire
        if lookup is None:
            return
        for link, stats in copies.items():
            try:
                stats.next_fire = lookup(link)
            except Exception:  # a status line must not break the run
                stats.next_fire = None

    def last_failure(self) -> tuple[str, str] | None:
        """(link name, error) of the most recent failed transfer, if any."""
        found = [s for s in self.snapshot() if s.failed and s.last_error]
        if not found:
            return None
        latest = max(found, key=lambda s: s.last_at or 0.0)
        return latest.name, latest.last_error or ""

    # -- hooks ---------------------------------------------------------------------------

    @hookimpl
    def databay_transfer_started(self, link: Link, update: Update) -> None:
        stats = self._stats.get(link)
        if stats is not None:
            with self._lock:
                stats.running += 1

    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Update,
                                  result: TransferResult) -> None:
        self._ended(link, update, result, None)

    @hookimpl
    def databay_transfer_failed(self, link: Link, update: Update, error: BaseException,
                                result: TransferResult) -> None:
        self._ended(link, update, result, error)

    def _ended(self, link: Link, update: Update, result: TransferResult,
               error: BaseException | None) -> None:
        stats = self._stats.get(link)
        if stats is None:
            return
        with self._lock:
            stats.running = max(0, stats.running - 1)
            stats.transfers += 1
            stats.pulled += result.pulled
            stats.pushed += sum(result.pushed.values())
            stats.undelivered += sum(result.undelivered.values())
            stats.dead_lettered += sum(getattr(result, "dead_lettered", {}).values())
            errors = unhandled_errors(result)
            if error is not None:
                stats.failed += 1
                errors = max(errors, 1) if error in result.errors else errors + 1
            stats.errors += errors
            if error is not None or errors:
                shown = error if error is not None else result.errors[-1]
                stats.last_error = redact_text(f"{type(shown).__name__}: {shown}")
            stats.last_at = time.time()
            stats.last_duration = result.duration
            listeners = self.listeners
            if not listeners:
                return
            copy = _copy(stats)
        self._fill_next({link: copy})
        for listener in list(listeners):
            listener(copy, update, result, error)


def unhandled_errors(result: TransferResult) -> int:
    """Errors of a transfer, less those whose records went to the dead-letter outlet."""
    return result.unhandled_errors


def summary_lines(stats: list[LinkStats]) -> list[str]:
    """One line per link: transfers, records and errors."""
    lines = []
    for s in stats:
        failed = f" ({s.failed} failed)" if s.failed else ""
        undelivered = f", {s.undelivered} undelivered" if s.undelivered else ""
        if s.dead_lettered:
            undelivered += f", {s.dead_lettered} dead-lettered"
        lines.append(f"  {s.name}: {s.transfers} transfer{'s' * (s.transfers != 1)}{failed}, "
                     f"{s.pulled} record{'s' * (s.pulled != 1)} pulled, {s.pushed} pushed"
                     f"{undelivered}, {s.errors} error{'s' * (s.errors != 1)}")
    return lines


def format_next(when: datetime.datetime | None) -> str:
    """A next fire time with its UTC offset; the date only when it is not today."""
    if when is None:
        return "-"
    today = datetime.datetime.now(when.tzinfo).date()
    text = when.isoformat(sep=" ", timespec="seconds")
    return text[11:] if when.date() == today else text


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


class CliFormatter(ISO8601Formatter):
    """databay's line format; tracebacks only when asked for (--debug)."""

    def __init__(self, tracebacks: bool) -> None:
        super().__init__(DEFAULT_FORMAT, millis_precision=3)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if not self.tracebacks and (record.exc_info or record.exc_text):
            record = logging.makeLogRecord(record.__dict__)
            record.exc_info = None
            record.exc_text = None
        return super().format(record)


class Display:
    """Where status and log lines go. The base class writes log lines only."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def start(self) -> None:
        """Begin showing status."""

    def stop(self) -> None:
        """Show the final state and stop."""

    def write(self, text: str) -> None:
        """Write a line (a log line, a message) without disturbing the status."""
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()


class NullDisplay(Display):
    """No status; log lines only."""


class LineDisplay(Display):
    """One plain line per transfer, for logs and pipes."""

    def __init__(self, stream: TextIO, tracker: StatusTracker) -> None:
        super().__init__(stream)
        self._formatter = ISO8601Formatter(millis_precision=3)
        tracker.listeners.append(self._on_transfer)

    def _on_transfer(self, stats: LinkStats, update: Update, result: TransferResult,
                     error: BaseException | None) -> None:
        stamp = self._formatter.formatTime(logging.makeLogRecord({}))
        head = f"{stamp} {stats.name} #{update.transfer_number}"
        if error is not None:
            line = redact_text(f"{head} FAILED after {_ms(result.duration)}: "
                               f"{type(error).__name__}: {error}")
        else:
            pushed = sum(result.pushed.values())
            count = unhandled_errors(result)
            errors = f", {count} ignored error(s)" if count else ""
            dead = sum(getattr(result, "dead_lettered", {}).values())
            if dead:
                errors += f", {dead} dead-lettered"
            line = (f"{head}: {result.pulled} record(s) pulled, {pushed} pushed{errors} "
                    f"in {_ms(result.duration)} (total: {_count(stats.transfers, 'transfer')}, "
                    f"{_count(stats.pulled, 'record')}, {_count(stats.errors, 'error')})")
        if stats.next_fire is not None:
            line += f"; next {format_next(stats.next_fire)}"
        self.write(line)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


class LiveDisplay(Display):
    """A table of links redrawn in place on a terminal, log lines written above it."""

    HEADER = ("LINK", "TRANSFERS", "RECORDS", "PUSHED", "ERRORS", "LAST", "DURATION", "NEXT")

    def __init__(self, stream: TextIO, tracker: StatusTracker,
                 title: Callable[[], str] | None = None, refresh: float = 0.5) -> None:
        super().__init__(stream)
        self.tracker = tracker
        self.title = title
        self.refresh = refresh
        self._drawn = 0
        self._wake = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        tracker.listeners.append(lambda *_: self._wake.set())

    def start(self) -> None:
        with self._lock:
            self.stream.write("\x1b[?25l")  # hide the cursor while redrawing
            self._draw()
        self._thread = threading.Thread(target=self._loop, name="databay-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._clear()
            self._draw()
            self._drawn = 0  # the final table stays on screen
            self.stream.write("\x1b[?25h")
            self.stream.flush()

    def write(self, text: str) -> None:
        with self._lock:
            self._clear()
            self.stream.write(text + "\n")
            self._draw()

    def _loop(self) -> None:
        while not self._done.is_set():
            self._wake.wait(self.refresh)
            self._wake.clear()
            if self._done.is_set():
                return
            with self._lock:
                self._clear()
                self._draw()

    def _clear(self) -> None:
        if self._drawn:
            # to the start of the table's first line, then erase to the end of the screen
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def lines(self) -> list[str]:
        rows = [self.HEADER]
        for s in self.tracker.snapshot():
            last = time.strftime("%H:%M:%S", time.localtime(s.last_at)) if s.last_at else "-"
            name = s.name + (" *" if s.running else "  ")
            rows.append((name, str(s.transfers), str(s.pulled), str(s.pushed),
                         str(s.errors), last, _ms(s.last_duration), format_next(s.next_fire)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.HEADER))]
        out = []
        if self.title is not None:
            out.append(self.title())
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
            out.append("  ".join(cells))
        failures = [s for s in self.tracker.snapshot() if s.last_error]
        for s in failures:
            out.append(f"{s.name}: last error: {s.last_error}")
        return out

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        # lines longer than the terminal would wrap and break the count of lines to erase
        lines = [line[: max(width - 1, 10)] for line in self.lines()]
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def make_display(mode: str, tracker: StatusTracker, stream: TextIO | None = None,
                 title: Callable[[], str] | None = None) -> Display:
    """``mode``: ``auto`` (live on a terminal, lines otherwise), ``live``, ``lines``, ``off``."""
    stream = stream if stream is not None else sys.stderr
    if mode == "auto":
        mode = "live" if is_terminal(stream) else "lines"
    if mode == "live":
        return LiveDisplay(stream, tracker, title)
    if mode == "lines":
        return LineDisplay(stream, tracker)
    return NullDisplay(stream)


class DisplayHandler(logging.Handler):
    """Sends log lines through the display, so a live table is not torn apart."""

    def __init__(self, display: Display, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.display.write(self.format(record))
        except Exception:
            self.handleError(record)
