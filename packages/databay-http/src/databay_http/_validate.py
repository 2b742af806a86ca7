"""Argument checks for HttpInlet and HttpOutlet: errors name the argument, what was
given and what is accepted, and never echo a secret."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from databay.redact import redact_text
from databay.redact import redact_url as _redact_url

SCHEMES = ("http", "https")

_USERINFO = re.compile(r"(//)[^/?#@]*@")


def redact_url(url: str) -> str:
    """``url`` for display: credentials and secret query values replaced by ``***``."""
    return _redact_url(url)


def strip_userinfo(url: str) -> str:
    """``url`` without its ``user:password@`` part (for display and requests)."""
    return _USERINFO.sub(r"\1", url)


def url(value: Any, owner: str) -> tuple[str, tuple[str, str] | None]:
    """The URL to request (no credentials, no fragment) and the ``user:password`` it
    carried, if any."""
    if not isinstance(value, str):
        raise TypeError(
            f"{owner}(url=...) must be a string such as 'https://example.com/data', "
            f"got {type(value).__name__}: {redact_text(repr(value))}"
        )
    shown = redact_url(value)

    def bad(why: str) -> ValueError:
        return ValueError(
            f"{owner}(url=...) must be an absolute http:// or https:// URL, "
            f"got {shown!r}: {why}"
        )

    if not value:
        raise bad("it is empty")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise bad("it contains whitespace or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise bad(str(exc)) from None
    if not parts.scheme or "://" not in value:
        raise bad("it has no scheme")
    if parts.scheme.lower() not in SCHEMES:
        raise bad(f"unsupported scheme {parts.scheme!r} (accepted: {', '.join(SCHEMES)})")
    if not parts.hostname:
        raise bad("it has no host")
    if port == 0:
        raise bad("port 0 is not a valid port")
    creds: tuple[str, str] | None = None
    if parts.username is not None or parts.password is not None:
        creds = (unquote(parts.username or ""), unquote(parts.password or ""))
    netloc = parts.netloc.rpartition("@")[2]
    clean = urlunsplit(SplitResult(parts.scheme.lower(), netloc, parts.path or "/",
                                   parts.query, ""))
    return clean, creds


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive(value: Any, owner: str, arg: str, *, zero: bool = False) -> float:
    """A finite number > 0 (>= 0 with ``zero``)."""
    accepted = "a number of seconds >= 0" if zero else "a number of seconds > 0"
    if not _number(value):
        raise TypeError(f"{owner}({arg}=...) must be {accepted}, "
                        f"got {type(value).__name__}: {value!r}")
    if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not zero):
        raise ValueError(f"{owner}({arg}=...) must be {accepted}, got {value!r}")
    return float(value)


def timeout(value: Any, owner: str) -> tuple[float, float]:
    """``(connect, read)`` from one number for both or a pair."""
    accepted = "a number of seconds > 0 or a (connect, read) pair of them"
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{owner}(timeout=...) must be {accepted}, got {value!r}")
        connect, read = value
        for part in (connect, read):
            if not _number(part):
                raise TypeError(f"{owner}(timeout=...) must be {accepted}, got {value!r}")
            if math.isnan(part) or math.isinf(part) or part <= 0:
                raise ValueError(f"{owner}(timeout=...) must be {accepted}, got {value!r}")
        return float(connect), float(read)
    if not _number(value):
        raise TypeError(f"{owner}(timeout=...) must be {accepted}, "
                        f"got {type(value).__name__}: {value!r}")
    seconds = positive(value, owner, "timeout")
    return seconds, seconds


def count(value: Any, owner: str, arg: str) -> int:
    """An int >= 0."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}({arg}=...) must be an int >= 0, "
                        f"got {type(value).__name__}: {value!r}")
    if value < 0:
        raise ValueError(f"{owner}({arg}=...) must be an int >= 0, got {value!r}")
    return value


def flag(value: Any, owner: str, arg: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}({arg}=...) must be True or False, got {value!r}")
    return value


def headers(value: Any, owner: str) -> dict[str, str]:
    """A new dict of str -> str. Values are not echoed: they may hold tokens."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{owner}(headers=...) must be a mapping of header names to string "
                        f"values (such as a dict), got {type(value).__name__}")
    out: dict[str, str] = {}
    for name, val in value.items():
        if not isinstance(name, str) or not name or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+",
                                                                     name):
            raise ValueError(f"{owner}(headers=...): header name {name!r} is not a valid "
                             f"HTTP header name (a non-empty string of token characters)")
        if not isinstance(val, str):
            raise TypeError(f"{owner}(headers=...): the value of header {name!r} must be a "
                            f"string, got {type(val).__name__}")
        if "\r" in val or "\n" in val:
            raise ValueError(f"{owner}(headers=...): the value of header {name!r} contains "
                             f"a line break")
        out[name] = val
    return out


Params = Mapping[str, Any] | Sequence[tuple[str, Any]]


def params(value: Any, owner: str) -> list[tuple[str, Any]] | dict[str, Any] | None:
    """Query parameters: a mapping or a sequence of (name, value) pairs."""
    if value is None:
        return None
    accepted = "a mapping of names to values, or a sequence of (name, value) pairs"
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        pairs = list(value)
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"{owner}(params=...) must be {accepted}, "
                                f"got an element {redact_text(repr(pair))}")
        return [(k, v) for k, v in pairs]
    raise TypeError(f"{owner}(params=...) must be {accepted}, "
                    f"got {type(value).__name__}: {redact_text(repr(value))}")


def cacert(value: Any, owner: str) -> str | None:
    """The path of an existing CA bundle file (or a directory of CA certificates)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{owner}(cacert={value!r}): cacert is the path of a CA bundle, "
                        f"not a switch (databay refuses the flag Databay 0.3 let through). "
                        f"Leave it out (or cacert=None) to verify with the system CAs; "
                        f"verify=False turns verification off")
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{owner}(cacert=...) must be the path of a CA bundle (str or "
                        f"os.PathLike), got {type(value).__name__}: {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{owner}(cacert=...) must be a non-empty path, got {value!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{owner}(cacert=...): no CA bundle at {path!r}")
    return path


def statuses(value: Any, owner: str) -> frozenset[int]:
    accepted = "a collection of HTTP status codes (ints from 100 to 599)"
    if not isinstance(value, Collection) or isinstance(value, (str, bytes)):
        raise TypeError(f"{owner}(retry_statuses=...) must be {accepted}, got {value!r}")
    for code in value:
        if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
            raise ValueError(f"{owner}(retry_statuses=...) must be {accepted}, "
                             f"got an element {code!r}")
    return frozenset(value)


def token(value: Any, owner: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{owner}(token=...) must be a string (a bearer token), "
                        f"got {type(value).__name__}")
    if not value or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{owner}(token=...) must be a non-empty string without "
                         f"whitespace or control characters (value not shown)")
    return value


def basic_auth(value: Any, owner: str) -> tuple[str, str]:
    # a list too: a pipeline file (TOML) has no tuples
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(part, str) for part in value)):
        shown = (f"a {len(value)}-{type(value).__name__}" if isinstance(value, (tuple, list))
                 else type(value).__name__)
        raise TypeError(f"{owner}(auth=...) must be a (username, password) pair of strings "
                        f"or a requests.auth.AuthBase instance, got {shown} (value not shown)")
    if ":" in value[0]:
        raise ValueError(f"{owner}(auth=...): a basic-auth username cannot contain ':'")
    return value[0], value[1]
