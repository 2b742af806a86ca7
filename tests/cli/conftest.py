"""Fixtures of the ``databay`` command tests: a JSON source on 127.0.0.1, a folder with
the marker plugin module, and subprocesses that are always stopped in teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _cli_support import MARKER_MODULE, JsonSource, Processes


@pytest.fixture
def source() -> Iterator[JsonSource]:
    server = JsonSource()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nodes_dir(tmp_path: Path) -> Path:
    """A folder holding ``clinodes.py`` (see MARKER_MODULE), for PYTHONPATH."""
    folder = tmp_path / "nodes"
    folder.mkdir()
    (folder / "clinodes.py").write_text(MARKER_MODULE, encoding="utf-8")
    return folder


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()
