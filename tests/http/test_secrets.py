"""No secret handed to HttpInlet/HttpOutlet shows anywhere: sentinel secrets, every way
to hand one over, every channel searched (DEBUG logs of every logger, reprs, errors and
their attributes, dead-letter records, hook payloads, ``databay run``/``validate``).

The servers are careless on purpose: their error pages echo the request line and every
header they got, so a body quoted in an error would carry the secrets back."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from databay import Link, Record, Update, hookimpl, plugins
from databay.delivery import DEAD_LETTER, RetryPolicy
from databay.testing import CollectingOutlet
from databay_http import HttpError, HttpInlet, HttpOutlet
from http_servers import LocalServer, Reply, Seen

UPDATE = Update([], 0)


def sentinel(way: str) -> str:
    return f"S3NT-{way}-q7x9Z"


def forms(secret: str) -> list[str]:
    """The secret and the forms a careless channel could show it in."""
    out = [secret, quote(secret, safe=""), quote_plus(secret)]
    for pair in (f"alice:{secret}", f"{secret}:"):
        out.append(base64.b64encode(pair.encode()).decode())
    return out


def echo(seen: Seen) -> str:
    """What a careless server says back: the request line and every header."""
    query = "&".join(f"{k}={v}" for k, v in seen.query.items())
    first = ("Authorization", "Proxy-Authorization", "X-Api-Key", "Cookie")
    headers = {k: v for k, v in seen.headers.items() if k in first}
    headers.update(seen.headers)  # the credentials first, within the quoted start
    return f"denied {seen.method} {seen.path}?{query} headers: {json.dumps(headers)}"


def install_routes(server: LocalServer) -> None:
    server.routes["/ok"] = lambda _s: Reply(200, json.dumps([{"n": 1}, {"n": 2}]))
    server.routes["/deny"] = lambda s: Reply(401, echo(s))
    server.routes["/busy"] = lambda s: Reply(503, echo(s))
    server.routes["/garbage"] = lambda s: Reply(200, "not json: " + echo(s))


#: every way to hand a secret to HttpInlet/HttpOutlet: (url, keyword arguments)
WAYS: dict[str, Callable[[str, str], tuple[str, dict[str, Any]]]] = {
    "url-password": lambda u, s: (u.replace("://", f"://alice:{s}@"), {}),
    "url-user-token": lambda u, s: (u.replace("://", f"://{s}@"), {}),
    "query-token": lambda u, s: (f"{u}?token={s}", {}),
    "query-api-key": lambda u, s: (f"{u}?page=1&api_key={s}", {}),
    "params-dict": lambda u, s: (u, {"params": {"access_token": s, "page": 2}}),
    "params-pairs": lambda u, s: (u, {"params": [("page", 2), ("signature", s)]}),
    "header-authorization": lambda u, s: (u, {"headers": {"Authorization": f"Bearer {s}"}}),
    "header-proxy-authorization": lambda u, s: (u, {"headers": {"Proxy-Authorization":
                                                                f"Basic {s}"}}),
    "header-x-api-key": lambda u, s: (u, {"headers": {"X-Api-Key": s}}),
    "header-cookie": lambda u, s: (u, {"headers": {"Cookie": f"session={s}; theme=dark"}}),
    "auth-tuple": lambda u, s: (u, {"auth": ("alice", s)}),
    "token": lambda u, s: (u, {"token": s}),
}


class HookRecorder:
    """A plugin that keeps the text of every hook payload."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def _keep(self, *values: Any) -> None:
        for value in values:
            self.texts.append(repr(value))
            self.texts.append(str(value))
            if isinstance(value, BaseException):
                self.texts.append(repr(vars(value)))
            errors = getattr(value, "errors", None)
            if errors:
                self.texts += [repr(e) for e in errors] + [repr(vars(e)) for e in errors]

    @hookimpl
    def databay_transfer_started(self, link: Link, update: Update) -> None:
        self._keep(link, update, link.inlets, link.outlets)

    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Update, result: Any) -> None:
        self._keep(link, update, result)

    @hookimpl
    def databay_transfer_failed(self, link: Link, update: Update, error: BaseException,
                                result: Any) -> None:
        self._keep(link, update, error, result)


