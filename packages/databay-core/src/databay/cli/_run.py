"""Running a pipeline: once, for a while, or until a signal; always shutting down cleanly."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TextIO

from databay._hooks import fire as _fire
from databay.base_planner import BasePlanner
from databay.cli._errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError
from databay.cli._status import (
    CliFormatter,
    Display,
    DisplayHandler,
    LinkStats,
    StatusTracker,
    make_display,
    unhandled_errors,
)
from databay.errors import DatabayError
from databay.inlet import Inlet
from databay.link import Link
from databay.outlet import Outlet
from databay.pipeline import Pipeline
from databay.redact import RedactingFilter, redact_text

__all__ = ["Outcome", "StopRequest", "cli_logging", "run_pipeline"]

_LOGGER = logging.getLogger("databay.cli")
_FORCED_REASON = "interrupted: stopped without waiting for transfers in flight"


@dataclass
class Outcome:
    """How a run ended: exit code, a one-line reason when it failed, the counts."""

    code: int
    reason: str | None
    stats: list[LinkStats] = field(default_factory=list)
    stopped_by: str | None = None
    elapsed: float = 0.0


@contextlib.contextmanager
def cli_logging(display: Display, level: int, debug: bool) -> Iterator[None]:
    """Route log lines through ``display``; ``level`` for databay's loggers."""
    handler = DisplayHandler(display)
    handler.setFormatter(CliFormatter(tracebacks=debug))
    handler.addFilter(RedactingFilter())  # every logger's lines, a plugin's or a driver's
    root = logging.getLogger()
    logger = logging.getLogger("databay")
    old_level = logger.level
    root.addHandler(handler)  # databay's own stderr handler stays quiet while root has one
    logger.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        logger.setLevel(old_level)


class StopRequest:
    """Why and when to stop: SIGINT/SIGTERM (graceful, a second one forces), a duration,
    or the caller. Signal handlers are installed only in the main thread."""

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self.event = threading.Event()
        self.reason: str | None = None
        self.forced = False
        self.signals = 0
        #: called (in a thread of its own) when a signal asks to stop
        self.on_request: Callable[[], None] | None = None
        #: called (in a thread of its own) when a second signal forces the stop; without
        #: it, the second signal raises KeyboardInterrupt in the main thread
        self.on_force: Callable[[str], None] | None = None
        self._notify = notify
        self._previous: dict[int, Any] = {}

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.signals += 1
        if self.signals > 1:
            self.forced = True
            if self.on_force is None:
                raise KeyboardInterrupt(f"{name} received again: stopping without waiting")
            # an exception raised into whatever the main thread is doing can leave a
            # lock of the planner or of threading held: the forced stop runs elsewhere
            if self.signals == 2:
                threading.Thread(target=self.on_force, args=(name,),
                                 name="databay-cli-force", daemon=True).start()
            return
        self.request(name)
        # the handler may have interrupted code that holds a lock these need: not here
        threading.Thread(target=self._after_signal, args=(name,), daemon=True).start()

    def _after_signal(self, name: str) -> None:
        if self.on_request is not None:
            self.on_request()
        if self._notify is not None:
            self._notify(f"databay: {name} received: stopping once the transfers in flight "
                         f"finish (press Ctrl-C again to stop at once)")

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGINT", "SIGTERM"):
                signum = getattr(signal, name, None)
                if signum is None:
                    continue
                with contextlib.suppress(ValueError, OSError):
                    self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, handler)
        self._previous.clear()


def _nodes(link: Link) -> list[Inlet | Outlet]:
    dead_letter = getattr(link, "dead_letter", None)
    return [*link.inlets, *link.outlets, *([dead_letter] if dead_letter is not None else [])]


def _start_nodes(pipeline: Pipeline) -> str | None:
    """Start every node of the enabled links, one by one so that a failure names its
    node; the first failure, as a one-line reason."""
    for spec in pipeline.enabled_links:
        link = spec.link
        for node in _nodes(link):
            try:
                node.try_start()
            except Exception as exc:
                _LOGGER.error("link %r: starting %r failed: %r", spec.name, node, exc,
                              exc_info=exc)
                _fire("databay_link_start_failed", link=link, error=exc)
                if link.ignore_exceptions:
                    continue
                return redact_text(f"link {spec.name!r}: starting {node!r} failed: "
                                   f"{type(exc).__name__}: {exc}")
        try:
            link.on_start()  # the nodes are active already: this readies the link itself
        except Exception as exc:
            _fire("databay_link_start_failed", link=link, error=exc)
            return redact_text(f"link {spec.name!r}: starting failed: {type(exc).__name__}: {exc}")
    return None


