"""``databay run``, ``databay validate`` and ``databay plugins``."""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import logging
import os
import sys
import time
from typing import Any

from databay import plugins
from databay.cli._errors import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    print_error,
    report_pipeline_error,
)
from databay.cli._run import Outcome, run_pipeline
from databay.cli._status import summary_lines
from databay.pipeline import Pipeline, PipelineError, load_pipeline

__all__ = ["list_plugins", "print_outcome", "run", "validate"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def print_outcome(command: str, pipeline: Pipeline, outcome: Outcome) -> None:
    """The end-of-run summary on stdout; the failure reason, if any, on stderr."""
    how = {"duration": "after the set duration", "finished": "", "failure": "after a failure",
           "forced": "forced"}.get(outcome.stopped_by or "", f"by {outcome.stopped_by}")
    stopped = f", stopped {how}" if outcome.stopped_by and how else ""
    print(f"{command}: {_plural(len(outcome.stats), 'link')} ran for "
          f"{outcome.elapsed:.1f} s{stopped}")
    for line in summary_lines(outcome.stats):
        print(line)
    sys.stdout.flush()
    if outcome.reason:
        print_error(outcome.reason)
    if outcome.stopped_by == "forced":
        # transfers may still run in other threads, which the interpreter would wait for
        # at exit: a forced stop does not wait
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(outcome.code)


def _resolve_planner(name: str) -> type:
    """A planner by class name, or by the name of a plugin that provides one planner."""
    try:
        return plugins.resolve("planner", name)
    except ImportError as exc:
        raise CliError(str(exc), code=EXIT_USAGE) from None
    except LookupError:
        pass
    by_plugin = [p for p in plugins.plugins() if p.name == name]
    provided = by_plugin[0].provides.get("planner", []) if by_plugin else []
    if len(provided) == 1:
        return plugins.resolve("planner", provided[0])
    known = ", ".join(plugins.available("planner")) or "none (pip install databay-planners)"
    raise CliError(f"--planner {name}: no such planner; installed planners: {known}",
                   code=EXIT_USAGE)


def _accepts(cls: type, name: str) -> bool:
    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _apply_planner_options(pipeline: Pipeline, args: argparse.Namespace) -> None:
    """--planner, --role and --standby, checked before anything starts."""
    if getattr(args, "planner", None):
        cls = _resolve_planner(args.planner)
        if cls is not pipeline.planner_cls:  # the file's keywords were for another planner
            pipeline.planner_kwargs = {}
        pipeline.planner_cls, pipeline.planner_name = cls, cls.__name__
    planner_cls = pipeline.planner_cls
    for option, key, value in (("--role", "role", getattr(args, "role", None)),
                               ("--standby", "standby", getattr(args, "standby", False) or None)):
        if value is None:
            continue
        if planner_cls is None or not _accepts(planner_cls, key):
            name = pipeline.planner_name or "the planner"
            raise CliError(f"{option}: {name} has no {key}s (only planners with a {key!r} "
                           f"keyword, such as CeleryPlanner, take {option})", code=EXIT_USAGE)
        pipeline.planner_kwargs = {**pipeline.planner_kwargs, key: value}
    if planner_cls is not None and _accepts(planner_cls, "pipeline") \
            and "pipeline" not in pipeline.planner_kwargs:
        # planners that rebuild links elsewhere (workers on other hosts) need the file
        pipeline.planner_kwargs = {**pipeline.planner_kwargs, "pipeline": args.pipeline}


def run(args: argparse.Namespace) -> int:
    pipeline = load_pipeline(args.pipeline, need_planner=not args.once)
    if not args.once:
        _apply_planner_options(pipeline, args)
    links = pipeline.enabled_links
    began = time.monotonic()
    what = "once" if args.once else f"on {pipeline.planner_name}"
    limit = f" of {args.duration:g}" if args.duration else ""

    def title() -> str:
        return (f"databay run {args.pipeline}: {_plural(len(links), 'link')} {what}, "
                f"{time.monotonic() - began:.0f}{limit} s (Ctrl-C to stop)")

    outcome = run_pipeline(pipeline, once=args.once, duration=args.duration,
                           status=args.status,
                           log_level=getattr(args, "log_level", logging.WARNING),
                           debug=getattr(args, "debug", False), title=title,
                           on_forced=lambda o: print_outcome("databay run", pipeline, o),
                           options=args)
    print_outcome("databay run", pipeline, outcome)
    return outcome.code


def validate(args: argparse.Namespace) -> int:
    code = EXIT_OK
    for path in args.pipelines:
        try:
            pipeline = load_pipeline(path)
        except PipelineError as exc:
            report_pipeline_error(exc, getattr(args, "debug", False))
            print(f"{path}: {_plural(len(exc.errors), 'error')}", file=sys.stderr)
            code = EXIT_USAGE
            continue
        except CliError as exc:
            print_error(exc)
            code = EXIT_USAGE
            continue
        if not args.quiet:
            names = ", ".join(spec.name + ("" if spec.enabled else " (disabled)")
                              for spec in pipeline.links)
            print(f"{path}: OK: {_plural(len(pipeline.links), 'link')} ({names}), "
                  f"planner {pipeline.planner_name}")
            for line in fire_time_lines(pipeline):
                print(line)
        for warning in pipeline.warnings():  # valid, so the exit code stays 0
            print(f"warning: {warning}", file=sys.stderr)
    return code


def fire_time_lines(pipeline: Pipeline, count: int = 3) -> list[str]:
    """One line per link: its schedule and its next ``count`` fire times, with their UTC
    offsets (an interval's counted from now, as if the planner started now)."""
    now = datetime.datetime.now().astimezone()
    width = max((len(spec.name) for spec in pipeline.links), default=0)
    lines = []
    for spec in pipeline.links:
        schedule = spec.link.schedule
        times = ", ".join(t.isoformat(sep=" ", timespec="seconds")
                          for t in schedule.fire_times(now, count)) or "never again (past end)"
        off = "" if spec.enabled else " (disabled)"
        lines.append(f"  {spec.name:<{width}}  {schedule}{off}: next {times}")
    return lines


def _not_installed(installed: set[str]) -> dict[str, dict[str, list[str]]]:
    missing: dict[str, dict[str, list[str]]] = {}
    for kind, names in plugins.KNOWN_PROVIDERS.items():
        for name, dist in names.items():
            if dist not in installed:
                missing.setdefault(dist, {}).setdefault(f"{kind}s", []).append(name)
    return missing


def list_plugins(args: argparse.Namespace) -> int:
    """Every plugin: loaded (with what it provides), failed, clashing or disabled; then the
    first-party distributions not installed. Exit 2 when entry-point names clash."""
    infos = plugins.plugins()
    installed = {plugins._normalise(info.distribution) for info in infos if info.distribution}
    rows: list[dict[str, Any]] = []
    for info in infos:
        rows.append({
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "module": info.module,
            "loaded": info.loaded,
            "error": info.error,
            "disabled": info.disabled,
            "clashes_with": list(info.clashes_with),
            **{f"{kind}s": sorted(info.provides.get(kind, [])) for kind in plugins.KINDS},
        })
    missing = _not_installed(installed)
    clashes = sorted({info.name for info in infos if info.clashes_with})
    if args.json:
        json.dump({"plugins": rows,
                   "not_installed": [{"distribution": dist, **provides}
                                     for dist, provides in sorted(missing.items())]},
                  sys.stdout, indent=2)
        print()
    else:
        _print_plugins(rows, missing)
    for name in clashes:
        row = next(r for r in rows if r["name"] == name and r["clashes_with"])
        who = " ".join(p for p in (row["distribution"], row["version"]) if p) or row["module"]
        print(f"databay: error: entry-point name clash: {who} and "
              f"{' and '.join(row['clashes_with'])} each register a databay plugin named "
              f"{name!r} (see above)", file=sys.stderr)
    return EXIT_USAGE if clashes else EXIT_OK


def _print_plugins(rows: list[dict[str, Any]], missing: dict[str, dict[str, list[str]]]) -> None:
    for row in rows:
        origin = " ".join(p for p in (row["distribution"], row["version"]) if p) or \
            (row["module"] or "registered at run time")
        print(f"{row['name']}  ({origin})")
        if row["disabled"]:
            print(f"  installed, not loaded: {row['disabled']}")
        elif row["clashes_with"] and row["loaded"]:
            print(f"  error: entry-point name clash with {', '.join(row['clashes_with'])} "
                  f"(first-party: this one keeps the name {row['name']!r})")
        if row["error"]:
            prefix = "error" if row["clashes_with"] else "failed to load"
            print(f"  {prefix}: {row['error']}")
        for kind in plugins.KINDS:
            if row[f"{kind}s"]:
                label = kind.replace("_", " ") + "s:"
                print(f"  {label:13} {', '.join(row[f'{kind}s'])}")
    if missing:
        print()
        print("Not installed:")
        for dist, provides in sorted(missing.items()):
            names = ", ".join(n for kind in plugins.KINDS for n in provides.get(f"{kind}s", []))
            print(f"  {dist}  ({names}): pip install {dist}")
