"""databay-web's WebService in process: endpoints, metrics against TransferResults,
tokens, readiness, bad requests and secrets, on core's ThreadPlanner."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _web_support import PROMTOOL_HOWTO, SENTINEL, get_json, promtool, request
from databay import Inlet, Link, Outlet, plugins
from databay.delivery import RetryPolicy
from databay.errors import TransientError
from databay.hookspecs import hookimpl
from databay.planners import ThreadPlanner
from databay.testing.planners import wait_until
from databay_web import METRICS, WebService, parse_address
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "t0ken-for-the-tests"


class Numbers(Inlet):
    def pull(self, update: Any) -> list[int]:
        return [1, 2, 3]


class Sink(Outlet):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[Any] = []

    def push(self, records: Any, update: Any) -> None:
        self.records.extend(records)


class FlakyOutlet(Outlet):
    """Refuses every other push once (transient), so the link retries."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def push(self, records: Any, update: Any) -> None:
        self.calls += 1
        if self.calls % 2:
            raise TransientError("try again")


class Refusing(Outlet):
    def push(self, records: Any, update: Any) -> None:
        raise ValueError("refused")


class Leaky(Inlet):
    def pull(self, update: Any) -> list[int]:
        raise ConnectionError(f"GET https://user:{SENTINEL}@example.invalid/?token={SENTINEL}")


class StartFails(Inlet):
    def on_start(self) -> None:
        raise RuntimeError(f"cannot connect to mongodb://admin:{SENTINEL}@db.invalid/")

    def pull(self, update: Any) -> list[int]:
        return []


class Results:
    """Every TransferResult, by link, through core's hooks."""

    def __init__(self) -> None:
        self.by_link: dict[Link, list[Any]] = {}
        self.lock = threading.Lock()

    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Any, result: Any) -> None:
        with self.lock:
            self.by_link.setdefault(link, []).append((result, False))

    @hookimpl
    def databay_transfer_failed(self, link: Link, update: Any, error: Any, result: Any) -> None:
        with self.lock:
            self.by_link.setdefault(link, []).append((result, True))


@pytest.fixture
def results() -> Iterator[Results]:
    recorder = Results()
    name = plugins.register(recorder, name="web-test-results")
    try:
        yield recorder
    finally:
        plugins.unregister(name)


