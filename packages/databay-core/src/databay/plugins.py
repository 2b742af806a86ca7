"""The plugin manager: discovers plugins through entry points and keeps a registry
of the inlets, outlets and planners they provide.

Plugins are found in the ``databay`` entry-point group. Loading is lazy: nothing is
imported until a name is looked up or a hook is called. Environment switches:

``DATABAY_LOAD_PLUGINS``
    Comma-separated entry-point or distribution names to load; all others are skipped.
    Set it to an empty string to load no third-party plugin (built-ins always load).
``DATABAY_DISABLE_PLUGINS``
    Comma-separated entry-point or distribution names never to load.

A plugin these switches leave out is still listed (:func:`plugins`), as installed but
disabled, with the variable that disabled it. Two distributions whose entry points share
a name clash: a first-party distribution (:data:`FIRST_PARTY`) keeps its name and the
other is not loaded; between third-party ones neither is loaded. Either way the clash is
reported on every plugin involved (``error``), naming both distributions.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

import pluggy

from databay import hookspecs
from databay.errors import PluginNotFoundError
from databay.hookspecs import hookimpl

__all__ = [
    "ENTRY_POINT_GROUP",
    "FIRST_PARTY",
    "KNOWN_PROVIDERS",
    "Kind",
    "PluginInfo",
    "Provided",
    "available",
    "get_plugin_manager",
    "hookimpl",
    "on_change",
    "plugins",
    "register",
    "registry",
    "resolve",
    "unregister",
]

_LOGGER = logging.getLogger("databay.plugins")

ENTRY_POINT_GROUP = "databay"
Kind = Literal["inlet", "outlet", "planner", "state_store"]
KINDS: tuple[Kind, ...] = ("inlet", "outlet", "planner", "state_store")

#: The distributions of the databay project. A first-party plugin is never displaced by
#: another distribution's entry point or class of the same name.
FIRST_PARTY = frozenset({"databay-core", "databay-http", "databay-csv", "databay-mongo",
                         "databay-planners", "databay-celery", "databay-web",
                         "databay-sql"})

#: Names provided by first-party distributions, for the "pip install" hint when one
#: is asked for but not installed.
KNOWN_PROVIDERS: dict[Kind, dict[str, str]] = {
    "inlet": {
        "HttpInlet": "databay-http",
        "CsvInlet": "databay-csv",
        "MongoInlet": "databay-mongo",
        "SqlInlet": "databay-sql",
    },
    "outlet": {
        "HttpOutlet": "databay-http",
        "CsvOutlet": "databay-csv",
        "MongoOutlet": "databay-mongo",
        "SqlOutlet": "databay-sql",
    },
    "planner": {
        "ApsPlanner": "databay-planners",
        "APSPlanner": "databay-planners",
        "SchedulePlanner": "databay-planners",
        "CeleryPlanner": "databay-celery",
    },
    "state_store": {
        "MongoStateStore": "databay-mongo",
        "RedisStateStore": "databay-celery",
        "SqlStateStore": "databay-sql",
    },
}


@dataclass
class PluginInfo:
    """A plugin the manager knows: loaded, failed with ``error``, or installed but
    ``disabled`` (not loaded)."""

    name: str
    distribution: str | None = None
    version: str | None = None
    module: str | None = None
    #: why it is not loaded although it is wanted: the exception its module raised, or
    #: an entry-point name clash (then ``clashes_with`` names the other distributions)
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)
    #: why DATABAY_DISABLE_PLUGINS / DATABAY_LOAD_PLUGINS left it out, naming the variable
    disabled: str | None = None
    #: the other distributions whose entry point has this plugin's name
    clashes_with: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        """Whether its hooks are registered (not failed, clashing or disabled)."""
        return self.error is None and self.disabled is None

    @property
    def first_party(self) -> bool:
        return self.distribution is not None and _normalise(self.distribution) in FIRST_PARTY


@dataclass
class Provided:
    """One class in the registry: its name, who provides it, and how to load it."""

    name: str
    kind: Kind
    plugin: str
    ref: Any  # a class, or "module:attr"
    _loaded: Any = None

    def load(self) -> type:
        """Import (once) and return the class.

        Raises ImportError naming the plugin and the reference when it cannot be
        imported, and TypeError when it is not a class of the right kind.
        """
        if self._loaded is None:
            obj: Any = self.ref
            if isinstance(obj, str):
                module_name, _, attr = obj.partition(":")
                try:
                    obj = importlib.import_module(module_name)
                    for part in attr.split("."):
                        obj = getattr(obj, part)
                except (ImportError, AttributeError) as exc:
                    raise ImportError(
                        f"plugin {self.plugin!r} registers the {self.kind} {self.name!r} as "
                        f"{self.ref!r}, which cannot be imported: {exc}", name=self.name,
                    ) from exc
            if not _is_kind(obj, self.kind):
                raise TypeError(
                    f"plugin {self.plugin!r} registers {obj!r} as the {self.kind} "
                    f"{self.name!r}, but it is not a subclass of {_BASES[self.kind][1]}"
                )
            self._loaded = obj
        return self._loaded  # type: ignore[no-any-return]


#: The base class of each kind, as (module, class name). The registry does not import
#: them: a class can only subclass one whose module is already imported.
_BASES: dict[Kind, tuple[str, str]] = {
    "inlet": ("databay.inlet", "Inlet"),
    "outlet": ("databay.outlet", "Outlet"),
    "planner": ("databay.base_planner", "BasePlanner"),
    "state_store": ("databay.delivery", "StateStore"),
}


def _is_kind(obj: Any, kind: Kind) -> bool:
    module, name = _BASES[kind]
    base = getattr(sys.modules.get(module), name, None)
    return isinstance(base, type) and isinstance(obj, type) and issubclass(obj, base)


def _normalise(name: str) -> str:
    """Distribution names compare like pip compares them: ``databay_x`` is ``databay-x``."""
    return re.sub(r"[-_.]+", "-", name).lower()


_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}  # by plugin-manager name
_unloaded: list[PluginInfo] = []  # entry points not registered: disabled or clashing
_registry: dict[Kind, dict[str, Provided]] | None = None
_listeners: list[Callable[[], None]] = []


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback()`` whenever the registry changes (a plugin registered or
    unregistered): modules that cache what plugins provide drop their caches."""
    with _lock:
        if callback not in _listeners:
            _listeners.append(callback)