def _shutdown_nodes(pipeline: Pipeline) -> None:
    for spec in pipeline.links:
        for node in _nodes(spec.link):
            try:
                node.try_shutdown()
            except Exception as exc:
                _LOGGER.error("link %r: shutting down %r failed: %r", spec.name, node, exc,
                              exc_info=exc)


def run_pipeline(
    pipeline: Pipeline,
    *,
    once: bool = False,
    duration: float | None = None,
    status: str = "auto",
    log_level: int = logging.WARNING,
    debug: bool = False,
    stream: TextIO | None = None,
    title: Callable[[], str] | None = None,
    on_forced: Callable[[Outcome], object] | None = None,
    options: argparse.Namespace | None = None,
) -> Outcome:
    """Run the enabled links of ``pipeline``: one transfer each (``once``), or on its
    planner until a signal or ``duration`` seconds. Every node started gets
    ``on_shutdown``; transfers in flight finish first.

    A second SIGINT/SIGTERM forces the stop: with ``on_forced``, a thread of its own
    hands it the outcome (which should report it) and ends the process with exit code
    130 without waiting for anything; without, KeyboardInterrupt is raised in the main
    thread and the run returns a forced outcome.

    ``options`` (the parsed command line) is handed to plugins' ``databay_cli_run_starting``
    hook once the planner is made (not with ``once``); the services they return are
    closed when the planner has stopped."""
    stream = stream if stream is not None else sys.stderr
    names = {spec.link: spec.name for spec in pipeline.enabled_links}
    tracker = StatusTracker(names)
    display = make_display(status, tracker, stream, title)
    began = time.monotonic()
    with tracker, cli_logging(display, log_level, debug), \
            StopRequest(display.write) as stop:
        if on_forced is not None:
            def force(name: str) -> None:
                forced = Outcome(EXIT_INTERRUPTED, _FORCED_REASON, stopped_by="forced")
                try:
                    forced.stats = tracker.snapshot()
                    forced.elapsed = time.monotonic() - began
                    display.stop()
                    on_forced(forced)
                finally:
                    # transfers may still run in other threads, which the interpreter
                    # would wait for at exit: a forced stop does not wait
                    with contextlib.suppress(Exception):
                        sys.stdout.flush()
                        sys.stderr.flush()
                    os._exit(forced.code)

            stop.on_force = force
        display.start()
        try:
            if once:
                outcome = _once(pipeline, stop, debug)
            else:
                outcome = _scheduled(pipeline, tracker, stop, duration, options)
        except KeyboardInterrupt:
            outcome = Outcome(EXIT_INTERRUPTED, _FORCED_REASON, stopped_by="forced")
        finally:
            try:
                _shutdown_nodes(pipeline)
            finally:
                display.stop()
    outcome.stats = tracker.snapshot()
    outcome.elapsed = time.monotonic() - began
    return outcome


def _once(pipeline: Pipeline, stop: StopRequest, debug: bool) -> Outcome:
    def interrupt() -> None:
        # ends a retry wait at once, as planners do at shutdown
        for spec in pipeline.enabled_links:
            with contextlib.suppress(AttributeError):
                spec.link.interrupt()

    stop.on_request = interrupt
    pipeline.lend_state_store()  # no planner runs the links here
    failure = _start_nodes(pipeline)
    if failure is not None:
        return Outcome(EXIT_FAILED, failure)
    failures: list[str] = []
    skipped = []
    for spec in pipeline.enabled_links:
        if stop.event.is_set():
            skipped.append(spec.name)
            continue
        try:
            result = spec.link.transfer()
        except Exception as exc:
            # the reason line says it all; with --debug, the traceback too
            _LOGGER.log(logging.ERROR if debug else logging.DEBUG,
                        "link %r: transfer failed: %r", spec.name, exc, exc_info=exc)
            failures.append(redact_text(
                f"link {spec.name!r}: transfer failed: {type(exc).__name__}: {exc}"))
            continue
        count = unhandled_errors(result)
        if count:
            last = result.errors[-1]
            failures.append(f"link {spec.name!r}: {count} error(s) (ignored by "
                            f"the link): {type(last).__name__}: {last}")
    if skipped:
        failures.append(f"stopped by {stop.reason} before link(s) "
                        f"{', '.join(map(repr, skipped))} transferred")
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return Outcome(EXIT_FAILED, failures[0] + more, stopped_by=stop.reason)
    return Outcome(EXIT_OK, None, stopped_by=stop.reason)


