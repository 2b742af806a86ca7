"""Bad arguments fail at construction with errors naming the argument, what was given
and what is accepted, without echoing secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from databay_http import HttpInlet, HttpOutlet

OK = "http://127.0.0.1:8080/data"


@pytest.mark.parametrize(("url", "why"), [
    ("127.0.0.1:8080/data", "no scheme"),
    ("ftp://example.com/file", "unsupported scheme 'ftp'"),
    ("file:///etc/passwd", "unsupported scheme 'file'"),
    ("http:///nohost", "no host"),
    ("http://exa mple.com/", "whitespace"),
    ("http://[::1/", "Invalid IPv6"),
    ("http://example.com:99999/", "Port out of range"),
    ("http://example.com:port/", "port"),
    ("", "empty"),
])
@pytest.mark.parametrize("cls", [HttpInlet, HttpOutlet])
def test_malformed_or_unsupported_url(cls: type, url: str, why: str) -> None:
    with pytest.raises(ValueError, match="url=") as info:
        cls(url)
    message = str(info.value)
    assert why.lower() in message.lower()
    assert "http:// or https://" in message
    assert repr(url) in message


def test_url_that_is_not_a_string() -> None:
    with pytest.raises(TypeError, match=r"HttpInlet\(url=\.\.\.\) must be a string.*bytes"):
        HttpInlet(b"http://x/")  # type: ignore[arg-type]


def test_bad_url_error_hides_the_password() -> None:
    with pytest.raises(ValueError) as info:
        HttpInlet("gopher://alice:s3cr3t-pw@example.com/")
    assert "s3cr3t-pw" not in str(info.value)
    assert "***@example.com" in str(info.value)


@pytest.mark.parametrize(("timeout", "exc"), [
    (-1, ValueError), (0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
    ((1, -2), ValueError), ((1, 2, 3), ValueError), ("5", TypeError), (None, TypeError),
    (True, TypeError), ((1, "2"), TypeError),
])
@pytest.mark.parametrize("cls", [HttpInlet, HttpOutlet])
def test_bad_timeout(cls: type, timeout: object, exc: type) -> None:
    with pytest.raises(exc, match=r"timeout=\.\.\.\) must be a number of seconds > 0") as info:
        cls(OK, timeout=timeout)
    assert repr(timeout) in str(info.value) or type(timeout).__name__ in str(info.value)


def test_timeouts_on_by_default_and_configurable() -> None:
    assert HttpInlet(OK).timeout == (5.0, 30.0)
    assert HttpInlet(OK, timeout=2).timeout == (2.0, 2.0)
    assert HttpInlet(OK, timeout=(0.5, 7)).timeout == (0.5, 7.0)
    assert HttpInlet(OK).total_timeout == 120.0


@pytest.mark.parametrize("headers", [[("X-A", "1")], "X-A: 1", 42])
@pytest.mark.parametrize("cls", [HttpInlet, HttpOutlet])
def test_headers_must_be_a_mapping(cls: type, headers: object) -> None:
    with pytest.raises(TypeError, match=r"headers=\.\.\.\) must be a mapping") as info:
        cls(OK, headers=headers)
    assert type(headers).__name__ in str(info.value)


def test_header_names_and_values_are_checked_without_echoing_values() -> None:
    with pytest.raises(TypeError, match="value of header 'X-Count' must be a string, got int"):
        HttpInlet(OK, headers={"X-Count": 1})
    with pytest.raises(ValueError, match="not a valid HTTP header name"):
        HttpInlet(OK, headers={"Bad Name": "x"})
    with pytest.raises(ValueError, match="line break") as info:
        HttpInlet(OK, headers={"Authorization": "Bearer abc\r\nX-Evil: 1"})
    assert "abc" not in str(info.value)


@pytest.mark.parametrize("params", ["a=1", 5, [("a",)], [1, 2]])
def test_bad_params(params: object) -> None:
    with pytest.raises(TypeError, match=r"params=\.\.\.\) must be a mapping"):
        HttpInlet(OK, params=params)


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"retries": -1}, ValueError, r"retries=\.\.\.\) must be an int >= 0, got -1"),
    ({"retries": 1.5}, TypeError, r"retries=\.\.\.\) must be an int >= 0"),
    ({"retries": True}, TypeError, r"retries=\.\.\.\) must be an int >= 0"),
    ({"backoff": -0.1}, ValueError, r"backoff=\.\.\.\) must be a number of seconds >= 0"),
    ({"max_backoff": "1"}, TypeError, r"max_backoff=\.\.\.\)"),
    ({"total_timeout": 0}, ValueError, r"total_timeout=\.\.\.\) must be a number of seconds > 0"),
    ({"max_redirects": -1}, ValueError, r"max_redirects=\.\.\.\) must be an int >= 0"),
    ({"retry_statuses": [503, 700]}, ValueError, r"retry_statuses=\.\.\.\).*700"),
    ({"retry_statuses": "503"}, TypeError, r"retry_statuses=\.\.\.\)"),
    ({"verify": "yes"}, TypeError, r"verify=\.\.\.\) must be True or False"),
    ({"json": 1}, TypeError, r"json=\.\.\.\) must be True or False"),
    ({"trust_env": None}, TypeError, r"trust_env=\.\.\.\) must be True or False"),
    ({"cacert": 3}, TypeError, r"cacert=\.\.\.\) must be the path of a CA bundle"),
])
def test_bad_options(kwargs: dict[str, object], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        HttpInlet(OK, **kwargs)  # type: ignore[arg-type]


def test_missing_cacert_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(FileNotFoundError, match=r"cacert=\.\.\.\): no CA bundle at .*nope\.pem"):
        HttpInlet(OK, cacert=str(missing))


def test_cacert_with_verify_false_is_contradictory(ca_file: str) -> None:
    with pytest.raises(ValueError, match="cacert=..., verify=False"):
        HttpInlet(OK, cacert=ca_file, verify=False)


def test_auth_arguments_are_checked_without_echoing_secrets() -> None:
    with pytest.raises(TypeError, match=r"auth=\.\.\.\) must be a \(username, password\)") as i1:
        HttpInlet(OK, auth=("alice", "pw-123", "extra"))  # type: ignore[arg-type]
    assert "pw-123" not in str(i1.value)
    with pytest.raises(TypeError, match=r"token=\.\.\.\) must be a string") as i2:
        HttpInlet(OK, token=12345)  # type: ignore[arg-type]
    assert "12345" not in str(i2.value)
    with pytest.raises(ValueError, match="without whitespace") as i3:
        HttpInlet(OK, token="tok-abc\ndef")
    assert "tok-abc" not in str(i3.value)
    with pytest.raises(ValueError, match="only one of auth=..., token=...") as i4:
        HttpInlet(OK, auth=("a", "pw-1"), token="tok-2")
    assert "pw-1" not in str(i4.value) and "tok-2" not in str(i4.value)
    with pytest.raises(ValueError, match="credentials in the url"):
        HttpInlet("http://a:pw-3@127.0.0.1/", token="tok-3")


def test_outlet_specific_arguments() -> None:
    with pytest.raises(ValueError, match=r"method=\.\.\.\) must be one of POST, PUT, PATCH, "
                                         r"got 'GET'"):
        HttpOutlet(OK, method="GET")
    assert HttpOutlet(OK, method="put").method == "PUT"
    with pytest.raises(ValueError, match=r"batch_size=\.\.\.\) must be a positive int"):
        HttpOutlet(OK, batch_size=0)
    with pytest.raises(TypeError, match=r"serialize=\.\.\.\) must be a callable"):
        HttpOutlet(OK, serialize="payload")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"processors=\.\.\.\)"):
        HttpOutlet(OK, processors=[1])  # type: ignore[list-item]


def test_metadata_must_be_a_dict() -> None:
    with pytest.raises(TypeError, match=r"metadata=\.\.\.\) must be a dict"):
        HttpInlet(OK, metadata=[1])  # type: ignore[arg-type]
