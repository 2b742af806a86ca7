"""Checks shared by CsvOutlet and CsvInlet."""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

Dialect = str | csv.Dialect | type[csv.Dialect]


def check_path(value: Any, owner: str, arg: str) -> str:
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{owner}({arg}=...) must be a str or os.PathLike path, "
                        f"got {type(value).__name__}: {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{owner}({arg}=...) must be a non-empty path, got {value!r}")
    if "\x00" in path:
        raise ValueError(f"{owner}({arg}=...) must not contain a NUL byte, got {path!r}")
    return path


def check_encoding(encoding: Any, owner: str) -> str:
    if not isinstance(encoding, str):
        raise TypeError(f"{owner}(encoding=...) must be a str, got {encoding!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"{owner}(encoding=...): unknown encoding {encoding!r}") from None
    return encoding


def format_params(
    owner: str, dialect: Any, delimiter: Any, fmtparams: Any
) -> tuple[Dialect, dict[str, Any]]:
    """Validate a dialect plus format parameters by building a writer and a reader."""
    if isinstance(dialect, str):
        known = csv.list_dialects()
        if dialect not in known:
            raise ValueError(
                f"{owner}(dialect=...): unknown csv dialect {dialect!r}; registered dialects: "
                f"{', '.join(sorted(known))} (or pass a csv.Dialect subclass)"
            )
    elif not (isinstance(dialect, csv.Dialect)
              or (isinstance(dialect, type) and issubclass(dialect, csv.Dialect))):
        raise TypeError(f"{owner}(dialect=...) must be a registered dialect name or a "
                        f"csv.Dialect subclass, got {type(dialect).__name__}: {dialect!r}")
    if fmtparams is None:
        params: dict[str, Any] = {}
    elif isinstance(fmtparams, Mapping):
        params = dict(fmtparams)
    else:
        raise TypeError(f"{owner}(fmtparams=...) must be a dict of csv format parameters, "
                        f"got {fmtparams!r}")
    if delimiter is not None:
        params["delimiter"] = delimiter
    try:
        csv.writer(io.StringIO(), dialect, **params)
        csv.reader([], dialect, **params)
    except (TypeError, csv.Error) as exc:
        raise ValueError(
            f"{owner}: invalid csv format for dialect={dialect!r} with {params!r}: {exc}"
        ) from None
    return dialect, params


def check_names(value: Any, owner: str, arg: str = "fieldnames") -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{owner}({arg}=...) must be a list of column names, got {value!r}")
    names = list(value)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{owner}({arg}=...) must be a non-empty list of str, got {value!r}")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{owner}({arg}=...) has duplicate column names {dup}")
    return names


def choice(value: Any, owner: str, arg: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{owner}({arg}=...) must be one of "
                         f"{', '.join(map(repr, allowed))}, got {value!r}")
    return str(value)


def flag(value: Any, owner: str, arg: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}({arg}=...) must be True or False, got {value!r}")
    return value
