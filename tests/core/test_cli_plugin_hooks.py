"""databay_cli_run_options / databay_cli_run_starting / databay_link_start_failed: a
plugin adds an option to `databay run`, starts a service for the run, and hears about
links that fail to start; core alone, with an in-test plugin."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databay import Inlet, Link, plugins
from databay.base_planner import BasePlanner
from databay.cli import main
from databay.hookspecs import hookimpl
from databay.planners import ThreadPlanner

PIPELINE = """
[[links]]
name = "dice"
interval = "50ms"
[[links.inlets]]
type = "RandomIntInlet"
[[links.outlets]]
type = "NullOutlet"
"""


class Service:
    def __init__(self, planner: BasePlanner) -> None:
        self.planner = planner
        self.closed = False
        self.planner_running_when_closed: bool | None = None

    def close(self) -> None:
        self.closed = True
        self.planner_running_when_closed = self.planner.running


class Plugin:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.services: list[Service] = []
        self.seen: list[tuple[Any, Any]] = []
        self.start_failures: list[tuple[Link, BaseException]] = []

    @hookimpl
    def databay_cli_run_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--probe", metavar="WORD", default=None)

    @hookimpl
    def databay_cli_run_starting(self, options: argparse.Namespace, pipeline: Any,
                                 planner: BasePlanner) -> Any:
        self.seen.append((options.probe, [spec.name for spec in pipeline.enabled_links]))
        if options.probe is None:
            return None
        if self.refuse:
            raise ValueError(f"--probe {options.probe}: refused")
        service = Service(planner)
        self.services.append(service)
        return service

    @hookimpl
    def databay_link_start_failed(self, link: Link, error: BaseException) -> None:
        self.start_failures.append((link, error))


@pytest.fixture
def plugin() -> Iterator[Plugin]:
    made = Plugin()
    name = plugins.register(made, name="cli-hooks-test")
    try:
        yield made
    finally:
        plugins.unregister(name)


def test_an_option_and_a_service_for_the_run(tmp_path: Path, plugin: Plugin) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PIPELINE)
    code = main(["run", str(path), "--probe", "hello", "--duration", "0.3s",
                 "--status", "off", "--planner", "ThreadPlanner"])
    assert code == 0
    assert plugin.seen == [("hello", ["dice"])]
    [service] = plugin.services
    assert service.closed and service.planner_running_when_closed is False
    assert isinstance(service.planner, ThreadPlanner)


def test_without_the_option_nothing_is_started(tmp_path: Path, plugin: Plugin) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PIPELINE)
    assert main(["run", str(path), "--duration", "0.2s", "--status", "off",
                 "--planner", "ThreadPlanner"]) == 0
    assert plugin.seen == [(None, ["dice"])] and plugin.services == []


def test_a_refusal_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refusing = Plugin(refuse=True)
    name = plugins.register(refusing, name="cli-hooks-refusing")
    try:
        path = tmp_path / "p.toml"
        path.write_text(PIPELINE)
        assert main(["run", str(path), "--probe", "x", "--duration", "0.2s",
                     "--status", "off", "--planner", "ThreadPlanner"]) == 2
    finally:
        plugins.unregister(name)
    assert "--probe x: refused" in capsys.readouterr().err


class FailsToStart(Inlet):
    def on_start(self) -> None:
        raise RuntimeError("no connection")

    def pull(self, update: Any) -> list[Any]:
        return []


def test_link_start_failed_is_fired_by_the_planner(plugin: Plugin) -> None:
    link = Link(FailsToStart(), [], interval=1, tags=["broken"])
    planner = ThreadPlanner([link], handle_signals=False)
    planner.start()  # the failure shuts it down; start() returns
    assert [(failed, type(error)) for failed, error in plugin.start_failures] == \
        [(link, RuntimeError)]
