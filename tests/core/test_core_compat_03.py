"""Where databay refuses what Databay 0.3 accepted, the error names the difference."""

from __future__ import annotations

import datetime

import pytest
from databay import Link
from databay.inlets import NullInlet
from databay.outlets import NullOutlet


@pytest.mark.parametrize("zero", [0, 0.0, datetime.timedelta(0)])
def test_zero_interval_says_what_0_3_did_and_what_to_write(zero: object) -> None:
    with pytest.raises(ValueError, match=r"Link\(interval=...\) must be positive.*Databay 0\.3 "
                                         r"accepted 0.*write interval=1"):
        Link(NullInlet(), NullOutlet(), zero)  # type: ignore[arg-type]


def test_negative_interval_is_plainly_refused() -> None:
    with pytest.raises(ValueError, match=r"must be positive, got -1$"):
        Link(NullInlet(), NullOutlet(), -1)
