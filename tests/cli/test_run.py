"""``databay run``, end to end as subprocesses: HTTP source -> CSV, once and on a planner,
graceful SIGTERM/SIGINT, failures and their exit codes."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from _cli_support import JsonSource, Processes, cli_env, csv_rows, databay, wait_until

PIPELINE = """
[planner]
type = "{planner}"

[[links]]
name = "readings"
interval = "{interval}"

[[links.inlets]]
type = "HttpInlet"
url = "${{SOURCE_URL}}"
retries = 0

[[links.outlets]]
type = "CsvOutlet"
default_filepath = "out/readings.csv"
"""


def write(tmp_path: Path, text: str, name: str = "pipeline.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_once_moves_http_records_into_csv(tmp_path: Path, source: JsonSource) -> None:
    write(tmp_path, PIPELINE.format(planner="ApsPlanner", interval="1h"))
    done = databay("run", "pipeline.toml", "--once", cwd=tmp_path,
                   env=cli_env({"SOURCE_URL": source.url}))
    assert done.returncode == 0, done.stderr
    rows = csv_rows(tmp_path / "out" / "readings.csv")
    assert rows == [["n", "item", "value"], ["1", "0", "10"], ["1", "1", "11"]]
    assert "readings: 1 transfer, 2 records pulled, 2 pushed, 0 errors" in done.stdout
    assert "readings #0: 2 record(s) pulled, 2 pushed" in done.stderr  # plain status line
    assert source.count == 1


@pytest.mark.parametrize("planner", ["ApsPlanner", "SchedulePlanner"])
def test_duration_runs_on_the_planner_then_stops(
        tmp_path: Path, source: JsonSource, planner: str) -> None:
    write(tmp_path, PIPELINE.format(planner=planner, interval="200ms"))
    began = time.monotonic()
    done = databay("run", "pipeline.toml", "--duration", "1.2s", cwd=tmp_path,
                   env=cli_env({"SOURCE_URL": source.url}))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began < 15
    rows = csv_rows(tmp_path / "out" / "readings.csv")
    transfers = source.count
    assert transfers >= 3, done.stderr
    # every transfer's two records, in order, each row whole
    assert rows[0] == ["n", "item", "value"]
    assert [row[0] for row in rows[1:]] == [str(n) for n in range(1, transfers + 1)
                                            for _ in range(2)]
    assert f"readings: {transfers} transfers, {2 * transfers} records pulled" in done.stdout
    assert "stopped after the set duration" in done.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_signal_finishes_the_transfer_in_flight_and_shuts_nodes_down(
        tmp_path: Path, source: JsonSource, nodes_dir: Path, processes: Processes,
        signum: signal.Signals) -> None:
    marker = tmp_path / "marker.txt"
    write(tmp_path, PIPELINE.format(planner="ApsPlanner", interval="100ms") + f"""
[[links.outlets]]
type = "clinodes:MarkerOutlet"
marker = "{marker.as_posix()}"
push_seconds = 0.6
""")
    proc = processes.start("run", "pipeline.toml", cwd=tmp_path,
                           env=cli_env({"SOURCE_URL": source.url}, pythonpath=nodes_dir))
    # wait until a push is in flight (the CSV outlet is pushed first, then the marker)
    wait_until(lambda: marker.exists() and "push-begin 1" in marker.read_text(), 15,
               "the second transfer's slow push")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"stopped by {signal.Signals(signum).name}" in out
    events = marker.read_text().splitlines()
    assert events[0] == "start"
    assert events[-1] == "shutdown"
    assert events.count("shutdown") == 1
    # the push in flight when the signal came finished before the shutdown
    assert events.index("push-end 1") < events.index("shutdown")
    begun = [e.split()[1] for e in events if e.startswith("push-begin")]
    ended = [e.split()[1] for e in events if e.startswith("push-end")]
    assert begun == ended
    rows = csv_rows(tmp_path / "out" / "readings.csv")
    assert all(len(row) == 3 for row in rows)
    assert len(rows) - 1 == 2 * len(begun)
    assert signal.Signals(signum).name in err
    assert "Traceback" not in err


def test_run_validates_everything_before_starting_anything(
        tmp_path: Path, source: JsonSource, nodes_dir: Path) -> None:
    marker = tmp_path / "marker.txt"
    write(tmp_path, PIPELINE.format(planner="ApsPlanner", interval="1s") + f"""
[[links.outlets]]
type = "clinodes:MarkerOutlet"
marker = "{marker.as_posix()}"

[[links]]
name = "broken"
interval = "1s"

[[links.inlets]]
type = "HttpInlet"
url = "${{SOURCE_URL}}"
timeuot = 3

