"""SqlInlet, SqlOutlet and SqlStateStore from pipeline files (databay.pipeline), with
[planner.state_store] and [links.state_store]; errors name the key, never the password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _sql_db import Db
from databay.pipeline import PipelineError, build_pipeline, parse_toml
from databay_sql import SqlInlet, SqlOutlet, SqlStateStore


def _pipeline(text: str) -> Any:
    return build_pipeline(parse_toml(text, "test.toml"), "test.toml", env={})


def test_a_copy_pipeline_with_the_planners_state_store(db: Db, tmp_path: Path) -> None:
    source = db.name("src")
    db.execute(f'CREATE TABLE "{source}" (id INTEGER PRIMARY KEY, v TEXT)')
    db.execute(f'INSERT INTO "{source}" VALUES (:id, :v)',
               [{"id": i, "v": str(i)} for i in range(1, 8)])
    target, state = db.name("dst"), db.name("state")
    pipeline = _pipeline(f"""
[planner]
type = "ThreadPlanner"

[planner.state_store]
type = "SqlStateStore"
url = "{db.url}"
table = "{state}"

[[links]]
name = "copy"
tags = ["copy"]
interval = 60

[[links.inlets]]
type = "SqlInlet"
url = "{db.url}"
table = "{source}"
cursor_column = "id"
chunk_size = 5

[[links.outlets]]
type = "SqlOutlet"
url = "{db.url}"
table = "{target}"
mode = "upsert"
key = ["id"]
create_table = true
""")
    pipeline.lend_state_store()
    link = pipeline.enabled_links[0].link
    assert isinstance(link.inlets[0], SqlInlet) and isinstance(link.outlets[0], SqlOutlet)
    assert isinstance(link.state_store, SqlStateStore)
    link.transfer()
    link.transfer()
    assert db.scalar(f'SELECT count(*) FROM "{target}"') == 7
    assert link.state_store.get("copy/0:SqlInlet") == 7


def test_a_links_own_state_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    pipeline = _pipeline(f"""
[[links]]
name = "l"
tags = ["l"]
interval = 60
[links.state_store]
type = "SqlStateStore"
url = "{url}"
[[links.inlets]]
type = "SqlInlet"
url = "{url}"
query = "SELECT 1 AS id"
[[links.outlets]]
type = "NullOutlet"
""")
    assert isinstance(pipeline.enabled_links[0].link.state_store, SqlStateStore)


def test_bad_values_are_pipeline_errors_without_the_password() -> None:
    with pytest.raises(PipelineError) as caught:
        _pipeline("""
[[links]]
name = "l"
interval = 60
[[links.inlets]]
type = "SqlInlet"
url = "postgresql+psycopg://u:Pipe-s3cret@db/x"
[[links.outlets]]
type = "SqlOutlet"
url = "postgresql+psycopg://u:Pipe-s3cret@db/x"
table = "bad name"
""")
    text = "\n".join(str(problem) for problem in caught.value.errors)
    assert "not neither" in text
    assert "table=" in text and "not a valid table name" in text
    assert "Pipe-s3cret" not in text
