"""What HttpInlet and HttpOutlet share: one requests.Session, timeouts, bounded retries
with backoff, TLS settings and authentication that never shows its secret."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3
from databay.redact import Secrets, install_log_filter, redact_url
from requests.auth import AuthBase

from databay_http import _validate as check
from databay_http.__about__ import __version__
from databay_http.errors import (
    HttpConnectionError,
    HttpError,
    HttpRedirectError,
    HttpStatusError,
    HttpTimeoutError,
)

DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_TOTAL_TIMEOUT = 120.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
DEFAULT_MAX_BACKOFF = 30.0
DEFAULT_RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEFAULT_MAX_REDIRECTS = 5

_CHUNK = 65536
_ERROR_BODY_LIMIT = 65536
_BODY_START = 200
_USER_AGENT = f"databay-http/{__version__} {requests.utils.default_user_agent()}"
# urllib3 logs each request's path and query string at DEBUG
_DRIVER_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry")


class _BasicAuth(AuthBase):
    """HTTP basic authentication (UTF-8) whose repr hides the password."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        raw = f"{username}:{password}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header
        return r

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"


class _BearerAuth(AuthBase):
    """``Authorization: Bearer <token>`` whose repr hides the token."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header
        return r

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


class _Failure:
    """One failed attempt: the error to raise if no retry follows, and whether and
    when to retry."""

    __slots__ = ("error", "retry", "retry_after")

    def __init__(self, error: HttpError, retry: bool, retry_after: float | None = None) -> None:
        self.error = error
        self.retry = retry
        self.retry_after = retry_after


class Response:
    """A response whose body was read completely."""

    __slots__ = ("body", "headers", "reason", "status", "url")

    def __init__(self, status: int, reason: str, headers: Mapping[str, str], body: bytes,
                 url: str) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.url = url


class HttpClient:
    """Sends requests for one inlet or outlet. See HttpInlet for the options."""

    def __init__(
        self,
        owner: str,
        url: Any,
        *,
        params: Any,
        headers: Any,
        cacert: Any,
        timeout: Any,
        total_timeout: Any,
        retries: Any,
        backoff: Any,
        max_backoff: Any,
        retry_statuses: Any,
        auth: Any,
        token: Any,
        verify: Any,
        max_redirects: Any,
        trust_env: Any,
    ) -> None:
        self.owner = owner
        self.logger = logging.getLogger(f"databay.{owner}")
        install_log_filter(*_DRIVER_LOGGERS)
        #: what this client was given that must never be shown (see databay.redact)
        self.secrets = Secrets()
        self.secrets.add_url(url)
        self.url, url_creds = check.url(url, owner)
        #: the URL for messages and reprs: no credentials, secret query values hidden
        self.shown_url = redact_url(self.url)
        self.params = check.params(params, owner)
        self.secrets.add_mapping(self.params)
        self.headers = check.headers(headers, owner)
        self.secrets.add_mapping(self.headers)
        self.timeout = check.timeout(timeout, owner)
        self.total_timeout = check.positive(total_timeout, owner, "total_timeout")
        self.retries = check.count(retries, owner, "retries")
        self.backoff = check.positive(backoff, owner, "backoff", zero=True)
        self.max_backoff = check.positive(max_backoff, owner, "max_backoff", zero=True)
        self.retry_statuses = check.statuses(retry_statuses, owner)
        self.verify = check.flag(verify, owner, "verify")
        self.cacert = check.cacert(cacert, owner)
        if self.cacert is not None and not self.verify:
            raise ValueError(f"{owner}(cacert=..., verify=False): a CA bundle is only used "
                             f"when verifying; pass one or the other")
        self.max_redirects = check.count(max_redirects, owner, "max_redirects")
        self.trust_env = check.flag(trust_env, owner, "trust_env")
        self.auth = self._make_auth(auth, check.token(token, owner), url_creds)
        # requests' env handling replaces a Session-level verify, so pass it per request.
        self._verify: bool | str = self.cacert if self.cacert is not None else self.verify
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._send_settings: dict[str, Any] = {}
        # Validate the URL and params as requests will, so a bad one fails now.
        try:
            self._full_url = requests.Request("GET", self.url, params=self.params).prepare().url
        except (requests.exceptions.RequestException, ValueError, TypeError) as exc:
            raise ValueError(f"{owner}(url=..., params=...) cannot be requested: "
                             f"{self.scrub(str(exc))}") from None

    def _make_auth(
        self, auth: Any, token: str | None, url_creds: tuple[str, str] | None
    ) -> AuthBase | None:
        given = [name for name, value in (("auth", auth), ("token", token),
                                          ("credentials in url", url_creds)) if value]
        if len(given) > 1:
            raise ValueError(f"{self.owner}: give only one of auth=..., token=... and "
                             f"credentials in the url; got {' and '.join(given)}")
        if token is not None:
            self.secrets.add(token)
            return _BearerAuth(token)
        if auth is None and url_creds is None:
            return None
        if isinstance(auth, AuthBase):
            return auth
        username, password = check.basic_auth(auth if auth is not None else url_creds,
                                              self.owner)
        self.secrets.add(password)
        made = _BasicAuth(username, password)
        self.secrets.add(made._header)
        return made

    def scrub(self, text: str) -> str:
        """``text`` with every secret this client holds, and anything that looks like a
        credential, replaced by ``***`` (:func:`databay.redact.redact_text`)."""
        return self.secrets.mask(text)

    # -- session ------------------------------------------------------------------

    def open(self) -> requests.Session:
        """The session, created if needed."""
        with self._lock:
            session = self._session
            if session is None:
                session = requests.Session()
                session.headers["User-Agent"] = _USER_AGENT
                session.headers.update(self.headers)
                session.auth = self.auth
                session.max_redirects = self.max_redirects
                session.trust_env = self.trust_env
                # Proxies and CA bundle from the environment are read once per session,
                # not on every request as Session.request does.
                self._send_settings = dict(session.merge_environment_settings(
                    self._full_url, {}, True, self._verify, None))
                self._session = session
            self._closing.clear()
            return session

    def close(self) -> None:
        """Close the session and wake any retry that is waiting, which then gives up."""
        with self._lock:
            self._closing.set()
            session, self._session = self._session, None
        if session is not None:
            session.close()

    @property
    def session(self) -> requests.Session | None:
        return self._session

    # -- requests -----------------------------------------------------------------

    def request(self, method: str, *, data: bytes | None = None,
                headers: Mapping[str, str] | None = None, read_body: bool = True,
                params: Any = None) -> Response:
        """Send with retries; return the response to a 2xx, or raise an HttpError.
        ``params`` replaces the configured query parameters for this request."""
        deadline = time.monotonic() + self.total_timeout
        attempt = 0
        connect_timeout, read_timeout = self.timeout
        session = self._session or self.open()
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HttpTimeoutError(
                    self._describe(method, self.shown_url, attempt - 1,
                                   f"no response within total_timeout={self.total_timeout:g}s"),
                    method=method, url=self.shown_url, attempts=attempt - 1)
            failure = self._attempt(
                session, method, data, headers, read_body, attempt, deadline,
                (min(connect_timeout, remaining), min(read_timeout, remaining)),
                self.params if params is None else params)
            if isinstance(failure, Response):
                return failure
            error = failure.error
            if not failure.retry or attempt > self.retries:
                raise error
            delay = failure.retry_after
            if delay is None:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            if time.monotonic() + delay >= deadline:
                error.args = (f"{error.args[0]}; no retry: waiting {delay:g}s would pass "
                              f"total_timeout={self.total_timeout:g}s",)
                raise error
            self.logger.warning("%s; retry %d of %d in %gs", error.args[0], attempt,
                                self.retries, delay)
            if self._closing.wait(delay):
                error.args = (f"{error.args[0]}; retry cancelled: {self.owner} was closed",)
                raise error
            session = self._session or self.open()

    def _attempt(
        self, session: requests.Session, method: str, data: bytes | None,
        headers: Mapping[str, str] | None, read_body: bool, attempt: int, deadline: float,
        timeout: tuple[float, float], params: Any,
    ) -> Response | _Failure:
        url = self.shown_url
        try:
            prepared = session.prepare_request(requests.Request(
                method, self.url, params=params, data=data, headers=headers))
            resp = session.send(prepared, timeout=timeout, allow_redirects=True,
                                **self._send_settings)
        except requests.exceptions.TooManyRedirects:
            return _Failure(HttpRedirectError(
                self._describe(method, url, attempt,
                               f"more than max_redirects={self.max_redirects} redirects"),
                method=method, url=url, attempts=attempt), retry=False)
        except requests.exceptions.SSLError as exc:
            return _Failure(HttpConnectionError(
                self._describe(method, url, attempt, f"TLS error: {_reason(exc)}"),
                method=method, url=url, attempts=attempt, transient=False), retry=False)
        except requests.exceptions.Timeout as exc:
            which = "connect" if isinstance(exc, requests.exceptions.ConnectTimeout) else "read"
            limit = timeout[0] if which == "connect" else timeout[1]
            return _Failure(HttpTimeoutError(
                self._describe(method, url, attempt,
                               f"{which} timed out after {limit:g}s"),
                method=method, url=url, attempts=attempt), retry=True)
        except requests.exceptions.ConnectionError as exc:
            return _Failure(HttpConnectionError(
                self._describe(method, url, attempt, f"connection failed: {_reason(exc)}"),
                method=method, url=url, attempts=attempt), retry=True)
        except requests.exceptions.RequestException as exc:
            return _Failure(HttpConnectionError(
                self._describe(method, url, attempt, f"request failed: {_reason(exc)}"),
                method=method, url=url, attempts=attempt, transient=False), retry=False)
        final_url = redact_url(check.strip_userinfo(resp.url))
        status = resp.status_code
        if status >= 300:
            body = self._read(resp, method, attempt, deadline, _ERROR_BODY_LIMIT, quiet=True)
            start = self._body_start(body, resp)
            reason = self.scrub(resp.reason or "")
            detail = f"HTTP {status}{' ' + reason if reason else ''}"
            if start:
                detail += f"; body starts: {start!r}"
            error = HttpStatusError(self._describe(method, final_url, attempt, detail),
                                    method=method, url=final_url, status=status,
                                    reason=reason, body=start, attempts=attempt)
            if status in self.retry_statuses:
                return _Failure(error, retry=True,
                                retry_after=_retry_after(resp.headers.get("Retry-After")))
            return _Failure(error, retry=False)
        if resp.request.method != method:
            resp.close()
            return _Failure(HttpRedirectError(self._describe(
                method, url, attempt,
                f"a redirect to {final_url} turned the {method} into a "
                f"{resp.request.method}, which would drop the request body"),
                method=method, url=url, attempts=attempt), retry=False)
        if not read_body:
            # Delivered: drain the answer for connection reuse, whatever happens to it.
            body = self._read(resp, method, attempt, deadline, _ERROR_BODY_LIMIT, quiet=True)
            return Response(status, resp.reason or "", resp.headers, body, final_url)
        try:
            body = self._read(resp, method, attempt, deadline)
        except HttpError as exc:
            return _Failure(exc, retry=True)
        return Response(status, resp.reason or "", resp.headers, body, final_url)

    def _read(self, resp: requests.Response, method: str, attempt: int, deadline: float,
              limit: int | None = None, quiet: bool = False) -> bytes:
        """Read the body (at most ``limit`` bytes) until ``deadline``. ``quiet`` returns
        what arrived instead of raising. A body read to its end returns its connection
        to the pool; otherwise the connection is closed."""
        raw = resp.raw
        read1 = getattr(raw, "read1", None)  # urllib3 >= 2: at most one recv per call
        chunks: list[bytes] = []
        size = 0
        done = False
        try:
            while True:
                chunk = (read1(_CHUNK, decode_content=True) if read1 is not None
                         else raw.read(_CHUNK, decode_content=True))
                if not chunk:
                    done = True
                    break
                chunks.append(chunk)
                size += len(chunk)
                if limit is not None and size >= limit:
                    break
                if time.monotonic() > deadline:
                    if quiet:
                        break
                    raise HttpTimeoutError(
                        self._describe(method, self.shown_url, attempt,
                                       f"the body did not arrive within total_timeout="
                                       f"{self.total_timeout:g}s"),
                        method=method, url=self.shown_url, attempts=attempt)
        except HttpError:
            raise
        except (urllib3.exceptions.HTTPError, OSError, requests.RequestException) as exc:
            if quiet:
                return b"".join(chunks)
            timed_out = isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError))
            cls = HttpTimeoutError if timed_out else HttpConnectionError
            raise cls(self._describe(method, self.shown_url, attempt,
                                     f"reading the response failed: {_reason(exc)}"),
                      method=method, url=self.shown_url, attempts=attempt) from None
        finally:
            if not done:
                resp.close()
        return b"".join(chunks)

    def _body_start(self, body: bytes, resp: requests.Response) -> str:
        """The first characters of an error body, this request's secrets masked (the
        server may echo them)."""
        return self.body_start(body, resp.encoding)

    def body_start(self, body: bytes, encoding: str | None = None) -> str:
        """At most about 200 characters of ``body`` on one line, with the secrets masked
        (before cutting, so no secret is cut into an unmasked prefix)."""
        text = body[: _BODY_START * 4].decode(encoding or "utf-8", errors="replace")
        text = self.scrub(" ".join(text.split()))
        if len(text) > _BODY_START:
            text = text[:_BODY_START] + "..."
        return text

    def _describe(self, method: str, url: str, attempt: int, detail: str) -> str:
        tries = f" (after {attempt} attempts)" if attempt > 1 else ""
        return self.scrub(f"{self.owner}: {method} {url} failed{tries}: {detail}")


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, without object reprs."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in current.args if isinstance(a, BaseException)), None)
        if inner is None:
            break
        current = inner
    text = str(current)
    # urllib3 prefixes "<urllib3.connection.HTTPConnection object at 0x...>: "
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return f"{type(current).__name__}: {text}" if text else type(current).__name__


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())

