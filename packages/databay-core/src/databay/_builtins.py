"""Core's own inlets and outlets, registered through the same hooks as any plugin."""

from __future__ import annotations

from databay.hookspecs import hookimpl


@hookimpl
def databay_register_inlets() -> list[str]:
    return [
        "databay.inlets.null_inlet:NullInlet",
        "databay.inlets.random_int_inlet:RandomIntInlet",
        "databay.inlets.file_inlet:FileInlet",
    ]


@hookimpl
def databay_register_state_stores() -> list[str]:
    return ["databay.delivery:MemoryStateStore", "databay.delivery:FileStateStore"]


@hookimpl
def databay_register_outlets() -> list[str]:
    return [
        "databay.outlets.null_outlet:NullOutlet",
        "databay.outlets.print_outlet:PrintOutlet",
        "databay.outlets.file_outlet:FileOutlet",
    ]


@hookimpl
def databay_register_planners() -> list[str]:
    return ["databay.planners.thread_planner:ThreadPlanner"]
