"""Plugin discovery through real entry points: each test writes a distribution's
metadata (a .dist-info folder) and module into a temporary folder on sys.path."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import databay.plugins as plugins
import pytest
from core_nodes import CollectOutlet, ListInlet
from databay import Link, hookimpl
from databay.errors import PluginNotFoundError


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    plugins._reset_for_tests()
    yield
    plugins._reset_for_tests()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def install_dist(site: Path, dist: str, ep_name: str, module: str, source: str) -> None:
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[databay]\n{ep_name} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


PLUGIN = """
    from databay import Inlet
    from databay.hookspecs import hookimpl

    class EchoInlet(Inlet):
        def pull(self, update):
            return "echo"

    @hookimpl
    def databay_register_inlets():
        return [EchoInlet, "{module}_heavy:HeavyInlet"]
"""


def test_entry_point_plugin_is_discovered_and_lazy(site: Path) -> None:
    install_dist(site, "databay-echo", "echo", "echo_plugin", PLUGIN.format(module="echo"))
    (site / "echo_heavy.py").write_text(
        "from databay import Inlet\nLOADED = True\n"
        "class HeavyInlet(Inlet):\n    def pull(self, update):\n        return 1\n"
    )
    from databay import inlets

    assert "EchoInlet" in inlets.available() and "HeavyInlet" in inlets.available()
    assert "echo_heavy" not in sys.modules, "a lazy reference must not be imported early"
    from databay.inlets import EchoInlet, HeavyInlet  # type: ignore[attr-defined]

    assert EchoInlet().pull(None) == "echo"
    assert HeavyInlet.__module__ == "echo_heavy"
    info = {p.name: p for p in plugins.plugins()}["echo"]
    assert (info.distribution, info.version, info.error) == ("databay-echo", "1.2.3", None)
    assert info.provides == {"inlet": ["EchoInlet", "HeavyInlet"]}
    assert "EchoInlet" in dir(inlets)


def test_broken_plugin_is_reported_and_skipped(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_dist(site, "databay-broken", "broken", "broken_plugin", "raise RuntimeError('boom')")
    install_dist(site, "databay-echo", "echo", "echo_plugin", PLUGIN.format(module="echo"))
    from databay.inlets import EchoInlet  # type: ignore[attr-defined]

    assert EchoInlet is not None
    assert "databay plugin 'broken' (databay-broken) failed to load" in caplog.text
    broken = {p.name: p for p in plugins.plugins()}["broken"]
    assert broken.error == "RuntimeError: boom"


def test_load_plugins_env_var(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_dist(site, "databay-echo", "echo", "echo_plugin", PLUGIN.format(module="echo"))
    monkeypatch.setenv("DATABAY_LOAD_PLUGINS", "")
    assert "EchoInlet" not in plugins.available("inlet")
    assert "NullInlet" in plugins.available("inlet"), "built-ins always load"
    plugins._reset_for_tests()
    monkeypatch.setenv("DATABAY_LOAD_PLUGINS", "databay-echo")
    assert "EchoInlet" in plugins.available("inlet")
    plugins._reset_for_tests()
    monkeypatch.delenv("DATABAY_LOAD_PLUGINS")
    monkeypatch.setenv("DATABAY_DISABLE_PLUGINS", "echo")
    assert "EchoInlet" not in plugins.available("inlet")


def test_unknown_name_is_a_plain_import_error(fresh_plugins: None) -> None:
    with pytest.raises(ImportError, match="cannot import name 'NoSuchInlet'"):
        from databay.inlets import NoSuchInlet  # type: ignore[attr-defined]  # noqa: F401
    import databay.inlets

    assert not hasattr(databay.inlets, "NoSuchInlet")
    with pytest.raises(LookupError, match="no inlet named 'Nope'.*NullInlet"):
        plugins.resolve("inlet", "Nope")


def test_duplicate_names_keep_the_first_provider(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_dist(site, "databay-dupe", "dupe", "dupe_plugin", """
        from databay.hookspecs import hookimpl

        @hookimpl
        def databay_register_inlets():
            return ["databay.inlets.random_int_inlet:RandomIntInlet", "dupe_plugin:NullInlet"]

        NullInlet = object
    """)
    from databay.inlets.null_inlet import NullInlet

    assert plugins.resolve("inlet", "NullInlet") is NullInlet
    assert "inlet 'NullInlet' from plugin 'dupe' ignored" in caplog.text


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def databay_transfer_started(self, link: Link, update: Any) -> None:
        self.events.append(("started", str(update)))

    @hookimpl
    def databay_transfer_finished(self, link: Link, update: Any, result: Any) -> None:
        self.events.append(("finished", (result.pulled, sum(result.pushed.values()))))

    @hookimpl
    def databay_transfer_failed(self, link: Link, update: Any, error: Any, result: Any) -> None:
        self.events.append(("failed", type(error).__name__))


def test_observability_hooks_see_transfers(fresh_plugins: None) -> None:
    recorder = Recorder()
    plugins.register(recorder, name="recorder")
    try:
        link = Link(ListInlet([1, 2]), CollectOutlet(), 1, tags="obs")
        link.transfer()
        bad = Link(ListInlet(1), CollectOutlet(processors=lambda r: 1 / 0), 1)  # type: ignore[arg-type, return-value]
        with pytest.raises(ZeroDivisionError):
            bad.transfer()
    finally:
        plugins.unregister("recorder")
    assert recorder.events == [
        ("started", "obs.0"), ("finished", (2, 2)), ("started", "0"),
        ("failed", "ZeroDivisionError"),
    ]
    link.transfer()
    assert len(recorder.events) == 4, "unregistered hooks are no longer called"


def test_a_raising_hook_does_not_break_the_transfer(
    fresh_plugins: None, caplog: pytest.LogCaptureFixture
) -> None:
    class Bad:
        @hookimpl
        def databay_transfer_started(self, link: Link, update: Any) -> None:
            raise RuntimeError("hook broke")

    plugins.register(Bad(), name="bad")
    try:
        outlet = CollectOutlet()
        Link(ListInlet(1), outlet, 1).transfer()
    finally:
        plugins.unregister("bad")
    assert len(outlet.records) == 1 and "hook broke" in caplog.text


def test_plugin_not_found_error_is_an_import_error() -> None:
    assert issubclass(PluginNotFoundError, ImportError)


def test_loading_plugins_imports_no_heavy_library() -> None:
    import subprocess

    code = (
        "import sys, databay.plugins as p\n"
        "for kind in ('inlet', 'outlet', 'planner'): p.available(kind)\n"
        "heavy = [m for m in ('requests', 'pymongo', 'apscheduler', 'schedule')\n"
        "         if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_registration_mistakes_get_clear_messages(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install_dist(site, "databay-sloppy", "sloppy", "sloppy_plugin", """
        from databay.hookspecs import hookimpl

        @hookimpl
        def databay_register_outlets():
            return "databay.inlets.null_inlet:NullInlet"   # one string, and the wrong kind

        def databay_register_inlet():   # misspelt: never called
            return []
    """)
    with pytest.raises(TypeError, match="registers .*NullInlet.* as the outlet 'NullInlet', "
                                        "but it is not a subclass of Outlet"):
        plugins.resolve("outlet", "NullInlet")
    assert "databay_register_inlet() matches no databay hook" in caplog.text
    assert "did you mean 'databay_register_inlets'?" in caplog.text


def test_unimportable_lazy_reference_names_the_plugin(site: Path) -> None:
    install_dist(site, "databay-typo", "typo", "typo_plugin", """
        from databay.hookspecs import hookimpl

        @hookimpl
        def databay_register_inlets():
            return ["typo_plugin:NoSuchInlet"]
    """)
    with pytest.raises(ImportError, match="plugin 'typo' registers the inlet 'NoSuchInlet' as "
                                          "'typo_plugin:NoSuchInlet', which cannot be imported"):
        plugins.resolve("inlet", "NoSuchInlet")


def test_failed_plugins_are_named_when_a_name_is_missing(site: Path) -> None:
    install_dist(site, "databay-broken", "broken", "broken_plugin", "raise RuntimeError('boom')")
    with pytest.raises(ImportError, match=r"installed databay plugins are not loaded: broken "
                                          r"\(databay-broken 1.2.3\): RuntimeError: boom"):
        from databay.inlets import BrokenInlet  # type: ignore[attr-defined]  # noqa: F401


def test_env_var_names_are_normalised(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_dist(site, "databay-echo", "echo", "echo_plugin", PLUGIN.format(module="echo"))
    monkeypatch.setenv("DATABAY_LOAD_PLUGINS", "Databay_Echo")
    assert "EchoInlet" in plugins.available("inlet")


def test_unregistering_forgets_cached_names(fresh_plugins: None) -> None:
    class Temp:
        @hookimpl
        def databay_register_inlets(self) -> list[type]:
            return [ListInlet]

    plugins.register(Temp(), name="temp")
    from databay.inlets import ListInlet as Found  # type: ignore[attr-defined]

    assert Found is ListInlet
    plugins.unregister("temp")
    with pytest.raises(ImportError):
        from databay.inlets import ListInlet as Gone  # type: ignore[attr-defined]  # noqa: F401


# -- plugins installed but not loaded: disabled, or losing an entry-point name clash ------

def outlet_plugin(*names: str) -> str:
    """A plugin module registering an Outlet subclass for each name."""
    classes = "".join(f"class {n}(Outlet):\n    def push(self, records, update):\n"
                      f"        pass\n\n" for n in names)
    return ("from databay import Outlet\nfrom databay.hookspecs import hookimpl\n\n"
            f"{classes}@hookimpl\ndef databay_register_outlets():\n"
            f"    return [{', '.join(names)}]\n")


def folder(site: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sys.path entry of its own, before those added so far."""
    path = site / name
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


