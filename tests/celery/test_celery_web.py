"""`databay run PIPELINE --planner celery --role worker|beat --http PORT` (databay-web):
each process serves its own /health, /ready and /metrics; the link actions answer 409."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _celery_support import (
    RedisServer,
    free_port,
    process_env,
    processes,
    wait_until,
    write_pipeline,
)

pytest.importorskip("databay_web", reason="databay-web is not installed: pip install "
                    "packages/databay-web (hatch's test.all environment has it)")
from prometheus_client.parser import text_string_to_metric_families


def _get(url: str, method: str = "GET", token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:  # not listening yet
        return 0, str(error)


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = _get(url + "/metrics")
    assert status == 200, body
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def test_worker_and_beat_each_serve_on_their_own_port(
    redis_server: RedisServer, prefix: str, workdir: Path
) -> None:
    pipeline = write_pipeline(workdir / "pipeline.toml", workdir / "ticks.sqlite", ["one"],
                              interval=0.5)
    env = process_env(redis_server.url, pipeline, prefix)
    worker_url = f"http://127.0.0.1:{free_port()}"
    beat_url = f"http://127.0.0.1:{free_port()}"
    run = ["-m", "databay", "run", str(pipeline), "--planner", "celery", "--status", "off",
           "--http-token", "web-token-1"]
    with processes(workdir, env) as procs:
        procs.spawn("worker", *run, "--role", "worker", "--http", worker_url.rsplit(":", 1)[1])
        procs.spawn("beat", *run, "--role", "beat", "--http", beat_url.rsplit(":", 1)[1])
        for url in (worker_url, beat_url):
            wait_until(lambda url=url: _get(url + "/ready")[0] == 200, 60,
                       f"{url}/ready answering 200\n{procs.dump()}")
            assert _get(url + "/health") == (200, "ok\n")
        one = (("link", "one"), ("outcome", "succeeded"))
        # the worker's transfers are counted where they run
        wait_until(lambda: _samples(worker_url).get(("databay_transfers_total", one), 0) >= 2,
                   60, f"2 transfers counted by the worker's /metrics\n{procs.dump()}")
        worker = _samples(worker_url)
        assert worker[("databay_planner_running", (("planner", "CeleryPlanner"),))] == 1
        assert worker[("databay_records_pulled_total", (("link", "one"),))] >= 2
        # beat publishes ticks and runs none: up and running, no transfer
        beat = _samples(beat_url)
        assert beat[("databay_planner_running", (("planner", "CeleryPlanner"),))] == 1
        assert beat[("databay_transfers_total", one)] == 0
        # the link actions are refused, saying why, on both (with the right token)
        for url in (worker_url, beat_url):
            for action in ("pause", "resume", "run"):
                status, body = _get(f"{url}/api/links/one/{action}", "POST", "web-token-1")
                assert status == 409 and "not available for CeleryPlanner" in body, body
            assert _get(f"{url}/api/links/one/pause", "POST")[0] == 401
        status, body = _get(worker_url + "/api/links")
        assert status == 200 and '"role": "worker"' in body
    assert "Traceback" not in procs.dump()
