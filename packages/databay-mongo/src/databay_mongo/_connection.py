"""Connection settings shared by MongoOutlet and MongoInlet: validation, the client, and
the redaction of credentials from everything shown to users."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from databay.redact import Secrets, install_log_filter, is_secret_name, redact_text, redact_url
from pymongo import MongoClient
from pymongo.common import validate as _validate_option
from pymongo.uri_parser import parse_uri, split_hosts

__all__ = ["Connection", "check_name"]

URI_ENV = "MONGODB_URI"
_SCHEMES = ("mongodb://", "mongodb+srv://")
# pymongo's structured DEBUG logs (4.9+) name servers and commands
_DRIVER_LOGGERS = ("pymongo.command", "pymongo.connection", "pymongo.serverSelection",
                   "pymongo.topology")


def _parse_uri(uri: str) -> None:
    """Parse and validate ``uri`` as pymongo does, offline: a ``mongodb+srv://`` URI is
    checked without the DNS lookups that would list its hosts (where pymongo allows)."""
    if uri.lower().startswith("mongodb+srv://"):
        try:
            from pymongo.uri_parser_shared import _validate_uri  # pymongo >= 4.11
        except ImportError:  # older pymongo: only a lookup could check more
            return
        _validate_uri(uri, validate=True, warn=False)
        return
    parse_uri(uri, validate=True, warn=False)


def redact_uri(text: str) -> str:
    """``text`` with the password of any URI in it, and credential-looking options
    (``?password=...``), replaced by ``***`` (:func:`databay.redact.redact_text`)."""
    return redact_text(text)


def check_name(value: Any, owner: str, arg: str, *, what: str, allow_none: bool = False) -> Any:
    """A database or collection name, or a ValueError/TypeError naming the argument."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{owner}({arg}=...) must be a {what} name (str), "
                        f"got {type(value).__name__}: {value!r}")
    bad = _bad_name(value, database=what == "database")
    if bad:
        raise ValueError(f"{owner}({arg}=...) must be a valid MongoDB {what} name, "
                         f"got {value!r}: {bad}")
    return value


def _bad_name(name: str, *, database: bool) -> str:
    if not name:
        return "it is empty"
    if "\x00" in name:
        return "it contains a null character"
    if database:
        for char in '/\\. "$':
            if char in name:
                return f"it contains {char!r}"
        return ""
    if "$" in name:
        return "it contains '$'"
    if name.startswith("system."):
        return "names starting with 'system.' are reserved"
    return ""


def valid_collection_name(name: Any) -> bool:
    return isinstance(name, str) and not _bad_name(name, database=False)


class Connection:
    """Where to connect and with which pymongo options; redacts secrets from text.

    ``uri`` (or, when neither ``uri`` nor ``host``/``port`` is given, the ``MONGODB_URI``
    environment variable) or ``host``/``port`` as pymongo's ``MongoClient`` takes them.
    """

    def __init__(
        self,
        owner: str,
        host: str | Sequence[str] | None,
        port: int | None,
        uri: str | None,
        options: Mapping[str, Any],
    ) -> None:
        self.owner = owner
        if uri is not None and (host is not None or port is not None):
            raise ValueError(f"{owner}: give either uri=... or host=/port=..., not both")
        self._uri_from_env = False
        if uri is None and host is None and port is None:
            uri = os.environ.get(URI_ENV) or None
            self._uri_from_env = uri is not None
        if uri is not None:
            if not isinstance(uri, str):
                raise TypeError(f"{owner}(uri=...) must be a str, got {type(uri).__name__}")
            if not uri.lower().startswith(_SCHEMES):
                raise ValueError(f"{owner}(uri=...) must be a MongoDB connection string "
                                 f"starting with 'mongodb://' or 'mongodb+srv://', "
                                 f"got {redact_uri(uri)[:60]!r}")
        if host is not None and not isinstance(host, str) and not (
                isinstance(host, (list, tuple)) and host and all(isinstance(h, str) for h in host)):
            raise TypeError(f"{owner}(host=...) must be a host name, a MongoDB URI or a list of "
                            f"them, got {type(host).__name__}")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                 or not 0 < port < 65536):
            raise ValueError(f"{owner}(port=...) must be an int from 1 to 65535, got {port!r}")
        self.uri = uri
        self.host = host
        self.port = port
        install_log_filter(*_DRIVER_LOGGERS)
        #: the passwords and secret options given (see databay.redact)
        self.secrets = Secrets()
        for text in [uri] + ([host] if isinstance(host, str) else list(host or [])):
            self.secrets.add_url(text)
        self.secrets.add_mapping(options)
        self._check_addresses()
        self.options = self._check_options(options)

    def _check_addresses(self) -> None:
        """Parse ``uri`` and every ``host`` as ``MongoClient`` will, without connecting
        (and without the DNS lookups of ``mongodb+srv://``), so a malformed address is
        refused here, not when the first push connects."""
        given: list[tuple[str, str]] = []
        if self.uri is not None:
            given.append(("uri", self.uri))
        hosts = [self.host] if isinstance(self.host, str) else list(self.host or [])
        given += [("host", h) for h in hosts]
        for arg, text in given:
            try:
                if "://" in text:
                    _parse_uri(text)
                else:
                    split_hosts(text, default_port=self.port or 27017)
            except Exception as exc:
                what = ("a valid MongoDB connection string" if "://" in text
                        else "a valid host[:port] list")
                source = (f"{self.owner}: the environment variable {URI_ENV} (used as uri=...)"
                          if arg == "uri" and self._uri_from_env
                          else f"{self.owner}({arg}=...)")
                raise ValueError(
                    f"{source} is not {what}: {self.redact(redact_url(text))[:80]!r}: "
                    f"{self.redact(str(exc))}"
                ) from None

    def _check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = {}
        for key, value in options.items():
            try:
                _validate_option(key, value)
            except Exception as exc:
                shown = "***" if is_secret_name(key) else self.redact(repr(value))
                raise ValueError(
                    f"{self.owner}({key}={shown}) is not a valid pymongo client option: "
                    f"{self.redact(str(exc))}"
                ) from None
            checked[key] = value
        return checked

    def redact(self, text: str) -> str:
        """``text`` without any credential this connection knows."""
        return self.secrets.mask(text)

    def describe(self) -> str:
        """``uri=...`` or ``host=..., port=...`` for reprs, credentials redacted."""
        if self.uri is not None:
            return f"uri={redact_url(self.uri)!r}"
        parts = []
        if self.host is not None:
            host = self.host
            shown = redact_url(host) if isinstance(host, str) else [redact_url(h) for h in host]
            parts.append(f"host={shown!r}")
        if self.port is not None:
            parts.append(f"port={self.port!r}")
        return ", ".join(parts)

    def client(self) -> MongoClient[dict[str, Any]]:
        """A new pymongo client (it connects in the background, on first use)."""
        if self.uri is not None:
            return MongoClient(self.uri, **self.options)
        return MongoClient(self.host, self.port, **self.options)


class ClientHolder:
    """A lazily created client, replaced after :meth:`close`; thread-safe."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.client: MongoClient[dict[str, Any]] | None = None

    def get(self) -> MongoClient[dict[str, Any]]:
        client = self.client
        if client is None:
            with self._lock:
                client = self.client
                if client is None:
                    client = self.client = self._connection.client()
        return client

    def close(self) -> None:
        with self._lock:
            client, self.client = self.client, None
        if client is not None:
            client.close()