class Running:
    def __init__(self, planner: ThreadPlanner, service: WebService) -> None:
        self.planner = planner
        self.service = service
        self.url = service.url.rstrip("/")
        self.thread = threading.Thread(target=planner.start, daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_until(lambda: self.planner.running, 10, "the planner running")

    def stop(self) -> None:
        self.planner.shutdown(wait=True)
        self.thread.join(10)


@pytest.fixture
def run_service() -> Iterator[Any]:
    made: list[Running] = []

    def make(links: list[Link], names: dict[Link, str] | None = None, start: bool = True,
             **kwargs: Any) -> Running:
        planner = ThreadPlanner(links, ignore_exceptions=True)
        planner.handle_signals = False
        service = WebService(planner, names=names, token=kwargs.pop("token", TOKEN), **kwargs)
        service.start()
        running = Running(planner, service)
        made.append(running)
        if start:
            running.start()
        return running

    try:
        yield make
    finally:
        for running in made:
            if running.thread.is_alive():
                running.stop()
            running.service.close()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, body = request(url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_match_the_transfer_results(run_service: Any, results: Results) -> None:
    sink, flaky, dead = Sink(), FlakyOutlet(), Sink()
    retry = RetryPolicy(attempts=2, backoff=0, jitter=False)
    good = Link(Numbers(), [sink, flaky], 0.02, tags=["good"], retry=retry)
    bad = Link(Numbers(), Refusing(), 0.02, tags=["bad"], dead_letter=dead,
               ignore_exceptions=True)
    running = run_service([good, bad], names={good: "good", bad: "bad"})
    wait_until(lambda: len(results.by_link.get(good, [])) >= 5
               and len(results.by_link.get(bad, [])) >= 5, 20, "5 transfers each")
    running.stop()  # the counts stop moving; the server still answers
    samples = scrape(running.url)
    for link, name in ((good, "good"), (bad, "bad")):
        got = results.by_link[link]
        outcomes = {"succeeded": 0, "errors": 0, "failed": 0}
        for result, failed in got:
            outcomes["failed" if failed else "errors" if result.errors else "succeeded"] += 1
        for outcome, count in outcomes.items():
            key = ("databay_transfers_total", (("link", name), ("outcome", outcome)))
            # succeeded is always there; errors and failed appear once non-zero
            assert samples.get(key, 0) == count, (name, outcome)
        assert ("databay_transfers_total", (("link", name), ("outcome", "succeeded"))) \
            in samples
        assert samples[("databay_records_pulled_total", (("link", name),))] == \
            sum(r.pulled for r, _ in got)
        assert samples[("databay_transfer_duration_seconds_count", (("link", name),))] == len(got)
        for outlet in link.outlets:
            labels = (("link", name), ("outlet", type(outlet).__name__))
            assert samples[("databay_records_pushed_total", labels)] == \
                sum(r.pushed.get(outlet, 0) for r, _ in got)
            # per-outlet retry and dead-letter series appear once non-zero
            assert samples.get(("databay_retries_total", labels), 0) == \
                sum(r.retried.get(outlet, 0) for r, _ in got)
            assert samples.get(("databay_records_dead_lettered_total", labels), 0) == \
                sum(r.dead_lettered.get(outlet, 0) for r, _ in got)
    assert samples[("databay_retries_total", (("link", "good"), ("outlet", "FlakyOutlet")))] > 0
    assert samples[("databay_records_dead_lettered_total",
                    (("link", "bad"), ("outlet", "Refusing")))] > 0
    # lateness is the planner's: one histogram, every link's scheduled transfers in it
    assert samples[("databay_schedule_lateness_seconds_count",
                    (("planner", "ThreadPlanner"),))] >= 2
    assert ("databay_last_success_timestamp_seconds", (("link", "good"),)) in samples
    # the running and paused gauges are there only while non-zero
    assert ("databay_transfers_running", (("link", "good"),)) not in samples
    assert ("databay_link_paused", (("link", "good"),)) not in samples
    assert samples[("databay_planner_up", (("planner", "ThreadPlanner"),))] == 1
    assert samples[("databay_planner_running", (("planner", "ThreadPlanner"),))] == 0
    running.planner.pause_link(bad)
    samples = scrape(running.url)
    assert samples[("databay_link_paused", (("link", "bad"),))] == 1
    assert ("databay_link_paused", (("link", "good"),)) not in samples
    names = {name for name, _ in samples} | {"databay_transfers_running"}  # in flight only
    for metric in METRICS:
        assert any(n == metric or n.startswith(metric + "_") for n in names), metric


def test_promtool_accepts_the_metrics(run_service: Any) -> None:
    tool = promtool()
    if tool is None:
        if os.environ.get("CI"):  # .ci/run installs it
            pytest.fail(PROMTOOL_HOWTO)
        pytest.skip(PROMTOOL_HOWTO)
    running = run_service([Link(Numbers(), Sink(), 0.02, tags=["a"]),
                           Link(Leaky(), Sink(), 0.02, tags=["b"], ignore_exceptions=True)])
    wait_until(lambda: get_json(running.url + "/api/links")["links"][1]["counts"]["transfers"]
               >= 2, 20, "transfers")
    _, _, body = request(running.url + "/metrics")
    checked = subprocess.run([tool, "check", "metrics"], input=body, text=True,
                             capture_output=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == "", \
        checked.stdout + checked.stderr  # no lint warnings either


def test_health_ready_and_links_json(run_service: Any) -> None:
    link = Link(Numbers(), Sink(), 0.05, tags=["numbers"])
    running = run_service([link], start=False)
    assert request(running.url + "/health")[:3:2] == (200, "ok\n")
    status, _, body = request(running.url + "/ready")
    assert status == 503 and "the planner is not running yet" in body
    running.start()
    wait_until(lambda: request(running.url + "/ready")[0] == 200, 10, "ready")
    wait_until(lambda: get_json(running.url + "/api/links")["links"][0]["counts"]["transfers"]
               >= 2, 10, "2 transfers")
    data = get_json(running.url + "/api/links")
    assert data["planner"] == {"name": "ThreadPlanner", "running": True, "paused": False,
                               "ready": True, "reason": None, "role": None}
    entry = data["links"][0]
    assert entry["name"] == "numbers"
    assert entry["schedule"] == str(link.schedule)
    assert entry["state"] in ("waiting", "running")
    assert entry["last_run"] and entry["next_run"] and entry["last_error"] is None
    assert entry["counts"]["pulled"] == 3 * entry["counts"]["transfers"] or \
        entry["counts"]["pulled"] >= 6
    running.stop()
    status, _, body = request(running.url + "/ready")
    assert status == 503 and "stopped" in body


def test_a_link_that_failed_to_start_makes_ready_fail(run_service: Any) -> None:
    running = run_service([Link(StartFails(), Sink(), 0.05, tags=["broken"]),
                           Link(Numbers(), Sink(), 0.05, tags=["fine"])])
    status, _, body = request(running.url + "/ready")
    assert status == 503
    assert "link 'broken' failed to start: RuntimeError" in body
    assert SENTINEL not in body
    entry = get_json(running.url + "/api/links")["links"][0]
    assert entry["state"] == "failing" and SENTINEL not in entry["last_error"]


def test_actions_need_the_token(run_service: Any) -> None:
    a = Link(Numbers(), Sink(), 0.02, tags=["a"])
    running = run_service([a])
    url = running.url + "/api/links/a/pause"
    assert request(url, "POST")[0] == 401
    assert request(url, "POST", {"Authorization": "Basic " + TOKEN})[0] == 401
    assert request(url, "POST", {"Authorization": "Bearer wrong-token-value"})[0] == 403
    assert not running.planner.link_paused(a)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, _, body = request(url, "POST", auth)
    assert status == 200 and json.loads(body)["paused"] is True
    assert running.planner.link_paused(a)
    wait_until(lambda: get_json(running.url + "/api/links")["links"][0]["state"] == "paused",
               10, "state paused")
    count = get_json(running.url + "/api/links")["links"][0]["counts"]["transfers"]
    status, _, _ = request(running.url + "/api/links/a/run", "POST", auth)
    assert status == 202
    wait_until(lambda: get_json(running.url + "/api/links")["links"][0]["counts"]["transfers"]
               == count + 1, 10, "the run-now transfer")
    assert request(running.url + "/api/links/a/resume", "POST", auth)[0] == 200
    assert not running.planner.link_paused(a)
    wait_until(lambda: get_json(running.url + "/api/links")["links"][0]["counts"]["transfers"]
               >= count + 3, 10, "transfers after resume")
    assert request(running.url + "/api/links/nope/pause", "POST", auth)[0] == 404


def test_without_a_token_actions_are_refused(run_service: Any) -> None:
    a = Link(Numbers(), Sink(), 0.05, tags=["a"])
    running = run_service([a], token=None)
    status, _, body = request(running.url + "/api/links/a/pause", "POST",
                              {"Authorization": "Bearer anything-at-all"})
    assert status == 403 and "--http-token" in body
    assert not running.planner.link_paused(a)


def test_bad_requests_get_4xx_without_traceback(run_service: Any) -> None:
    running = run_service([Link(Numbers(), Sink(), 0.05, tags=["a"])])
    url = running.url
    cases = [
        (url + "/nope", "GET", 404), (url + "/metrics", "POST", 405),
        (url + "/api/links/a/pause", "GET", 405), (url + "/api/links/a/explode", "POST", 404),
        (url + "/api/links/a/b/c", "POST", 404), (url + "/../../etc/passwd", "GET", 404),
        (url + "/static/../plugin.py", "GET", 404), (url + "/api/links/%ff%fe/run", "POST", 401),
    ]
    for target, method, expected in cases:
        status, _, body = request(target, method)
        assert status == expected, (target, method, status, body)
        assert "Traceback" not in body
    status, _, body = request(url + "/api/links/a/pause", "POST",
                              {"Authorization": f"Bearer {TOKEN}", "Content-Length": "x"})
    assert status == 400 and "Traceback" not in body
    host, port = "127.0.0.1", running.service.port
    for raw in (b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00\x00\r\n\r\n"):
        with socket.create_connection((host, port), timeout=5) as conn:
            conn.sendall(raw)
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        status_code = int(reply.split(b" ", 2)[1])
        # 505 is HTTP's answer to an unknown protocol version; the rest are 4xx
        assert 400 <= status_code < 500 or status_code == 505, reply[:200]
        assert b"Traceback" not in reply
    assert request(url + "/health")[0] == 200  # still serving


def test_no_secret_on_the_page_json_or_metrics(run_service: Any) -> None:
    running = run_service([Link(Leaky(), Sink(), 0.02, tags=["leaky"], ignore_exceptions=True),
                           Link(StartFails(), Sink(), 0.02, tags=["start"],
                                ignore_exceptions=True)])
    wait_until(lambda: get_json(running.url + "/api/links")["links"][0]["counts"]["transfers"]
               >= 2, 10, "failing transfers")
    data = get_json(running.url + "/api/links")
    assert data["links"][0]["state"] == "failing"
    assert "ConnectionError" in data["links"][0]["last_error"]
    for path in ("/", "/static/app.js", "/api/links", "/metrics", "/ready"):
        _, _, body = request(running.url + path)
        assert SENTINEL not in body, path
        assert TOKEN not in body, path


def test_parse_address() -> None:
    assert parse_address("8000") == ("127.0.0.1", 8000)
    assert parse_address("0.0.0.0:9") == ("0.0.0.0", 9)
    assert parse_address(":9") == ("127.0.0.1", 9)
    assert parse_address("[::1]:80") == ("::1", 80)
    for bad in ("http", "host:", "70000", "[::1]80"):
        with pytest.raises(ValueError, match="--http"):
            parse_address(bad)


def test_short_tokens_and_non_planners_are_refused() -> None:
    planner = ThreadPlanner([])
    with pytest.raises(ValueError, match="at least 8"):
        WebService(planner, token="short")
    with pytest.raises(TypeError, match="BasePlanner"):
        WebService(object())  # type: ignore[arg-type]


def test_non_loopback_without_token_warns(caplog: pytest.LogCaptureFixture) -> None:
    planner = ThreadPlanner([])
    with caplog.at_level("WARNING", logger="databay.web"), \
            WebService(planner, host="0.0.0.0", port=0):
        pass
    assert "not a loopback address, without a token" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="databay.web"), WebService(planner, port=0):
        pass
    assert caplog.text == ""


class Held(Inlet):
    """Pulls one record, after ``release`` is set; ``inside`` tells that it waits."""

    def __init__(self) -> None:
        super().__init__()
        self.inside, self.release = threading.Event(), threading.Event()

    def pull(self, update: Any) -> list[int]:
        self.inside.set()
        assert self.release.wait(10)
        return [1]


def test_a_transfer_in_flight_shows_as_running_then_ends(run_service: Any) -> None:
    inlet = Held()
    link = Link(inlet, Sink(), 3600, tags=["held"], immediate_transfer=False)
    running = run_service([link], names={link: "held"})
    key = ("databay_transfers_running", (("link", "held"),))
    thread = threading.Thread(target=running.planner.force_transfer, args=(link,))
    thread.start()
    try:
        assert inlet.inside.wait(10)
        assert scrape(running.url)[key] == 1
        assert get_json(running.url + "/api/links")["links"][0]["state"] == "running"
    finally:
        inlet.release.set()
        thread.join(10)
    samples = scrape(running.url)
    assert key not in samples
    assert samples[("databay_transfers_total", (("link", "held"), ("outcome", "succeeded")))] \
        == 1
    # run by hand, not on schedule: no lateness observed
    assert samples[("databay_schedule_lateness_seconds_count",
                    (("planner", "ThreadPlanner"),))] == 0


def test_a_second_scrape_shows_what_changed_since_the_first(run_service: Any) -> None:
    # a link's samples are reused while its values stay: they must change when these do
    quiet = Link(Numbers(), Sink(), 3600, tags=["quiet"], immediate_transfer=False)
    busy = Link(Numbers(), Sink(), 3600, tags=["busy"], immediate_transfer=False)
    running = run_service([quiet, busy], names={quiet: "quiet", busy: "busy"})
    running.planner.force_transfer([quiet, busy])
    key = "databay_transfer_duration_seconds_count"
    first = scrape(running.url)
    running.planner.force_transfer(busy)
    running.planner.pause_link(quiet)
    second = scrape(running.url)
    assert first[(key, (("link", "busy"),))] == 1 and second[(key, (("link", "busy"),))] == 2
    assert second[("databay_records_pulled_total", (("link", "busy"),))] == \
        2 * first[("databay_records_pulled_total", (("link", "busy"),))]
    assert second[(key, (("link", "quiet"),))] == first[(key, (("link", "quiet"),))] == 1
    assert ("databay_link_paused", (("link", "quiet"),)) not in first
    assert second[("databay_link_paused", (("link", "quiet"),))] == 1