[[links.outlets]]
type = "NullOutlet"
""")
    done = databay("run", "pipeline.toml", cwd=tmp_path,
                   env=cli_env({"SOURCE_URL": source.url}, pythonpath=nodes_dir))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "databay: error: pipeline.toml: link 'broken', inlets[0] (HttpInlet), key 'timeuot': "
        "unknown key (did you mean 'timeout'?); HttpInlet accepts: url, json, cacert, params, "
        "headers, metadata, timeout, ")
    assert source.count == 0
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_once_failure_exits_1_with_a_one_line_reason(tmp_path: Path, nodes_dir: Path) -> None:
    write(tmp_path, """
[[links]]
name = "flaky"
interval = 5

[[links.inlets]]
type = "clinodes:FailingInlet"

[[links.outlets]]
type = "NullOutlet"

[[links]]
name = "fine"
interval = 5

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "FileOutlet"
default_filepath = "numbers.txt"
""")
    done = databay("run", "pipeline.toml", "--once", cwd=tmp_path,
                   env=cli_env(pythonpath=nodes_dir))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "databay: error: link 'flaky': transfer failed: ConnectionError: the source is down")
    assert "Traceback" not in done.stderr
    # the other link still transferred
    assert (tmp_path / "numbers.txt").read_text().strip().isdigit()
    assert "flaky: 1 transfer (1 failed)" in done.stdout

    debug = databay("run", "pipeline.toml", "--once", "--debug", cwd=tmp_path,
                    env=cli_env(pythonpath=nodes_dir))
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_once_counts_ignored_errors_as_failure(tmp_path: Path, nodes_dir: Path) -> None:
    write(tmp_path, """
[[links]]
name = "flaky"
interval = 5
ignore_exceptions = true

[[links.inlets]]
type = "clinodes:FailingInlet"

[[links.outlets]]
type = "NullOutlet"
""")
    done = databay("run", "pipeline.toml", "--once", cwd=tmp_path,
                   env=cli_env(pythonpath=nodes_dir))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "databay: error: link 'flaky': 1 error(s) (ignored by the link): "
        "ConnectionError: the source is down")


def test_planner_stopping_on_a_failure_exits_1(tmp_path: Path, nodes_dir: Path) -> None:
    marker = tmp_path / "marker.txt"
    write(tmp_path, f"""
[planner]
type = "ApsPlanner"
ignore_exceptions = false

[[links]]
name = "flaky"
interval = "100ms"

[[links.inlets]]
type = "clinodes:FailingInlet"

[[links.outlets]]
type = "clinodes:MarkerOutlet"
marker = "{marker.as_posix()}"
""")
    done = databay("run", "pipeline.toml", "--duration", "20s", cwd=tmp_path,
                   env=cli_env(pythonpath=nodes_dir))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "databay: error: the planner stopped: link 'flaky' failed: "
        "ConnectionError: the source is down")
    assert "Traceback" not in done.stderr
    assert marker.read_text().splitlines() == ["start", "shutdown"]


def test_ignored_failures_keep_the_planner_running(tmp_path: Path, nodes_dir: Path) -> None:
    write(tmp_path, """
[planner]
type = "SchedulePlanner"
ignore_exceptions = true
refresh_interval = 0.05

[[links]]
name = "flaky"
interval = "100ms"

[[links.inlets]]
type = "clinodes:FailingInlet"

[[links.outlets]]
type = "NullOutlet"
""")
    done = databay("run", "pipeline.toml", "--duration", "0.6", cwd=tmp_path,
                   env=cli_env(pythonpath=nodes_dir))
    assert done.returncode == 0, done.stderr
    assert "flaky #1 FAILED" in done.stderr
    assert "Traceback" not in done.stderr


def test_environment_variables_and_defaults(tmp_path: Path, source: JsonSource) -> None:
    write(tmp_path, """
[[links]]
name = "readings"
interval = 1

[[links.inlets]]
type = "HttpInlet"
url = "${SOURCE_URL}"

[[links.outlets]]
type = "CsvOutlet"
default_filepath = "${UNSET_DIR:-default-out}/$${literal}.csv"

[[links.outlets]]
type = "CsvOutlet"
default_filepath = "${CHOSEN_DIR:-unused}/readings.csv"
""")
    done = databay("run", "pipeline.toml", "--once", cwd=tmp_path,
                   env=cli_env({"SOURCE_URL": source.url, "CHOSEN_DIR": "chosen"}))
    assert done.returncode == 0, done.stderr
    assert len(csv_rows(tmp_path / "default-out" / "${literal}.csv")) == 3
    assert len(csv_rows(tmp_path / "chosen" / "readings.csv")) == 3
    assert not (tmp_path / "unused").exists()


def test_processors_retry_and_dead_letter_from_the_file(
        tmp_path: Path, source: JsonSource, nodes_dir: Path) -> None:
    source.per_request = 4  # values 10, 11, 12, 13
    write(tmp_path, """
