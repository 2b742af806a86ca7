"""Shared test configuration.

Every test outside ``tests/core/`` needs plugin distributions installed: such tests get
the ``plugins`` marker automatically, so the core-only matrix cell deselects them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
PACKAGES = TESTS.parent / "packages"
CORE_DIRS = {TESTS / "core"}


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip ``tests/<name>/`` when the package ``databay-<name>`` is not installed (the
    core-only matrix cell): its modules import the package's third-party libraries.
    ``tests/integration/`` needs every package."""
    if collection_path.parent == TESTS and collection_path.is_dir():
        if collection_path.name == "integration":  # needs every package
            return not all(_installed(p.name) for p in PACKAGES.iterdir() if p.is_dir())
        distribution = f"databay-{collection_path.name}"
        if (PACKAGES / distribution).is_dir() and not _installed(distribution):
            return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if "docs_block" in item.keywords:
            continue  # tests/docs marks the blocks that need plugins itself
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
