"""Checks of a plugin's registration: discovered, loaded, names resolving to the right
kind of class, no misspelt hook, and nothing heavy imported by loading it."""

from __future__ import annotations

import difflib
import importlib
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from databay import hookspecs, plugins
from databay.plugins import PluginInfo

__all__ = ["check_plugin", "check_plugin_loads_lazily"]

_BASES = {"inlet": "databay.inlet:Inlet", "outlet": "databay.outlet:Outlet",
          "planner": "databay.base_planner:BasePlanner"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _find(name: str) -> PluginInfo:
    infos = plugins.plugins()
    for info in infos:
        if info.name == name or (info.distribution and _norm(info.distribution) == _norm(name)):
            return info
    found = ", ".join(f"{i.name} ({i.distribution})" for i in infos)
    raise AssertionError(
        f"[plugin] no databay plugin named {name!r} was found (found: {found}). Is the "
        "distribution installed (pip install -e .) and does its pyproject.toml declare "
        "[project.entry-points.databay]? Are DATABAY_LOAD_PLUGINS / "
        "DATABAY_DISABLE_PLUGINS set?"
    )


def _base(kind: str) -> type | None:
    ref = _BASES.get(kind)
    if ref is None:
        return None
    module, _, attr = ref.partition(":")
    base: type = getattr(importlib.import_module(module), attr)
    return base


def _lookup(kind: str, name: str) -> Any:
    try:
        namespace = importlib.import_module(f"databay.{kind}s")
    except ModuleNotFoundError as exc:
        if exc.name != f"databay.{kind}s":
            raise
        return plugins.resolve(kind, name)  # type: ignore[arg-type]
    return getattr(namespace, name)


def _other_hooks(plugin_name: str) -> list[str]:
    """The hooks other than registration ones the plugin implements (a plugin may only
    observe, or only add command-line options, as databay-web does)."""
    manager = plugins.get_plugin_manager()
    plugin = manager.get_plugin(plugin_name)
    if plugin is None:
        return []
    return [caller.name for caller in manager.get_hookcallers(plugin) or []
            if not caller.name.startswith("databay_register_")]


def _misspelt_hooks(plugin_name: str) -> list[str]:
    plugin = plugins.get_plugin_manager().get_plugin(plugin_name)
    if plugin is None:
        return []
    specs = [n for n in dir(hookspecs) if n.startswith("databay_")]
    wrong = []
    for attr in dir(plugin):
        if attr.startswith("databay_") and attr not in specs:
            close = difflib.get_close_matches(attr, specs, n=1)
            wrong.append(f"{attr}" + (f" (did you mean {close[0]}?)" if close else ""))
    return wrong


def check_plugin(
    name: str, provides: Mapping[str, Iterable[str]] | None = None
) -> PluginInfo:
    """The installed plugin ``name`` (entry-point or distribution name) was discovered and
    loaded without error, defines no misspelt ``databay_*`` hook, registers something,
    and every name it registers imports from ``databay.inlets`` / ``outlets`` /
    ``planners`` as a class of that kind. With ``provides`` (``{"inlet": ["MyInlet"]}``),
    it registers exactly those names. Returns the plugin's :class:`PluginInfo`.
    """
    info = _find(name)
    if info.error:
        raise AssertionError(f"[plugin] {info.name!r} ({info.distribution}) failed to load: "
                             f"{info.error}")
    if info.disabled:
        raise AssertionError(f"[plugin] {info.name!r} ({info.distribution}) is installed but "
                             f"not loaded: {info.disabled}")
    wrong = _misspelt_hooks(info.name)
    if wrong:
        raise AssertionError(f"[plugin] {info.name!r} defines functions that are no databay "
                             f"hook and are never called: {', '.join(wrong)}")
    if not any(info.provides.values()) and not _other_hooks(info.name):
        raise AssertionError(f"[plugin] {info.name!r} registers no inlet, outlet or planner "
                             "and implements no other hook: its hooks "
                             "databay_register_inlets/outlets/planners return nothing, or a "
                             "name another plugin already provides")
    if provides is not None:
        expected = {k: sorted(v) for k, v in provides.items() if v}
        actual = {k: sorted(v) for k, v in info.provides.items() if v}
        if expected != actual:
            raise AssertionError(f"[plugin] {info.name!r} provides {actual}, expected "
                                 f"{expected}")
    for kind, names in info.provides.items():
        base = _base(kind)
        for provided in names:
            try:
                cls = _lookup(kind, provided)
            except Exception as exc:
                raise AssertionError(
                    f"[plugin] the {kind} {provided} of {info.name!r} could not be loaded: "
                    f"{type(exc).__name__}: {exc} (is its lazy reference "
                    f"'package.module:ClassName' right?)"
                ) from exc
            if base is not None and not (isinstance(cls, type) and issubclass(cls, base)):
                raise AssertionError(f"[plugin] {info.name!r} registers {cls!r} as the {kind} "
                                     f"{provided}, but it is not a {base.__name__} subclass; "
                                     f"register it with the hook for its kind")
    return info


_LAZY_PROBE = textwrap.dedent("""
    import json, sys
    before = set(sys.modules)
    import databay.plugins
    databay.plugins.plugins()
    print(json.dumps(sorted(set(sys.modules) - before)))
""")


def check_plugin_loads_lazily(modules: Iterable[str], timeout: float = 60) -> None:
    """Discovering the installed plugins (which databay does on the first lookup of any
    name) imports none of ``modules``, e.g. ``["requests"]``, nor their submodules.

    Runs in a new interpreter (``sys.executable``), since the test process may have
    imported them already.
    """
    wanted = list(modules)
    done = subprocess.run([sys.executable, "-c", _LAZY_PROBE], capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"[lazy] discovering plugins failed in a new interpreter: "
                             f"{done.stderr.strip()[-2000:]}")
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    heavy = sorted(m for m in imported if any(m == w or m.startswith(w + ".") for w in wanted))
    if heavy:
        raise AssertionError(f"[lazy] discovering plugins imported {', '.join(heavy)}: import "
                             "heavy libraries in the module behind the lazy reference, not in "
                             "the plugin module or the package's __init__")