def _notify() -> None:
    for callback in list(_listeners):
        callback()


def _split_env(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {_normalise(part.strip()) for part in raw.split(",") if part.strip()}


def _entry_points() -> list[EntryPoint]:
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _dist_name(ep: EntryPoint) -> str | None:
    return ep.dist.name if ep.dist is not None else None


def _left_out(ep: EntryPoint, only: set[str] | None, disabled: set[str] | None) -> str | None:
    """Why the environment switches leave ``ep`` out (naming the variable), or None."""
    names = {_normalise(ep.name)}
    if ep.dist is not None:
        names.add(_normalise(ep.dist.name))
    if disabled and names & disabled:
        return (f"disabled by DATABAY_DISABLE_PLUGINS={os.environ['DATABAY_DISABLE_PLUGINS']!r}"
                f" (remove {sorted(names & disabled)[0]!r} from it to load the plugin)")
    if only is not None and not names & only:
        return (f"disabled by DATABAY_LOAD_PLUGINS={os.environ['DATABAY_LOAD_PLUGINS']!r}, "
                f"which loads only the plugins it names (add {ep.name!r} to it to load this "
                f"one)")
    return None


def _info(ep: EntryPoint) -> PluginInfo:
    dist = ep.dist
    return PluginInfo(name=ep.name, distribution=dist.name if dist is not None else None,
                      version=dist.version if dist is not None else None, module=ep.value)


def _describe_dist(info: PluginInfo) -> str:
    if info.distribution is None:
        return info.module or "another plugin"
    return " ".join(p for p in (info.distribution, info.version) if p)


def _settle_clash(name: str, infos: list[PluginInfo]) -> PluginInfo | None:
    """The one of several same-named entry points that keeps the name (a first-party one),
    or None; every other gets ``error`` naming the clash."""
    keeper: PluginInfo | None = None
    if name != "builtins":  # databay-core's own name, taken before any entry point
        first = [info for info in infos if info.first_party]
        keeper = first[0] if len(first) == 1 else None
    for info in infos:
        others = [_describe_dist(o) for o in infos if o is not info]
        if name == "builtins":
            others.insert(0, "databay-core (its built-ins)")
        info.clashes_with = others
        if info is keeper:
            continue
        who = _describe_dist(info)
        kept = (f"{_describe_dist(keeper)} (first-party) keeps the name" if keeper is not None
                else "databay-core (its built-ins) keeps the name" if name == "builtins"
                else "neither is loaded")
        info.error = (f"entry-point name clash: {who} and {', '.join(others)} both register "
                      f"a databay plugin named {name!r}; {kept}. Rename the entry point in "
                      f"{info.distribution or info.module}'s [project.entry-points.databay], "
                      f"or uninstall one, or leave one out with "
                      f"DATABAY_DISABLE_PLUGINS={info.distribution or name}")
    return keeper


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    only = _split_env("DATABAY_LOAD_PLUGINS")
    disabled = _split_env("DATABAY_DISABLE_PLUGINS")
    by_name: dict[str, list[tuple[EntryPoint, PluginInfo]]] = {}
    for ep in _entry_points():
        info = _info(ep)
        reason = _left_out(ep, only, disabled)
        if reason is not None:  # installed, but not to be loaded: listed as such
            info.disabled = reason
            _unloaded.append(info)
            continue
        same = by_name.setdefault(ep.name, [])
        if any(_dist_name(other) == _dist_name(ep) and other.value == ep.value
               for other, _ in same):
            continue  # the same distribution seen twice on sys.path
        same.append((ep, info))
    for name, entries in by_name.items():
        if pm.is_blocked(name):
            continue
        if len(entries) > 1 or name == "builtins":
            keeper = _settle_clash(name, [info for _, info in entries])
            for _, info in entries:
                if info is not keeper:
                    _LOGGER.warning("databay plugin %r of %s not loaded: %s", name,
                                    _describe_dist(info), info.error)
                    _unloaded.append(info)
            entries = [(ep, info) for ep, info in entries if info is keeper]
        for ep, info in entries:
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not break the others
                info.error = f"{type(exc).__name__}: {exc}"
                _LOGGER.warning(
                    "databay plugin %r (%s) failed to load and was skipped: %s",
                    ep.name, info.distribution or ep.value, info.error,
                )
            _infos[ep.name] = info


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with built-ins and entry points loaded."""
    global _pm
    pm = _pm
    if pm is not None:
        return pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
            pm.add_hookspecs(hookspecs)
            from databay import _builtins

            pm.register(_builtins, name="builtins")
            from databay.__about__ import __version__

            _infos["builtins"] = PluginInfo(
                "builtins", "databay-core", __version__, "databay._builtins"
            )
            _load_entry_points(pm)
            _check_hook_names(pm)
            _pm = pm
        return _pm


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    """Warn about ``databay_*`` functions that match no hook (a misspelt hook is never
    called, which is otherwise silent)."""
    specs = {n for n in dir(hookspecs) if n.startswith("databay_")}
    for name, plugin in pm.list_name_plugin():
        for attr in dir(plugin):
            if attr.startswith("databay_") and attr not in specs and callable(
                    getattr(plugin, attr, None)):
                close = difflib.get_close_matches(attr, sorted(specs), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                _LOGGER.warning("databay plugin %r: %s() matches no databay hook and is never "
                                "called%s", name, attr, hint)


def register(plugin: object, name: str | None = None) -> str:
    """Register a plugin object at run time (tests, applications). Returns its name."""
    pm = get_plugin_manager()
    with _lock:
        registered = pm.register(plugin, name=name)
        if registered is None:
            raise ValueError(f"plugin {name or plugin!r} is blocked and was not registered")
        _check_hook_names(pm)
        _infos[registered] = PluginInfo(registered, module=getattr(plugin, "__name__", None))
        _invalidate()
        return registered


def unregister(name_or_plugin: str | object) -> None:
    """Remove a plugin registered with :func:`register`."""
    pm = get_plugin_manager()
    with _lock:
        if isinstance(name_or_plugin, str):
            pm.unregister(name=name_or_plugin)
            _infos.pop(name_or_plugin, None)
        else:
            name = pm.get_name(name_or_plugin)
            pm.unregister(name_or_plugin)
            if name is not None:
                _infos.pop(name, None)
        _invalidate()


def _invalidate() -> None:
    global _registry
    _registry = None
    _notify()


_HOOK_FOR_KIND: dict[Kind, str] = {
    "inlet": "databay_register_inlets",
    "outlet": "databay_register_outlets",
    "planner": "databay_register_planners",
    "state_store": "databay_register_state_stores",
}


def _ref_name(ref: Any) -> str:
    if isinstance(ref, str):
        module, sep, attr = ref.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"lazy reference {ref!r} must look like 'package.module:ClassName'")
        return attr.rsplit(".", 1)[-1]
    name = getattr(ref, "__name__", None)
    if not isinstance(name, str):
        raise TypeError(f"expected a class or a 'module:Class' string, got {ref!r}")
    return name


def _build_registry(pm: pluggy.PluginManager) -> dict[Kind, dict[str, Provided]]:
    reg: dict[Kind, dict[str, Provided]] = {kind: {} for kind in KINDS}
    for info in _infos.values():
        info.provides = {}
    # Built-ins first, then first-party plugins, then the others in registration order:
    # the first provider of a name wins (so no plugin takes over a first-party name),
    # and a later duplicate is reported.
    def rank(item: tuple[str, Any]) -> int:
        info = _infos.get(item[0])
        return 0 if item[0] == "builtins" else 1 if info is not None and info.first_party else 2

    for plugin_name, plugin in sorted(pm.list_name_plugin(), key=rank):
        if plugin is None:
            continue
        for kind in KINDS:
            hook = getattr(plugin, _HOOK_FOR_KIND[kind], None)
            if hook is None:
                continue
            try:
                returned = hook()
                if returned is None:
                    returned = ()
                elif isinstance(returned, (str, type)):  # one class instead of a list
                    returned = [returned]
                refs = list(returned)
                named = [(_ref_name(ref), ref) for ref in refs]
            except Exception as exc:
                _LOGGER.warning("databay plugin %r failed to register its %ss: %s",
                                plugin_name, kind, exc)
                continue
            for name, ref in named:
                existing = reg[kind].get(name)
                if existing is not None:
                    if existing.ref != ref:
                        _LOGGER.warning(
                            "%s %r from plugin %r ignored: plugin %r already provides it",
                            kind, name, plugin_name, existing.plugin,
                        )
                    continue
                reg[kind][name] = Provided(name, kind, plugin_name, ref)
                provider = _infos.get(plugin_name)
                if provider is not None:
                    provider.provides.setdefault(kind, []).append(name)
    return reg


def registry(kind: Kind) -> dict[str, Provided]:
    """Name -> :class:`Provided` for every installed class of ``kind``."""
    global _registry
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    reg = _registry
    if reg is None:
        pm = get_plugin_manager()
        with _lock:
            if _registry is None:
                _registry = _build_registry(pm)
            reg = _registry
    return reg[kind]


def available(kind: Kind) -> list[str]:
    """Sorted names of the installed classes of ``kind``."""
    return sorted(registry(kind))


def missing_hint(kind: Kind, name: str) -> str | None:
    """Why a name a first-party distribution provides is not there: the distribution is
    not installed (with the ``pip install`` line), or it is installed but disabled (naming
    the variable), or its plugin failed to load or clashes with another. None for other
    names."""
    dist = KNOWN_PROVIDERS.get(kind, {}).get(name)
    if dist is None:
        return None
    get_plugin_manager()
    for info in [*_infos.values(), *_unloaded]:
        if info.distribution is None or _normalise(info.distribution) != dist:
            continue
        if info.disabled is not None:
            return (f"{name} is provided by '{dist}', which is installed but not loaded: "
                    f"{info.disabled}")
        if info.error is not None:
            return (f"{name} is provided by '{info.distribution}', whose plugin failed to "
                    f"load: {info.error}")
    return (f"{name} is provided by the distribution '{dist}', which is not installed: "
            f"pip install {dist}")


def resolve(kind: Kind, name: str) -> type:
    """The class of ``kind`` registered as ``name``.

    Raises :class:`~databay.errors.PluginNotFoundError` (an ImportError) when a known
    distribution provides ``name`` but is not loaded, saying why (the ``pip install`` line
    when it is not installed), and LookupError for an unknown name (noting the plugins
    that are installed but not loaded).
    """
    provided = registry(kind).get(name)
    if provided is not None:
        return provided.load()
    hint = missing_hint(kind, name)
    if hint is not None:
        raise PluginNotFoundError(hint, name=name)
    known = ", ".join(available(kind)) or "none"
    note = unloaded_note()
    raise LookupError(f"no {kind} named {name!r} is installed (installed {kind}s: {known})"
                      + (f"; {note}" if note else ""))


def failed() -> list[PluginInfo]:
    """Plugins that are wanted but not loaded: their module raised when it was loaded, or
    their entry-point name clashes with another's (each also logged)."""
    get_plugin_manager()
    return [info for info in [*_infos.values(), *_unloaded] if info.error]


def unloaded() -> list[PluginInfo]:
    """Plugins installed but not loaded: failed, clashing, or disabled."""
    get_plugin_manager()
    return [info for info in [*_infos.values(), *_unloaded] if not info.loaded]


def unloaded_note() -> str:
    """A sentence naming the plugins installed but not loaded, and why; "" if none."""
    listed = "; ".join(f"{i.name} ({_describe_dist(i)}): {i.error or i.disabled}"
                       for i in unloaded())
    return f"note that these installed databay plugins are not loaded: {listed}" if listed \
        else ""


def plugins() -> list[PluginInfo]:
    """Every plugin the manager knows, with what each loaded one provides: loaded, failed,
    clashing or disabled (see :attr:`PluginInfo.loaded`)."""
    for kind in KINDS:
        registry(kind)
    return [*_infos.values(), *_unloaded]


def _reset_for_tests() -> None:
    """Forget everything; the next use rediscovers plugins."""
    global _pm, _registry
    with _lock:
        _pm = None
        _registry = None
        _infos.clear()
        _unloaded.clear()
        _notify()

