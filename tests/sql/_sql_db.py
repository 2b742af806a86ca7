"""The database of one databay-sql test (see conftest.py's ``db`` fixture)."""

from __future__ import annotations

import uuid
from typing import Any


class Db:
    """One database of a test: ``url``, ``name(base)`` for a unique table name,
    ``execute``/``scalar``/``rows`` to look at it with plain SQLAlchemy."""

    def __init__(self, kind: str, url: str) -> None:
        import sqlalchemy as sa

        self.kind = kind
        self.url = url
        self.prefix = f"t{uuid.uuid4().hex[:8]}_"
        self.engine = sa.create_engine(url)
        self._names: list[str] = []

    def name(self, base: str) -> str:
        name = self.prefix + base
        self._names.append(name)
        return name

    def execute(self, sql: str, params: Any = None) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params or {})

    def scalar(self, sql: str, params: Any = None) -> Any:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params or {}).scalar()

    def rows(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(sql), params or {}).mappings()]

    def drop(self) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            for name in self._names:
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
        self.engine.dispose()