@pytest.mark.parametrize("variable, value, says", [
    ("DATABAY_DISABLE_PLUGINS", "csv",
     "disabled by DATABAY_DISABLE_PLUGINS='csv' (remove 'csv' from it"),
    ("DATABAY_DISABLE_PLUGINS", "databay_csv",
     "disabled by DATABAY_DISABLE_PLUGINS='databay_csv' (remove 'databay-csv' from it"),
    ("DATABAY_LOAD_PLUGINS", "echo",
     "disabled by DATABAY_LOAD_PLUGINS='echo', which loads only the plugins it names (add "
     "'csv' to it"),
])
def test_a_disabled_plugin_is_installed_but_disabled_everywhere(
        site: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
        says: str) -> None:
    from databay.pipeline import PipelineError, build_pipeline

    install_dist(site, "databay-csv", "csv", "fakecsv_plugin", outlet_plugin("CsvOutlet"))
    monkeypatch.setenv(variable, value)
    info = {p.name: p for p in plugins.plugins()}["csv"]
    assert (info.distribution, info.loaded, info.error) == ("databay-csv", False, None)
    assert info.disabled is not None and info.disabled.startswith(says)
    assert "fakecsv_plugin" not in sys.modules, "a disabled plugin is not imported"
    expected = f"CsvOutlet is provided by 'databay-csv', which is installed but not loaded: {says}"
    with pytest.raises(PluginNotFoundError) as error:
        from databay.outlets import CsvOutlet  # type: ignore[attr-defined]  # noqa: F401
    assert expected in str(error.value) and "pip install" not in str(error.value)
    data = {"links": [
        {"name": "a", "interval": 1, "inlets": [{"type": "NullInlet"}],
         "outlets": [{"type": "CsvOutlet"}]}]}
    with pytest.raises(PipelineError) as problems:
        build_pipeline(data, "p.toml", need_planner=False)
    (problem,) = problems.value.errors
    assert expected in str(problem)


