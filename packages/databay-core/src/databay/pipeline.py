"""Pipelines: a TOML file (or a dict) in, validated links, planner and state store out.

This is the public home of databay's pipeline format, read by the ``databay`` command,
by databay-celery's workers and beat, and by any program or plugin::

    from databay.pipeline import load_pipeline, PipelineError

    try:
        pipeline = load_pipeline("pipeline.toml")
    except PipelineError as exc:
        for problem in exc.errors:      # every problem found, not only the first
            print(problem)
    else:
        planner = pipeline.make_planner()
        planner.start()

Every problem is collected as a :class:`Problem` naming the file, the link, the node and
the key, so that ``databay validate`` reports all of them at once. Classes are found by
name through the plugin registry (or as ``"package.module:ClassName"``); their keyword
arguments are checked against the constructor's signature before the class is called.
The file format itself is described in docs/cli.md.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import importlib
import inspect
import math
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from databay import plugins
from databay.base_planner import BasePlanner
from databay.delivery import RetryPolicy, StateStore, dead_letter_warning
from databay.errors import (
    DatabayError,
    PluginNotFoundError,
    ScheduleIntervalError,
    UnsupportedScheduleError,
)
from databay.inlet import Inlet
from databay.link import Link
from databay.outlet import Outlet
from databay.plugins import Kind
from databay.redact import redact_text
from databay.schedules import (
    CRON_FORMS,
    ZONE_FORMS,
    Cron,
    Interval,
    local_timezone,
    resolve_timezone,
)

__all__ = [
    "DEFAULT_PLANNERS",
    "INTERVAL_FORMS",
    "LinkSpec",
    "Pipeline",
    "PipelineError",
    "Problem",
    "UnsetVariable",
    "build_pipeline",
    "load_pipeline",
    "parse_interval",
    "parse_toml",
    "read_toml",
    "substitute",
]

#: Tried in order when a file has no ``[planner]`` table: databay-planners' when it is
#: installed, else databay-core's own ThreadPlanner (always there).
DEFAULT_PLANNERS = ("ApsPlanner", "SchedulePlanner", "ThreadPlanner")

INTERVAL_FORMS = ('a number of seconds (5, 0.5) or a number with a unit: "250ms", "5s", '
                  '"1m", "1h", "1d", or a sum such as "1m30s"')

TOP_KEYS = ("planner", "links")
LINK_KEYS = ("name", "interval", "schedule", "timezone", "jitter", "start", "end", "tags",
             "enabled", "copy_records", "ignore_exceptions", "immediate_transfer",
             "inlet_concurrency", "batch_size", "processors", "groupers", "retry",
             "dead_letter", "state_store", "inlets", "outlets")
_LINK_FLAGS = ("enabled", "copy_records", "ignore_exceptions", "immediate_transfer")
_BASES: dict[Kind, type] = {"inlet": Inlet, "outlet": Outlet, "planner": BasePlanner,
                             "state_store": StateStore}

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)")
_INTERVAL_FULL = re.compile(r"(?:(?:\d+(?:\.\d+)?|\.\d+)\s*(?:ms|s|m|h|d)\s*)+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_ENV_REF = re.compile(r"\$(?:(\$)|\{([^}]*)\}|(\{.*))")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# -- small parsers ----------------------------------------------------------------------


def parse_interval(value: Any) -> datetime.timedelta:
    """A positive timedelta from a number of seconds or a string like ``"250ms"``,
    ``"5s"``, ``"1m30s"``. ValueError/TypeError otherwise, naming the accepted forms."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"expected {INTERVAL_FORMS}; got {type(value).__name__} {value!r}")
    if isinstance(value, str):
        text = value.strip().lower()
        if _NUMBER.fullmatch(text):
            seconds = float(text)
        elif _INTERVAL_FULL.fullmatch(text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _INTERVAL_PART.findall(text))
        else:
            raise ValueError(f"invalid interval {value!r}; expected {INTERVAL_FORMS}")
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"invalid interval {value!r}: it must be more than zero")
    return datetime.timedelta(seconds=seconds)


