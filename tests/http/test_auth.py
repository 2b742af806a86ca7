"""Basic and bearer authentication; the secret never shows in reprs, logs or errors."""

from __future__ import annotations

import base64
import json

import pytest
from databay import Link, Record, Update
from databay.outlets import NullOutlet
from databay_http import HttpDeliveryError, HttpError, HttpInlet, HttpOutlet, HttpStatusError
from http_servers import LocalServer, Reply, Seen

UPDATE = Update([], 0)
PASSWORD = "pw-Zq81-secret"
TOKEN = "tok-9f8e7d-secret"
BASIC = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
B64 = BASIC.split()[1]


def guarded(expected: str, status_when_wrong: int = 401):
    """A handler that answers data to the right Authorization header, and otherwise an
    error page that (carelessly) echoes the header it got."""

    def handler(seen: Seen) -> Reply:
        got = seen.headers.get("Authorization", "")
        if got == expected:
            return Reply(200, json.dumps([{"user": "alice"}]))
        return Reply(status_when_wrong, f"denied for Authorization: {got}")

    return handler


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (PASSWORD, TOKEN, B64):
            assert secret not in text, f"secret leaked into: {text!r}"


@pytest.mark.parametrize("style", ["tuple", "url"])
def test_basic_auth(server: LocalServer, style: str) -> None:
    server.routes["/me"] = guarded(BASIC)
    if style == "tuple":
        inlet = HttpInlet(server.url("/me"), auth=("alice", PASSWORD))
    else:
        inlet = HttpInlet(server.url("/me").replace("://", f"://alice:{PASSWORD}@"))
    with inlet:
        assert inlet.fetch(UPDATE) == [{"user": "alice"}]
    assert inlet.url == server.url("/me")
    assert_no_secret(repr(inlet), str(inlet), inlet.url)


def test_bearer_token(server: LocalServer) -> None:
    server.routes["/me"] = guarded(f"Bearer {TOKEN}")
    with HttpInlet(server.url("/me"), token=TOKEN) as inlet:
        assert inlet.fetch(UPDATE) == [{"user": "alice"}]


def test_custom_requests_auth(server: LocalServer) -> None:
    from requests.auth import HTTPDigestAuth

    server.reply("/d", "[1]")
    with HttpInlet(server.url("/d"), auth=HTTPDigestAuth("a", "b")) as inlet:
        assert inlet.fetch(UPDATE) == [1]


@pytest.mark.parametrize("kwargs", [{"auth": ("alice", PASSWORD)}, {"token": TOKEN}])
def test_secret_never_in_reprs_logs_or_errors(server: LocalServer, unused_port: int,
                                              all_logs: pytest.LogCaptureFixture,
                                              kwargs: dict[str, object]) -> None:
    server.routes["/ok"] = lambda _s: Reply(200, "[1]")
    server.routes["/denied"] = guarded("nothing matches", 401)
    server.routes["/busy"] = guarded("nothing matches", 503)
    texts: list[str] = []

    ok = HttpInlet(server.url("/ok"), metadata={"m": 1}, **kwargs)  # type: ignore[arg-type]
    link = Link(ok, NullOutlet(), interval=1, tags="auth")
    link.on_start()
    result = link.transfer()
    link.on_shutdown()
    texts += [repr(ok), str(ok), repr(link), repr(result), repr(ok._client.auth)]

    for path, retries in (("/denied", 0), ("/busy", 2)):
        inlet = HttpInlet(server.url(path), retries=retries, backoff=0,
                          **kwargs)  # type: ignore[arg-type]
        with inlet, pytest.raises(HttpStatusError) as info:
            inlet.fetch(UPDATE)
        assert "denied for Authorization" in str(info.value)  # the body start is kept...
        texts += [str(info.value), repr(info.value), info.value.body]
    refused = HttpInlet(f"http://127.0.0.1:{unused_port}/", retries=1, backoff=0,
                        **kwargs)  # type: ignore[arg-type]
    with refused, pytest.raises(HttpError) as info2:
        refused.fetch(UPDATE)
    texts += [str(info2.value)]

    outlet = HttpOutlet(server.url("/denied"), retries=0, **kwargs)  # type: ignore[arg-type]
    with outlet, pytest.raises(HttpDeliveryError) as info3:
        outlet.push([Record(1)], UPDATE)
    texts += [str(info3.value), repr(outlet), repr(outlet._client.auth)]
    lenient = Link(HttpInlet(server.url("/denied"), retries=0, **kwargs),  # type: ignore[arg-type]
                   NullOutlet(), interval=1, ignore_exceptions=True)
    lenient.transfer()
    lenient.inlets[0].close()  # type: ignore[attr-defined]

    texts.append(all_logs.text)
    texts += [str(r.args) for r in all_logs.records]
    assert any("retry 1 of 2" in r.getMessage() for r in all_logs.records)
    assert "***" in " ".join(texts)  # ...with the echoed secret masked
    assert_no_secret(*texts)


def test_auth_is_not_sent_to_another_origin_after_a_redirect(server: LocalServer,
                                                              second_server: LocalServer
                                                              ) -> None:
    second_server.reply("/elsewhere", "[2]")
    server.reply("/moved", "", status=302, headers={"Location": second_server.url("/elsewhere")})
    with HttpInlet(server.url("/moved"), token=TOKEN) as inlet:
        assert inlet.fetch(UPDATE) == [2]
    assert server.requests_to("/moved")[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in second_server.requests_to("/elsewhere")[0].headers
