"""databay plugin entry point: registers MongoOutlet, MongoInlet and MongoStateStore by
lazy reference, so loading plugins never imports pymongo."""

from __future__ import annotations

from databay.hookspecs import hookimpl


@hookimpl
def databay_register_outlets() -> list[str]:
    return ["databay_mongo._outlet:MongoOutlet"]


@hookimpl
def databay_register_inlets() -> list[str]:
    return ["databay_mongo._inlet:MongoInlet"]


@hookimpl
def databay_register_state_stores() -> list[str]:
    return ["databay_mongo._state:MongoStateStore"]
