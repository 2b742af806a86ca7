"""Every checkpointable connector inlet takes ``checkpoint_key=...`` (docs/delivery.md:
"set checkpoint_key on your inlets"), so a pipeline file can set it too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from databay import Inlet, Link
from databay.delivery import MemoryStateStore
from databay.inlets.file_inlet import FileInlet
from databay_csv import CsvInlet
from databay_http import HttpInlet
from databay_mongo import MongoInlet

MAKERS: dict[str, Any] = {
    "FileInlet": lambda path, **kw: FileInlet(path, **kw),
    "CsvInlet": lambda path, **kw: CsvInlet(path, **kw),
    "HttpInlet": lambda path, **kw: HttpInlet("http://127.0.0.1:9/items", cursor_param="after",
                                              cursor_field="id", **kw),
    "MongoInlet": lambda path, **kw: MongoInlet(uri="mongodb://127.0.0.1:9", **kw),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_inlets_take_a_checkpoint_key(tmp_path: Path, kind: str) -> None:
    inlet: Inlet = MAKERS[kind](tmp_path / "in.csv", checkpoint_key="orders-source")
    assert inlet.checkpoint_key == "orders-source"
    inlet.checkpoint_key = "renamed"
    assert inlet.checkpoint_key == "renamed"
    with pytest.raises(TypeError, match=rf"{kind}\(checkpoint_key=...\) must be a str"):
        MAKERS[kind](tmp_path / "in.csv", checkpoint_key=3)


def test_csv_inlet_cursor_is_committed_under_its_key(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n2\n")
    store = MemoryStateStore()
    inlet = CsvInlet(source, checkpoint_key="rows")
    link = Link(inlet, [], 1, tags="t", state_store=store)
    assert link.transfer().committed
    assert store.get("t/rows") is not None
    inlet.try_shutdown()


def test_a_pipeline_file_sets_checkpoint_key(tmp_path: Path) -> None:
    """docs/delivery.md: ``checkpoint_key = "..."`` in the inlet's table of a pipeline."""
    from databay.pipeline import build_pipeline, parse_toml

    source = tmp_path / "events.log"
    source.write_text("a\nb\n")
    state = tmp_path / "state.json"
    text = f"""
[[links]]
name = "events"
interval = 1
[links.state_store]
type = "FileStateStore"
path = {json.dumps(str(state))}
[[links.inlets]]
type = "FileInlet"
filepath = {json.dumps(str(source))}
checkpoint_key = "events-log"
[[links.outlets]]
type = "NullOutlet"
"""
    pipeline = build_pipeline(parse_toml(text, "p.toml"), "p.toml", need_planner=False)
    (spec,) = pipeline.links
    assert spec.link.inlets[0].checkpoint_key == "events-log"
    assert spec.link.transfer().committed
    spec.link.on_shutdown()
    assert json.loads(state.read_text()) == {"events/events-log": 2}
