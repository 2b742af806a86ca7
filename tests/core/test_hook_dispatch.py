"""Core calls observation hooks itself (not through pluggy's dispatch): each
implementation gets the arguments it names, in pluggy's order; one that raises is logged
and the others still run; a wrapper implementation sends the hook through pluggy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from databay import Link, plugins
from databay.hookspecs import hookimpl
from databay.outlets import NullOutlet
from databay.testing.planners import RecordingInlet

calls: list[tuple[str, Any]] = []


class First:
    @hookimpl
    def databay_transfer_finished(self, result: Any) -> None:  # a subset of the arguments
        calls.append(("first", result.pulled))


class Raising:
    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Any, result: Any) -> None:
        raise RuntimeError("observer bug")


class Last:
    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Any, result: Any) -> None:
        calls.append(("last", str(update)))


class Wrapper:
    @hookimpl(wrapper=True)
    def databay_transfer_finished(self, link: Link, update: Any, result: Any) -> Any:
        calls.append(("wrapper", None))
        return (yield)


@pytest.fixture
def registered() -> Iterator[Any]:
    names: list[str] = []

    def register(*plugins_: object) -> None:
        for plugin in plugins_:
            names.append(plugins.register(plugin, name=f"dispatch-{id(plugin)}"))

    calls.clear()
    try:
        yield register
    finally:
        for name in names:
            plugins.unregister(name)


def test_each_implementation_gets_what_it_names_and_a_raise_stops_none(
        registered: Any, caplog: pytest.LogCaptureFixture) -> None:
    registered(First(), Raising(), Last())
    link = Link(RecordingInlet(), NullOutlet(), interval=1, tags=["t"])
    link.transfer()
    # pluggy's order: the last registered first
    assert [name for name, _ in calls] == ["last", "first"]
    assert calls[0][1].startswith("t.") and calls[1] == ("first", 1)
    assert "databay_transfer_finished hook implementation raised" in caplog.text


def test_a_wrapper_goes_through_pluggy(registered: Any) -> None:
    registered(Last(), Wrapper())
    Link(RecordingInlet(), NullOutlet(), interval=1, tags=["w"]).transfer()
    assert [name for name, _ in calls] == ["wrapper", "last"]