class UnsetVariable(LookupError):
    """A ``${NAME}`` whose variable is not set and has no default."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def substitute(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` with ``${NAME}`` and ``${NAME:-default}`` replaced from ``env`` in every
    string (recursively in lists and tables); ``$$`` is a literal ``$``. Raises
    :class:`UnsetVariable` or ValueError for a malformed reference."""
    if isinstance(value, str):
        if "$" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            if match.group(1):
                return "$"
            if match.group(3) is not None:
                raise ValueError(f"unclosed '${{' in {value!r}; use ${{NAME}}, "
                                 f"${{NAME:-default}}, or $$ for a literal $")
            name, sep, default = match.group(2).partition(":-")
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"invalid reference '${{{match.group(2)}}}'; use ${{NAME}}, "
                                 f"${{NAME:-default}}, or $$ for a literal $")
            found = env.get(name)
            if found is None or (sep and found == ""):
                if sep:
                    return default
                raise UnsetVariable(name)
            return found

        return _ENV_REF.sub(replace, value)
    if isinstance(value, list):
        return [substitute(item, env) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, env) for key, item in value.items()}
    return value


def _import_ref(ref: str) -> Any:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{ref!r} is not a reference of the form 'package.module:name'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} of {ref!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


# -- errors ---------------------------------------------------------------------------


class Problem:
    """One problem in a pipeline: where it is (file, link, node, key) and what.

    ``str(problem)`` is one line, ``"<source>: <where>, key '<key>': <message>"``;
    ``cause`` is the exception behind it, if any; ``missing_plugin`` is true when the
    problem is a class whose plugin is not installed.
    """

    __slots__ = ("cause", "key", "message", "missing_plugin", "source", "where")

    def __init__(self, source: str, where: str, key: str | None, message: str,
                 cause: BaseException | None = None, missing_plugin: bool = False) -> None:
        self.source = source
        self.where = where
        self.key = key
        self.message = redact_text(message)  # a node's error may quote what it was given
        self.cause = cause
        self.missing_plugin = missing_plugin

    def __str__(self) -> str:
        parts = [p for p in (self.where, f"key {self.key!r}" if self.key else "") if p]
        place = ", ".join(parts)
        return f"{self.source}: {place}: {self.message}" if place else \
            f"{self.source}: {self.message}"

    __repr__ = __str__


class PipelineError(DatabayError, ValueError):
    """A pipeline could not be read or built. ``errors`` holds every :class:`Problem`
    found (a file that cannot be read or parsed has one); ``str()`` is the first, with a
    count of the others."""

    def __init__(self, errors: Sequence[Problem]) -> None:
        self.errors = list(errors)
        first = self.errors[0] if self.errors else "invalid pipeline"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{first}{more}")

    @classmethod
    def single(cls, source: str, message: str,
               cause: BaseException | None = None) -> PipelineError:
        """A PipelineError with one problem about the whole of ``source``."""
        return cls([Problem(source, "", None, message, cause)])


# -- the result -------------------------------------------------------------------------


@dataclass
class LinkSpec:
    """A link built from the file, with its name and whether it runs."""

    name: str
    link: Link
    enabled: bool = True


@dataclass
class Pipeline:
    """What a pipeline file describes, built and checked."""

    source: str
    links: list[LinkSpec]
    planner_name: str | None = None
    planner_cls: type[BasePlanner] | None = None
    planner_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def enabled_links(self) -> list[LinkSpec]:
        return [spec for spec in self.links if spec.enabled]

    def lend_state_store(self) -> None:
        """Give ``[planner.state_store]`` to every enabled link without a store of its own
        (and with tags to name its checkpoints), as a planner does when it starts them:
        for links run without the file's planner (``--once``, Celery workers)."""
        store = self.planner_kwargs.get("state_store")
        if store is None:
            return
        for spec in self.enabled_links:
            if spec.link.state_store is None and spec.link.tags:
                spec.link.state_store = store

    def warnings(self) -> list[Problem]:
        """What is valid but likely not meant: today, a dead-letter outlet that would
        drop the records' ``DEAD_LETTER`` details. ``databay validate`` prints them."""
        found = []
        for spec in self.links:
            message = dead_letter_warning(spec.link)
            if message is not None:
                found.append(Problem(self.source, f"link {spec.name!r}", "dead_letter", message))
        return found

    def make_planner(self) -> BasePlanner:
        """A new planner with the enabled links added."""
        if self.planner_cls is None:
            raise PipelineError.single(self.source, _no_planner_message())
        planner = self.planner_cls(**self.planner_kwargs)
        planner.add_links([spec.link for spec in self.enabled_links])
        return planner


def _no_planner_message() -> str:
    return ("the pipeline has no planner to run the links on a schedule: name one in "
            "[planner] type = ... (or use --once for a single transfer)")


# -- loading ----------------------------------------------------------------------------


def _toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # declared for Python 3.10 in databay-core's dependencies

    return tomli


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed file, or PipelineError naming the file and the TOML problem."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise PipelineError.single(name, "no such file") from None
    except IsADirectoryError:
        raise PipelineError.single(name, "is a directory, expected a pipeline TOML file") from None
    except OSError as exc:
        raise PipelineError.single(name, f"cannot read: {exc.strerror or exc}") from None
    return parse_toml(raw, name)


def parse_toml(raw: bytes | str, source: str) -> dict[str, Any]:
    toml = _toml_module()
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data: dict[str, Any] = toml.loads(text)
    except UnicodeDecodeError as exc:
        raise PipelineError.single(
            source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except toml.TOMLDecodeError as exc:
        raise PipelineError.single(source, f"invalid TOML: {exc}") from None
    return data


def load_pipeline(path: str | os.PathLike[str], env: Mapping[str, str] | None = None,
                  *, need_planner: bool = True) -> Pipeline:
    """Read, check and build a pipeline file. Raises PipelineError with every problem."""
    data = read_toml(path)
    return build_pipeline(data, os.fspath(path), env, need_planner=need_planner)


def build_pipeline(data: Mapping[str, Any], source: str, env: Mapping[str, str] | None = None,
                   *, need_planner: bool = True) -> Pipeline:
    """Check and build a parsed pipeline. Raises PipelineError with every problem."""
    builder = _Builder(source, os.environ if env is None else env)
    pipeline = builder.build(data, need_planner)
    if builder.errors:
        raise PipelineError(builder.errors)
    return pipeline


class _Skip(Exception):
    """This part of the file has an error (already recorded); skip what depends on it."""


class _Builder:
    def __init__(self, source: str, env: Mapping[str, str]) -> None:
        self.source = source
        self.env = env
        self.errors: list[Problem] = []

    def error(self, where: str, key: str | None, message: str,
              cause: BaseException | None = None, missing_plugin: bool = False) -> _Skip:
        self.errors.append(Problem(self.source, where, key, message, cause, missing_plugin))
        return _Skip()

    def value(self, raw: Any, where: str, key: str) -> Any:
        try:
            return substitute(raw, self.env)
        except UnsetVariable as exc:
            raise self.error(where, key, f"environment variable {exc.name} is not set "
                             f"(set it, or write ${{{exc.name}:-default}} for a default)"
                             ) from None
        except ValueError as exc:
            raise self.error(where, key, str(exc)) from None

    # -- the whole file ------------------------------------------------------------------

    def build(self, data: Mapping[str, Any], need_planner: bool) -> Pipeline:
        for key in data:
            if key not in TOP_KEYS:
                self.error("", key, f"unknown top-level key{_suggest(key, list(TOP_KEYS))}; "
                           f"a pipeline file has: [planner] and [[links]]")
        pipeline = Pipeline(self.source, [])
        self.planner(data.get("planner"), pipeline, need_planner)
        links = data.get("links")
        if links is None:
            self.error("", "links", "no links: add at least one [[links]] table with a name, "
                       "an interval, [[links.inlets]] and [[links.outlets]]")
            return pipeline
        if not isinstance(links, list) or not all(isinstance(t, dict) for t in links):
            self.error("", "links", f"must be an array of tables ([[links]]), "
                       f"got {_describe(links)}")
            return pipeline
        if not links:
            self.error("", "links", "no links: add at least one [[links]] table")
        seen: set[str] = set()
        for index, table in enumerate(links):
            try:
                spec = self.link(index, table, seen)
            except _Skip:
                continue
            pipeline.links.append(spec)
        if links and not any(isinstance(t, dict) and t.get("enabled", True) is not False
                             for t in links):
            self.error("", "links", "every link has enabled = false: nothing to run")
        if need_planner:
            self.schedulable(pipeline)
        return pipeline

    def schedulable(self, pipeline: Pipeline) -> None:
        """Let the planner schedule every link (not started: nothing runs), so that an
        interval it cannot honour is reported now."""
        if pipeline.planner_cls is None or not pipeline.links:
            return
        try:
            planner = pipeline.planner_cls(**pipeline.planner_kwargs)
        except Exception:
            return  # reported with [planner]
        try:
            for spec in pipeline.links:
                try:
                    planner.add_links(spec.link)
                except UnsupportedScheduleError as exc:
                    self.error(f"link {spec.name!r}", "schedule", str(exc), exc)
                except ScheduleIntervalError as exc:
                    self.error(f"link {spec.name!r}", "interval", str(exc), exc)
                except Exception as exc:
                    self.error(f"link {spec.name!r}", None, f"{pipeline.planner_name} cannot "
                               f"schedule it: {type(exc).__name__}: {exc}", exc)
        finally:
            with contextlib.suppress(Exception):
                planner.purge()

    # -- planner -------------------------------------------------------------------------

    def planner(self, table: Any, pipeline: Pipeline, need_planner: bool) -> None:
        where = "[planner]"
        if table is None:
            for name in DEFAULT_PLANNERS:
                if name in plugins.registry("planner"):
                    try:
                        pipeline.planner_cls = self.resolve("planner", name, where, "type")
                    except _Skip:
                        return
                    pipeline.planner_name = name
                    return
            if need_planner:  # only when the built-ins were unregistered
                installed = ", ".join(plugins.available("planner")) or "none"
                self.errors.append(Problem(
                    self.source, where, None,
                    f"no [planner] table, and none of {', '.join(DEFAULT_PLANNERS)} is "
                    f"installed: name one of the installed planners ({installed}) in "
                    f"[planner] type = ...", missing_plugin=True))
            return
        if not isinstance(table, dict):
            self.error("", "planner", f"must be a table ([planner]), got {_describe(table)}")
            return
        try:
            raw_type = table.get("type")
            if raw_type is None:
                installed = ", ".join(plugins.available("planner")) or "none"
                raise self.error(where, "type", f"missing; name the planner class "
                                 f"(installed planners: {installed})")
            name = self.value(raw_type, where, "type")
            if not isinstance(name, str):
                raise self.error(where, "type", f"must be a class name, got {_describe(name)}")
            cls = self.resolve("planner", name, where, "type")
            where = f"[planner] ({name})"
            raw_store = table.get("state_store")
            if isinstance(raw_store, dict):  # [planner.state_store]: a store for every link
                table = {k: v for k, v in table.items() if k != "state_store"}
            kwargs = self.kwargs(cls, table, where, exclude=("links",))
            if isinstance(raw_store, dict):
                accepted, _, open_ended = _parameters(cls, ("links",))
                if accepted is not None and "state_store" not in accepted and not open_ended:
                    raise self.error(where, "state_store", f"unknown key; {name} takes no "
                                     f"state store (give each link one instead: "
                                     f"[links.state_store])")
                kwargs["state_store"] = self.node("state_store", raw_store,
                                                  f"{where}, state_store")
            try:
                cls(**kwargs)  # constructors check their arguments: check them now
            except Exception as exc:
                raise self.error(where, None, f"{name}(...) rejected its arguments: "
                                 f"{type(exc).__name__}: {exc}", exc) from None
        except _Skip:
            return
        pipeline.planner_name = name
        pipeline.planner_cls = cls
        pipeline.planner_kwargs = kwargs

    # -- links ---------------------------------------------------------------------------

    def link(self, index: int, table: dict[str, Any], seen: set[str]) -> LinkSpec:
        where = f"links[{index}]"
        name = table.get("name")
        if name is None:
            self.error(where, "name", "missing; every link needs a unique name")
        elif not isinstance(name, str) or not name.strip():
            self.error(where, "name", f"must be a non-empty string, got {_describe(name)}")
            name = None
        elif name in seen:
            where = f"link {name!r} ({where})"
            self.error(where, "name", "another link has this name; link names must be unique")
        else:
            seen.add(name)
            where = f"link {name!r}"
        failed = len(self.errors)
        for key in table:
            if key not in LINK_KEYS:
                self.error(where, key, f"unknown key{_suggest(key, list(LINK_KEYS))}; "
                           f"a link accepts: {', '.join(LINK_KEYS)}")
        options: dict[str, Any] = {}
        with contextlib.suppress(_Skip):
            self.when(table, where, options)
        for key in _LINK_FLAGS:
            if key in table:
                try:
                    value = self.value(table[key], where, key)
                except _Skip:
                    continue
                if not isinstance(value, bool):
                    self.error(where, key, f"must be true or false, got {_describe(value)}")
                else:
                    options[key] = value
        tags: Any = [name] if name is not None else []
        if "tags" in table:
            try:
                tags = self.value(table["tags"], where, "tags")
            except _Skip:
                tags = []
            if isinstance(tags, str):
                tags = [tags]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                self.error(where, "tags", f"must be a string or a list of strings, "
                           f"got {_describe(tags)}")
        options["tags"] = tags
        if "inlet_concurrency" in table:
            try:
                value = self.value(table["inlet_concurrency"], where, "inlet_concurrency")
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise self.error(where, "inlet_concurrency",
                                     f"must be a positive integer, got {_describe(value)}")
                options["inlet_concurrency"] = value
            except _Skip:
                pass
        if "batch_size" in table:
            try:
                value = self.value(table["batch_size"], where, "batch_size")
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise self.error(where, "batch_size",
                                     f"must be a positive integer (records per chunk of a "
                                     f"streaming pull), got {_describe(value)}")
                options["batch_size"] = value
            except _Skip:
                pass
        for key in ("processors", "groupers"):
            if key in table:
                with contextlib.suppress(_Skip):
                    options[key] = self.callables(table[key], where, key)
        if "retry" in table:
            with contextlib.suppress(_Skip):
                options["retry"] = self.retry(table["retry"], where)
        extras: tuple[tuple[str, Kind], ...] = (("dead_letter", "outlet"),
                                                ("state_store", "state_store"))
        for key, kind in extras:
            if key in table:
                raw = table[key]
                if not isinstance(raw, dict):
                    self.error(where, key, f"must be a table ([links.{key}]) with a type "
                               f"and its arguments, got {_describe(raw)}")
                    continue
                with contextlib.suppress(_Skip):
                    options[key] = self.node(kind, raw, f"{where}, {key}")
        inlets = self.nodes("inlet", table.get("inlets"), where)
        outlets = self.nodes("outlet", table.get("outlets"), where)
        if len(self.errors) > failed or name is None:
            raise _Skip
        enabled = options.pop("enabled", True)
        try:
            link = Link(inlets, outlets, **options)
        except Exception as exc:
            raise self.error(where, None, f"Link(...) rejected its options: "
                             f"{type(exc).__name__}: {exc}", exc) from None
        return LinkSpec(name, link, enabled)

    def when(self, table: dict[str, Any], where: str, options: dict[str, Any]) -> None:
        """``interval`` or ``schedule`` (with ``timezone``, ``jitter``, ``start``, ``end``)
        into ``options["interval"]`` or ``options["schedule"]``."""
        raw_interval, raw_schedule = table.get("interval"), table.get("schedule")
        if raw_interval is not None and raw_schedule is not None:
            raise self.error(where, "schedule", f"a link has interval or schedule, not both: "
                             f"interval = {INTERVAL_FORMS}; or schedule = a cron expression "
                             f"({CRON_FORMS}), with timezone = {ZONE_FORMS}")
        if raw_interval is None and raw_schedule is None:
            raise self.error(where, "interval", f"missing; expected {INTERVAL_FORMS}; or "
                             f"schedule = a cron expression ({CRON_FORMS})")
        zone: datetime.tzinfo | None = None
        if "timezone" in table:
            try:
                zone = resolve_timezone(self.value(table["timezone"], where, "timezone"))
            except (TypeError, ValueError) as exc:
                raise self.error(where, "timezone", str(exc)) from None
        extras: dict[str, Any] = {}
        if "jitter" in table:
            raw = self.value(table["jitter"], where, "jitter")
            try:
                extras["jitter"] = (0.0 if raw in (0, "0") else
                                    parse_interval(raw).total_seconds())
            except (TypeError, ValueError) as exc:
                raise self.error(where, "jitter", f"{exc} (seconds of random delay per "
                                 f"fire)") from None
        for key in ("start", "end"):
            if key in table:
                value = self.value(table[key], where, key)
                if isinstance(value, datetime.time):
                    raise self.error(where, key, "must be a date-time (2026-01-01T09:00:00, "
                                     "with or without an offset), not a time of day")
                extras[key] = value
        if raw_schedule is None:
            try:
                interval = parse_interval(self.value(raw_interval, where, "interval"))
            except (TypeError, ValueError) as exc:
                raise self.error(where, "interval", str(exc)) from None
            if zone is not None and not any(k in extras for k in ("start", "end")):
                raise self.error(where, "timezone", "applies to schedule = (a cron "
                                 "expression) and to start / end; this link has none")
            if not extras:
                options["interval"] = interval
                return
            for key in ("start", "end"):  # naive: wall time in timezone (default local)
                moment = extras.get(key)
                if isinstance(moment, datetime.datetime) and moment.tzinfo is None:
                    extras[key] = moment.replace(tzinfo=zone or local_timezone())
            try:
                options["schedule"] = Interval(interval, **extras)
            except (TypeError, ValueError) as exc:
                raise self.error(where, _key_of(str(exc)), str(exc)) from None
            return
        expression = self.value(raw_schedule, where, "schedule")
        if not isinstance(expression, str):
            raise self.error(where, "schedule", f"must be a cron expression string "
                             f"({CRON_FORMS}), got {_describe(expression)}")
        try:
            options["schedule"] = Cron(expression, zone, **extras)
        except (TypeError, ValueError) as exc:
            raise self.error(where, _key_of(str(exc)), str(exc)) from None

    def retry(self, raw: Any, where: str) -> RetryPolicy | None:
        value = self.value(raw, where, "retry")
        if value is False:
            return None
        if value is True:
            value = {}
        if not isinstance(value, dict):
            raise self.error(where, "retry", f"must be true, false or a table of RetryPolicy "
                             f"arguments ([links.retry] attempts = 5 ...), got "
                             f"{_describe(value)}")
        where = f"{where}, retry (RetryPolicy)"
        accepted, _, _ = _parameters(RetryPolicy, ("retry_on",))
        for key in value:
            if accepted is not None and key not in accepted:
                self.error(where, key, f"unknown key{_suggest(key, accepted)}; "
                           f"RetryPolicy accepts: {', '.join(accepted)}")
        if accepted is not None and any(key not in accepted for key in value):
            raise _Skip
        try:
            return RetryPolicy(**value)
        except Exception as exc:
            raise self.error(where, None, f"RetryPolicy(...) rejected its arguments: "
                             f"{type(exc).__name__}: {exc}", exc) from None

    def callables(self, raw: Any, where: str, key: str) -> list[Callable[..., Any]]:
        refs = self.value(raw, where, key)
        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise self.error(where, key, f"must be a list of references "
                             f"'package.module:function', got {_describe(refs)}")
        found: list[Callable[..., Any]] = []
        for ref in refs:
            try:
                obj = _import_ref(ref)
            except ValueError as exc:
                raise self.error(where, key, str(exc), exc) from None
            if not callable(obj):
                raise self.error(where, key, f"{ref!r} is not callable")
            found.append(obj)
        return found

    # -- nodes ---------------------------------------------------------------------------

    def nodes(self, kind: Kind, raw: Any, where: str) -> list[Any]:
        key = f"{kind}s"
        if raw is None:
            self.error(where, key, f"missing; add at least one [[links.{key}]] table "
                       f"with the {kind}'s type and its arguments")
            return []
        if isinstance(raw, dict):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
            self.error(where, key, f"must be an array of tables ([[links.{key}]]), "
                       f"got {_describe(raw)}")
            return []
        if not raw:
            self.error(where, key, f"empty; a link needs at least one {kind}")
        built: list[Any] = []
        for index, table in enumerate(raw):
            try:
                built.append(self.node(kind, table, f"{where}, {key}[{index}]"))
            except _Skip:
                continue
        return built

    def node(self, kind: Kind, table: dict[str, Any], where: str) -> Any:
        raw_type = table.get("type")
        if raw_type is None:
            installed = ", ".join(plugins.available(kind)) or "none"
            raise self.error(where, "type", f"missing; name the {kind} class "
                             f"(installed {kind}s: {installed})")
        name = self.value(raw_type, where, "type")
        if not isinstance(name, str):
            raise self.error(where, "type", f"must be a class name, got {_describe(name)}")
        cls = self.resolve(kind, name, where, "type")
        where = f"{where} ({name})"
        kwargs = self.kwargs(cls, table, where)
        try:
            return cls(**kwargs)
        except Exception as exc:
            raise self.error(where, None, f"{name}(...) rejected its arguments: "
                             f"{type(exc).__name__}: {exc}", exc) from None

    def resolve(self, kind: Kind, name: str, where: str, key: str) -> type[Any]:
        base = _BASES[kind]
        if ":" in name:
            try:
                cls = _import_ref(name)
            except ValueError as exc:
                raise self.error(where, key, str(exc), exc) from None
        else:
            try:
                cls = plugins.resolve(kind, name)
            except PluginNotFoundError as exc:
                raise self.error(where, key, str(exc), exc, missing_plugin=True) from None
            except LookupError as exc:
                message = str(exc) + _suggest(name, plugins.available(kind))
                for other in plugins.KINDS:
                    if other != kind and name in plugins.registry(other):
                        message = f"{name} is an {other}, not an {kind}; {message}"
                raise self.error(where, key, message, exc) from None
            except Exception as exc:
                provider = plugins.registry(kind)[name].plugin
                raise self.error(where, key, f"{name} (from plugin {provider!r}) could not be "
                                 f"loaded: {type(exc).__name__}: {exc}", exc) from None
        if not isinstance(cls, type) or not issubclass(cls, base):
            raise self.error(where, key, f"{name} is not a subclass of {base.__name__}")
        return cls

    def kwargs(self, cls: type[Any], table: dict[str, Any], where: str,
               exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        given = {key: value for key, value in table.items() if key != "type"}
        accepted, required, open_ended = _parameters(cls, exclude)
        failed = len(self.errors)
        if accepted is not None:
            for key in given:
                if key in accepted or (open_ended and key not in exclude):
                    continue
                self.error(where, key, f"unknown key{_suggest(key, accepted)}; "
                           f"{cls.__name__} accepts: {', '.join(accepted) or 'no arguments'}")
            for key in required:
                if key not in given:
                    self.error(where, key, f"missing; {cls.__name__} requires it "
                               f"(required: {', '.join(required)})")
        kwargs: dict[str, Any] = {}
        for key, raw in given.items():
            try:
                value = self.value(raw, where, key)
            except _Skip:
                continue
            if key in ("processors", "groupers") and (
                    isinstance(value, str) or
                    (isinstance(value, list) and value and
                     all(isinstance(v, str) for v in value))):
                try:
                    value = self.callables(value, where, key)
                except _Skip:
                    continue
            kwargs[key] = value
        if len(self.errors) > failed:
            raise _Skip
        return kwargs


def _key_of(message: str) -> str:
    """The link key a schedule's error is about."""
    for key in ("jitter", "start", "end"):
        if f"({key}=...)" in message:
            return key
    return "schedule"


def _parameters(cls: type[Any], exclude: tuple[str, ...]
                ) -> tuple[list[str] | None, list[str], bool]:
    """(accepted keyword names, required ones, takes **kwargs); None when unknown."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return None, [], True
    accepted: list[str] = []
    required: list[str] = []
    open_ended = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            open_ended = True
        elif param.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                            inspect.Parameter.KEYWORD_ONLY):
            if param.name in exclude:
                continue
            accepted.append(param.name)
            if param.default is inspect.Parameter.empty:
                required.append(param.name)
    return accepted, required, open_ended
