"""No secret handed to MongoOutlet/MongoInlet/MongoStateStore shows anywhere: sentinel
secrets in every form (URI password, a host URI, password= and secret options, secret
URI options), searched in DEBUG logs of every logger (pymongo's too), reprs, errors,
dead-letter records, hook payloads and ``databay run``/``validate`` output."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from _mongo_server import FAST_OPTIONS, NxServer, free_port
from databay import Link, Record, Update, hookimpl, plugins
from databay.delivery import DEAD_LETTER
from databay.testing import CollectingOutlet, RecordsInlet
from databay_mongo import MongoInlet, MongoOutlet, MongoStateStore

UPDATE = Update([], 0)


def sentinel(way: str) -> str:
    return f"S3NT-{way}-q7x9Z"


#: every way to hand a secret over: (uri, host, options) for a server at ``address``
WAYS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "uri-password": lambda a, s: {"uri": f"mongodb://alice:{s}@{a}/?authSource=admin"},
    "uri-password-escaped": lambda a, s: {
        "uri": f"mongodb://alice:{quote(s + '@/:', safe='')}@{a}/"},
    "host-uri": lambda a, s: {"host": f"mongodb://alice:{s}@{a}/"},
    "password-option": lambda a, s: {"uri": f"mongodb://{a}/", "username": "alice",
                                     "password": s},
    "uri-auth-properties": lambda a, s: {
        "uri": f"mongodb://{a}/?authMechanism=MONGODB-AWS"
               f"&authMechanismProperties=AWS_SESSION_TOKEN:{s}"},
}


class HookRecorder:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def _keep(self, *values: Any) -> None:
        for value in values:
            self.texts += [repr(value), str(value)]
            if isinstance(value, BaseException):
                self.texts.append(repr(vars(value)))
            self.texts += [repr(e) for e in getattr(value, "errors", ()) or ()]

    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Update, result: Any) -> None:
        self._keep(link, result)

    @hookimpl
    def databay_transfer_failed(self, link: Link, update: Update, error: BaseException,
                                result: Any) -> None:
        self._keep(link, error, result)


@pytest.fixture
def hooks() -> Iterator[HookRecorder]:
    recorder = HookRecorder()
    name = plugins.register(recorder, name="mongo-secret-recorder")
    yield recorder
    plugins.unregister(name)


def error_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), repr(vars(exc))]
    for cause in (exc.__cause__, None if exc.__suppress_context__ else exc.__context__):
        if cause is not None:
            texts += error_texts(cause)
    return texts


def assert_nowhere(secret: str, texts: list[str]) -> None:
    whole = "\n".join(texts)
    for form in (secret, quote(secret, safe=""), quote(secret + "@/:", safe="")):
        assert form not in whole, f"{form!r} leaked: ...{whole[whole.find(form) - 200:][:400]}"


@pytest.mark.parametrize("way", list(WAYS))
def test_a_secret_handed_over_shows_nowhere(way: str, caplog: pytest.LogCaptureFixture,
                                           hooks: HookRecorder, db_name: str) -> None:
    secret = sentinel(way)
    address = f"127.0.0.1:{free_port()}"  # nothing listens: every operation fails
    given = {**WAYS[way](address, secret), **FAST_OPTIONS}
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    outlet = MongoOutlet(db_name, retries=1, backoff=0, **given)
    inlet = MongoInlet(db_name, **given)
    store = MongoStateStore(db_name, **given)
    texts += [repr(outlet), repr(inlet), repr(store)]
    try:
        for call in (lambda: outlet.push([Record({"n": 1})], UPDATE),
                     lambda: inlet.pull(UPDATE), lambda: store.get("k"),
                     lambda: store.set("k", 1)):
            with pytest.raises(Exception) as info:
                call()
            texts += error_texts(info.value)
        dead = CollectingOutlet()
        link = Link(RecordsInlet([{"n": 1}, {"n": 2}]), outlet, interval=1,
                    tags=f"m-{way}", dead_letter=dead)
        result = link.transfer()
        assert len(dead.records) == 2 and result.dead_lettered
        texts += [repr(link), repr(result)] + [repr(r.metadata) for r in dead.records]
        assert dead.records[0].metadata[DEAD_LETTER]["error_type"] == "MongoWriteError"
        failing = Link(inlet, CollectingOutlet(), interval=1, tags=f"r-{way}")
        with pytest.raises(Exception) as raised:
            failing.transfer()
        texts += error_texts(raised.value)
        lenient = Link(inlet, CollectingOutlet(), interval=1, ignore_exceptions=True)
        texts.append(repr(lenient.transfer()))
    finally:
        outlet.try_shutdown()
        inlet.try_shutdown()
        store.close()
    texts += hooks.texts + [caplog.text] + [r.getMessage() for r in caplog.records]
    assert any("retry 1/1" in r.getMessage() for r in caplog.records)
    assert_nowhere(secret, texts)


def test_a_server_refusing_the_credentials_does_not_echo_them(
        own_server: NxServer, caplog: pytest.LogCaptureFixture, db_name: str) -> None:
    secret = sentinel("refused")
    caplog.set_level(logging.DEBUG)
    outlet = MongoOutlet(db_name, uri=f"mongodb://alice:{secret}@127.0.0.1:{own_server.port}/"
                         f"?authSource=admin", retries=0, **FAST_OPTIONS)
    texts = [repr(outlet)]
    try:
        outlet.push([Record({"n": 1})], UPDATE)
    except Exception as exc:  # nx-27017 may or may not check credentials
        texts += error_texts(exc)
    finally:
        outlet.try_shutdown()
    texts += [caplog.text] + [r.getMessage() for r in caplog.records]
    assert_nowhere(secret, texts)


PIPELINE = """
[[links]]
name = "to-mongo"
interval = "1h"

