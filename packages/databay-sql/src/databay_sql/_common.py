"""What SqlInlet, SqlOutlet and SqlStateStore share: engines (one per URL and options,
with connect and statement time-outs), redaction of URLs, SQL names, error classes."""

from __future__ import annotations

import re
import threading
from typing import Any

import sqlalchemy as sa
from databay.redact import Secrets, redact_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_STATEMENT_TIMEOUT", "Database", "check_name",
           "is_transient_db_error"]

#: seconds to wait for a connection (SQLite: for a lock held by another writer)
DEFAULT_CONNECT_TIMEOUT = 10.0
#: seconds a statement may run (PostgreSQL and MySQL; None for no limit)
DEFAULT_STATEMENT_TIMEOUT: float | None = 300.0

#: a table or column name: letters, digits, '_' (not first a digit), optionally one
#: schema prefix 'schema.table'; at most 63 characters a part (PostgreSQL's limit)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_PERMANENT_SQLITE = re.compile(r"no such (table|column)|has no column|syntax error|"
                               r"no column named|constraint|datatype mismatch", re.I)


def check_name(value: Any, where: str, what: str = "table") -> str:
    """``value`` if it is a plain SQL name (``name`` or ``schema.name``), else raise a
    ValueError naming ``where``."""
    if not isinstance(value, str):
        raise TypeError(f"{where} must be a str ({what} name), got "
                        f"{type(value).__name__}: {value!r}")
    parts = value.split(".")
    if len(parts) > 2 or not all(_NAME.fullmatch(p) for p in parts):
        raise ValueError(f"{where}: {value!r} is not a valid {what} name: use letters, "
                         f"digits and '_' (not starting with a digit, at most 63 "
                         f"characters), optionally prefixed by 'schema.'")
    return value


def is_transient_db_error(exc: BaseException) -> bool:
    """Whether retrying may help: lost or refused connections, time-outs, locks,
    serialization failures; not constraint violations, bad data or missing tables."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa_exc.TimeoutError, sa_exc.DisconnectionError, ConnectionError,
                        TimeoutError)):
        return True
    if isinstance(exc, (sa_exc.IntegrityError, sa_exc.DataError, sa_exc.ProgrammingError,
                        sa_exc.NotSupportedError)):
        return False
    if isinstance(exc, sa_exc.OperationalError):
        # SQLite reports a missing table as an OperationalError too
        return not _PERMANENT_SQLITE.search(str(exc.orig))
    if isinstance(exc, sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.InternalError):  # e.g. PostgreSQL serialization failures
        code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
        return code.startswith("40")
    return False


_ENGINES: dict[tuple[Any, ...], Engine] = {}
_ENGINES_LOCK = threading.Lock()


class Database:
    """One database URL of an inlet, outlet or store: its engine (shared by every node
    with the same URL and options in the process, created on first use), its redacted
    form, and the secrets to mask in error messages."""

    def __init__(self, owner: str, url: Any, connect_timeout: float | None,
                 statement_timeout: float | None, engine_options: dict[str, Any] | None
                 ) -> None:
        if isinstance(url, URL):
            url = url.render_as_string(hide_password=False)
        if not isinstance(url, str) or not url.strip():
            raise TypeError(f"{owner}(url=...) must be a SQLAlchemy database URL such as "
                            f"'sqlite:///data.db' or 'postgresql+psycopg://user:pw@host/db', "
                            f"got {redact_url(url) if isinstance(url, str) else repr(url)}")
        self.secrets = Secrets()
        self.secrets.add_url(url)
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise ValueError(f"{owner}(url={redact_url(url)!r}): not a database URL "
                             f"({type(exc).__name__}); expected e.g. 'sqlite:///data.db' or "
                             f"'postgresql+psycopg://user@host/db'") from None
        if parsed.password:
            self.secrets.add(str(parsed.password))
        try:
            parsed.get_dialect()
        except Exception as exc:
            shown = parsed.render_as_string(hide_password=True)
            raise ValueError(
                f"{owner}(url={shown!r}): SQLAlchemy has no dialect or driver "
                f"{parsed.drivername!r} ({type(exc).__name__}: {self.secrets.mask(str(exc))}); "
                f"install the driver (PostgreSQL: pip install 'databay-sql[postgresql]')"
            ) from None
        for name, where in (("connect_timeout", connect_timeout),
                            ("statement_timeout", statement_timeout)):
            if where is not None and (isinstance(where, bool)
                                      or not isinstance(where, (int, float)) or where <= 0):
                raise ValueError(f"{owner}({name}=...) must be a positive number of seconds "
                                 f"or None, got {where!r}")
        if engine_options is not None and not isinstance(engine_options, dict):
            raise TypeError(f"{owner}(engine_options=...) must be a dict of "
                            f"sqlalchemy.create_engine() options, got {engine_options!r}")
        self.owner = owner
        self.url = parsed
        self.redacted = parsed.render_as_string(hide_password=True)
        if parsed.username and parsed.password is None:
            self.redacted = redact_url(self.redacted)
        self.dialect = parsed.get_backend_name()
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.engine_options = dict(engine_options or {})
        self._engine: Engine | None = None

    @property
    def same_as_key(self) -> tuple[Any, ...]:
        """What makes two nodes share a database (URL with password)."""
        return (self.url.render_as_string(hide_password=False),)

    def _key(self) -> tuple[Any, ...]:
        return (self.url.render_as_string(hide_password=False), self.connect_timeout,
                self.statement_timeout, repr(sorted(self.engine_options.items())))

    def engine(self) -> Engine:
        engine = self._engine
        if engine is not None:
            return engine
        key = self._key()
        with _ENGINES_LOCK:
            engine = _ENGINES.get(key)
            if engine is None:
                engine = _ENGINES[key] = self._create()
        self._engine = engine
        return engine

    def _create(self) -> Engine:
        options: dict[str, Any] = {"pool_pre_ping": True}
        connect_args: dict[str, Any] = {}
        timeout, statement = self.connect_timeout, self.statement_timeout
        if self.dialect == "sqlite":
            if timeout is not None:
                connect_args["timeout"] = timeout  # waiting for another writer's lock
        elif self.dialect == "postgresql":
            if timeout is not None:
                connect_args["connect_timeout"] = max(1, int(timeout))
            if statement is not None:
                connect_args["options"] = f"-c statement_timeout={int(statement * 1000)}"
        elif self.dialect in ("mysql", "mariadb"):
            if timeout is not None:
                connect_args["connect_timeout"] = max(1, int(timeout))
            if statement is not None:
                connect_args["read_timeout"] = max(1, int(statement))
                connect_args["write_timeout"] = max(1, int(statement))
        if timeout is not None and self.dialect != "sqlite":
            options["pool_timeout"] = timeout
        user_args = self.engine_options.pop("connect_args", None) or {}
        options.update(self.engine_options)
        options["connect_args"] = {**connect_args, **user_args}
        try:
            return sa.create_engine(self.url, **options)
        except Exception as exc:
            raise ValueError(self.redact(f"{self.owner}(url={self.redacted!r}): cannot create "
                                         f"an engine: {type(exc).__name__}: {exc}")) from None

    def redact(self, text: str) -> str:
        return self.secrets.mask(text)

    def describe(self, exc: BaseException) -> str:
        """``exc`` as one line without secrets (a DBAPI error without its SQL)."""
        orig = getattr(exc, "orig", None)
        base = orig if orig is not None else exc
        text = str(base).strip().splitlines()[0] if str(base).strip() else ""
        return self.redact(f"{type(base).__name__}: {text}")
