"""``databay validate``: every kind of bad file gives one line naming the file, the link
and the key, exit code 2 and no traceback. The matrix runs in-process through
``databay.cli.main``; the subprocess tests check the same from the outside."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from _cli_support import cli_env, databay
from databay import BasePlanner
from databay.cli import main
from databay.pipeline import (
    PipelineError,
    build_pipeline,
    parse_interval,
    parse_toml,
    substitute,
)

LINK = """
[[links]]
name = "orders"
interval = "5s"
{extra}
[[links.inlets]]
type = "RandomIntInlet"
{inlet}
[[links.outlets]]
type = "FileOutlet"
default_filepath = "out.txt"
{outlet}"""


def link(extra: str = "", inlet: str = "", outlet: str = "") -> str:
    return LINK.format(extra=extra, inlet=inlet, outlet=outlet)


BAD_FILES = {
    "toml syntax": ("links = [\n", ["bad.toml: invalid TOML"]),
    "unknown top-level key": (link() + "\n[plannr]\ntype = 'ApsPlanner'\n",
                              ["bad.toml: key 'plannr': unknown top-level key "
                               "(did you mean 'planner'?)"]),
    "no links": ("[planner]\ntype = 'ApsPlanner'\n",
                 ["bad.toml: key 'links': no links"]),
    "links not tables": ("links = [1, 2]\n",
                         ["bad.toml: key 'links': must be an array of tables"]),
    "missing name": (link().replace('name = "orders"', ""),
                     ["bad.toml: links[0], key 'name': missing"]),
    "duplicate name": (link() + link(),
                       ["bad.toml: link 'orders' (links[1]), key 'name': another link "
                        "has this name"]),
    "missing interval": (link().replace('interval = "5s"', ""),
                         ["bad.toml: link 'orders', key 'interval': missing; expected a "
                          "number of seconds"]),
    "bad interval": (link().replace('"5s"', '"5 sec"'),
                     ["bad.toml: link 'orders', key 'interval': invalid interval '5 sec'; "
                      'expected a number of seconds (5, 0.5) or a number with a unit: "250ms"']),
    "zero interval": (link().replace('"5s"', "0"),
                      ["bad.toml: link 'orders', key 'interval': invalid interval 0: it must "
                       "be more than zero"]),
    "interval the planner cannot honour": (
        link().replace('"5s"', "0.0001") + "\n[planner]\ntype = 'SchedulePlanner'\n",
        ["bad.toml: link 'orders', key 'interval': SchedulePlanner cannot honour the interval",
         "accepted: 0.001 s to"]),
    "unknown link key": (link(extra="copy_record = false"),
                         ["bad.toml: link 'orders', key 'copy_record': unknown key (did you "
                          "mean 'copy_records'?); a link accepts: name, interval, schedule, "
                          "timezone, jitter, start, end, tags"]),
    "bad flag": (link(extra='ignore_exceptions = "yes"'),
                 ["bad.toml: link 'orders', key 'ignore_exceptions': must be true or false, "
                  "got str 'yes'"]),
    "bad tags": (link(extra="tags = [1]"),
                 ["bad.toml: link 'orders', key 'tags': must be a string or a list of "
                  "strings"]),
    "no inlets": (link().replace('[[links.inlets]]\ntype = "RandomIntInlet"', ""),
                  ["bad.toml: link 'orders', key 'inlets': missing; add at least one "
                   "[[links.inlets]]"]),
    "node without type": (link().replace('type = "RandomIntInlet"', "min = 1"),
                          ["bad.toml: link 'orders', inlets[0], key 'type': missing; name the "
                           "inlet class (installed inlets: "]),
    "unknown class": (link().replace("RandomIntInlet", "RandomInlet"),
                      ["bad.toml: link 'orders', inlets[0], key 'type': no inlet named "
                       "'RandomInlet' is installed"]),
    "class of the other kind": (link().replace("RandomIntInlet", "FileOutlet"),
                                ["bad.toml: link 'orders', inlets[0], key 'type': FileOutlet "
                                 "is an outlet, not an inlet"]),
    "unknown keyword": (link(inlet="maximum = 6"),
                        ["bad.toml: link 'orders', inlets[0] (RandomIntInlet), key 'maximum': "
                         "unknown key (did you mean 'max'?); RandomIntInlet accepts: min, max, "
                         "metadata"]),
    "missing required keyword": (link().replace('default_filepath = "out.txt"', ""),
                                 ["bad.toml: link 'orders', outlets[0] (FileOutlet), key "
                                  "'default_filepath': missing; FileOutlet requires it"]),
    "value the class rejects": (link(outlet='default_file_mode = "z"'),
                                ["bad.toml: link 'orders', outlets[0] (FileOutlet): "
                                 "FileOutlet(...) rejected its arguments: ValueError: "
                                 "FileOutlet(default_file_mode=...): file mode must be one of"]),
    "unset variable": (link().replace('"out.txt"', '"${CLI_TEST_UNSET_DIR}/out.txt"'),
                       ["bad.toml: link 'orders', outlets[0] (FileOutlet), key "
                        "'default_filepath': environment variable CLI_TEST_UNSET_DIR is not "
                        "set"]),
    "malformed variable": (link().replace('"out.txt"', '"${BAD NAME}/out.txt"'),
                           ["bad.toml: link 'orders', outlets[0] (FileOutlet), key "
                            "'default_filepath': invalid reference '${BAD NAME}'"]),
    "unclosed variable": (link().replace('"out.txt"', '"${HOME/out.txt"'),
                          ["key 'default_filepath': unclosed '${'"]),
    "unimportable reference": (link().replace("RandomIntInlet", "no_such_module_xyz:Thing"),
                               ["bad.toml: link 'orders', inlets[0], key 'type': cannot import "
                                "module 'no_such_module_xyz'"]),
    "reference to a non-node": (link().replace("RandomIntInlet", "datetime:date"),
                                ["bad.toml: link 'orders', inlets[0], key 'type': datetime:date "
                                 "is not a subclass of Inlet"]),
    "unknown planner": (link() + "\n[planner]\ntype = 'ApsPlaner'\n",
                        ["bad.toml: [planner], key 'type': no planner named 'ApsPlaner' is "
                         "installed", "(did you mean 'ApsPlanner'?)"]),
    "planner keyword": (link() + "\n[planner]\ntype = 'ApsPlanner'\nthread = 4\n",
                        ["bad.toml: [planner] (ApsPlanner), key 'thread': unknown key (did you "
                         "mean 'threads'?); ApsPlanner accepts: threads,"]),
    "planner value": (link() + "\n[planner]\ntype = 'ApsPlanner'\nthreads = 0\n",
                      ["bad.toml: [planner] (ApsPlanner): ApsPlanner(...) rejected its "
                       "arguments: ValueError"]),
    "retry keyword": (link(extra="retry = {attempt = 3}"),
                      ["bad.toml: link 'orders', retry (RetryPolicy), key 'attempt': unknown "
                       "key (did you mean 'attempts'?)"]),
    "state store class": (link(extra="state_store = {type = 'DiskStore'}"),
                          ["bad.toml: link 'orders', state_store, key 'type': no state_store "
                           "named 'DiskStore' is installed"]),
    "planner state store class": (
        link() + "\n[planner]\ntype = 'ApsPlanner'\n[planner.state_store]\ntype = 'DiskStore'\n",
        ["bad.toml: [planner] (ApsPlanner), state_store, key 'type': no state_store named "
         "'DiskStore' is installed"]),
    "everything disabled": (link(extra="enabled = false"),
                            ["bad.toml: key 'links': every link has enabled = false"]),
}


@pytest.mark.parametrize("text, expected", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch:
                  pytest.MonkeyPatch, text: str, expected: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLI_TEST_UNSET_DIR", raising=False)
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    assert main(["validate", "bad.toml"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("databay: error:")]
    assert len(errors) == 1, captured.err
    for part in expected:
        assert part in errors[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert not (tmp_path / "out.txt").exists()


def test_every_error_of_a_file_is_reported(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "many.toml"
    path.write_text(link(extra='interval_s = 3\ncopy_records = 1',
                         inlet="maximum = 6", outlet="mode = 'a'"), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert [line.split("key ")[1].split(":")[0] for line in err.splitlines()
            if line.startswith("databay: error:")] == [
        "'interval_s'", "'copy_records'", "'maximum'", "'mode'"]
    assert err.splitlines()[-1] == f"{path}: 4 errors"


def test_good_files_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.toml").write_text(link(extra='tags = ["x", "y"]\nretry = true'))
    (tmp_path / "b.toml").write_text(link(extra="[links.state_store]\ntype = "
                                          "'MemoryStateStore'\n") +
                                     "\n[planner]\ntype = 'SchedulePlanner'\n")
    assert main(["validate", str(tmp_path / "a.toml"), str(tmp_path / "b.toml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[::2] == [f"{tmp_path / 'a.toml'}: OK: 1 link (orders), planner ApsPlanner",
                        f"{tmp_path / 'b.toml'}: OK: 1 link (orders), planner SchedulePlanner"]
    # each link's next fire times follow (tests/cli/test_validate_schedules.py)
    assert all(line.startswith("  orders  every 5s: next ") for line in out[1::2])


def test_shipped_examples_are_valid() -> None:
    examples = Path(__file__).parents[2] / "examples" / "pipelines"
    files = sorted(str(p) for p in examples.glob("*.toml"))
    assert len(files) >= 3
    env = {"ORDERS_URL": "http://127.0.0.1:9/orders", "ORDERS_TOKEN": "t",
           "MONGODB_URI": "mongodb://127.0.0.1:9"}
    import os

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert main(["validate", "--quiet", *files]) == 0
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- from the outside --------------------------------------------------------------------


def test_disabled_plugin_names_the_distribution_and_the_variable(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(link().replace('"FileOutlet"', '"CsvOutlet"'))
    done = databay("validate", "p.toml", cwd=tmp_path,
                   env=cli_env({"DATABAY_DISABLE_PLUGINS": "databay-csv"}))
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        "databay: error: p.toml: link 'orders', outlets[0], key 'type': CsvOutlet is provided "
        "by 'databay-csv', which is installed but not loaded: disabled by "
        "DATABAY_DISABLE_PLUGINS='databay-csv' (remove 'databay-csv' from it to load the "
        "plugin)")
    run = databay("run", "p.toml", cwd=tmp_path,
                  env=cli_env({"DATABAY_DISABLE_PLUGINS": "databay-csv"}))
    assert run.returncode == 2
    assert run.stderr.splitlines() == done.stderr.splitlines()[:1]


def test_without_databay_planners_a_file_without_planner_runs_on_core(
        tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(link())
    env = cli_env({"DATABAY_DISABLE_PLUGINS": "databay-planners"})
    checked = databay("validate", "p.toml", cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[0] == "p.toml: OK: 1 link (orders), planner ThreadPlanner"
    done = databay("run", "p.toml", "--duration", "0.5", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.txt").read_text().strip().isdigit()  # the immediate transfer
    once = databay("run", "p.toml", "--once", cwd=tmp_path, env=env)
    assert once.returncode == 0, once.stderr


def test_user_errors_have_no_traceback_unless_debug(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(link(outlet='default_file_mode = "z"'))
    done = databay("validate", "p.toml", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    debug = databay("--debug", "validate", "p.toml", cwd=tmp_path)
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr
    assert "ValueError: FileOutlet(default_file_mode=...)" in debug.stderr


@pytest.mark.parametrize("args, message", [
    (["run"], "the following arguments are required: PIPELINE.toml"),
    (["run", "x.toml", "--once", "--duration", "3"], "not allowed with argument"),
    (["run", "x.toml", "--duration", "soon"], "invalid duration 'soon'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["run", "missing.toml"], "missing.toml: no such file"),
])
def test_command_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    done = databay(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr.splitlines()[-1]
    assert done.stderr.splitlines()[-1].startswith("databay: error:")
    assert "Traceback" not in done.stderr


# -- the parsers ---------------------------------------------------------------------------


@pytest.mark.parametrize("value, seconds", [
    (5, 5), (0.25, 0.25), ("5", 5), ("250ms", 0.25), ("5s", 5), ("1m", 60), ("1h", 3600),
    ("1d", 86400), ("1m30s", 90), ("1.5s", 1.5), (" 2 m ", 120), ("1h 30m", 5400),
])
def test_interval_forms(value: object, seconds: float) -> None:
    assert parse_interval(value) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["", "5 sec", "s", "1x", "-1s", "0", 0, -2, True, [1],
                                   "nan", float("inf")])
def test_bad_intervals(value: object) -> None:
    with pytest.raises((TypeError, ValueError)) as info:
        parse_interval(value)
    assert "interval" in str(info.value) or "expected" in str(info.value)


def test_substitution() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert substitute("x${A}y", env) == "x1y"
    assert substitute("${MISSING:-dflt}", env) == "dflt"
    assert substitute("${EMPTY:-dflt}", env) == "dflt"
    assert substitute("$${A} and $$", env) == "${A} and $"
    assert substitute({"k": ["${A}", 2]}, env) == {"k": ["1", 2]}
    assert substitute("$HOME stays", env) == "$HOME stays"


@pytest.mark.parametrize("once", [True, False], ids=["once", "scheduled"])
def test_planner_state_store_is_lent_to_links_without_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, once: bool) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("a\nb\nc\n", encoding="utf-8")
    text = f"""
