"""Errors raised by ``HttpInlet`` and ``HttpOutlet``.

All derive from :class:`HttpError`, itself a :class:`databay.errors.DatabayError`.
Messages name the method and the URL without credentials, and never contain a password
or token given to the inlet or outlet.
"""

from __future__ import annotations

from databay.errors import DatabayError, TransferError

__all__ = [
    "HttpConnectionError",
    "HttpDeliveryError",
    "HttpError",
    "HttpRedirectError",
    "HttpStatusError",
    "HttpTimeoutError",
    "InvalidResponseError",
]


class HttpError(DatabayError):
    """A request failed.

    ``method`` and ``url`` (without credentials) name the request; ``attempts`` is how
    many times it was sent.
    """

    def __init__(self, message: str, *, method: str, url: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.attempts = attempts


class HttpStatusError(HttpError):
    """The server answered with an error status (4xx or 5xx).

    ``status`` and ``reason`` are the status line, ``body`` the start of the response body.
    """

    def __init__(
        self, message: str, *, method: str, url: str, status: int, reason: str = "",
        body: str = "", attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.status = status
        self.reason = reason
        self.body = body


class HttpConnectionError(HttpError, ConnectionError):
    """No response: the connection was refused or broken, or TLS verification failed."""


class HttpTimeoutError(HttpConnectionError, TimeoutError):
    """No response within the connect or read timeout, or the total time ran out."""


class HttpRedirectError(HttpError):
    """More redirects than ``max_redirects``, or a redirect that would drop the request body."""


class InvalidResponseError(HttpError, ValueError):
    """The response body is not what was asked for (invalid JSON, undecodable text)."""


class HttpDeliveryError(HttpError, TransferError):
    """``HttpOutlet`` could not deliver records. ``undelivered`` counts them; ``status``
    is the HTTP status when the endpoint answered, else None. The cause is chained."""

    def __init__(
        self, message: str, *, method: str, url: str, undelivered: int,
        status: int | None = None, attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.undelivered = undelivered
        self.status = status