[[links]]
name = "orders"
interval = "1m"
processors = ["clinodes:only_even"]

[links.retry]
attempts = 2
backoff = 0.0

[links.dead_letter]
type = "FileOutlet"
default_filepath = "dead.txt"

[[links.inlets]]
type = "HttpInlet"
url = "${SOURCE_URL}"

[[links.outlets]]
type = "CsvOutlet"
default_filepath = "kept.csv"
processors = "clinodes:tenfold"

[[links.outlets]]
type = "clinodes:RefusingOutlet"
""")
    done = databay("run", "pipeline.toml", "--once", cwd=tmp_path,
                   env=cli_env({"SOURCE_URL": source.url}, pythonpath=nodes_dir))
    assert done.returncode == 0, done.stderr  # the dead-letter outlet took the refused records
    assert csv_rows(tmp_path / "kept.csv") == [["n", "item", "value"], ["1", "0", "100"],
                                               ["1", "2", "120"]]
    dead = (tmp_path / "dead.txt").read_text().splitlines()
    assert [eval(line)["value"] for line in dead] == [10, 12]  # copies: not ten times
    assert source.count == 1
    assert "orders: 1 transfer, 4 records pulled, 2 pushed, 2 dead-lettered, 0 errors" \
        in done.stdout


def test_live_status_redraws_in_place_on_a_terminal(
        tmp_path: Path, source: JsonSource) -> None:
    if sys.platform == "win32":
        pytest.skip("needs a POSIX pseudo-terminal")
    import pty
    write(tmp_path, PIPELINE.format(planner="ApsPlanner", interval="200ms"))
    leader, follower = pty.openpty()
    env = cli_env({"SOURCE_URL": source.url, "TERM": "xterm", "COLUMNS": "120"})
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "databay", "run", "pipeline.toml",
                             "--duration", "1"], cwd=tmp_path, env=env,
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    text = output.decode("utf-8", "replace")
    assert "LINK" in text and "TRANSFERS" in text
    assert re.search(r"\x1b\[\d+F\x1b\[J", text)  # moved up over the table and redrew it
    assert text.count("readings ") >= 3
    assert "readings #0:" not in text  # no plain lines on a terminal


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("once", [False, True], ids=["scheduled", "once"])
def test_second_interrupt_stops_without_waiting(
        tmp_path: Path, nodes_dir: Path, processes: Processes, once: bool) -> None:
    marker = tmp_path / "marker.txt"
    # scheduled: the slow push runs in one of the planner's threads; once: in the main one
    slow_from = 0 if once else 1
    write(tmp_path, f"""
[[links]]
name = "slow"
interval = "200ms"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "clinodes:MarkerOutlet"
marker = "{marker.as_posix()}"
push_seconds = 30
slow_from = {slow_from}
""")
    proc = processes.start("run", "pipeline.toml", *(["--once"] if once else []),
                           cwd=tmp_path, env=cli_env(pythonpath=nodes_dir))
    assert proc.stderr is not None
    wait_until(lambda: marker.exists() and f"push-begin {slow_from}" in marker.read_text(),
               15, "the slow push")
    proc.send_signal(signal.SIGINT)
    for _ in range(20):  # status lines come first
        line = proc.stderr.readline()
        if "SIGINT received" in line:
            break
    assert "SIGINT received: stopping once the transfers in flight finish" in line
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert time.monotonic() - began < 10
    assert err.splitlines()[-1] == ("databay: error: interrupted: stopped without waiting "
                                    "for transfers in flight")
    assert "Traceback" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_ends_a_retry_wait_of_once(
        tmp_path: Path, nodes_dir: Path, processes: Processes) -> None:
    write(tmp_path, """
[[links]]
name = "orders"
interval = "1m"

[links.retry]
attempts = 5
backoff = 30.0
jitter = false

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "clinodes:RefusingOutlet"
""")
    proc = processes.start("run", "pipeline.toml", "--once", "--log-level", "WARNING",
                           cwd=tmp_path, env=cli_env(pythonpath=nodes_dir))
    assert proc.stderr is not None
    for _ in range(20):
        line = proc.stderr.readline()
        if "retrying in" in line:
            break
    assert "failed (attempt 1 of 5), retrying in 30.00 s" in line
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    assert time.monotonic() - began < 10
    assert proc.returncode == 1
    assert err.splitlines()[-1] == ("databay: error: link 'orders': transfer failed: "
                                    "ConnectionError: the database is down")
