"""Argument checks that give errors naming the argument and what is accepted."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any


def callables(value: Any, arg: str, owner: type | str) -> list[Any]:
    """``None``, a callable or a list of callables, as a new list."""
    owner_name = owner if isinstance(owner, str) else owner.__name__
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for i, item in enumerate(items):
        if not isinstance(item, Callable):  # type: ignore[arg-type]
            where = f"{arg}[{i}]" if isinstance(value, (list, tuple)) else arg
            raise TypeError(
                f"{owner_name}({arg}=...): {where} must be callable, "
                f"got {type(item).__name__}: {item!r}"
            )
    return items


def interval(value: Any, owner: str, arg: str = "interval") -> datetime.timedelta:
    """A positive ``timedelta`` from a timedelta or a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (datetime.timedelta, int, float)):
        raise TypeError(
            f"{owner}({arg}=...) must be a datetime.timedelta or a number of seconds, "
            f"got {type(value).__name__}: {value!r}"
        )
    td = value if isinstance(value, datetime.timedelta) else datetime.timedelta(seconds=value)
    if td <= datetime.timedelta(0):
        hint = ""
        if td == datetime.timedelta(0) and owner == "Link" and arg == "interval":
            hint = ("; Databay 0.3 accepted 0 (its ApsPlanner then ran the link every "
                    "second): write interval=1 for every second, or any positive interval "
                    "for a link you only run by hand with transfer()")
        raise ValueError(f"{owner}({arg}=...) must be positive, got {value!r}{hint}")
    return td


def flag(value: Any, owner: str, arg: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}({arg}=...) must be True or False, got {value!r}")
    return value


def returned_list(value: Any, func: Callable[..., Any], what: str) -> Any:
    """``value`` when a processor or grouper returned a list, else a TypeError saying so."""
    if not isinstance(value, list):
        raise TypeError(
            f"{what} {func!r} returned {type(value).__name__}, not a list; "
            f"a {what} must return the list of records{' batches' if what == 'grouper' else ''}"
        )
    return value
