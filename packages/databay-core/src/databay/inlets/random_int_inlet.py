"""RandomIntInlet: one random integer per pull."""

from __future__ import annotations

import random
from typing import Any

from databay.inlet import Inlet
from databay.update import Update


class RandomIntInlet(Inlet):
    """Each pull returns ``random.randint(min, max)``, both ends included."""

    def __init__(self, min: int = 0, max: int = 100, metadata: dict[str, Any] | None = None):
        super().__init__(metadata)
        for arg, value in (("min", min), ("max", max)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"RandomIntInlet({arg}=...) must be an int, got {value!r}")
        if min > max:
            raise ValueError(f"RandomIntInlet(min={min}, max={max}): min must not exceed max")
        self.min = min
        self.max = max

    def pull(self, update: Update) -> int:
        return random.randint(self.min, self.max)
