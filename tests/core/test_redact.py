"""databay.redact: the one place that decides what is secret and hides it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from databay import redact
from databay.redact import (
    MASK,
    RedactingFilter,
    Secrets,
    add_secret_names,
    is_secret_name,
    mask,
    redact_mapping,
    redact_pairs,
    redact_text,
    redact_url,
)

S = "S3NT-q7x9-zz"  # a distinctive secret


@pytest.mark.parametrize("name", [
    "token", "Token", "access_token", "accessToken", "accesstoken", "refresh-token",
    "key", "api_key", "apikey", "apiKey", "X-Api-Key", "X-API-KEY", "secret", "client_secret",
    "password", "passwd", "pwd", "signature", "sig", "X-Amz-Signature", "auth", "X-Auth-Token",
    "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "credentials",
    "tlsCertificateKeyFilePassword", "authMechanismProperties", "private_key", "session_token",
    "X-Access-Key", "subscription-key",
])
def test_credential_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["page", "q", "monkey", "keyword", "sort", "id", "since",
                                  "authSource", "WWW-Authenticate", "Content-Type", "limit",
                                  "wrap_key", "upsert_key", "checkpoint_key", "sort_key"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.fixture
def restore_names() -> Iterator[None]:
    saved, phrases = set(redact._names), set(redact._phrases)
    yield
    with redact._names_lock:
        redact._names.clear()
        redact._names.update(saved)
        redact._phrases.clear()
        redact._phrases.update(phrases)
        redact._cache.clear()


def test_added_names_count_everywhere(restore_names: None) -> None:
    assert not is_secret_name("X-Tenant-Pin")
    assert redact_url(f"http://h/?pin={S}") == f"http://h/?pin={S}"
    add_secret_names("pin")
    assert is_secret_name("X-Tenant-Pin") and is_secret_name("tenantPin")
    assert redact_url(f"http://h/?pin={S}") == "http://h/?pin=***"
    assert redact_mapping({"X-Tenant-Pin": S}) == {"X-Tenant-Pin": MASK}
    add_secret_names("tenant-code")
    assert is_secret_name("X-Tenant-Code") and is_secret_name("tenantCode")
    assert not is_secret_name("tenant") and not is_secret_name("code")
    with pytest.raises(ValueError, match="add_secret_names"):
        add_secret_names("--")


@pytest.mark.parametrize(("url", "shown"), [
    (f"https://bob:{S}@h:8/p?q=1", "https://***@h:8/p?q=1"),
    (f"https://{S}@github.com/x.git", "https://***@github.com/x.git"),
    (f"redis://:{S}@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
    (f"http://h/p?token={S}&page=2", "http://h/p?token=***&page=2"),
    (f"http://h/p?page=2&API_KEY={S}", "http://h/p?page=2&API_KEY=***"),
    (f"http://h/p?X-Amz-Signature={S};x=1", "http://h/p?X-Amz-Signature=***;x=1"),
    (f"http://h/cb#access_token={S}&state=x", "http://h/cb#access_token=***&state=x"),
    (f"/relative?sig={S}", "/relative?sig=***"),
    (f"mongodb://u:{S}@h1:1,h2:2/db?authSource=admin&password={S}",
     "mongodb://***@h1:1,h2:2/db?authSource=admin&password=***"),
    ("http://h/p?token=", "http://h/p?token="),
    (f"mongodb://alice:{S}/x@h:1/db", "mongodb://***@h:1/db"),  # an unescaped '/'
    ("https://h:8080/users/@me", "https://h:8080/users/@me"),
    (f"https://h/p?key={S}", "https://h/p?key=***"),
    (f"sentinel://:{S}@h:1;sentinel://u:{S}@h:2", "sentinel://***@h:1;sentinel://***@h:2"),
    ("http://h/a%20b?x=1", "http://h/a%20b?x=1"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_mapping_and_pairs() -> None:
    given = {"Authorization": f"Bearer {S}", "Accept": "text/csv",
             "nested": {"password": S, "url": f"http://u:{S}@h/"}, "list": [("token", S)]}
    shown = redact_mapping(given)
    assert S not in repr(shown)
    assert shown["Accept"] == "text/csv" and shown["Authorization"] == MASK
    assert given["Authorization"] == f"Bearer {S}", "the input is not changed"
    assert redact_pairs([("q", "x"), ("access_token", S)]) == [("q", "x"), ("access_token", MASK)]


@pytest.mark.parametrize("text", [
    f"GET /data?token={S}&x=1 HTTP/1.1",
    f"Authorization: Bearer {S}",
    f"authorization: Basic {S}",
    f"{{'X-Api-Key': '{S}', 'Accept': '*/*'}}",
    f'{{"password": "{S}"}}',
    f"Cookie: session={S}",
    f"url=http://h/?sig={S} failed",
    f"server said: Authorization: Bearer {S}",
    f"connecting to redis://:{S}@h:6379/0",
])
def test_redact_text_hides_credential_pieces(text: str) -> None:
    out = redact_text(text)
    assert S not in out and MASK in out


def test_redact_text_keeps_ordinary_text() -> None:
    text = "HttpInlet(token=...) must be a string; page=2, key 'headers': bad"
    assert redact_text(text) == text
    assert redact_text("Authorization: Bearer xyzw") == "Authorization: Bearer ***"


def test_mask_given_secrets_longest_first_and_short_ones_alone() -> None:
    assert mask(f"a {S} b {S}x", [S, S + "x"]) == "a *** b ***"
    assert mask("abc abc", ["abc"]) == "abc abc"  # shorter than MIN_SECRET_LENGTH


def test_secrets_mask_encoded_forms() -> None:
    tricky = "a/b+c=d&e S3NT"
    secrets = Secrets([f"Bearer {tricky}"])
    secrets.add_url(f"http://u:{S.replace('-', '%2D')}@h/?api_key={S}x&page=1")
    secrets.add_mapping({"X-Api-Key": "kk-" + S, "Accept": "json",
                         "more": [("signature", "sig-" + S)]})
    from urllib.parse import quote, quote_plus

    echoed = " ".join([tricky, quote(tricky, safe=""), quote_plus(tricky), S, S + "x",
                       "kk-" + S, "sig-" + S])
    out = secrets.mask(echoed)
    assert S not in out and "S3NT" not in out and "a/b+c" not in out, out
    assert "json" not in {s for s in secrets}
    assert repr(secrets).startswith("Secrets(<") and S not in repr(secrets)


def test_filter_redacts_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_redact.driver")
    redact.install_log_filter("test_redact.driver")
    redact.install_log_filter("test_redact.driver")
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError(f"refused: Authorization: Bearer {S}")
    except ValueError:
        logger.exception("GET %s failed", f"http://h/?access_token={S}")
    logger.debug("plain %d", 3)
    text = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    assert S not in text
    assert "access_token=***" in text and "plain 3" in text
    logger.filters.clear()


def test_databay_own_stderr_lines_are_redacted() -> None:
    """Without logging configured, databay writes its lines itself: redacted."""
    import subprocess
    import sys

    code = ("import logging, databay\n"
            f"logging.getLogger('databay.Plugin').warning('GET %s', 'http://h/?token={S}')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "GET http://h/?token=*** (databay.Plugin)" in done.stderr, done.stderr
    assert S not in done.stderr


def test_dead_letter_details_are_redacted() -> None:
    """A plugin's careless error does not carry a credential into the dead letter."""
    from databay import Link, Outlet, Record, Update
    from databay.delivery import DEAD_LETTER
    from databay.testing import CollectingOutlet, RecordsInlet

    class Careless(Outlet):
        def push(self, records: list[Record], update: Update) -> None:
            raise ConnectionError(f"POST https://u:{S}@h/in?api_key={S} refused")

        def __repr__(self) -> str:
            return f"Careless(url='https://h/in?api_key={S}')"

    dead = CollectingOutlet()
    Link(RecordsInlet([1, 2]), Careless(), interval=1, tags="careless",
         dead_letter=dead).transfer()
    details = [r.metadata[DEAD_LETTER] for r in dead.records]
    assert len(details) == 2 and S not in repr(details)
    assert "api_key=***" in details[0]["error"] and "***" in details[0]["outlet"]
