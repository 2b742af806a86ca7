"""databay.schedules: cron semantics, time zones and daylight-saving days, without waiting.

Clock changes of 2026: Europe/Berlin springs forward on 29 March (02:00 -> 03:00) and falls
back on 25 October (03:00 -> 02:00); America/New_York springs forward on 8 March
(02:00 -> 03:00) and falls back on 1 November (02:00 -> 01:00).
"""

from __future__ import annotations

import datetime
import itertools
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from databay import BasePlanner, Link
from databay.errors import ScheduleIntervalError, UnsupportedScheduleError
from databay.schedules import Cron, Interval, Schedule, as_schedule, resolve_timezone
from databay.testing.planners import RecordingInlet, RecordingOutlet

UTC = datetime.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(tz: datetime.tzinfo, *args: int, fold: int = 0) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=tz, fold=fold)  # type: ignore[misc]


def fires(schedule: Schedule, after: datetime.datetime, n: int = 3) -> list[str]:
    return [t.isoformat() for t in schedule.fire_times(after, n)]


# -- daylight saving: a daily job at a time that does not exist, or happens twice --------


def test_berlin_spring_forward_nonexistent_time_fires_once_at_the_jump() -> None:
    daily = Cron("30 2 * * *", "Europe/Berlin")
    assert fires(daily, at(BERLIN, 2026, 3, 28, 12)) == [
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist: once, when clocks reach 03:00
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_berlin_fall_back_repeated_time_fires_once_at_first_occurrence() -> None:
    daily = Cron("30 2 * * *", "Europe/Berlin")
    assert fires(daily, at(BERLIN, 2026, 10, 24, 12)) == [
        "2026-10-25T02:30:00+02:00",  # summer time; not again at 02:30+01:00
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]
    # asked during the second pass of the repeated hour, it does not run again that day
    second_pass = at(BERLIN, 2026, 10, 25, 2, 15, fold=1)
    assert second_pass.utcoffset() == datetime.timedelta(hours=1)
    assert fires(daily, second_pass, 1) == ["2026-10-26T02:30:00+01:00"]


def test_new_york_spring_forward_nonexistent_time_fires_once_at_the_jump() -> None:
    daily = Cron("30 2 * * *", "America/New_York")
    assert fires(daily, at(NEW_YORK, 2026, 3, 7, 12)) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]


def test_new_york_fall_back_repeated_time_fires_once_at_first_occurrence() -> None:
    daily = Cron("30 1 * * *", "America/New_York")
    assert fires(daily, at(NEW_YORK, 2026, 10, 31, 12)) == [
        "2026-11-01T01:30:00-04:00",  # EDT; 01:30 EST an hour later does not fire
        "2026-11-02T01:30:00-05:00",
        "2026-11-03T01:30:00-05:00",
    ]
    just_after = daily.next_after(at(NEW_YORK, 2026, 11, 1, 1, 30))
    assert just_after == at(NEW_YORK, 2026, 11, 2, 1, 30)
    for minute in (15, 45):  # a planner (re)started during the repeated hour
        assert daily.next_after(at(NEW_YORK, 2026, 11, 1, 1, minute, fold=1)) == \
            at(NEW_YORK, 2026, 11, 2, 1, 30)


def test_hourly_follows_elapsed_time_across_clock_changes() -> None:
    hourly = Cron("30 * * * *", "America/New_York")
    assert fires(hourly, at(NEW_YORK, 2026, 11, 1, 0, 0), 4) == [
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",  # the repeated hour is an hour of real time: it runs
        "2026-11-01T02:30:00-05:00",
    ]
    assert fires(hourly, at(NEW_YORK, 2026, 3, 8, 0, 0), 3) == [
        "2026-03-08T00:30:00-05:00",
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:30:00-04:00",  # 02:30 never happens; one hour after 01:30
    ]


