"""Broker and Redis URLs never show their credentials: sentinel secrets in the URLs given
to Settings, CeleryPlanner and RedisStateStore, searched in reprs, errors, log lines
(Celery's and kombu's too) and ``databay validate``/``run`` output. Only the last test
needs a Redis server (and skips, saying how to get one, without it)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _celery_support import RedisServer, free_port
from databay_celery import CeleryPlanner, RedisStateStore, Settings
from databay_celery._app import make_app

S = "S3NT-celery-q7x9Z"


def assert_nowhere(texts: list[str]) -> None:
    whole = "\n".join(texts)
    assert S not in whole, f"leaked: ...{whole[whole.find(S) - 200:][:400]}"


def shown(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), repr(vars(exc))]


URLS = [f"redis://:{S}-a@127.0.0.1:1/0", f"redis://alice:{S}-b@127.0.0.1:1/0",
        f"rediss://127.0.0.1:1/0?password={S}-c", f"amqp://alice:{S}-d@127.0.0.1:1//",
        f"sentinel://:{S}-e@127.0.0.1:1;sentinel://:{S}-f@127.0.0.1:2"]
BAD = [f"http://alice:{S}-g@h/", f"redis://:{S}-h@h:99999/0", f"redis://:{S}-i@[bad/0",
       f"redis://:{S}-j@h/zero", f"ftp://{S}-k@h/"]


def test_reprs_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    for url in URLS:
        redis_url = url if url.startswith("redis") else f"redis://:{S}-r@127.0.0.1:1/0"
        settings = Settings.from_env({}, broker_url=url, redis_url=redis_url)
        texts += [repr(settings), str(settings)]
        planner = CeleryPlanner(broker_url=url, redis_url=redis_url)
        texts += [repr(planner), str(planner)]
    for url in BAD:
        for make in (lambda u: Settings.from_env({}, broker_url=u),
                     lambda u: Settings.from_env({}, broker_url="redis://h/0", redis_url=u),
                     lambda u: CeleryPlanner(broker_url=u), lambda u: RedisStateStore(u)):
            with pytest.raises(ValueError) as info:
                make(url)
            texts += shown(info.value)
    with pytest.raises(ValueError) as not_redis:
        Settings.from_env({"DATABAY_CELERY_BROKER": f"amqp://u:{S}-l@rabbit//"})
    texts += shown(not_redis.value)
    assert "***" in "\n".join(texts)
    texts.append(caplog.text)
    assert_nowhere(texts)


def test_state_store_errors_without_a_server() -> None:
    url = f"redis://alice:{S}-m@127.0.0.1:{free_port()}/0?password={S}-n"
    store = RedisStateStore(url)
    texts = [repr(store), str(store)]
    for call in (lambda: store.get("k"), lambda: store.set("k", 1)):
        with pytest.raises(Exception) as info:
            call()
        texts += shown(info.value)
    store.close()
    assert "redis://***@127.0.0.1" in texts[0] and "password=***" in texts[0]
    assert_nowhere(texts)


def test_celery_and_kombu_log_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """Celery and kombu hide a URL's password (``:**@``), not a password in its query
    string; the app installs databay's filter on the loggers that write broker URLs."""
    make_app(Settings.from_env({}, broker_url=f"redis://:{S}-o@127.0.0.1:1/0"))
    caplog.set_level(logging.DEBUG)
    for name in ("celery.worker.consumer.consumer", "celery.worker.consumer.connection",
                 "kombu.connection"):
        logging.getLogger(name).error("consumer: Cannot connect to %s: refused",
                                      f"redis://127.0.0.1:1/0?password={S}-p")
    assert caplog.text.count("password=***") == 3
    assert_nowhere([caplog.text])


PIPELINE = f"""
[planner]
type = "CeleryPlanner"
broker_url = "redis://:{S}-b@127.0.0.1:{{port}}/0"
redis_url = "redis://127.0.0.1:{{port}}/0?password={S}-r"

[[links]]
name = "a"
interval = "1h"

[links.state_store]
type = "RedisStateStore"
url = "redis://alice:{S}-s@127.0.0.1:{{port}}/0"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "NullOutlet"
"""

BAD_PIPELINE = f"""
[planner]
type = "CeleryPlanner"
broker_url = "http://:{S}-b@127.0.0.1:1/0"

[[links]]
name = "a"
interval = "1h"

[links.state_store]
type = "RedisStateStore"
url = "redis://alice:{S}-s@127.0.0.1:99999/0"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "NullOutlet"
"""


def databay(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "databay", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_databay_validate_and_run_show_no_broker_secret(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(PIPELINE.format(port=free_port()))
    (tmp_path / "bad.toml").write_text(BAD_PIPELINE)
    runs = [databay("validate", "p.toml", cwd=tmp_path),
            databay("validate", "bad.toml", "--debug", cwd=tmp_path),
            # nothing listens: the worker logs that it cannot connect to the broker
            databay("run", "p.toml", "--role", "worker", "--duration", "4s", "--log-level",
                    "DEBUG", "--debug", cwd=tmp_path)]
    runs.append(subprocess.run([sys.executable, "-m", "databay_celery", "worker", "bad.toml"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=60,
                               check=False))
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[1].returncode == 2 and "2 errors" in runs[1].stderr, runs[1].stderr
    assert runs[3].returncode == 2 and "http://***@" in runs[3].stderr, runs[3].stderr
    assert "Cannot connect to redis://***@127.0.0.1" in runs[2].stderr, runs[2].stderr
    assert_nowhere([r.stdout + r.stderr for r in runs])


def test_a_refused_password_is_not_echoed(redis_server: RedisServer) -> None:
    url = redis_server.url.replace("redis://", f"redis://alice:{S}-t@")
    store = RedisStateStore(url)
    texts: list[Any] = [repr(store)]
    try:
        with pytest.raises(Exception) as info:
            store.get("k")  # the server has no such user: authentication fails
        texts += shown(info.value)
    finally:
        store.close()
    assert "alice" not in texts[0]
    assert_nowhere(texts)