@pytest.fixture
def hooks() -> Iterator[HookRecorder]:
    recorder = HookRecorder()
    name = plugins.register(recorder, name="secret-recorder")
    yield recorder
    plugins.unregister(name)


def error_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        texts += error_texts(cause)
    return texts


def assert_nowhere(secret: str, texts: list[str]) -> None:
    whole = "\n".join(texts)
    for form in forms(secret):
        assert form not in whole, f"{form!r} leaked: ...{whole[whole.find(form) - 200:][:400]}"


@pytest.mark.parametrize("way", list(WAYS))
def test_a_secret_handed_over_shows_nowhere(way: str, server: LocalServer, unused_port: int,
                                           all_logs: pytest.LogCaptureFixture,
                                           hooks: HookRecorder) -> None:
    secret = sentinel(way)
    install_routes(server)
    make = WAYS[way]

    def node(cls: type, path: str, base: str | None = None, **extra: Any) -> Any:
        url, kwargs = make((base or server.url("")) + path, secret)
        return cls(url, retries=extra.pop("retries", 0), backoff=0, **kwargs, **extra)

    texts: list[str] = []
    # a transfer that works, logged at DEBUG (urllib3 logs the query string there)
    good = node(HttpInlet, "/ok", metadata={"source": "orders"})
    sink = CollectingOutlet()
    link = Link(good, sink, interval=1, tags=f"ok-{way}")
    link.on_start()
    result = link.transfer()
    link.on_shutdown()
    assert len(sink.records) == 2
    seen = server.requests_to("/ok")[-1]
    assert secret in json.dumps([seen.query, seen.headers]) or way.startswith("url-") \
        or way in ("auth-tuple", "token"), "the secret was sent"
    texts += [repr(good), str(good), repr(link), repr(result), repr(result.update)]

    # errors: an echoing 401, retried 503s, a body that is not JSON, a refused connection
    for inlet in (node(HttpInlet, "/deny"), node(HttpInlet, "/busy", retries=1),
                  node(HttpInlet, "/garbage"),
                  node(HttpInlet, "/x", base=f"http://127.0.0.1:{unused_port}")):
        with inlet, pytest.raises(HttpError) as info:
            inlet.fetch(UPDATE)
        texts += [*error_texts(info.value), repr(inlet)]
    assert "denied GET /deny" in " ".join(texts), "the echoed body is quoted, masked"

    # a transfer that fails and raises: the transfer_failed hook gets the error
    failing = Link(node(HttpInlet, "/deny"), CollectingOutlet(), interval=1, tags=f"f-{way}")
    with pytest.raises(HttpError) as raised:
        failing.transfer()
    texts += error_texts(raised.value)
    failing.on_shutdown()

    # an outlet refusing: retried, then dead-lettered; and one ignored and logged
    dead = CollectingOutlet()
    outlet = node(HttpOutlet, "/deny")
    pushing = Link(node(HttpInlet, "/ok"), outlet, interval=1, tags=f"push-{way}",
                   retry=RetryPolicy(attempts=2, backoff=0), dead_letter=dead)
    pushed = pushing.transfer()
    pushing.on_shutdown()
    assert len(dead.records) == 2 and pushed.dead_lettered
    texts += [repr(outlet), repr(pushed), repr(pushing)]
    texts += [repr(r.metadata) + repr(r) for r in dead.records]
    assert "denied POST /deny" in dead.records[0].metadata[DEAD_LETTER]["error"]
    lenient = Link(node(HttpInlet, "/ok"), node(HttpOutlet, "/busy", retries=1), interval=1,
                   ignore_exceptions=True, tags=f"lenient-{way}")
    texts.append(repr(lenient.transfer()))
    lenient.on_shutdown()
    with node(HttpOutlet, "/deny") as direct, pytest.raises(HttpError) as info3:
        direct.push([Record({"n": 1})], UPDATE)
    texts += error_texts(info3.value)

    texts += hooks.texts
    texts.append(all_logs.text)
    texts += [r.getMessage() for r in all_logs.records]
    assert any(r.name.startswith("urllib3") for r in all_logs.records), "driver logs seen"
    assert any("retry 1 of 1" in r.getMessage() for r in all_logs.records)
    assert "***" in "\n".join(texts)
    assert_nowhere(secret, texts)