def test_six_fields_with_a_fixed_time_keep_the_daylight_saving_rules() -> None:
    daily = Cron("15 30 2 * * *", "Europe/Berlin")
    assert fires(daily, at(BERLIN, 2026, 3, 28, 12), 2) == [
        "2026-03-29T03:00:15+02:00", "2026-03-30T02:30:15+02:00"]
    assert fires(daily, at(BERLIN, 2026, 10, 24, 12), 2) == [
        "2026-10-25T02:30:15+02:00", "2026-10-26T02:30:15+01:00"]


def test_per_second_schedule_is_one_second_apart_through_fall_back() -> None:
    every = Cron("* * * * * *", "Europe/Berlin")
    got = every.fire_times(at(BERLIN, 2026, 10, 25, 2, 59, 58), 3)
    assert [t.isoformat() for t in got] == [
        "2026-10-25T02:59:59+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:00:01+01:00"]
    utc = [t.astimezone(UTC) for t in got]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(utc)] == [1.0, 1.0]
    spring = every.fire_times(at(BERLIN, 2026, 3, 29, 1, 59, 59), 2)
    assert [t.isoformat() for t in spring] == [
        "2026-03-29T03:00:00+02:00", "2026-03-29T03:00:01+02:00"]


# -- standard cron ---------------------------------------------------------------------


def test_zero_and_seven_are_sunday() -> None:
    thursday = at(UTC, 2026, 1, 1, 12)
    for dow in ("0", "7", "SUN"):
        assert Cron(f"0 0 * * {dow}", "UTC").next_after(thursday) == at(UTC, 2026, 1, 4)
    assert Cron("0 0 * * 5-7", "UTC").fire_times(thursday, 3) == [
        at(UTC, 2026, 1, 2), at(UTC, 2026, 1, 3), at(UTC, 2026, 1, 4)]


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # the 1st of the month OR every Monday (1 January 2026 is a Thursday)
    either = Cron("0 9 1 * MON", "UTC")
    assert either.fire_times(at(UTC, 2025, 12, 31), 4) == [
        at(UTC, 2026, 1, 1, 9), at(UTC, 2026, 1, 5, 9), at(UTC, 2026, 1, 12, 9),
        at(UTC, 2026, 1, 19, 9)]
    assert Cron("0 9 13 * 5", "UTC").fire_times(at(UTC, 2026, 2, 1), 3) == [
        at(UTC, 2026, 2, 6, 9), at(UTC, 2026, 2, 13, 9), at(UTC, 2026, 2, 20, 9)]
    # one of them a '*': both must match (cron's rule), here Monday the 1st or 15th
    both = Cron("0 9 1,15 * *", "UTC")
    assert both.next_after(at(UTC, 2026, 1, 2)) == at(UTC, 2026, 1, 15, 9)


def test_macros_names_and_six_fields() -> None:
    assert Cron("@daily", "UTC").next_after(at(UTC, 2026, 1, 1, 5)) == at(UTC, 2026, 1, 2)
    assert Cron("@hourly", "UTC").next_after(at(UTC, 2026, 1, 1, 5, 1)) == \
        at(UTC, 2026, 1, 1, 6)
    assert Cron("0 12 * JAN-FEB mon-fri", "UTC").next_after(at(UTC, 2026, 1, 3)) == \
        at(UTC, 2026, 1, 5, 12)
    assert Cron("*/10 * * * * *", "UTC").fire_times(at(UTC, 2026, 1, 1, 0, 0, 5), 2) == [
        at(UTC, 2026, 1, 1, 0, 0, 10), at(UTC, 2026, 1, 1, 0, 0, 20)]


def test_next_after_is_strictly_after_and_aware() -> None:
    minutely = Cron("* * * * *", "UTC")
    on_the_minute = at(UTC, 2026, 1, 1, 10, 0)
    assert minutely.next_after(on_the_minute) == at(UTC, 2026, 1, 1, 10, 1)
    assert minutely.next_after(on_the_minute - datetime.timedelta(microseconds=1)) == \
        on_the_minute
    # any zone in, the schedule's zone out
    found = Cron("0 3 * * *", "Europe/Berlin").next_after(at(UTC, 2026, 6, 1))
    assert found is not None and found.tzinfo is BERLIN
    assert found.isoformat() == "2026-06-01T03:00:00+02:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        minutely.next_after(datetime.datetime(2026, 1, 1))


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(("expr", "reason"), [
    ("61 * * * *", "bad minute field '61'"),
    ("* 24 * * *", "bad hour field '24'"),
    ("* * * * 8", "bad day-of-week field '8'"),
    ("* * *", "3 field"),
    ("@reboot", "unknown cron macro"),
    ("0 0 30 2 *", "day-of-month"),
])
def test_bad_expressions_name_the_problem_and_the_forms(expr: str, reason: str) -> None:
    with pytest.raises(ValueError, match="expected 5 fields") as info:
        Cron(expr, "UTC")
    assert reason in str(info.value)


