"""Errors raised by ``HttpInlet`` and ``HttpOutlet``.

All derive from :class:`HttpError`, itself a :class:`databay.errors.DatabayError`.
Messages name the method and the URL without credentials, and never contain a password
or token given to the inlet or outlet.

Each error says whether retrying may help through its ``transient`` attribute, which
:class:`databay.delivery.RetryPolicy` reads: 5xx, 408 and 429 answers, refused or broken
connections and timeouts are transient; other 4xx (and 3xx) answers, TLS failures,
redirect errors and invalid responses are permanent.
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


#: Statuses below 500 that are worth retrying: Request Timeout, Too Many Requests.
TRANSIENT_4XX = frozenset({408, 429})


def status_is_transient(status: int) -> bool:
    """Whether an error answer with ``status`` may pass: 5xx, 408 and 429."""
    return status >= 500 or status in TRANSIENT_4XX


class HttpError(DatabayError):
    """A request failed.

    ``method`` and ``url`` (credentials redacted, see :mod:`databay.redact`) name the
    request; ``attempts`` is how
    many times it was sent; ``transient`` whether retrying later may succeed (each
    class has a default; ``transient=`` overrides it).
    """

    transient = False

    def __init__(self, message: str, *, method: str, url: str, attempts: int = 1,
                 transient: bool | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.attempts = attempts
        if transient is not None:
            self.transient = transient


class HttpStatusError(HttpError):
    """The server answered with an error status (4xx or 5xx).

    ``status`` and ``reason`` are the status line, ``body`` the start of the response body.
    Transient for 5xx, 408 and 429, permanent for the others.
    """

    def __init__(
        self, message: str, *, method: str, url: str, status: int, reason: str = "",
        body: str = "", attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts,
                         transient=status_is_transient(status))
        self.status = status
        self.reason = reason
        self.body = body


class HttpConnectionError(HttpError, ConnectionError):
    """No response: the connection was refused or broken (transient), or TLS failed
    (permanent: ``transient`` is False)."""

    transient = True


class HttpTimeoutError(HttpConnectionError, TimeoutError):
    """No response within the connect or read timeout, or the total time ran out
    (transient)."""


class HttpRedirectError(HttpError):
    """More redirects than ``max_redirects``, or a redirect that would drop the request
    body (permanent)."""


class InvalidResponseError(HttpError, ValueError):
    """The response body is not what was asked for (invalid JSON, undecodable text;
    permanent)."""


class HttpDeliveryError(HttpError, TransferError):
    """``HttpOutlet`` could not deliver records. ``undelivered`` counts them; ``status``
    is the HTTP status when the endpoint answered, else None. The cause is chained, and
    ``transient`` is the cause's (False for records that cannot be encoded as JSON)."""

    def __init__(
        self, message: str, *, method: str, url: str, undelivered: int,
        status: int | None = None, attempts: int = 1, transient: bool = False,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts,
                         transient=transient)
        self.undelivered = undelivered
        self.status = status
