"""Code written for the original Databay 0.3.0 imports and runs unchanged."""

from __future__ import annotations

import datetime

import pytest


def test_documented_import_paths() -> None:
    from databay import BasePlanner, Inlet, Link, Outlet, Record, Update  # noqa: F401
    from databay.base_planner import BasePlanner as BP
    from databay.errors import ImplementationError, InvalidNodeError, MissingLinkError
    from databay.inlet import Inlet as I2
    from databay.inlets.file_inlet import FileInlet, FileInletMode  # noqa: F401
    from databay.inlets.null_inlet import NullInlet  # noqa: F401
    from databay.inlets.random_int_inlet import RandomIntInlet  # noqa: F401
    from databay.link import Update as U2
    from databay.misc.logs import ISO8601Formatter  # noqa: F401
    from databay.outlet import MetadataKey
    from databay.outlet import Outlet as O2
    from databay.outlets.file_outlet import FileOutlet  # noqa: F401
    from databay.outlets.null_outlet import NullOutlet  # noqa: F401
    from databay.outlets.print_outlet import PrintOutlet  # noqa: F401
    from databay.planners.schedule_planner import ScheduleIntervalError
    from databay.record import Record as R2
    from databay.support.buffers import Buffer  # noqa: F401

    assert (BasePlanner, Inlet, Outlet, Record, Update) == (BP, I2, O2, R2, U2)
    for error in (MissingLinkError, ImplementationError, InvalidNodeError):
        assert issubclass(error, RuntimeError)
    assert issubclass(ScheduleIntervalError, Exception)
    assert isinstance(MetadataKey("X.Y"), str)


def test_original_readme_style_user_code() -> None:
    from databay import Inlet, Link, Outlet

    class MyInlet(Inlet):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)

        def pull(self, update):  # type: ignore[no-untyped-def]
            return [self.new_record("a"), "b"]

    got = []

    class MyOutlet(Outlet):
        async def push(self, records, update):  # type: ignore[no-untyped-def]
            got.extend(r.payload for r in records)

    link = Link(MyInlet(metadata={"k": 1}), MyOutlet(), datetime.timedelta(seconds=5),
                tags="my_link")
    link.transfer()
    assert got == ["a", "b"]


def test_attribute_access_on_missing_name_is_attribute_error() -> None:
    import databay

    with pytest.raises(AttributeError):
        databay.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