def test_unknown_zone_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Berln'") as info:
        Cron("* * * * *", "Europe/Berln")
    assert "did you mean 'Europe/Berlin'" in str(info.value)
    assert "IANA" in str(info.value)
    with pytest.raises(TypeError, match="IANA"):
        Cron("* * * * *", 5)  # type: ignore[arg-type]


def test_default_zone_is_the_local_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert Cron("0 0 * * *").timezone_name == "America/New_York"
    assert as_schedule("0 0 * * *").timezone is resolve_timezone("America/New_York")
    monkeypatch.setenv("TZ", ":Europe/Berlin")
    assert Cron("0 0 * * *").timezone_name == "Europe/Berlin"


# -- start, end, jitter, Interval -------------------------------------------------------


def test_start_and_end() -> None:
    cron = Cron("0 * * * *", "UTC", start=at(UTC, 2026, 1, 1, 10), end="2026-01-01T12:00:00Z")
    assert cron.fire_times(at(UTC, 2025, 1, 1), 5) == [
        at(UTC, 2026, 1, 1, 10), at(UTC, 2026, 1, 1, 11), at(UTC, 2026, 1, 1, 12)]
    assert cron.next_after(at(UTC, 2026, 1, 1, 12)) is None
    # a naive start is wall time in the schedule's zone
    berlin = Cron("0 * * * *", "Europe/Berlin", start=datetime.datetime(2026, 6, 1, 8))
    assert berlin.fire_times(at(UTC, 2026, 1, 1), 1)[0].isoformat() == \
        "2026-06-01T08:00:00+02:00"
    with pytest.raises(ValueError, match="before start"):
        Cron("* * * * *", "UTC", start=at(UTC, 2026, 1, 2), end=at(UTC, 2026, 1, 1))


def test_interval_grid_and_jitter() -> None:
    plain = Interval(5)
    assert plain.is_plain_interval and plain.every == datetime.timedelta(seconds=5)
    assert plain.next_after(at(UTC, 2026, 1, 1)) == at(UTC, 2026, 1, 1, 0, 0, 5)
    grid = Interval(datetime.timedelta(minutes=15), start=at(UTC, 2026, 1, 1, 9, 5))
    assert not grid.is_plain_interval
    assert grid.fire_times(at(UTC, 2026, 1, 1), 2) == [at(UTC, 2026, 1, 1, 9, 5),
                                                         at(UTC, 2026, 1, 1, 9, 20)]
    assert grid.next_after(at(UTC, 2026, 1, 1, 9, 20)) == at(UTC, 2026, 1, 1, 9, 35)
    # elapsed time, not wall time, across a clock change
    hourly = Interval(3600)
    first = hourly.next_after(at(NEW_YORK, 2026, 11, 1, 0, 30))
    assert first is not None and first.isoformat() == "2026-11-01T01:30:00-04:00"
    second = hourly.next_after(first)
    assert second is not None and second.isoformat() == "2026-11-01T01:30:00-05:00"
    jittered = Cron("* * * * *", "UTC", jitter=2.5)
    delays = [jittered.jitter_delay() for _ in range(200)]
    assert all(0 <= d <= 2.5 for d in delays) and len(set(delays)) > 1
    assert Cron("* * * * *", "UTC").jitter_delay() == 0
    with pytest.raises(ValueError, match="jitter"):
        Interval(5, jitter=-1)
    with pytest.raises(ValueError, match="positive"):
        Interval(0)


