"""check_plugin and check_plugin_loads_lazily: a plugin's registration, checked."""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from databay import Inlet, Update, plugins
from databay.hookspecs import hookimpl
from databay.testing import check_plugin, check_plugin_loads_lazily

HEAVY = ["requests", "pymongo", "apscheduler", "schedule", "celery", "kombu"]


@pytest.fixture
def register() -> Iterator[Callable[..., str]]:
    names: list[str] = []

    def add(name: str, **hooks: Callable[[], Any]) -> str:
        module = types.ModuleType(name)
        for hook, func in hooks.items():
            setattr(module, hook, hookimpl(func))
        names.append(plugins.register(module, name))
        return name

    yield add
    for name in names:
        plugins.unregister(name)


def test_core_builtins_pass() -> None:
    info = check_plugin("builtins")
    assert info.provides["inlet"] == ["NullInlet", "RandomIntInlet", "FileInlet"]
    check_plugin("databay-core", provides={
        **info.provides,
        "inlet": ["FileInlet", "NullInlet", "RandomIntInlet"],
    })


def test_every_installed_first_party_plugin_passes() -> None:
    ours = [i for i in plugins.plugins() if (i.distribution or "").startswith("databay-")]
    assert ours
    for info in ours:
        check_plugin(info.name)


def test_discovering_plugins_imports_no_heavy_library() -> None:
    check_plugin_loads_lazily(HEAVY)


def test_a_heavy_import_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"^\[lazy\] discovering plugins imported "
                                             r"databay\.plugins"):
        check_plugin_loads_lazily(["databay.plugins"])


class GoodInlet(Inlet):
    def pull(self, update: Update) -> int:
        return 1


def test_a_plugin_registering_classes_passes(register: Callable[..., str]) -> None:
    register("good", databay_register_inlets=lambda: [GoodInlet])
    info = check_plugin("good", provides={"inlet": ["GoodInlet"]})
    assert info.error is None


def test_a_plugin_whose_names_are_all_taken_registers_nothing(
    register: Callable[..., str]
) -> None:
    register("late", databay_register_inlets=lambda: ["databay_late._x:RandomIntInlet"])
    with pytest.raises(AssertionError, match="or a name another plugin already provides"):
        check_plugin("late")


@pytest.mark.parametrize(("hooks", "message"), [
    ({"databay_register_inlet": lambda: ["databay.inlets.null_inlet:NullInlet"]},
     "databay_register_inlet (did you mean databay_register_inlets?)"),
    ({"databay_register_inlets": lambda: ["databay.outlets.null_outlet:NullOutlet"]},
     "registers <class 'databay.outlets.null_outlet.NullOutlet'> as the inlet 'NullOutlet', "
     "but it is not a subclass of Inlet"),
    ({"databay_register_outlets": lambda: ["databay.outlets.null_outlet:NoSuchOutlet"]},
     "the outlet NoSuchOutlet of 'bad' could not be loaded"),
    # a lone reference instead of a list is accepted, then found not importable
    ({"databay_register_planners": lambda: "databay.x:Planner"},
     "registers the planner 'Planner' as 'databay.x:Planner', which cannot be imported"),
])
def test_registration_mistakes_are_named(
    register: Callable[..., str], hooks: dict[str, Callable[[], Any]], message: str
) -> None:
    register("bad", **hooks)
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_plugin("bad")


def test_an_expected_provides_is_compared() -> None:
    with pytest.raises(AssertionError, match=r"provides \{'inlet'"):
        check_plugin("builtins", provides={"inlet": ["NullInlet"]})


def test_an_unknown_plugin_says_where_to_look() -> None:
    with pytest.raises(AssertionError, match=r"no databay plugin named 'nope'.*entry-points"):
        check_plugin("nope")
