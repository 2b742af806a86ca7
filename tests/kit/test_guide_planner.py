"""The planner of docs/writing-a-plugin.md ("Writing a planner") is complete and keeps
the planner contract; the guide's planner section names what BasePlanner offers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import databay
from databay.base_planner import BasePlanner
from databay.testing.planners import check_planner

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-plugin.md"


def planner_section() -> str:
    text = GUIDE.read_text()
    start = text.index("## Writing a planner")
    return text[start:text.index("\n## ", start + 1)]


def guide_planner() -> type[BasePlanner]:
    blocks = re.findall(r"```python\n(.*?)```", planner_section(), re.S)
    (source,) = [b for b in blocks if "class LoopPlanner(BasePlanner)" in b]
    namespace: dict[str, Any] = {"__name__": "guide_planner"}
    exec(compile(source, str(GUIDE), "exec"), namespace)
    cls: type[BasePlanner] = namespace["LoopPlanner"]
    return cls


def test_the_guide_planner_passes_the_planner_contract() -> None:
    check_planner(guide_planner())


def test_the_members_the_guide_offers_planners_exist() -> None:
    section = planner_section()
    planner = guide_planner()()
    for member in ("_run_tick", "_claim", "_run_claimed", "_release", "_links_lock",
                   "_stopping", "_block_until", "_next_fire", "handle_signals",
                   "state_store", "supports_schedules", "_schedule", "_unschedule",
                   "_start_planner", "_shutdown_planner", "running", "links",
                   "immediate_transfer", "ignore_exceptions", "allow_overlap", "paused"):
        assert f"`{member}" in section or f"self.{member}" in section, member
        assert hasattr(planner, member), member
    assert "databay.BasePlanner" in section and databay.BasePlanner is BasePlanner


# -- the Pitfalls section says what databay does today -------------------------------------


def pitfalls() -> str:
    text = GUIDE.read_text()
    start = text.index("## Pitfalls")
    return " ".join(text[start:text.index("\n## ", start + 1)].split())


class _Misspelt:
    def __init__(self, module: str) -> None:
        self.module = module

    @databay.hookspecs.hookimpl
    def databay_register_outlets(self) -> str:
        return f"{self.module}:GuideOutlet"  # a lone string

    @databay.hookspecs.hookimpl
    def databay_register_inlets(self) -> list[str]:
        return [f"{self.module}:GuideOutlet", f"{self.module}:NoSuchInlet"]

    def databay_register_inlet(self) -> list[str]:  # misspelt: never called
        return []


def test_the_pitfalls_describe_todays_behaviour(
        tmp_path: Path, monkeypatch: Any, caplog: Any) -> None:
    import logging
    import sys

    from databay import plugins

    text = pitfalls()
    (tmp_path / "guide_pitfalls.py").write_text(
        "from databay import Outlet\n\n"
        "class GuideOutlet(Outlet):\n    def push(self, records, update):\n        pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    caplog.set_level(logging.WARNING, logger="databay")
    name = plugins.register(_Misspelt("guide_pitfalls"), name="guide-pitfalls")
    try:
        from databay import inlets, outlets

        # misspelt hooks warn
        assert "logs a warning naming the function and the hook it probably meant" in text
        assert "databay_register_inlet() matches no databay hook and is never called; did " \
               "you mean 'databay_register_inlets'?" in caplog.text
        # a lone string is one reference
        assert "A lone string or class** returned by a registration hook is taken as a " \
               "list of one" in text
        assert outlets.GuideOutlet is sys.modules["guide_pitfalls"].GuideOutlet
        # a wrong class name: ImportError naming plugin, name and reference
        assert "the `ImportError` names the plugin, the name and the reference" in text
        try:
            inlets.NoSuchInlet  # noqa: B018
        except ImportError as exc:
            assert "plugin 'guide-pitfalls' registers the inlet 'NoSuchInlet' as " \
                   "'guide_pitfalls:NoSuchInlet', which cannot be imported" in str(exc)
        else:
            raise AssertionError("a wrong lazy reference imported")
        # the kind is checked
        assert "with a `TypeError` saying it is not an `Inlet` subclass" in text
        try:
            inlets.GuideOutlet  # noqa: B018
        except TypeError as exc:
            assert "is not a subclass of Inlet" in str(exc)
        else:
            raise AssertionError("an outlet imported as an inlet")
        # the old claims are gone
        for stale in ("nothing warns", "read character by character", "is not checked",
                      "without a warning"):
            assert stale not in text, stale
    finally:
        plugins.unregister(name)
        sys.modules.pop("guide_pitfalls", None)