[links.dead_letter]
type = "FileOutlet"
default_filepath = "dead.jsonl"
json_lines = true

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "MongoOutlet"
uri = "mongodb://alice:{s}-u@127.0.0.1:{port}/?authSource=admin"
wrap_key = "value"
retries = 0
serverSelectionTimeoutMS = 250
connectTimeoutMS = 250

[[links.outlets]]
type = "MongoOutlet"
host = "127.0.0.1"
port = {port}
username = "alice"
password = "{s}-p"
wrap_key = "value"
retries = 0
serverSelectionTimeoutMS = 250
"""

BAD = """
[[links]]
name = "bad"
interval = "1h"

[[links.inlets]]
type = "RandomIntInlet"

[[links.outlets]]
type = "MongoOutlet"
uri = "mongodb://alice:{s}-u@127.0.0.1:99999/"

[[links.outlets]]
type = "MongoOutlet"
uri = "mongodb://alice:{s}-v@127.0.0.1/?tlsCertificateKeyFilePassword={s}-t&retryWrite=1"

[[links.outlets]]
type = "MongoOutlet"
uri = "http://alice:{s}-w@127.0.0.1/"
"""


def databay(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "databay", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


def test_databay_run_and_validate_show_no_mongo_secret(tmp_path: Path) -> None:
    secret = sentinel("pipeline")
    (tmp_path / "pipeline.toml").write_text(PIPELINE.format(s=secret, port=free_port()))
    (tmp_path / "bad.toml").write_text(BAD.format(s=secret))
    runs = [databay("validate", "pipeline.toml", cwd=tmp_path),
            databay("run", "pipeline.toml", "--once", "--debug", "--log-level", "DEBUG",
                    cwd=tmp_path),
            databay("validate", "bad.toml", cwd=tmp_path),
            databay("validate", "bad.toml", "--debug", cwd=tmp_path)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[2].returncode == 2 and "3 errors" in runs[2].stderr, runs[2].stderr
    dead = (tmp_path / "dead.jsonl").read_text()
    assert "MongoWriteError" in dead
    texts = [dead] + [r.stdout + r.stderr for r in runs]
    assert "***" in "\n".join(texts)
    assert_nowhere(secret, texts)
