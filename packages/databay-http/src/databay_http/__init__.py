"""databay-http: ``HttpInlet`` and ``HttpOutlet`` for databay, built on requests.

``HttpInlet`` and ``HttpOutlet`` are imported on first access, so ``import databay_http``
(and loading the plugin) does not import requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from databay_http.__about__ import __version__
from databay_http.errors import (
    HttpConnectionError,
    HttpDeliveryError,
    HttpError,
    HttpRedirectError,
    HttpStatusError,
    HttpTimeoutError,
    InvalidResponseError,
)

if TYPE_CHECKING:
    from databay_http._inlet import HttpInlet
    from databay_http._outlet import HttpOutlet

__all__ = [
    "HttpConnectionError",
    "HttpDeliveryError",
    "HttpError",
    "HttpInlet",
    "HttpOutlet",
    "HttpRedirectError",
    "HttpStatusError",
    "HttpTimeoutError",
    "InvalidResponseError",
    "__version__",
]

_LAZY = {"HttpInlet": "databay_http._inlet", "HttpOutlet": "databay_http._outlet"}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    obj = getattr(importlib.import_module(module_name), name)
    globals()[name] = obj
    return obj


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