def test_a_name_of_a_disabled_third_party_plugin_names_the_variable(
        site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_dist(site, "acme-sqlite", "sqlite", "acme_sqlite", outlet_plugin("SqliteOutlet"))
    monkeypatch.setenv("DATABAY_DISABLE_PLUGINS", "acme-sqlite")
    with pytest.raises(ImportError, match=r"installed databay plugins are not loaded: sqlite "
                                          r"\(acme-sqlite 1.2.3\): disabled by "
                                          r"DATABAY_DISABLE_PLUGINS='acme-sqlite'"):
        from databay.outlets import SqliteOutlet  # type: ignore[attr-defined]  # noqa: F401
    with pytest.raises(LookupError, match="not loaded: sqlite"):
        plugins.resolve("outlet", "SqliteOutlet")


@pytest.mark.parametrize("third_party_first", [True, False])
def test_an_entry_point_name_clash_never_hides_a_first_party_plugin(
        site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        third_party_first: bool) -> None:
    order = ["first", "third"] if third_party_first else ["third", "first"]
    paths = {name: folder(site, name, monkeypatch) for name in order}  # last is first
    install_dist(paths["first"], "databay-csv", "csv", "fakecsv_plugin",
                 outlet_plugin("CsvOutlet"))
    install_dist(paths["third"], "acme-sqlite", "csv", "acme_sqlite",
                 outlet_plugin("SqliteOutlet", "CsvOutlet"))
    from databay.outlets import CsvOutlet  # type: ignore[attr-defined]

    assert CsvOutlet.__module__ == "fakecsv_plugin"
    infos = [p for p in plugins.plugins() if p.name == "csv"]
    assert {(p.distribution, p.loaded) for p in infos} == {("databay-csv", True),
                                                          ("acme-sqlite", False)}
    loser = next(p for p in infos if p.distribution == "acme-sqlite")
    assert loser.error is not None and loser.error.startswith(
        "entry-point name clash: acme-sqlite 1.2.3 and databay-csv 1.2.3 both register a "
        "databay plugin named 'csv'; databay-csv 1.2.3 (first-party) keeps the name.")
    assert "DATABAY_DISABLE_PLUGINS=acme-sqlite" in loser.error
    assert "acme_sqlite" not in sys.modules
    keeper = next(p for p in infos if p.distribution == "databay-csv")
    assert keeper.clashes_with == ["acme-sqlite 1.2.3"]
    with pytest.raises(ImportError, match=r"not loaded: csv \(acme-sqlite 1.2.3\): "
                                          r"entry-point name clash: .* databay-csv 1.2.3"):
        from databay.outlets import SqliteOutlet  # type: ignore[attr-defined]  # noqa: F401
    assert "databay plugin 'csv' of acme-sqlite 1.2.3 not loaded: entry-point" in caplog.text


def test_a_clash_between_third_party_plugins_loads_neither(
        site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_dist(folder(site, "a", monkeypatch), "acme-a", "store", "acme_a",
                 outlet_plugin("AOutlet"))
    install_dist(folder(site, "b", monkeypatch), "acme-b", "store", "acme_b",
                 outlet_plugin("BOutlet"))
    assert not {"AOutlet", "BOutlet"} & set(plugins.available("outlet"))
    errors = {p.distribution: p.error for p in plugins.plugins() if p.name == "store"}
    assert set(errors) == {"acme-a", "acme-b"}
    assert all(e is not None and "neither is loaded" in e for e in errors.values())
    with pytest.raises(ImportError, match=r"store \(acme-b 1.2.3\): entry-point name clash: "
                                          r"acme-b 1.2.3 and acme-a 1.2.3"):
        from databay.outlets import BOutlet  # type: ignore[attr-defined]  # noqa: F401
    plugins._reset_for_tests()
    monkeypatch.setenv("DATABAY_DISABLE_PLUGINS", "acme-a")  # the way out the error names
    assert "BOutlet" in plugins.available("outlet")


def test_a_first_party_class_name_is_never_taken_over(
        site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    install_dist(folder(site, "first", monkeypatch), "databay-csv", "csv", "fakecsv_plugin",
                 outlet_plugin("CsvOutlet"))
    # earlier on sys.path, so its entry point registers first
    install_dist(folder(site, "third", monkeypatch), "acme-csv", "acme", "acme_csv",
                 outlet_plugin("CsvOutlet"))
    assert plugins.resolve("outlet", "CsvOutlet").__module__ == "fakecsv_plugin"
    assert "outlet 'CsvOutlet' from plugin 'acme' ignored: plugin 'csv' already provides it" \
        in caplog.text
