"""databay-example: a databay plugin providing CounterInlet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from databay_example._counter import CounterInlet

__all__ = ["CounterInlet"]


def __getattr__(name: str) -> Any:
    # Loading the plugin imports this package first: import the class on first use only.
    if name == "CounterInlet":
        from databay_example._counter import CounterInlet

        return CounterInlet
    raise AttributeError(f"module 'databay_example' has no attribute {name!r}")
