"""With databay-core alone, names of our plugin distributions give the install line."""

from __future__ import annotations

import importlib

import pytest

pytestmark = pytest.mark.core_only

MISSING = [
    ("databay.inlets", "HttpInlet", "databay-http"),
    ("databay.inlets.http_inlet", "HttpInlet", "databay-http"),
    ("databay.outlets", "MongoOutlet", "databay-mongo"),
    ("databay.outlets.mongo_outlet", "MongoOutlet", "databay-mongo"),
    ("databay.outlets", "CsvOutlet", "databay-csv"),
    ("databay.outlets.csv_outlet", "CsvOutlet", "databay-csv"),
    ("databay.planners", "ApsPlanner", "databay-planners"),
    ("databay.planners.aps_planner", "ApsPlanner", "databay-planners"),
    ("databay.planners", "SchedulePlanner", "databay-planners"),
    ("databay.planners.schedule_planner", "SchedulePlanner", "databay-planners"),
]


@pytest.mark.parametrize(("module", "name", "dist"), MISSING)
def test_missing_plugin_names_the_distribution(module: str, name: str, dist: str) -> None:
    mod = importlib.import_module(module)
    with pytest.raises(ImportError, match=f"which is not installed: pip install {dist}$"):
        getattr(mod, name)
    with pytest.raises(ImportError, match=f"pip install {dist}"):
        exec(f"from {module} import {name}", {})


def test_core_alone_still_transfers() -> None:
    from databay import Link
    from databay.inlets import RandomIntInlet
    from databay.outlets import NullOutlet

    assert Link(RandomIntInlet(), NullOutlet(), 1).transfer().pulled == 1
