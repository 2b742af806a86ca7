"""HttpInlet: GET a URL on every transfer and turn the response into records."""

from __future__ import annotations

import codecs
import json as _json
import logging
import math
import threading
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from databay import Inlet
from databay.redact import redact_mapping

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

Cursor = str | int | float
_CURSOR_ACCEPTED = "a str, an int or a finite float (a JSON scalar), or None"


def _cursor_value(value: Any, where: str) -> Cursor | None:
    """``value`` if it can be a cursor (sent as a query parameter, stored as JSON)."""
    if value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)):
        return value  # type: ignore[no-any-return]
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise TypeError(f"{where} must be {_CURSOR_ACCEPTED}, got "
                    f"{type(value).__name__}: {value!r}")


def _name(value: Any, owner: str, arg: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{owner}({arg}=...) must be a non-empty str, got {value!r}")
    return value


class HttpInlet(Inlet):
    """Pulls data from an HTTP(S) endpoint with a GET on every transfer.

    An empty body gives no records. With ``json=True`` the body is parsed as JSON: a list
    gives one record per element, any other value one record (a body of only whitespace
    counts as empty). With ``json=False`` the body,
    decoded as text (the response's charset, else UTF-8), is the payload of one record.
    :meth:`pull` is a coroutine that returns the parsed body, as in Databay 0.3, so
    subclasses can ``await super().pull(update)``; :meth:`fetch` is its synchronous twin.

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
    :param cursor_param: incremental mode (needs ``json=True``): the query parameter
        that carries the cursor, e.g. ``"since"``. Each pull sends
        ``cursor_param=<cursor>`` when a cursor is set.
    :param cursor_field: incremental mode: the key of the payload dicts whose largest
        value becomes the cursor after a pull (unchanged when no record has it).
    :param cursor: incremental mode: the cursor of the first pull (default None: no
        parameter sent until records arrived).
    :param checkpoint_key: the key of this inlet's cursor in a link's state store (see
        :attr:`databay.Inlet.checkpoint_key`); None keys it by the inlet's position.

    Checkpoints: in incremental mode :attr:`cursor` and :meth:`seek` let a link with a
    state store commit the cursor after each delivered transfer, re-read a batch that was
    not delivered, and resume after a restart. Without ``cursor_param`` the cursor is
    None and :meth:`seek` does nothing: a plain GET reads "now" and has no position.

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
        cursor_param: str | None = None,
        cursor_field: str | None = None,
        cursor: Cursor | None = None,
        checkpoint_key: str | None = None,
    ) -> None:
        super().__init__(metadata, checkpoint_key=checkpoint_key)
        self._json = check.flag(json, "HttpInlet", "json")
        if cursor_param is None and cursor_field is None:
            if cursor is not None:
                raise ValueError(f"HttpInlet(cursor={cursor!r}) needs cursor_param=... and "
                                 f"cursor_field=... (the incremental mode)")
        else:
            if cursor_param is None or cursor_field is None:
                given = "cursor_param" if cursor_field is None else "cursor_field"
                raise ValueError(f"HttpInlet({given}=...) needs both cursor_param=... (the "
                                 f"query parameter) and cursor_field=... (the record key)")
            cursor_param = _name(cursor_param, "HttpInlet", "cursor_param")
            cursor_field = _name(cursor_field, "HttpInlet", "cursor_field")
            if not self._json:
                raise ValueError("HttpInlet(cursor_param=..., json=False): the cursor is read "
                                 "from JSON records; pass json=True")
            names = (params.keys() if isinstance(params, Mapping)
                     else [pair[0] for pair in params or () if isinstance(pair, (tuple, list))
                           and len(pair) == 2])
            if cursor_param in names:
                raise ValueError(f"HttpInlet(cursor_param={cursor_param!r}): params already "
                                 f"has {cursor_param!r}; pass its first value as cursor=...")
        self._cursor_param = cursor_param
        self._cursor_field = cursor_field
        self._cursor = _cursor_value(cursor, "HttpInlet(cursor=...)")
        self._cursor_lock = threading.Lock()
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

    @property
    def cursor_param(self) -> str | None:
        """The query parameter carrying the cursor (incremental mode), or None."""
        return self._cursor_param

    @property
    def cursor_field(self) -> str | None:
        """The record key the cursor is taken from (incremental mode), or None."""
        return self._cursor_field

    # -- checkpoints ----------------------------------------------------------------

    @property
    def cursor(self) -> Cursor | None:
        """Incremental mode: the value the next pull sends as ``cursor_param`` (the
        largest ``cursor_field`` seen so far), or None before any. Always None without
        ``cursor_param``."""
        with self._cursor_lock:
            return self._cursor

    def seek(self, cursor: Cursor | None) -> None:
        """Incremental mode: make the next pull send ``cursor`` (None: no parameter).
        Without ``cursor_param`` it does nothing."""
        if self._cursor_param is None:
            return  # whatever a state store held: a plain GET has no position
        value = _cursor_value(cursor, "HttpInlet.seek(cursor=...)")
        with self._cursor_lock:
            self._cursor = value

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

    async def pull(self, update: Update) -> Any:
        """The parsed body of one GET, as in Databay 0.3: a list, a dict (or any JSON
        value; ``[None]`` for a JSON ``null``), the text with ``json=False``, or ``[]``
        for an empty body. The link
        wraps it into records (a list gives one record per element).

        A coroutine, so a subclass can ``await super().pull(update)`` and filter the
        result. The request itself runs in a worker thread (requests is blocking), so it
        never blocks the event loop. A subclass whose ``pull`` is a plain ``def`` calls
        :meth:`fetch` instead: the same result, synchronously.
        """
        import asyncio

        return await asyncio.to_thread(self.fetch, update)

    def fetch(self, update: Update) -> Any:
        """What :meth:`pull` returns, synchronously (a blocking GET in this thread)."""
        if not self.active:  # pulled without a planner: Link.on_shutdown() closes it
            self.try_start()
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s pulling %s", update, self._client.shown_url)
        if self._cursor_param is None:
            return self._parse(self._client.request("GET"), update)
        with self._cursor_lock:
            cursor = self._cursor
        params = self._client.params
        if cursor is not None:
            if isinstance(params, list):
                params = [*params, (self._cursor_param, cursor)]
            else:
                params = {**(params or {}), self._cursor_param: cursor}
        data = self._parse(self._client.request("GET", params=params), update)
        latest = self._latest(data if isinstance(data, list) else [data], cursor, update)
        with self._cursor_lock:
            self._cursor = latest
        return data

    def _latest(self, data: list[Any], cursor: Cursor | None, update: Update) -> Cursor | None:
        """The largest ``cursor_field`` value among ``cursor`` and the records' payloads."""
        field = self._cursor_field
        latest = cursor
        for item in data:
            if not isinstance(item, dict) or item.get(field) is None:
                continue
            value = item[field]
            try:
                _cursor_value(value, "")
                if latest is None or value > latest:
                    latest = value
            except TypeError:
                raise InvalidResponseError(
                    f"HttpInlet: GET {self._client.shown_url}: cursor_field {field!r} must hold "
                    f"strings or finite numbers that compare with each other, got "
                    f"{self._client.scrub(repr(value))} after {self._client.scrub(repr(latest))}; "
                    f"the cursor stays at {self._client.scrub(repr(cursor))}",
                    method="GET", url=self._client.shown_url) from None
        if latest != cursor and _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s cursor %r -> %r", update, cursor, latest)
        return latest

    def _parse(self, response: Response, update: Update) -> Any:
        body = response.body
        if not body or (self._json and not body.strip()):
            if _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.debug("%s no results from %s", update, response.url)
            return []
        charset = _charset(response.headers.get("Content-Type"))
        problem = None
        try:
            if not self._json:
                return body.decode(charset or "utf-8")
            data = _json.loads(body.decode(charset) if charset else body)
        except (ValueError, LookupError) as exc:
            problem = str(exc)
        if problem is not None:
            # raised outside the except block: the decoder's error, which holds the
            # whole body (and whatever secrets the server echoed), is not its context
            what = "valid JSON" if self._json else f"text in {charset or 'utf-8'}"
            start = self._client.body_start(body)
            raise InvalidResponseError(
                f"HttpInlet: response does not contain {what}: GET {response.url} returned "
                f"HTTP {response.status}, {len(body)} bytes starting {start!r}: "
                f"{self._client.scrub(problem)}",
                method="GET", url=response.url,
            )
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s received %d bytes from %s", update, len(body), response.url)
        return [None] if data is None else data  # a JSON null: one record, payload None

    def __repr__(self) -> str:
        return (f"HttpInlet(url={self._client.shown_url!r}, json={self._json}, "
                f"metadata={redact_mapping(self.metadata)!r})")


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
