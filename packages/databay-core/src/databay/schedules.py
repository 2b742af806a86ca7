"""Schedules: when a link transfers.

A link runs either on an interval (``Link(..., interval=5)``, the same as
``schedule=Interval(5)``) or on a calendar schedule: ``Link(..., schedule="30 2 * * *")``
or ``schedule=Cron("30 2 * * *", timezone="Europe/Berlin")``. Every schedule answers
:meth:`Schedule.next_after`: the first fire time strictly after a timezone-aware datetime.

Cron expressions are standard (Vixie/Debian) cron, evaluated by the ``cronsim`` library:

- 5 fields ``minute hour day-of-month month day-of-week``, or 6 with **seconds first**
  (``"*/10 * * * * *"``: every 10 seconds); names (``MON-FRI``, ``JAN``), lists, ranges,
  steps, ``L``, ``LW``, ``5L``, ``MON#1``, and the macros ``@hourly``, ``@daily`` (``@midnight``),
  ``@weekly``, ``@monthly``, ``@yearly`` (``@annually``);
- day-of-week 0 and 7 are both Sunday;
- when day-of-month and day-of-week are both restricted (neither starts with ``*``), a day
  matching **either** fires (``"0 9 1 * MON"``: the 1st of each month and every Monday).

Time zones are IANA names (``zoneinfo``); the default is the machine's local zone (``TZ``,
else ``/etc/localtime``; UTC, with a warning, where neither names a zone).

Daylight saving (the behaviour of Debian's cron, for a job at a fixed hour and minute):

- a time that does not exist on the day clocks go forward (``30 2 * * *`` in Europe/Berlin
  on the last Sunday of March) fires **once, at the moment of the jump** (03:00 new time);
- a time that happens twice on the day clocks go back fires **once, at its first
  occurrence** (02:30 summer time in Berlin, 01:30 EDT in New York);
- expressions whose hour or minute field starts with ``*`` (``"30 * * * *"``,
  ``"*/15 * * * *"``, per-second schedules) follow elapsed time: a repeated hour runs
  twice, a skipped one not at all, as the wall clock shows it.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import logging
import math
import os
import random
from abc import ABC, abstractmethod
from typing import Any

__all__ = ["CRON_FORMS", "ZONE_FORMS", "Cron", "Interval", "Schedule", "as_schedule",
           "local_timezone", "resolve_timezone"]

_LOGGER = logging.getLogger("databay.schedules")
_UTC = datetime.timezone.utc

#: Cron forms accepted, for error messages.
CRON_FORMS = ('5 fields "minute hour day-of-month month day-of-week" (e.g. "30 2 * * *", '
              '"*/15 9-17 * * MON-FRI"), 6 fields with seconds first ("*/10 * * * * *"), '
              'or @hourly, @daily, @weekly, @monthly, @yearly')
ZONE_FORMS = 'an IANA time zone name such as "Europe/Berlin", "America/New_York" or "UTC"'

_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")


def _check_aware(dt: Any, owner: str) -> datetime.datetime:
    if not isinstance(dt, datetime.datetime):
        raise TypeError(f"{owner}.next_after(dt) needs a datetime, got {type(dt).__name__}: "
                        f"{dt!r}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{owner}.next_after(dt) needs a timezone-aware datetime, got the "
                         f"naive {dt!r}: use datetime.now(timezone.utc) or dt.replace(tzinfo=...)")
    return dt


def _utc(dt: datetime.datetime) -> datetime.datetime:
    return dt.astimezone(_UTC)


# -- time zones --------------------------------------------------------------------------


def resolve_timezone(value: Any) -> datetime.tzinfo:
    """A tzinfo from an IANA name (or a tzinfo, returned as it is); ``None`` is the local
    zone. ValueError naming the accepted forms (and a close name) for an unknown zone."""
    if value is None:
        return local_timezone()
    if isinstance(value, datetime.tzinfo):
        return value
    if not isinstance(value, str):
        raise TypeError(f"timezone must be {ZONE_FORMS}, or a tzinfo, got "
                        f"{type(value).__name__}: {value!r}")
    import zoneinfo

    name = value.strip()
    if name.upper() == "UTC":
        return _UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    hint = ""
    try:
        zones = zoneinfo.available_timezones()
        close = difflib.get_close_matches(name, sorted(zones), n=1) or [
            z for z in zones if z.lower() == name.lower()]
        if close:
            hint = f" (did you mean {close[0]!r}?)"
    except Exception:  # pragma: no cover - no zone database at all
        hint = " (no time zone database found: pip install tzdata)"
    raise ValueError(f"unknown time zone {value!r}{hint}; expected {ZONE_FORMS}")


def local_timezone() -> datetime.tzinfo:
    """The machine's local IANA zone: ``$TZ`` if it names one, else ``/etc/localtime``;
    UTC (with a warning) where neither does."""
    import zoneinfo

    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        try:
            return zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    path = "/etc/localtime"
    try:
        target = os.path.realpath(path)
        for root in zoneinfo.TZPATH:
            prefix = os.path.realpath(root) + os.sep
            if target.startswith(prefix):
                with contextlib.suppress(LookupError, ValueError, OSError):
                    return zoneinfo.ZoneInfo(target[len(prefix):])
        with open(path, "rb") as f:
            return zoneinfo.ZoneInfo.from_file(f, key="localtime")
    except OSError:
        pass
    _LOGGER.warning("the machine's local time zone could not be determined (no TZ, no "
                    "/etc/localtime): schedules use UTC; give timezone= to choose")
    return _UTC


def _zone_name(tz: datetime.tzinfo) -> str:
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    return "UTC" if tz is _UTC else str(tz)


# -- schedules ---------------------------------------------------------------------------


def _seconds(value: Any, owner: str, arg: str) -> float:
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}({arg}=...) must be a number of seconds (>= 0) or a "
                         f"timedelta, got {value!r}")
    return float(value)


def _moment(value: Any, tz: datetime.tzinfo, owner: str, arg: str) -> datetime.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            text = value.strip()
            if text[-1:] in ("Z", "z"):  # UTC; fromisoformat() takes it from Python 3.11 on
                text = text[:-1] + "+00:00"
            value = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{owner}({arg}=...) must be a datetime or an ISO 8601 string "
                             f"such as '2026-01-01T09:00:00+01:00', got {value!r}") from None
    elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time())
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"{owner}({arg}=...) must be a datetime, got "
                        f"{type(value).__name__}: {value!r}")
    moment: datetime.datetime = value
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=tz)  # a naive time is wall time in the schedule's zone
    return moment


class Schedule(ABC):
    """When a link fires. Subclasses implement :meth:`_next`.

    :param jitter: seconds (or a timedelta) of random delay added to each fire by the
        planner (0: none). A jitter longer than the gap between fires may merge fires.
    :param start: no fire before this moment (a naive datetime is wall time in the
        schedule's zone).
    :param end: no fire after this moment; :meth:`next_after` is None from then on.
    """

    __slots__ = ("_end", "_jitter", "_start")

    def __init__(self, *, jitter: float | datetime.timedelta = 0,
                 start: datetime.datetime | str | None = None,
                 end: datetime.datetime | str | None = None) -> None:
        owner = type(self).__name__
        self._jitter = _seconds(jitter, owner, "jitter")
        zone = self._naive_zone()
        self._start = _moment(start, zone, owner, "start")
        self._end = _moment(end, zone, owner, "end")
        if self._start is not None and self._end is not None and \
                _utc(self._end) < _utc(self._start):
            raise ValueError(f"{owner}(end=...) {self._end.isoformat()} is before start "
                             f"{self._start.isoformat()}")

    @property
    def jitter(self) -> float:
        """Seconds of random delay a planner adds to each fire (0: none)."""
        return self._jitter

    @property
    def start(self) -> datetime.datetime | None:
        return self._start

    @property
    def end(self) -> datetime.datetime | None:
        return self._end

    @property
    def timezone(self) -> datetime.tzinfo:
        """The zone fire times are computed (and returned) in."""
        return _UTC

    def _naive_zone(self) -> datetime.tzinfo:
        """The zone a naive start or end is wall time in."""
        return self.timezone

    @property
    def is_plain_interval(self) -> bool:
        """True for a bare interval (no start, end or jitter): what interval-only planners
        can run."""
        return False

    def next_after(self, dt: datetime.datetime) -> datetime.datetime | None:
        """The first fire strictly after ``dt`` (timezone-aware), in the schedule's zone;
        None when the schedule will not fire again (past ``end``). Jitter is not included:
        a planner adds :meth:`jitter_delay` when it fires."""
        dt = _check_aware(dt, type(self).__name__)
        if self._start is not None and _utc(dt) < _utc(self._start):
            found = self._first_from(self._start)
        else:
            found = self._next(dt)
        if found is None or (self._end is not None and _utc(found) > _utc(self._end)):
            return None
        return found

    def fire_times(self, after: datetime.datetime | None = None,
                   count: int = 3) -> list[datetime.datetime]:
        """The next ``count`` fire times after ``after`` (default: now)."""
        when: datetime.datetime | None = after or datetime.datetime.now(_UTC)
        found: list[datetime.datetime] = []
        while len(found) < count:
            assert when is not None
            when = self.next_after(when)
            if when is None:
                break
            found.append(when)
        return found

    def jitter_delay(self) -> float:
        """Random seconds in ``[0, jitter]`` for one fire."""
        return random.uniform(0.0, self._jitter) if self._jitter else 0.0

    @abstractmethod
    def _next(self, dt: datetime.datetime) -> datetime.datetime | None:
        """First fire strictly after the aware ``dt``, ignoring start and end."""

    def _first_from(self, start: datetime.datetime) -> datetime.datetime | None:
        """First fire at or after ``start``."""
        return self._next(start - datetime.timedelta(microseconds=1))

    @property
    def key(self) -> tuple[Any, ...]:
        """Equal for schedules that fire at the same moments (planners group by it)."""
        return (type(self).__name__, self._start, self._end, self._jitter)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def _extras_text(self) -> str:
        parts = []
        if self._jitter:
            parts.append(f"jitter up to {self._jitter:g}s")
        if self._start is not None:
            parts.append(f"from {self._start.isoformat(sep=' ')}")
        if self._end is not None:
            parts.append(f"until {self._end.isoformat(sep=' ')}")
        return "".join(f", {p}" for p in parts)

    def _extras(self) -> str:
        parts = []
        if self._jitter:
            parts.append(f"jitter={self._jitter:g}")
        if self._start is not None:
            parts.append(f"start={self._start.isoformat()!r}")
        if self._end is not None:
            parts.append(f"end={self._end.isoformat()!r}")
        return "".join(f", {p}" for p in parts)


class Interval(Schedule):
    """Every ``every`` (a timedelta or seconds). Without ``start`` the grid begins where
    the planner starts (``next_after(dt)`` is ``dt + every``); with one, fires are at
    ``start + n * every``."""

    __slots__ = ("_every",)

    def __init__(self, every: datetime.timedelta | float, *,
                 jitter: float | datetime.timedelta = 0,
                 start: datetime.datetime | str | None = None,
                 end: datetime.datetime | str | None = None) -> None:
        from databay._validate import interval

        self._every = interval(every, "Interval", "every")
        super().__init__(jitter=jitter, start=start, end=end)

    @property
    def every(self) -> datetime.timedelta:
        return self._every

    @property
    def timezone(self) -> datetime.tzinfo:
        start = self._start
        return _UTC if start is None or start.tzinfo is None else start.tzinfo

    def _naive_zone(self) -> datetime.tzinfo:
        return local_timezone()

    @property
    def is_plain_interval(self) -> bool:
        return self._start is None and self._end is None and not self._jitter

    def _next(self, dt: datetime.datetime) -> datetime.datetime | None:
        # in UTC: arithmetic on datetimes of one zone is wall-clock arithmetic
        if self._start is None:
            return (_utc(dt) + self._every).astimezone(dt.tzinfo)
        start = _utc(self._start)
        steps = (_utc(dt) - start) // self._every + 1
        return (start + steps * self._every).astimezone(self._start.tzinfo)

    def _first_from(self, start: datetime.datetime) -> datetime.datetime | None:
        return start

    @property
    def key(self) -> tuple[Any, ...]:
        return (*super().key, self._every)

    def __str__(self) -> str:
        return f"every {_span(self._every)}{self._extras_text()}"

    def __repr__(self) -> str:
        return f"Interval({self._every.total_seconds():g}{self._extras()})"


def _span(td: datetime.timedelta) -> str:
    seconds = td.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class Cron(Schedule):
    """A standard cron expression, in an IANA time zone (default: the machine's local
    zone). See the module doc for the syntax and daylight-saving behaviour.

    Raises ValueError at construction for a bad expression (naming the field), an
    unknown zone, or an expression that never fires.
    """

    __slots__ = ("_expr", "_fields", "_seconds", "_tz")

    def __init__(self, expression: str, timezone: str | datetime.tzinfo | None = None, *,
                 jitter: float | datetime.timedelta = 0,
                 start: datetime.datetime | str | None = None,
                 end: datetime.datetime | str | None = None) -> None:
        if not isinstance(expression, str):
            raise TypeError(f"Cron(expression) must be a string, expected {CRON_FORMS}; got "
                            f"{type(expression).__name__}: {expression!r}")
        self._expr = " ".join(expression.split())
        self._tz = resolve_timezone(timezone)
        self._fields, self._seconds = self._parse(self._expr)
        super().__init__(jitter=jitter, start=start, end=end)
        if self.next_after(self._start or datetime.datetime.now(_UTC)) is None and \
                (self._end is None or self._end > datetime.datetime.now(_UTC)):
            raise ValueError(f"cron expression {expression!r} never fires"
                             f"{' before its end' if self._end else ' (in the next 50 years)'}")

    @staticmethod
    def _parse(expr: str) -> tuple[str, int]:
        """(the expression cronsim evaluates, seconds to add to each of its fires)."""
        from cronsim import CronSim, CronSimError

        text = _MACROS.get(expr.lower(), expr)
        if text.startswith("@"):
            raise ValueError(f"unknown cron macro {expr!r}; expected {CRON_FORMS}")
        parts = text.split()
        if len(parts) not in (5, 6):
            raise ValueError(f"invalid cron expression {expr!r}: {len(parts)} field(s); "
                             f"expected {CRON_FORMS}")
        try:
            CronSim(text, datetime.datetime(2000, 1, 1))
        except CronSimError as exc:
            reason = str(exc)
            names = ("second", *_FIELDS) if len(parts) == 6 else _FIELDS
            for index, name in enumerate(names):
                if reason.lower() == f"bad {name}":
                    reason = f"bad {name} field {parts[index]!r}"
            raise ValueError(f"invalid cron expression {expr!r}: {reason}; expected "
                             f"{CRON_FORMS}") from None
        except Exception as exc:  # cronsim raises plain errors on some malformed input
            raise ValueError(f"invalid cron expression {expr!r}: {exc}; expected "
                             f"{CRON_FORMS}") from None
        # "S M H ..." with one second and a fixed minute and hour: evaluated as the 5-field
        # "M H ..." plus S seconds, so that it keeps cron's daylight-saving handling
        if len(parts) == 6 and parts[0].isdigit() and not parts[1].startswith("*") and \
                not parts[2].startswith("*"):
            return " ".join(parts[1:]), int(parts[0])
        return text, 0

    @property
    def expression(self) -> str:
        return self._expr

    @property
    def timezone(self) -> datetime.tzinfo:
        return self._tz

    @property
    def timezone_name(self) -> str:
        return _zone_name(self._tz)

    def _next(self, dt: datetime.datetime) -> datetime.datetime | None:
        from cronsim import CronSim

        local = dt.astimezone(self._tz)
        shift = datetime.timedelta(seconds=self._seconds)
        it = CronSim(self._fields, local - shift if self._seconds else local)
        try:
            for found in it:
                if self._seconds:
                    found = found + shift  # wall-clock seconds within the minute
                # wall-time evaluation may give the first pass of a repeated hour while dt
                # is in the second: never return a fire that is not after dt
                if _utc(found) > _utc(dt):
                    return found
        except StopIteration:  # pragma: no cover - cronsim ends iteration itself
            pass
        return None

    @property
    def key(self) -> tuple[Any, ...]:
        return (*super().key, self._fields, self._seconds, _zone_name(self._tz))

    def __str__(self) -> str:
        return f"cron {self._expr!r} {_zone_name(self._tz)}{self._extras_text()}"

    def __repr__(self) -> str:
        return f"Cron({self._expr!r}, timezone={_zone_name(self._tz)!r}{self._extras()})"


def as_schedule(value: Any, owner: str = "Link", arg: str = "schedule") -> Schedule:
    """A Schedule from a Schedule or a cron expression string (in the local zone)."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        return Cron(value)
    raise TypeError(f"{owner}({arg}=...) must be a cron expression string ({CRON_FORMS}) or "
                    f"a databay.schedules.Cron / Interval, got {type(value).__name__}: {value!r}")
