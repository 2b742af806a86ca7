"""HttpOutlet: send each batch of records to an endpoint as a JSON array."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from databay import Outlet, Record

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
)
from databay_http.errors import HttpDeliveryError, HttpError, HttpStatusError

if TYPE_CHECKING:
    import requests
    from databay import Update
    from requests.auth import AuthBase

__all__ = ["HttpOutlet"]

_LOGGER = logging.getLogger("databay.HttpOutlet")

METHODS = ("POST", "PUT", "PATCH")
_JSON_HEADERS = {"Content-Type": "application/json"}

Processor = Callable[[list[Record]], list[Record]]


def _payload(record: Record) -> Any:
    return record.payload


class HttpOutlet(Outlet):
    """Sends each batch of records to ``url`` as a JSON array of their payloads.

    :param method: ``"POST"`` (default), ``"PUT"`` or ``"PATCH"``.
    :param serialize: maps a record to the JSON value sent for it (default: its payload).
    :param batch_size: send at most this many records per request (default: the whole
        batch in one request).
    :param send_empty: send ``[]`` for an empty batch (default False: send nothing).

    Timeouts, retries, TLS and authentication work as for
    :class:`~databay_http.HttpInlet`. A 2xx answer means delivered. Anything else
    raises :class:`~databay_http.errors.HttpDeliveryError` whose ``undelivered`` counts
    the records of the batch that were not delivered. Retries make delivery
    at-least-once: a request whose answer was lost is sent again (``retries=0`` to avoid
    it). A redirect that would turn the request into a GET is refused, not followed.
    """

    def __init__(
        self,
        url: str,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        params: check.Params | None = None,
        processors: Processor | Sequence[Processor] | None = None,
        *,
        serialize: Callable[[Record], Any] | None = None,
        batch_size: int | None = None,
        send_empty: bool = False,
        cacert: str | None = None,
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
        super().__init__(processors)
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise ValueError(f"HttpOutlet(method=...) must be one of {', '.join(METHODS)}, "
                             f"got {method!r}")
        self._method = method.upper()
        if serialize is not None and not callable(serialize):
            raise TypeError(f"HttpOutlet(serialize=...) must be a callable taking a Record, "
                            f"got {type(serialize).__name__}: {serialize!r}")
        self._serialize: Callable[[Record], Any] = serialize or _payload
        if batch_size is not None:
            check.count(batch_size, "HttpOutlet", "batch_size")
            if batch_size == 0:
                raise ValueError("HttpOutlet(batch_size=...) must be a positive int or None, "
                                 "got 0")
        self._batch_size = batch_size
        self._send_empty = check.flag(send_empty, "HttpOutlet", "send_empty")
        self._client = HttpClient(
            "HttpOutlet", url, params=params, headers=headers, cacert=cacert,
            timeout=timeout, total_timeout=total_timeout, retries=retries, backoff=backoff,
            max_backoff=max_backoff, retry_statuses=retry_statuses, auth=auth, token=token,
            verify=verify, max_redirects=max_redirects, trust_env=trust_env,
        )

    @property
    def url(self) -> str:
        """The endpoint, without credentials."""
        return self._client.url

    @property
    def method(self) -> str:
        """The HTTP method used."""
        return self._method

    @property
    def session(self) -> requests.Session | None:
        """The open session, or None."""
        return self._client.session

    def on_start(self) -> None:
        """Open the session."""
        self._client.open()

    def on_shutdown(self) -> None:
        """Close the session; a retry that is waiting gives up."""
        self._client.close()

    def close(self) -> None:
        """Close the session (the next push opens a new one)."""
        self._client.close()

    def __enter__(self) -> HttpOutlet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stores_metadata(self) -> bool | None:
        """False when sending payloads (the default); None with a custom ``serialize``,
        which may send metadata too."""
        return False if self._serialize is _payload else None

    def push(self, records: list[Record], update: Update) -> None:
        total = len(records)
        if not records and not self._send_empty:
            return
        if not self.active:  # pushed without a planner: Link.on_shutdown() closes it
            self.try_start()
        size = self._batch_size or max(total, 1)
        bodies: list[tuple[int, bytes]] = []
        for start in range(0, max(total, 1), size):
            chunk = records[start:start + size]
            try:
                body = json.dumps([self._serialize(r) for r in chunk],
                                  separators=(",", ":")).encode()
            except (TypeError, ValueError, RecursionError) as exc:
                raise HttpDeliveryError(
                    f"HttpOutlet: {total} record(s) not delivered to {self._method} "
                    f"{self._client.shown_url}: a record cannot be encoded as JSON: {exc}",
                    method=self._method, url=self._client.shown_url, undelivered=total,
                    attempts=0,
                ) from exc
            bodies.append((len(chunk), body))
        sent = 0
        for count, body in bodies:
            try:
                self._client.request(self._method, data=body, headers=_JSON_HEADERS,
                                     read_body=False)
            except HttpError as exc:
                left = total - sent
                status = exc.status if isinstance(exc, HttpStatusError) else None
                raise HttpDeliveryError(
                    f"{exc} ({left} of {total} record(s) not delivered)",
                    method=self._method, url=exc.url, undelivered=left, status=status,
                    attempts=exc.attempts, transient=exc.transient,
                ) from exc
            sent += count
            if _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.debug("%s sent %d record(s) to %s %s", update, count, self._method,
                              self._client.shown_url)

    def __repr__(self) -> str:
        return f"HttpOutlet(url={self._client.shown_url!r}, method={self._method!r})"
