"""Shared test configuration.

Every test outside ``tests/core/`` needs plugin distributions installed: such tests get
the ``plugins`` marker automatically, so the core-only matrix cell deselects them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
CORE_DIRS = {TESTS / "core"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if not any(d in path.parents for d in CORE_DIRS) and "core_only" not in item.keywords:
            item.add_marker(pytest.mark.plugins)


@pytest.fixture
def databay_debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture databay's log records at DEBUG."""
    logger = logging.getLogger("databay")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="databay")
    yield caplog
    logger.setLevel(old)
