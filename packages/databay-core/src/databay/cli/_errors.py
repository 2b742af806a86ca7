"""Errors the command reports as one line each, without a traceback (unless --debug).

A pipeline's own problems are :class:`databay.pipeline.PipelineError`: the command prints
each of its problems on a line of its own and exits with :data:`EXIT_USAGE`.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING

from databay.redact import redact_text

if TYPE_CHECKING:
    from databay.pipeline import PipelineError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CliError",
           "print_error", "print_traceback", "report_pipeline_error"]

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


def print_error(message: object, prog: str = "databay") -> None:
    """``<prog>: error: <message>`` on stderr, secrets redacted (databay.redact)."""
    print(f"{prog}: error: {redact_text(str(message))}", file=sys.stderr)


def print_traceback(exc: BaseException) -> None:
    """The traceback of ``exc`` on stderr, secrets redacted (databay.redact)."""
    text = "".join(traceback.format_exception(exc))
    sys.stderr.write(redact_text(text))


def report_pipeline_error(exc: PipelineError, debug: bool, prog: str = "databay") -> None:
    """Print each problem of ``exc`` as ``<prog>: error: <problem>`` (with its cause's
    traceback when ``debug``)."""
    for error in exc.errors:
        if debug and error.cause is not None:
            print_traceback(error.cause)
        print_error(error, prog)
