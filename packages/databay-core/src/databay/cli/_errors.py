"""Errors the command reports as one line each, without a traceback (unless --debug)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CliError", "ConfigError",
           "PipelineError"]

EXIT_OK = 0
#: a transfer failed (``run --once``), or the planner stopped because a link failed
EXIT_FAILED = 1
#: bad command line, bad pipeline file, missing plugin
EXIT_USAGE = 2
#: a second Ctrl-C forced the command to stop without waiting
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A user error: printed as ``databay: error: <message>``, exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE,
                 cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.cause = cause


class ConfigError:
    """One problem in a pipeline file: where it is (file, link, node, key) and what."""

    __slots__ = ("cause", "key", "message", "missing_plugin", "source", "where")

    def __init__(self, source: str, where: str, key: str | None, message: str,
                 cause: BaseException | None = None, missing_plugin: bool = False) -> None:
        self.source = source
        self.where = where
        self.key = key
        self.message = message
        self.cause = cause
        self.missing_plugin = missing_plugin

    def __str__(self) -> str:
        parts = [p for p in (self.where, f"key {self.key!r}" if self.key else "") if p]
        place = ", ".join(parts)
        return f"{self.source}: {place}: {self.message}" if place else \
            f"{self.source}: {self.message}"

    __repr__ = __str__


class PipelineError(CliError):
    """A pipeline file failed validation; ``errors`` holds every problem found."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = list(errors)
        first = self.errors[0] if self.errors else "invalid pipeline"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{first}{more}", EXIT_USAGE)
