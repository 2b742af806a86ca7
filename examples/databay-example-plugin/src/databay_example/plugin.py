"""The module the ``databay`` entry point names: it tells databay what this
distribution provides."""

from databay.hookspecs import hookimpl


@hookimpl
def databay_register_inlets() -> list[str]:
    # A lazy reference: the module is imported only when CounterInlet is first used.
    return ["databay_example._counter:CounterInlet"]