def _start_services(options: argparse.Namespace | None, pipeline: Pipeline,
                    planner: BasePlanner) -> list[Any]:
    """The plugins' services for this run (databay_cli_run_starting); a refusal is a
    usage error naming it."""
    if options is None:
        return []
    from databay import plugins

    try:
        found = plugins.get_plugin_manager().hook.databay_cli_run_starting(
            options=options, pipeline=pipeline, planner=planner)
    except (DatabayError, ValueError, OSError) as exc:
        raise CliError(redact_text(str(exc)), code=EXIT_USAGE) from exc
    return [service for service in found if service is not None]


def _close_services(services: list[Any]) -> None:
    for service in reversed(services):
        try:
            service.close()
        except Exception as exc:
            _LOGGER.error("closing %r failed: %r", service, exc, exc_info=exc)


def _scheduled(pipeline: Pipeline, tracker: StatusTracker, stop: StopRequest,
               duration: float | None, options: argparse.Namespace | None = None) -> Outcome:
    planner = pipeline.make_planner()
    services = _start_services(options, pipeline, planner)
    try:
        return _scheduled_on(planner, pipeline, tracker, stop, duration)
    finally:
        _close_services(services)


def _scheduled_on(planner: BasePlanner, pipeline: Pipeline, tracker: StatusTracker,
                  stop: StopRequest, duration: float | None) -> Outcome:
    tracker.next_fire = planner.next_fire_time  # status lines show each link's next fire
    if "handle_signals" not in pipeline.planner_kwargs:
        # the command handles SIGINT/SIGTERM itself: graceful first, forced second. Set
        # on the planner, not passed to it, so that it holds whatever its constructor
        # takes (a planner taking **kwargs, or none of BasePlanner's keywords)
        planner.handle_signals = False
    name_links = getattr(planner, "name_links", None)
    if callable(name_links):  # planners that address links by name (CeleryPlanner)
        name_links({spec.name: spec.link for spec in pipeline.enabled_links})
    if getattr(planner, "runs_transfers", True):  # e.g. a Celery beat only publishes ticks
        failure = _start_nodes(pipeline)
        if failure is not None:
            return Outcome(EXIT_FAILED, failure)
    main_done = threading.Event()

    def stopper() -> None:
        if not stop.event.wait(duration):
            stop.request("duration")
        # a shutdown that lands before start() has begun is forgotten by the planner:
        # repeat it until the main thread is done (shutdown is harmless when repeated)
        while not main_done.is_set():
            planner.shutdown(wait=True)
            if main_done.wait(0.2):
                return

    thread = threading.Thread(target=stopper, name="databay-cli-stopper", daemon=True)
    thread.start()
    try:
        try:
            planner.start()
        except DatabayError as exc:  # refused to start (a second Celery beat, ...)
            stop.request("failure")
            code = EXIT_USAGE if type(exc).__name__ == "BeatLockedError" else EXIT_FAILED
            return Outcome(code, str(exc), stopped_by="failure")
        # a planner whose start() does not block: wait here until told to stop
        while planner.running and not stop.event.wait(0.2):
            pass
        while planner.running:  # the stopper is shutting it down
            time.sleep(0.05)
    except KeyboardInterrupt:
        stop.forced = True
        planner.shutdown(wait=False)
        raise
    finally:
        main_done.set()
        if not stop.event.is_set():
            stop.request("finished")  # the planner stopped on its own
        thread.join(1 if stop.forced else None)
    if stop.reason == "finished":
        failed = tracker.last_failure()
        if failed is not None:
            reason = f"the planner stopped: link {failed[0]!r} failed: {failed[1]}"
        else:
            reason = "the planner stopped on its own (see the log above)"
        return Outcome(EXIT_FAILED, reason, stopped_by="failure")
    return Outcome(EXIT_OK, None, stopped_by=stop.reason)