def test_equal_schedules_share_a_key() -> None:
    assert Cron("*/5 * * * *", "UTC") == Cron("*/5  *  * * *", "UTC")
    assert Cron("*/5 * * * *", "UTC") != Cron("*/5 * * * *", "Europe/Berlin")
    assert len({Interval(5), Interval(5.0), Interval(6)}) == 2
    assert repr(Cron("30 2 * * *", "Europe/Berlin", jitter=3)) == \
        "Cron('30 2 * * *', timezone='Europe/Berlin', jitter=3)"


# -- the link ----------------------------------------------------------------------------


def _link(**kwargs: Any) -> Link:
    return Link(RecordingInlet(), RecordingOutlet(), tags="t", **kwargs)


def test_link_takes_interval_or_schedule() -> None:
    positional = Link(RecordingInlet(), RecordingOutlet(), 5)
    assert positional.interval == datetime.timedelta(seconds=5)
    assert positional.schedule == Interval(5) and positional.schedule.is_plain_interval
    cron = _link(schedule="30 2 * * *")
    assert isinstance(cron.schedule, Cron) and cron.schedule.expression == "30 2 * * *"
    assert "schedule:cron '30 2 * * *'" in repr(cron)
    obj = _link(schedule=Cron("0 * * * *", "UTC"))
    assert obj.schedule.timezone is UTC
    with pytest.raises(UnsupportedScheduleError, match="calendar schedule"):
        _ = cron.interval
    with pytest.raises(ValueError, match="not both"):
        _link(interval=5, schedule="* * * * *")
    with pytest.raises(TypeError, match="interval=.*or schedule="):
        Link(RecordingInlet(), RecordingOutlet())
    with pytest.raises(TypeError, match="schedule=..."):
        _link(interval="*/5 * * * *")
    with pytest.raises(ValueError, match="bad minute"):
        _link(schedule="99 * * * *")
    cron.interval = 2  # back to an interval
    assert cron.interval == datetime.timedelta(seconds=2)


class IntervalOnlyPlanner(BasePlanner):
    """A third-party planner written against the interval-only contract."""

    def __init__(self, **kwargs: Any) -> None:
        self.scheduled: list[float] = []
        self._done = threading.Event()
        super().__init__(**kwargs)

    @property
    def running(self) -> bool:
        return False

    def _schedule(self, link: Link) -> None:
        self.scheduled.append(link.interval.total_seconds())
        link.set_job(self)

    def _unschedule(self, link: Link) -> None:
        link.set_job(None)

    def _start_planner(self) -> None:
        return None

    def _shutdown_planner(self, wait: bool = True) -> None:
        return None


def test_interval_only_planner_refuses_cron_links_clearly() -> None:
    planner = IntervalOnlyPlanner()
    planner.add_links(_link(interval=3))
    planner.add_links(Link(RecordingInlet(), RecordingOutlet(), schedule=Interval(4)))
    assert planner.scheduled == [3.0, 4.0]
    cron = _link(schedule=Cron("30 2 * * *", "Europe/Berlin"))
    with pytest.raises(UnsupportedScheduleError, match="plain intervals only") as info:
        planner.add_links(cron)
    assert "Cron('30 2 * * *', timezone='Europe/Berlin')" in str(info.value)
    assert isinstance(info.value, ScheduleIntervalError)  # what such planners catch
    assert cron not in planner.links
    with pytest.raises(UnsupportedScheduleError):
        planner.add_links(_link(schedule=Interval(5, jitter=1)))


def test_next_fire_time_from_the_schedule() -> None:
    class SchedulingPlanner(IntervalOnlyPlanner):
        supports_schedules = True

        def _schedule(self, link: Link) -> None:
            link.set_job(self)

    planner = SchedulingPlanner()
    link = _link(schedule=Cron("0 0 1 1 *", "UTC"))
    planner.add_links(link)
    found = planner.next_fire_time(link)
    now = datetime.datetime.now(UTC)
    assert found is not None and found > now and (found.month, found.day) == (1, 1)
