"""databay plugin entry point: registers SqlOutlet, SqlInlet and SqlStateStore by lazy
reference, so loading plugins never imports SQLAlchemy."""

from __future__ import annotations

from databay.hookspecs import hookimpl


@hookimpl
def databay_register_outlets() -> list[str]:
    return ["databay_sql._outlet:SqlOutlet"]


@hookimpl
def databay_register_inlets() -> list[str]:
    return ["databay_sql._inlet:SqlInlet"]


@hookimpl
def databay_register_state_stores() -> list[str]:
    return ["databay_sql._state:SqlStateStore"]
