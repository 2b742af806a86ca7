"""Pipeline files with calendar schedules: ``schedule``, ``timezone``, ``jitter``, ``start``,
``end`` per link; ``databay validate`` prints the next three fire times with their UTC
offsets and refuses bad schedules with the reason and the accepted forms; ``databay run``
status lines show each link's next fire."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from _cli_support import cli_env, databay
from databay.cli import main
from databay.pipeline import PipelineError, build_pipeline, parse_toml
from databay.schedules import Cron, Interval

LINK = """
[[links]]
name = "{name}"
{when}
[[links.inlets]]
type = "RandomIntInlet"
[[links.outlets]]
type = "{outlet}"
"""


def link(when: str, name: str = "nightly", outlet: str = "NullOutlet") -> str:
    return LINK.format(name=name, when=when, outlet=outlet)


def build(text: str) -> list[str]:
    """The errors of the pipeline, one line each ([] when it builds)."""
    try:
        build_pipeline(parse_toml(text, "p.toml"), "p.toml", {}, need_planner=False)
    except PipelineError as exc:
        return [str(e) for e in exc.errors]
    return []


def test_schedule_keys_build_a_cron_link() -> None:
    text = link('schedule = "30 2 * * *"\ntimezone = "Europe/Berlin"\njitter = "30s"\n'
                "start = 2026-01-01T00:00:00\nend = 2030-12-31T00:00:00+01:00")
    pipeline = build_pipeline(parse_toml(text, "p.toml"), "p.toml", {}, need_planner=False)
    schedule = pipeline.links[0].link.schedule
    assert isinstance(schedule, Cron)
    assert (schedule.expression, schedule.timezone_name, schedule.jitter) == \
        ("30 2 * * *", "Europe/Berlin", 30.0)
    assert schedule.start is not None and schedule.start.isoformat() == \
        "2026-01-01T00:00:00+01:00"  # a local date-time is wall time in the link's zone
    assert schedule.end is not None and schedule.end.utcoffset() == datetime.timedelta(hours=1)


def test_interval_with_start_and_jitter_is_an_interval_schedule() -> None:
    text = link('interval = "15m"\nstart = 2026-01-01T09:05:00\ntimezone = "UTC"\n'
                "jitter = 2")
    pipeline = build_pipeline(parse_toml(text, "p.toml"), "p.toml", {}, need_planner=False)
    schedule = pipeline.links[0].link.schedule
    assert isinstance(schedule, Interval) and not schedule.is_plain_interval
    assert schedule.every == datetime.timedelta(minutes=15) and schedule.jitter == 2
    assert schedule.start == datetime.datetime(2026, 1, 1, 9, 5, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(("when", "expected"), [
    ('schedule = "61 * * * *"',
     ["link 'nightly', key 'schedule': invalid cron expression '61 * * * *': bad minute "
      "field '61'; expected 5 fields \"minute hour day-of-month month day-of-week\""]),
    ('schedule = "* * *"', ["key 'schedule': invalid cron expression '* * *': 3 field(s)"]),
    ('schedule = "0 0 30 2 *"', ["key 'schedule': invalid cron expression"]),
    ("schedule = 5", ["key 'schedule': must be a cron expression string (5 fields"]),
    ('schedule = "0 * * * *"\ntimezone = "Europe/Berln"',
     ["key 'timezone': unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?); "
      'expected an IANA time zone name such as "Europe/Berlin"']),
    ('schedule = "0 * * * *"\ninterval = "5s"',
     ["key 'schedule': a link has interval or schedule, not both: interval = a number of "
      "seconds", "or schedule = a cron expression (5 fields"]),
    ('timezone = "UTC"', ["key 'interval': missing; expected a number of seconds",
                          "or schedule = a cron expression"]),
    ('interval = 5\ntimezone = "UTC"', ["key 'timezone': applies to schedule"]),
    ('schedule = "0 * * * *"\njitter = "soon"', ["key 'jitter': invalid interval 'soon'"]),
    ('schedule = "0 * * * *"\nstart = 09:00:00', ["key 'start': must be a date-time"]),
    ('schedule = "0 * * * *"\nstart = 2026-02-01T00:00:00Z\nend = 2026-01-01T00:00:00Z',
     ["key 'end': Cron(end=...) 2026-01-01T00:00:00+00:00 is before start"]),
])
def test_bad_schedules_are_refused_with_the_reason(when: str, expected: list[str]) -> None:
    errors = build(link(when))
    assert len(errors) == 1, errors
    for part in expected:
        assert part in errors[0], errors[0]


def test_validate_prints_the_next_three_fire_times_with_utc_offsets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.toml"
    path.write_text(link('schedule = "30 2 * * *"\ntimezone = "Europe/Berlin"') +
                    link('schedule = "0 9 * * MON-FRI"\ntimezone = "America/New_York"',
                         name="weekdays") +
                    link('interval = "5m"', name="often"))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: OK: 3 links (nightly, weekdays, often), planner ApsPlanner"
    nightly, weekdays, often = out[1:]
    assert nightly.startswith("  nightly   cron '30 2 * * *' Europe/Berlin: next ")
    assert len(re.findall(r"\d{4}-\d\d-\d\d 02:30:00\+0[12]:00", nightly)) == 3
    assert weekdays.startswith("  weekdays  cron '0 9 * * MON-FRI' America/New_York: next ")
    days = re.findall(r"(\d{4}-\d\d-\d\d) 09:00:00-0[45]:00", weekdays)
    assert len(days) == 3
    assert all(datetime.date.fromisoformat(d).weekday() < 5 for d in days)
    assert often.startswith("  often     every 5m: next ")
    assert len(re.findall(r"\d\d:\d\d:\d\d[+-]\d\d:\d\d", often)) == 3


def test_validate_with_an_interval_only_planner_refuses_cron_links(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.toml"
    path.write_text(link('schedule = "* * * * *"') +
                    '\n[planner]\ntype = "tests_nodes_interval_only:OnlyIntervals"\n')
    (tmp_path / "tests_nodes_interval_only.py").write_text(
        "from databay import BasePlanner\n\n"
        "class OnlyIntervals(BasePlanner):\n"
        "    running = False\n"
        "    def _schedule(self, link): link.set_job(self)\n"
        "    def _unschedule(self, link): link.set_job(None)\n"
        "    def _start_planner(self): pass\n"
        "    def _shutdown_planner(self, wait=True): pass\n")
    done = databay("validate", "p.toml", cwd=tmp_path,
                   env=cli_env({"PYTHONPATH": str(tmp_path)}))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "link 'nightly', key 'schedule': OnlyIntervals runs links on plain intervals " \
           "only" in done.stderr


def test_run_status_lines_show_the_next_fire(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(
        link('schedule = "* * * * * *"\ntimezone = "UTC"\nimmediate_transfer = false',
             name="ticks"))
    done = databay("run", "p.toml", "--duration", "2.5s", "--status", "lines", cwd=tmp_path,
                   env=cli_env({}))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if " ticks #" in line]
    assert lines, done.stderr
    for line in lines:
        found = re.search(r"; next (\d\d):(\d\d):(\d\d)\+00:00$", line)
        assert found, line
