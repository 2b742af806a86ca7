"""The ``databay`` command: ``run``, ``validate``, ``plugins`` and ``demo``.

Not imported by ``import databay``; ``python -m databay`` and the ``databay`` console
script call :func:`main`. Exit codes: 0 success, 1 a transfer failed (``run --once``) or
the planner stopped because a link failed, 2 a bad command line, a bad pipeline file or
a missing plugin, 130 a forced stop (a second Ctrl-C).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from databay.__about__ import __version__
from databay.cli._errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    print_error,
    print_traceback,
    report_pipeline_error,
)
from databay.pipeline import PipelineError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main"]

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _duration(text: str) -> float:
    from databay.pipeline import INTERVAL_FORMS, parse_interval

    try:
        return parse_interval(text).total_seconds()
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}; expected {INTERVAL_FORMS}") from None


def _level(text: str) -> int:
    name = text.upper()
    if name not in _LEVELS:
        raise argparse.ArgumentTypeError(
            f"invalid log level {text!r}; expected one of {', '.join(_LEVELS)}")
    return int(getattr(logging, name))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        raise CliError(f"{self.prog}: {message}")


def _common() -> _Parser:
    # accepted before or after the subcommand; SUPPRESS keeps a later default from
    # overwriting an earlier value
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show Python tracebacks (for errors and in log lines)")
    common.add_argument("--log-level", type=_level, default=argparse.SUPPRESS,
                        metavar="LEVEL",
                        help=f"level of databay's log lines: {', '.join(_LEVELS)} "
                             f"(default WARNING)")
    return common


def _status_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=("auto", "live", "lines", "off"), default="auto",
                        help="live: a table refreshed in place; lines: one line per "
                             "transfer; auto (default): live on a terminal, lines otherwise")


def _plugin_options(parser: argparse.ArgumentParser) -> None:
    """Options that plugins add (the databay_cli_run_options hook), e.g. databay-web's
    --http. A plugin whose hook raises is logged and left out."""
    from databay import plugins

    hook = plugins.get_plugin_manager().hook.databay_cli_run_options
    for impl in hook.get_hookimpls():
        try:
            impl.function(parser=parser)
        except Exception:
            logging.getLogger("databay.cli").exception(
                "plugin %r could not add its command-line options", impl.plugin_name)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="databay", parents=[common],
        description="Move data from inlets to outlets on a schedule.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'databay demo' to see it work; 'databay <command> --help' for details.\n"
               "Exit codes: 0 success; 1 a transfer failed (--once) or the planner stopped on "
               "a failure;\n2 bad command line, pipeline file or missing plugin; 130 forced "
               "stop (second Ctrl-C).")
    parser.add_argument("--version", action="version", version=f"databay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", parents=[common], help="run the links of a pipeline file",
                         description="Build the links of a pipeline file and run them on its "
                                     "planner until Ctrl-C or SIGTERM (graceful shutdown), "
                                     "or once with --once.")
    run.add_argument("pipeline", metavar="PIPELINE.toml")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="transfer every link once, then exit (1 if any transfer failed)")
    mode.add_argument("--duration", type=_duration, metavar="TIME",
                      help='stop after this long ("30s", "5m", or seconds)')
    run.add_argument("--planner", metavar="NAME",
                     help="run on this planner instead of the file's [planner]: a class name "
                          "(CeleryPlanner) or a plugin's name (celery)")
    run.add_argument("--role", metavar="ROLE",
                     help="the role of this process, for planners that have roles "
                          "(CeleryPlanner: beat or worker)")
    run.add_argument("--standby", action="store_true",
                     help="for planners with a leader (CeleryPlanner beat): wait as a "
                          "standby instead of refusing when another one runs")
    _status_option(run)
    _plugin_options(run)
    run.set_defaults(func=_cmd_run)

    validate = sub.add_parser("validate", parents=[common], help="check pipeline files",
                              description="Check pipeline files without running them: every "
                                          "class, keyword, interval and variable.")
    validate.add_argument("pipelines", nargs="+", metavar="PIPELINE.toml")
    validate.add_argument("--quiet", "-q", action="store_true",
                          help="print only problems: errors, and warnings about valid files")
    validate.set_defaults(func=_cmd_validate)

    plugins = sub.add_parser("plugins", parents=[common], help="list installed plugins",
                             description="List the installed plugins: distribution, version "
                                         "and the inlets, outlets and planners each provides.")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(func=_cmd_plugins)

    demo = sub.add_parser(
        "demo", parents=[common], help="run the demo: HTTP source -> CSV files",
        description="Start a local HTTP source of simulated sensor readings and pull it "
                    "every second into CSV files (and MongoDB with --mongo-uri). Needs "
                    "databay-http, databay-csv and databay-planners.")
    demo.add_argument("--duration", type=_duration, default=None, metavar="TIME",
                      help="how long to run (default 10s; with --serve-only, until Ctrl-C); "
                           "Ctrl-C stops early")
    demo.add_argument("--output", default="databay-demo-output", metavar="DIR",
                      help="folder for the CSV files (default ./databay-demo-output)")
    demo.add_argument("--mongo-uri", metavar="URI",
                      help="also write the readings to MongoDB at this URI (needs databay-mongo)")
    demo.add_argument("--mongo-database", default="databay_demo", metavar="NAME",
                      help="MongoDB database of --mongo-uri (default databay_demo)")
    demo.add_argument("--interval", default=None, metavar="TIME",
                      help="time between transfers (default: the pipeline's 1s)")
    demo.add_argument("--serve-only", action="store_true",
                      help="only serve the readings (for 'databay run "
                           "examples/pipelines/demo.toml'), until Ctrl-C or --duration")
    demo.add_argument("--port", type=int, default=None,
                      help="port of the HTTP source (default: a free one; 8765 with "
                           "--serve-only)")
    demo.add_argument("--print-pipeline", action="store_true",
                      help="print the demo's pipeline file and exit")
    _status_option(demo)
    _plugin_options(demo)
    demo.set_defaults(func=_cmd_demo)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from databay.cli._commands import run

    return run(args)


def _cmd_validate(args: argparse.Namespace) -> int:
    from databay.cli._commands import validate

    return validate(args)


def _cmd_plugins(args: argparse.Namespace) -> int:
    from databay.cli._commands import list_plugins

    return list_plugins(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from databay.cli._demo import demo

    return demo(args)


def _report(exc: CliError, debug: bool) -> None:
    if debug:
        print_traceback(exc.cause or exc)
    print_error(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        debug = bool(getattr(args, "debug", False))
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        code: int = args.func(args)
        return code
    except CliError as exc:
        _report(exc, debug)
        return exc.code
    except PipelineError as exc:
        report_pipeline_error(exc, debug)
        return EXIT_USAGE
    except BrokenPipeError:  # `databay plugins | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("databay: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
