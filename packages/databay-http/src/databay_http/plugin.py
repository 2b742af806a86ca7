"""databay plugin hooks of databay-http.

Classes are registered by lazy reference, so loading the plugin never imports requests.
"""

from __future__ import annotations

from databay.hookspecs import hookimpl


@hookimpl
def databay_register_inlets() -> list[str]:
    return ["databay_http._inlet:HttpInlet"]


@hookimpl
def databay_register_outlets() -> list[str]:
    return ["databay_http._outlet:HttpOutlet"]
