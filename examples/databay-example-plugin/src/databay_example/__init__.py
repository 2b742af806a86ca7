"""databay-example: a databay plugin providing CounterInlet."""

from databay_example._counter import CounterInlet

__all__ = ["CounterInlet"]
