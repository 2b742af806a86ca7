"""A checkpoint state store in Redis, shared by every worker of a pipeline.

Workers on different hosts run the same link in turn; with a file or memory store each
would resume from its own cursor. This store keeps the committed cursors in one Redis
hash, so whichever worker runs the next tick resumes where the last one committed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import redis
from databay.delivery import StateStore
from databay.errors import DatabayError
from databay.redact import Secrets

from databay_celery._settings import _REDIS_SCHEMES, ENV, redact

__all__ = ["RedisStateStore", "StateStoreError"]


class StateStoreError(DatabayError):
    """The state store could not read or write a cursor (Redis unreachable, ...)."""


def _url_from_env(env: Mapping[str, str]) -> str | None:
    for name in (*ENV["redis_url"], *ENV["broker_url"]):
        value = env.get(name)
        if value and value.split(":", 1)[0] in _REDIS_SCHEMES:
            return value
    return None


class RedisStateStore(StateStore):
    """Committed cursors in a Redis hash, as JSON.

    :param url: the Redis server (``redis://``, ``rediss://``, ``unix://``); by default
        ``DATABAY_CELERY_REDIS``, else the Celery broker's URL when it is Redis. Keep
        credentials in the environment (``url = "${REDIS_URL}"`` in a pipeline file).
    :param key: the hash that holds this pipeline's cursors; give pipelines that share
        a Redis server different keys.
    :param client: a ready ``redis.Redis`` (then ``url`` is not used).

    A cursor is as durable as the server makes it (its AOF/RDB settings).
    """

    def __init__(self, url: str | None = None, key: str = "databay:state", *,
                 client: Any = None) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError(f"RedisStateStore(key=...) must be a non-empty string, "
                             f"got {key!r}")
        self.key = key
        self._secrets = Secrets()
        if client is not None:
            self._url = "<client>"
            self.client: Any = client
            return
        if url is None:
            url = _url_from_env(os.environ)
            if url is None:
                raise ValueError(
                    "RedisStateStore needs a Redis URL: pass url=... or set the "
                    "environment variable DATABAY_CELERY_REDIS (or a redis:// "
                    "DATABAY_CELERY_BROKER)")
        scheme = url.partition("://")[0].lower() if isinstance(url, str) else ""
        if scheme not in _REDIS_SCHEMES or "://" not in url:
            shown = redact(url) if isinstance(url, str) else type(url).__name__
            raise ValueError(f"RedisStateStore(url=...) must be a Redis URL "
                             f"({', '.join(s + '://' for s in _REDIS_SCHEMES)}), "
                             f"got {shown!r}")
        self._url = redact(url)
        self._secrets.add_url(url)
        try:
            self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10,
                                               socket_connect_timeout=10)
            # the connection's keywords are parsed lazily: check the db number and port now
            parts = urlsplit(url)
            parts.port  # noqa: B018 - checks the port
            db = parts.path.strip("/")
            if scheme != "unix" and db and not db.isdigit():  # redis-py would use db 0
                raise ValueError(f"the database must be a number, got {db!r}")
        except ValueError as exc:
            raise ValueError(f"RedisStateStore(url=...) is not a valid Redis URL: "
                             f"{redact(url)!r}: {self._secrets.mask(str(exc))}") from None

    def get(self, key: str) -> Any:
        try:
            raw = self.client.hget(self.key, key)
        except redis.RedisError as exc:
            raise StateStoreError(f"{self!r}: reading the cursor {key!r} failed: "
                                  f"{type(exc).__name__}: {self._secrets.mask(str(exc))}") from None
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise StateStoreError(f"{self!r}: the cursor {key!r} is not JSON: "
                                  f"{raw[:80]!r}") from None

    def set(self, key: str, value: Any) -> None:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{self!r}: cursor for {key!r} is not JSON-serialisable: "
                            f"{value!r}") from exc
        try:
            self.client.hset(self.key, key, text)
        except redis.RedisError as exc:
            raise StateStoreError(f"{self!r}: committing the cursor {key!r} failed: "
                                  f"{type(exc).__name__}: {self._secrets.mask(str(exc))}") from None

    def close(self) -> None:
        """Close the connections to Redis."""
        self.client.close()

    def __repr__(self) -> str:
        return f"RedisStateStore(url={self._url!r}, key={self.key!r})"
