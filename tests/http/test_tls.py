"""TLS verification is on by default; cacert trusts a private CA."""

from __future__ import annotations

import ssl
import warnings

import pytest
import trustme
from databay import Update
from databay_http import HttpConnectionError, HttpDeliveryError, HttpInlet, HttpOutlet
from http_servers import LocalServer

UPDATE = Update([], 0)


def test_verification_is_on_by_default(tls_server: LocalServer) -> None:
    tls_server.reply("/d", "[1]")
    with HttpInlet(tls_server.url("/d"), retries=3, backoff=0) as inlet, \
            pytest.raises(HttpConnectionError) as info:
        inlet.fetch(UPDATE)
    message = str(info.value)
    assert f"GET {tls_server.url('/d')} failed: TLS error" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert info.value.attempts == 1  # a certificate that fails does not get better
    assert tls_server.requests_to("/d") == []


def test_cacert_trusts_a_private_ca(tls_server: LocalServer, ca_file: str) -> None:
    tls_server.reply("/d", '[{"secure": true}]')
    with HttpInlet(tls_server.url("/d"), cacert=ca_file) as inlet:
        assert inlet.fetch(UPDATE) == [{"secure": True}]
        assert inlet.fetch(UPDATE) == [{"secure": True}]
    seen = tls_server.requests_to("/d")
    assert len(seen) == 2 and seen[0].client == seen[1].client


def test_cacert_is_still_checked_against_the_host_name(ca: trustme.CA, ca_file: str) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("other.example").configure_cert(context)  # not 127.0.0.1
    server = LocalServer(tls=context)
    try:
        with HttpInlet(server.url("/d"), cacert=ca_file, retries=0) as inlet, \
                pytest.raises(HttpConnectionError, match="TLS error.*(match|mismatch)"):
            inlet.fetch(UPDATE)
    finally:
        server.stop()


def test_verify_false_is_an_explicit_choice(tls_server: LocalServer) -> None:
    tls_server.reply("/d", "[2]")
    with warnings.catch_warnings(record=True) as caught, \
            HttpInlet(tls_server.url("/d"), verify=False) as inlet:
        warnings.simplefilter("always")
        assert inlet.fetch(UPDATE) == [2]
    assert any("Unverified HTTPS request" in str(w.message) for w in caught)


def test_outlet_verifies_too(tls_server: LocalServer, ca_file: str) -> None:
    from databay import Record

    tls_server.reply("/in", "")
    with HttpOutlet(tls_server.url("/in"), retries=0) as refused, \
            pytest.raises(HttpDeliveryError, match="CERTIFICATE_VERIFY_FAILED") as info:
        refused.push([Record(1)], UPDATE)
    assert isinstance(info.value.__cause__, HttpConnectionError)
    assert info.value.undelivered == 1 and info.value.status is None
    with HttpOutlet(tls_server.url("/in"), cacert=ca_file) as outlet:
        outlet.push([Record(1)], UPDATE)
    assert tls_server.requests_to("/in")[0].body == b"[1]"


def test_ca_bundle_from_the_environment_is_honoured(tls_server: LocalServer, ca_file: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """requests' REQUESTS_CA_BUNDLE applies (read when the session opens), unless
    trust_env=False."""
    tls_server.reply("/d", "[3]")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
    with HttpInlet(tls_server.url("/d")) as inlet:
        assert inlet.fetch(UPDATE) == [3]
    with HttpInlet(tls_server.url("/d"), trust_env=False, retries=0) as strict, \
            pytest.raises(HttpConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        strict.fetch(UPDATE)
