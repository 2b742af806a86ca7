"""Errors the command reports as one line each, without a traceback (unless --debug).

A pipeline's own problems are :class:`databay.pipeline.PipelineError`: the command prints
each of its problems on a line of its own and exits with :data:`EXIT_USAGE`.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from databay.pipeline import PipelineError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CliError",
           "report_pipeline_error"]

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


def report_pipeline_error(exc: PipelineError, debug: bool, prog: str = "databay") -> None:
    """Print each problem of ``exc`` as ``<prog>: error: <problem>`` (with its cause's
    traceback when ``debug``)."""
    for error in exc.errors:
        if debug and error.cause is not None:
            traceback.print_exception(error.cause, file=sys.stderr)
        print(f"{prog}: error: {error}", file=sys.stderr)
