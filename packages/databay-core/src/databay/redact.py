"""Keep secrets out of everything databay shows: logs, reprs, errors, CLI output.

Every connector redacts through these functions, so one list of names decides what is
secret everywhere:

* :func:`redact_url` hides the user info of a URL (``user:password@``, or a lone user,
  often a token) and the values of query parameters whose names look like credentials.
* :func:`redact_mapping` / :func:`redact_pairs` hide the values of headers, query
  parameters or options whose names look like credentials.
* :func:`redact_text` hides given secrets and credential-looking ``name=value`` /
  ``name: value`` pieces in free text, such as a quoted response body or a log line.
* :class:`Secrets` collects the secrets one node was given (URL, headers, params, auth)
  and masks them, in their URL-encoded forms too, in text a server may echo back.
* :class:`RedactingFilter` applies :func:`redact_text` to log records.

A name "looks like a credential" (:func:`is_secret_name`) when one of its words
(split at ``-``, ``_``, ``.``, spaces and camelCase) is one of :func:`secret_names`
(``token``, ``secret``, ``password``, ``auth``, ``authorization``, ``cookie``,
``signature``, ``sig`` ...), when it is ``key`` or ends with a word such as ``api`` or
``access`` followed by ``key`` (``api_key``, ``X-Access-Key``, but not ``upsert_key``),
or when it ends with ``token``, ``secret``, ``password``, ``apikey`` and the like
(``accesstoken``, ``X-ApiKey``). Add your own names with
:func:`add_secret_names`. Comparisons ignore case.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, unquote_plus

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "Secrets",
    "add_secret_names",
    "install_log_filter",
    "is_secret_name",
    "mask",
    "redact_mapping",
    "redact_pairs",
    "redact_text",
    "redact_url",
    "secret_names",
]

#: What replaces a secret.
MASK = "***"

#: Secrets shorter than this are not searched for in free text (a one-letter password
#: would mask every occurrence of that letter); URLs, headers, params and options with
#: credential-looking names are redacted whatever the length of their values.
MIN_SECRET_LENGTH = 4

_DEFAULT_NAMES = frozenset({
    "token", "secret", "password", "passwd", "pwd", "passphrase", "signature", "sig",
    "auth", "authorization", "cookie", "credential", "credentials", "apikey", "jwt",
    "bearer", "hmac", "otp", "sas", "sessionid", "csrf", "xsrf",
})
# the whole name (letters and digits only) ending with one of these is secret too
_SUFFIXES = ("token", "secret", "password", "passwd", "apikey", "accesskey", "privatekey",
             "secretkey", "signature", "credential", "credentials", "cookie", "authorization")
# "key" alone is secret (``?key=...``), and after one of these words (``api_key``,
# ``X-Access-Key``), not in ``wrap_key``, ``upsert_key`` or ``checkpoint_key``
_KEY_QUALIFIERS = frozenset({
    "api", "access", "private", "secret", "signing", "encryption", "client", "master",
    "auth", "account", "subscription", "license", "licence", "app", "application",
    "consumer", "shared", "session", "service", "x", "developer", "customer", "user",
})
# names that contain a secret word but name no secret
_NOT_SECRET = frozenset({"authsource", "authmechanism", "wwwauthenticate", "keepalive",
                         "tokentype", "keyid"})

_names: set[str] = set(_DEFAULT_NAMES)
_phrases: set[tuple[str, ...]] = set()  # added names of several words, as words
_names_lock = threading.Lock()
_cache: dict[str, bool] = {}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


def _words(name: str) -> list[str]:
    return [w.lower() for w in _SEPARATORS.split(_CAMEL.sub(" ", name)) if w]


def _normal(name: str) -> str:
    return "".join(_words(name))


def secret_names() -> frozenset[str]:
    """The names (lower case, letters and digits only) whose values are secret."""
    with _names_lock:
        return frozenset(_names)


def add_secret_names(*names: str) -> None:
    """Treat ``names`` as credentials too, everywhere, from now on.

    A name is compared like the defaults, ignoring case and separators: as a whole name
    and as words of a longer one (``add_secret_names("tenant-pin")`` hides
    ``tenant_pin``, ``TenantPin`` and ``X-Tenant-Pin``).
    """
    new: list[list[str]] = []
    for name in names:
        if not isinstance(name, str) or not _normal(name):
            raise ValueError(f"add_secret_names(): a name must be a non-empty string of "
                             f"letters or digits, got {name!r}")
        new.append(_words(name))
    with _names_lock:
        for words in new:
            _names.add("".join(words))
            if len(words) > 1:
                _phrases.add(tuple(words))
        _cache.clear()


def is_secret_name(name: str) -> bool:
    """Whether a header, parameter or option called ``name`` holds a credential."""
    known = _cache.get(name)
    if known is not None:
        return known
    words = _words(name)
    joined = "".join(words)
    key = words == ["key"] or any(
        w == "key" and i and words[i - 1] in _KEY_QUALIFIERS for i, w in enumerate(words))
    with _names_lock:
        secret = joined not in _NOT_SECRET and (
            key or joined in _names or any(w in _names for w in words)
            or joined.endswith(_SUFFIXES)
            or any(tuple(words[i:i + len(p)]) == p for p in _phrases
                   for i in range(len(words) - len(p) + 1)))
        if len(_cache) < 4096:
            _cache[name] = secret
    return secret


# -- URLs --------------------------------------------------------------------------


def _redact_query(query: str) -> str:
    """``a=1&token=x`` -> ``a=1&token=***`` (also ``;`` separators; unchanged otherwise)."""
    if "=" not in query:
        return query
    parts = re.split(r"([&;])", query)
    for i in range(0, len(parts), 2):
        name, eq, value = parts[i].partition("=")
        if eq and value and is_secret_name(unquote_plus(name)):
            parts[i] = f"{name}={MASK}"
    return "".join(parts)


def redact_url(url: str) -> str:
    """``url`` with its credentials replaced by ``***``.

    The user info (``user:password@``, or a lone ``user@``, often a token) becomes
    ``***@``, and the values of query (and fragment) parameters with credential-looking
    names become ``***``: ``https://bob:pw@h/p?token=t&page=2`` gives
    ``https://***@h/p?token=***&page=2``. Works on relative URLs and multi-host
    URIs (``mongodb://u:p@h1,h2/db``) and failover lists (``redis://a;redis://b``);
    everything else is kept as given.
    """
    if not isinstance(url, str):
        return url
    if ";" in url and url.count("://") > 1:  # a failover list: url1;url2
        return ";".join(redact_url(part) for part in url.split(";"))
    rest, hash_, fragment = url.partition("#")
    rest, qmark, query = rest.partition("?")
    span = _userinfo_span(rest)
    if span is not None:
        rest = f"{rest[:span[0]]}{MASK}{rest[span[1]:]}"
    if qmark:
        query = _redact_query(query)
    if hash_:
        fragment = _redact_query(fragment)
    return f"{rest}{qmark}{query}{hash_}{fragment}"


def _userinfo_span(rest: str) -> tuple[int, int] | None:
    """Where the user info of ``rest`` (a URL without query and fragment) is, ``@``
    excluded; None without one. A password with an unescaped ``/`` (``u:pa/ss@h``,
    invalid but given) counts too."""
    scheme_end = rest.find("://")
    if scheme_end < 0:
        return None
    start = scheme_end + 3
    slash = rest.find("/", start)
    netloc = rest[start:] if slash < 0 else rest[start:slash]
    at = netloc.rfind("@")
    if at > 0:
        return start, start + at
    if at == 0 or slash < 0:
        return None
    _user, colon, after = netloc.partition(":")
    last = rest.rfind("@", slash)
    if colon and not after.isdigit() and last > 0:
        return start, last
    return None


# -- mappings ------------------------------------------------------------------------

V = TypeVar("V")


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_url(value) if ("://" in value or "?" in value) else value
    if isinstance(value, Mapping):
        return redact_mapping(value)
    if isinstance(value, (list, tuple)):
        if all(isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)
               for p in value) and value:
            return type(value)(redact_pairs(value)) if isinstance(value, list) else \
                tuple(redact_pairs(value))
        return type(value)(_redact_value(v) for v in value)
    return value


def redact_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``mapping`` (headers, query parameters, options) whose values under
    credential-looking names are ``***``. Nested mappings and lists are redacted too,
    and string values that are URLs go through :func:`redact_url`."""
    return {k: (MASK if isinstance(k, str) and is_secret_name(k) else _redact_value(v))
            for k, v in mapping.items()}


def redact_pairs(pairs: Iterable[tuple[str, Any]] | Iterable[list[Any]]) -> list[tuple[str, Any]]:
    """A list of the ``(name, value)`` pairs (query parameters as requests takes them),
    with values under credential-looking names replaced by ``***``."""
    out: list[tuple[str, Any]] = []
    for name, value in pairs:
        out.append((name, MASK if isinstance(name, str) and is_secret_name(name)
                    else _redact_value(value)))
    return out


# -- free text -----------------------------------------------------------------------

# userinfo of any URL in text: scheme://user[:password]@
_TEXT_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^@/\s?#'\"<>]*)@")
# name=value, name: value, "name": "value", name='value' ...
_TEXT_PAIR = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,63})(?P<q1>["']?)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<q2>["']?)(?P<value>(?:(?:Basic|Bearer|Digest|Token|Negotiate|NTLM|AWS4-HMAC-SHA256)\s+)?"""
    r"""[^\s"'&;,)}\]<>]+)""")
_SCHEMES = re.compile(r"(?i)^(basic|bearer|digest|token|negotiate|ntlm|aws4-hmac-sha256)\s+")


def _userinfo(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}@" if match.group(2) else match.group(0)


def _redact_pairs_in(text: str) -> str:
    """Mask the value of each credential-looking ``name=value`` / ``name: value``; a
    value that is not masked is searched too (``url=http://h/?sig=x``)."""
    out: list[str] = []
    done = 0  # text[:done] is in out
    pos = 0
    while True:
        match = _TEXT_PAIR.search(text, pos)
        if match is None:
            break
        value = match.group("value")
        if is_secret_name(match.group("name")) and value not in (MASK, "...", "None", "null"):
            scheme = _SCHEMES.match(value)
            out.append(text[done:match.start("value")])
            out.append((scheme.group(0) if scheme else "") + MASK)
            done = pos = match.end()
        else:
            pos = match.start("value")
    out.append(text[done:])
    return "".join(out)


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``secrets`` (longest first) replaced by
    ``***``. Secrets shorter than :data:`MIN_SECRET_LENGTH` are left alone."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH},
                         key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` (a quoted response body, a log line, an error message) with ``secrets``
    masked (see :func:`mask`), URL user info redacted, and the value of every
    credential-looking ``name=value``, ``name: value`` or ``"name": "value"`` replaced
    by ``***`` (``Authorization: Bearer abc`` -> ``Authorization: Bearer ***``)."""
    if not isinstance(text, str):
        text = str(text)
    text = mask(text, secrets)
    if "@" in text:
        text = _TEXT_USERINFO.sub(_userinfo, text)
    if "=" in text or ":" in text:
        text = _redact_pairs_in(text)
    return text


class Secrets:
    """The secrets one inlet or outlet was given, to mask them in text that may echo
    them (a response body, a driver's error message).

    Each secret is also masked URL-encoded (``quote`` and ``quote_plus`` forms) and, for
    an ``Authorization``-style value such as ``Bearer abc``, without its scheme.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        for value in values:
            self.add(value)

    def add(self, value: Any) -> None:
        """Remember ``value`` (a str; other values are ignored) and its encoded forms."""
        if not isinstance(value, str) or not value:
            return
        forms = {value, value.strip()}
        scheme = _SCHEMES.match(value)
        if scheme:
            forms.add(value[scheme.end():].strip())
        for form in list(forms):
            forms.update({quote(form, safe=""), quote_plus(form, safe=""), quote(form)})
            decoded = unquote(form)
            if decoded != form:
                forms.add(decoded)
        self._values.update(f for f in forms if f)

    def add_url(self, url: Any) -> None:
        """Remember the password (or lone user) and credential query values of ``url``."""
        if not isinstance(url, str):
            return
        if ";" in url and url.count("://") > 1:  # a failover list: url1;url2
            for part in url.split(";"):
                self.add_url(part)
            return
        rest, _, fragment = url.partition("#")
        rest, _, query = rest.partition("?")
        span = _userinfo_span(rest)
        if span is not None:
            user, colon, password = rest[span[0]:span[1]].partition(":")
            self.add(password if colon else user)
        for part in (query, fragment):
            for piece in re.split(r"[&;]", part):
                name, eq, value = piece.partition("=")
                if eq and is_secret_name(unquote_plus(name)):
                    self.add(value)
                    self.add(unquote_plus(value))

    def add_mapping(self, mapping: Any) -> None:
        """Remember the values under credential-looking names of a mapping or of a
        sequence of ``(name, value)`` pairs (headers, params, options), nested ones
        included, and the credentials of URL values."""
        if isinstance(mapping, Mapping):
            items: Iterable[Any] = mapping.items()
        elif isinstance(mapping, (list, tuple)):
            items = (p for p in mapping if isinstance(p, (list, tuple)) and len(p) == 2)
        else:
            return
        for name, value in items:
            if isinstance(name, str) and is_secret_name(name):
                self._add_any(value)
            elif isinstance(value, (Mapping, list, tuple)):
                self.add_mapping(value)
            elif isinstance(value, str) and "://" in value:
                self.add_url(value)

    def _add_any(self, value: Any) -> None:
        if isinstance(value, str):
            self.add(value)
        elif isinstance(value, Mapping):
            for v in value.values():
                self._add_any(v)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for v in value:
                self._add_any(v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self.add(str(value))

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def mask(self, text: str) -> str:
        """:func:`redact_text` with these secrets."""
        return redact_text(text, self._values)

    def __repr__(self) -> str:
        return f"Secrets(<{len(self._values)} hidden>)"


# -- logging -------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record with its message (and formatted
    traceback) put through :func:`redact_text`.

    On a handler it covers every line the handler writes; on a logger, the records
    created by that very logger (not its children: add it to each).
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_databay_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is for the logging module to report
            return True
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record._databay_redacted = True
        return True


_FILTER = RedactingFilter()


def install_log_filter(*logger_names: str) -> None:
    """Add databay's :class:`RedactingFilter` to the loggers named (once each), such as a
    driver's logger that writes URLs with their query strings at DEBUG."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(_FILTER)
