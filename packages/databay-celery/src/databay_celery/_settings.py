"""Settings shared by beat and workers, from keyword arguments or the environment.

Connection URLs (which may hold credentials) come from the environment, are never
written to a pipeline file by us, and never appear in reprs, logs or errors unredacted.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from databay.redact import redact_url

__all__ = ["ENV", "Settings", "redact"]

#: Environment variables read by :meth:`Settings.from_env`, by setting name.
ENV: dict[str, tuple[str, ...]] = {
    "broker_url": ("DATABAY_CELERY_BROKER", "CELERY_BROKER_URL"),
    "redis_url": ("DATABAY_CELERY_REDIS",),
    "queue": ("DATABAY_CELERY_QUEUE",),
    "prefix": ("DATABAY_CELERY_PREFIX",),
    "lock_lease": ("DATABAY_CELERY_LOCK_LEASE",),
    "beat_lease": ("DATABAY_CELERY_BEAT_LEASE",),
    "record_ttl": ("DATABAY_CELERY_RECORD_TTL",),
    "visibility_timeout": ("DATABAY_CELERY_VISIBILITY_TIMEOUT",),
    "restore_interval": ("DATABAY_CELERY_RESTORE_INTERVAL",),
    "poll": ("DATABAY_CELERY_POLL",),
    "lead": ("DATABAY_CELERY_LEAD",),
}

_BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp", "sentinel")
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
_NUMBERS = ("lock_lease", "beat_lease", "record_ttl", "visibility_timeout",
            "restore_interval", "poll")
_FLOATS = (*_NUMBERS, "lead")


def redact(url: str) -> str:
    """``url`` with its password (or lone user) and credential-looking query values
    (``?password=...``) replaced by ``***`` (:func:`databay.redact.redact_url`)."""
    return redact_url(url)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How beat and workers meet.

    :param broker_url: the Celery broker (``redis://``, ``rediss://``, ``amqp://``...).
    :param redis_url: the Redis holding locks and tick records; by default the broker
        when it is Redis (required with another broker).
    :param queue: the Celery queue the ticks go to.
    :param prefix: the prefix of every Redis key; give each pipeline its own.
    :param lock_lease: seconds a link lock lives without renewal (renewed every third
        of it while a transfer runs): how long a dead worker can block its links.
    :param beat_lease: the same for the beat lock: how long a standby beat waits to
        take over from a dead one.
    :param record_ttl: seconds a tick's record is kept (a redelivery older than this
        runs the tick again).
    :param visibility_timeout: seconds after which a message a dead worker took is
        delivered again (Redis broker).
    :param restore_interval: how often workers look for such messages (Redis broker).
    :param poll: seconds between two tries of a tick that waits for its link's lock.
    :param lead: seconds beat publishes each tick ahead of its due time; the message
        carries the due time as its Celery ETA and the worker holds it (in its timer, not
        in a pool thread) until then, so that ticks due at the same moment start on time
        instead of one broker round trip after the other. ``0`` publishes at the due
        time. Below ``visibility_timeout``.
    """

    broker_url: str
    redis_url: str
    queue: str = "databay"
    prefix: str = "databay"
    lock_lease: float = 60.0
    beat_lease: float = 15.0
    record_ttl: float = 86400.0
    visibility_timeout: float = 300.0
    restore_interval: float = 10.0
    poll: float = 1.0
    lead: float = 0.75

    def __post_init__(self) -> None:
        for name in ("queue", "prefix"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise ValueError(f"databay-celery setting {name!r} must be a non-empty name "
                                 f"of letters, digits and _ . : -, got {value!r}")
        for name in _NUMBERS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value <= 0:
                raise ValueError(f"databay-celery setting {name!r} must be a positive number "
                                 f"of seconds, got {value!r}")
        lead = self.lead
        if isinstance(lead, bool) or not isinstance(lead, (int, float)) \
                or not math.isfinite(lead) or lead < 0 or lead >= self.visibility_timeout:
            raise ValueError(f"databay-celery setting 'lead' must be a number of seconds from "
                             f"0 (publish each tick when due) to below visibility_timeout "
                             f"({self.visibility_timeout:g} s), got {lead!r}")
        if self.lock_lease < 1.0 or self.beat_lease < 1.0:
            raise ValueError("databay-celery settings 'lock_lease' and 'beat_lease' must be "
                             f"at least 1 second, got {self.lock_lease!r} and "
                             f"{self.beat_lease!r}")
        if self.record_ttl <= self.visibility_timeout + self.lock_lease:
            raise ValueError(f"databay-celery setting 'record_ttl' ({self.record_ttl:g} s) must "
                             f"be longer than visibility_timeout + lock_lease "
                             f"({self.visibility_timeout + self.lock_lease:g} s): a message "
                             f"delivered again after its tick's record expired runs again")
        _check_url("broker_url", self.broker_url, _BROKER_SCHEMES)
        _check_url("redis_url", self.redis_url, _REDIS_SCHEMES)

    def __repr__(self) -> str:
        return (f"Settings(broker_url={redact(self.broker_url)!r}, "
                f"redis_url={redact(self.redis_url)!r}, queue={self.queue!r}, "
                f"prefix={self.prefix!r})")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **given: Any) -> Settings:
        """Settings from ``given`` keyword arguments (those not None), then from the
        environment variables in :data:`ENV`, then the defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, names in ENV.items():
            value = given.pop(name, None)
            if value is None:
                for var in names:
                    raw = env.get(var)
                    if raw:
                        value = _number(var, raw) if name in _FLOATS else raw
                        break
            if value is not None:
                values[name] = value
        if given:
            raise TypeError(f"unknown databay-celery setting(s): {', '.join(sorted(given))}; "
                            f"accepted: {', '.join(ENV)}")
        broker = values.get("broker_url")
        if broker is None:
            raise ValueError("no Celery broker URL: set the environment variable "
                             "DATABAY_CELERY_BROKER (or CELERY_BROKER_URL), e.g. "
                             "redis://host:6379/0 or rediss://... for TLS; keep credentials "
                             "in the environment, not in the pipeline file")
        _check_url("broker_url", broker, _BROKER_SCHEMES)
        if "redis_url" not in values:
            if not isinstance(broker, str) or urlsplit(broker).scheme not in _REDIS_SCHEMES:
                raise ValueError(f"the broker {redact(str(broker))!r} is not Redis: set "
                                 f"DATABAY_CELERY_REDIS to the Redis URL that holds the "
                                 f"locks and tick records")
            values["redis_url"] = broker
        return cls(**values)


def _number(var: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"environment variable {var} must be a number of seconds, "
                         f"got {raw!r}") from None


def _check_url(name: str, url: Any, schemes: tuple[str, ...]) -> None:
    if not isinstance(url, str) or not url:
        raise ValueError(f"databay-celery setting {name!r} must be a URL string, "
                         f"got {type(url).__name__}")
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in schemes:
        raise ValueError(f"databay-celery setting {name!r}: unsupported URL "
                         f"{redact(url)!r}; expected one of the schemes "
                         f"{', '.join(s + '://' for s in schemes)}")
    for part in filter(None, url.split(";")):  # failover lists: url1;url2
        try:
            parts = urlsplit(part)
            parts.port  # noqa: B018 - parsing checks brackets and the port
            db = parts.path.strip("/")
            if parts.scheme.lower() in ("redis", "rediss") and db and not db.isdigit():
                raise ValueError(f"the Redis database must be a number, got {db!r}")
        except ValueError as exc:
            raise ValueError(f"databay-celery setting {name!r}: invalid URL "
                             f"{redact(part)!r}: {exc}") from None


#: Keys of a pipeline file's ``[planner]`` table that are settings (besides ``settings``).
FILE_KEYS = ("broker_url", "redis_url", "queue", "prefix")


def pipeline_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings a pipeline file's ``[planner]`` table gives CeleryPlanner
    (``queue``, ``prefix``, ``settings = {...}``...), with ``${VAR}`` substituted; empty
    when the file's planner is another one. Every role reads the file the same way, so
    beat and workers agree on the queue and key prefix however they are started."""
    from databay.pipeline import read_toml, substitute

    table = read_toml(path).get("planner")
    if not isinstance(table, dict):
        return {}
    kind = table.get("type")
    if not isinstance(kind, str) or kind.rsplit(":", 1)[-1].rsplit(".", 1)[-1] \
            != "CeleryPlanner":
        return {}
    values: dict[str, Any] = {}
    try:
        for key in FILE_KEYS:
            if table.get(key) is not None:
                values[key] = substitute(table[key], os.environ)
        extra = table.get("settings")
        if isinstance(extra, dict):
            for key, value in extra.items():
                values[key] = substitute(value, os.environ)
    except LookupError as exc:
        raise ValueError(f"{os.fspath(path)}: [planner]: environment variable {exc} is not "
                         f"set") from None
    return values