# -- databay run / databay validate -------------------------------------------------

PIPELINE = """
[planner]
type = "ApsPlanner"

[[links]]
name = "pulling"
interval = "1h"

[[links.inlets]]
type = "HttpInlet"
url = "{base}/deny?token={s}-q&page=1"
params = {{ access_token = "{s}-p", page = "2" }}
headers = {{ Authorization = "Bearer {s}-h", X-Api-Key = "{s}-k", Cookie = "sid={s}-c" }}
retries = 0

[[links.outlets]]
type = "NullOutlet"

[[links]]
name = "pushing"
interval = "1h"

[links.retry]
attempts = 2
backoff = 0

[links.dead_letter]
type = "FileOutlet"
default_filepath = "dead.jsonl"
json_lines = true

[[links.inlets]]
type = "HttpInlet"
url = "{base}/ok"

[[links.outlets]]
type = "HttpOutlet"
url = "{userinfo_base}/deny"
params = {{ signature = "{s}-g" }}
retries = 1
backoff = 0

[[links.outlets]]
type = "HttpOutlet"
url = "{base}/busy"
token = "{s}-t"
retries = 0

[[links.outlets]]
type = "HttpOutlet"
url = "{base}/deny"
auth = ["alice", "{s}-a"]
retries = 0
"""

BAD = """
[[links]]
name = "bad"
interval = "1h"

[[links.inlets]]
type = "HttpInlet"
url = "{base}/ok?token={s}-q"
params = "api_key={s}-p"

[[links.outlets]]
type = "HttpOutlet"
url = "{base}/deny?token={s}-q2"
auth = ["alice", "{s}-a", "{s}-b"]

[[links.outlets]]
type = "HttpOutlet"
url = "ftp://alice:{s}-u@127.0.0.1/x?token={s}-q3"
"""


def databay(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "databay", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


def test_databay_run_and_validate_show_no_secret(server: LocalServer, tmp_path: Path) -> None:
    secret = sentinel("pipeline")
    install_routes(server)
    base = server.url("")
    (tmp_path / "pipeline.toml").write_text(PIPELINE.format(
        base=base, s=secret, userinfo_base=base.replace("://", f"://alice:{secret}-u@")))
    (tmp_path / "bad.toml").write_text(BAD.format(base=base, s=secret))
    runs = [
        databay("validate", "pipeline.toml", cwd=tmp_path),
        databay("run", "pipeline.toml", "--once", cwd=tmp_path),
        databay("run", "pipeline.toml", "--once", "--log-level", "DEBUG", "--debug",
                cwd=tmp_path),
        databay("validate", "bad.toml", cwd=tmp_path),
        databay("validate", "bad.toml", "--debug", cwd=tmp_path),
        databay("run", "bad.toml", "--once", cwd=tmp_path),
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[1].returncode == 1, runs[1].stderr
    assert "denied GET /deny" in runs[1].stdout + runs[1].stderr, "the body is quoted"
    assert runs[3].returncode == 2 and "3 errors" in runs[3].stderr, runs[3].stderr
    dead = (tmp_path / "dead.jsonl").read_text()
    assert len(dead.splitlines()) == 12 and "denied POST /deny" in dead  # 2 runs, 3 outlets
    assert server.requests_to("/deny")[0].headers["Authorization"] == f"Bearer {secret}-h"
    texts = [dead] + [r.stdout + r.stderr for r in runs]
    assert "***" in "\n".join(texts)
    assert_nowhere(secret, texts)
