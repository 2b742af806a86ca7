"""HttpInlet: GET a URL on every transfer and turn the response into records."""

from __future__ import annotations

import codecs
import json as _json
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from databay import Inlet

from databay_http import _validate as check
from databay_http._client import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_STATUSES,
    DEFAULT_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
    HttpClient,
    Response,
)
from databay_http.errors import InvalidResponseError

if TYPE_CHECKING:
    import requests
    from databay import Update
    from requests.auth import AuthBase

__all__ = ["HttpInlet"]

_LOGGER = logging.getLogger("databay.HttpInlet")


class HttpInlet(Inlet):
    """Pulls data from an HTTP(S) endpoint with a GET on every transfer.

    An empty body gives no records. With ``json=True`` the body is parsed as JSON: a list
    gives one record per element, any other value one record (a body of only whitespace
    counts as empty). With ``json=False`` the body, decoded as text (the response's
    charset, else UTF-8), is the payload of one record.

    Compatible with the original ``HttpInlet(url, json=True, cacert=None, params=None,
    headers=None, metadata=...)``. The keyword-only options:

    :param timeout: seconds to wait to connect and between bytes read: one number for
        both, or a ``(connect, read)`` pair. Default ``(5, 30)``.
    :param total_timeout: bound on one pull, retries and their waits included (default 120 s).
    :param retries: retries after the first attempt, for connection errors, timeouts and
        the statuses in ``retry_statuses`` (default 3).
    :param backoff: wait before the first retry, doubled for each next one, at most
        ``max_backoff``. A ``Retry-After`` header replaces it when the server sends one.
    :param retry_statuses: statuses that are retried (default 429, 502, 503, 504).
    :param auth: ``(username, password)`` for basic auth, or any ``requests.auth.AuthBase``.
        ``user:password@`` in ``url`` does the same.
    :param token: a bearer token (``Authorization: Bearer ...``).
    :param verify: verify TLS certificates (default True); ``cacert`` adds a private CA.
    :param max_redirects: redirects followed before giving up (default 5).
    :param trust_env: let requests read proxies and ``.netrc`` from the environment.

    A session (connection pool) is opened by ``on_start`` and closed by ``on_shutdown``;
    an inlet pulled without them opens one on first use: call :meth:`close`, or use the
    inlet as a context manager. Errors: :mod:`databay_http.errors`.
    """

    def __init__(
        self,
        url: str,
        json: bool = True,
        cacert: str | None = None,
        params: check.Params | None = None,
        headers: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        retry_statuses: Collection[int] = DEFAULT_RETRY_STATUSES,
        auth: tuple[str, str] | AuthBase | None = None,
        token: str | None = None,
        verify: bool = True,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        trust_env: bool = True,
    ) -> None:
        super().__init__(metadata)
        self._json = check.flag(json, "HttpInlet", "json")
        self._client = HttpClient(
            "HttpInlet", url, params=params, headers=headers, cacert=cacert,
            timeout=timeout, total_timeout=total_timeout, retries=retries, backoff=backoff,
            max_backoff=max_backoff, retry_statuses=retry_statuses, auth=auth, token=token,
            verify=verify, max_redirects=max_redirects, trust_env=trust_env,
        )

    # -- configuration (read-only) --------------------------------------------------

    @property
    def url(self) -> str:
        """The URL requested, without credentials."""
        return self._client.url

    @property
    def json(self) -> bool:
        """Whether the body is parsed as JSON."""
        return self._json

    @property
    def cacert(self) -> str | None:
        """The CA bundle used to verify the server, if one was given."""
        return self._client.cacert

    @property
    def params(self) -> Any:
        """The query parameters."""
        return self._client.params

    @property
    def headers(self) -> dict[str, str]:
        """The extra request headers."""
        return self._client.headers

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts in seconds."""
        return self._client.timeout

    @property
    def total_timeout(self) -> float:
        """Bound on one pull, retries included, in seconds."""
        return self._client.total_timeout

    @property
    def retries(self) -> int:
        """Retries after the first attempt."""
        return self._client.retries

    @property
    def session(self) -> requests.Session | None:
        """The open session, or None."""
        return self._client.session

    # -- lifecycle ------------------------------------------------------------------

    def on_start(self) -> None:
        """Open the session."""
        self._client.open()

    def on_shutdown(self) -> None:
        """Close the session; a retry that is waiting gives up."""
        self._client.close()

    def close(self) -> None:
        """Close the session (the next pull opens a new one)."""
        self._client.close()

    def __enter__(self) -> HttpInlet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pulling --------------------------------------------------------------------

    def pull(self, update: Update) -> list[Any] | str:
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s pulling %s", update, self._client.url)
        response = self._client.request("GET")
        return self._parse(response, update)

    def _parse(self, response: Response, update: Update) -> list[Any] | str:
        body = response.body
        if not body or (self._json and not body.strip()):
            if _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.debug("%s no results from %s", update, response.url)
            return []
        charset = _charset(response.headers.get("Content-Type"))
        try:
            if not self._json:
                return body.decode(charset or "utf-8")
            data = _json.loads(body.decode(charset) if charset else body)
        except (ValueError, LookupError) as exc:
            what = "valid JSON" if self._json else f"text in {charset or 'utf-8'}"
            start = self._client.scrub(" ".join(
                body[:200].decode("utf-8", errors="replace").split()))
            raise InvalidResponseError(
                f"HttpInlet: response does not contain {what}: GET {response.url} returned "
                f"HTTP {response.status}, {len(body)} bytes starting {start!r}: {exc}",
                method="GET", url=response.url,
            ) from None
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s received %d bytes from %s", update, len(body), response.url)
        return data if isinstance(data, list) else [data]

    def __repr__(self) -> str:
        return f"HttpInlet(url={self._client.url!r}, json={self._json}, metadata={self.metadata!r})"


def _charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if present and known."""
    if not content_type:
        return None
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip("\"'")
            try:
                return codecs.lookup(value).name
            except LookupError:
                return value  # decoding reports it
    return None
