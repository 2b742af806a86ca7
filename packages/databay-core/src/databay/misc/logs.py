"""Logging for databay: the documented line format, without side effects.

Lines look like ``2020-07-30 19:51:41.318|D| http_to_mongo.0 transfer (databay.Link)``.
databay adds one handler to its own ``databay`` logger, which writes only while no
handler on the root logger would: once an application configures logging, databay's
lines go through the application's handlers only, never twice.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from databay.redact import RedactingFilter

__all__ = ["DEFAULT_FORMAT", "DatabayHandler", "ISO8601Formatter", "install"]

DEFAULT_FORMAT = "%(asctime)s|%(levelname)-.1s| %(message)s (%(name)s)"
_REDACT = RedactingFilter()


class ISO8601Formatter(logging.Formatter):
    """A formatter whose ``asctime`` is ``YYYY-MM-DD HH:MM:SS.mmm``.

    :param millis_precision: digits of the fraction of a second (0 to 6).
    """

    def __init__(self, *args: Any, millis_precision: int = 3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not 0 <= millis_precision <= 6:
            raise ValueError(f"millis_precision must be between 0 and 6, got {millis_precision}")
        self.millis_precision = millis_precision

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime(datefmt or "%Y-%m-%d %H:%M:%S", self.converter(record.created))
        if not self.millis_precision:
            return stamp
        fraction = f"{record.created % 1:.6f}"[2 : 2 + self.millis_precision]
        return f"{stamp}.{fraction}"


class DatabayHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to stderr unless the root logger has handlers of its own."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(ISO8601Formatter(DEFAULT_FORMAT, millis_precision=3))

    def handle(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().handlers:
            return False  # the application's handlers write the line
        # no secret in a line databay writes itself (databay.redact)
        _REDACT.filter(record)
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return  # the application configured logging: let its handlers write the line
        self.stream = sys.stderr  # follow redirection (pytest's capsys, contextlib)
        super().emit(record)


def install() -> None:
    """Give the ``databay`` logger its default level (WARNING) and handler, once."""
    logger = logging.getLogger("databay")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    if not any(isinstance(h, DatabayHandler) for h in logger.handlers):
        logger.addHandler(DatabayHandler())