[[links]]
name = "lines"
interval = "10ms"

[[links.inlets]]
type = "FileInlet"
filepath = "in.txt"

[[links.outlets]]
type = "FileOutlet"
default_filepath = "out.txt"

[planner]
type = "SchedulePlanner"

[planner.state_store]
type = "FileStateStore"
path = "state/{'once' if once else 'run'}.json"
"""
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    args = ["--once"] if once else ["--duration", "0.5"]
    assert main(["run", "p.toml", *args, "--status", "off"]) == 0
    state = json.loads((tmp_path / "state" / f"{'once' if once else 'run'}.json").read_text())
    # the link checkpointed in the planner's store: its inlet's cursor, under its name
    assert list(state) and all(key.startswith("lines/") for key in state)
    assert (tmp_path / "out.txt").read_text().startswith("a")


class Bare(BasePlanner):
    """An old-style third-party planner: no state_store keyword."""

    def __init__(self) -> None:
        super().__init__()

    def _schedule(self, link: object) -> None: ...
    def _unschedule(self, link: object) -> None: ...
    def _start_planner(self) -> None: ...
    def _shutdown_planner(self, wait: bool = True) -> None: ...


def test_planner_without_state_stores_refuses_the_table() -> None:
    text = (link() + "\n[planner]\ntype = 'test_validate:Bare'\n[planner.state_store]\n"
            "type = 'MemoryStateStore'\n")
    with pytest.raises(PipelineError, match=r"\[planner\] \(test_validate:Bare\), key "
                                            r"'state_store': unknown key; test_validate:Bare "
                                            r"takes no state store"):
        build_pipeline(parse_toml(text, "p.toml"), "p.toml", {})


@pytest.mark.parametrize("dead_letter, warned", [
    ('type = "FileOutlet"\ndefault_filepath = "dead.txt"', True),
    ('type = "FileOutlet"\ndefault_filepath = "dead.jsonl"\njson_lines = true', False),
    ('type = "FileOutlet"\ndefault_filepath = "dead.txt"\n'
     'processors = ["databay.delivery:dead_letter_fields"]', False),
    ('type = "NullOutlet"', True),
])
def test_a_dead_letter_outlet_that_drops_the_details_is_warned_about(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], dead_letter: str,
        warned: bool) -> None:
    path = tmp_path / "p.toml"
    path.write_text(link(extra=f"[links.dead_letter]\n{dead_letter}\n"))
    assert main(["validate", "--quiet", str(path)]) == 0  # valid: a warning only
    err = capsys.readouterr().err
    if warned:
        assert err.startswith(f"warning: {path}: link 'orders', key 'dead_letter': the "
                              "dead-letter outlet ")
        assert "stores payloads only" in err and "json_lines = true" in err
        assert "databay.delivery:dead_letter_fields" in err
    else:
        assert err == ""


def test_quiet_prints_nothing_for_a_good_file_and_still_prints_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text(link())
    assert main(["validate", "--quiet", str(good)]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["validate", str(good)]) == 0
    assert f"{good}: OK: 1 link (orders)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(link().replace("[[links]]", "[[links]]\nbogus_key = 1", 1))
    assert main(["validate", "--quiet", str(good), str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "bogus_key" in err and f"{bad}: 1 error" in err
