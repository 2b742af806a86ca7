"""databay-csv: CSV files for databay.

:class:`CsvOutlet` writes records to CSV files; :class:`CsvInlet` follows a CSV file and
pulls the rows appended since the last pull. Both are also available as
``from databay.outlets import CsvOutlet`` and ``from databay.inlets import CsvInlet``.
"""

from __future__ import annotations

from databay_csv.__about__ import __version__
from databay_csv._errors import (
    CsvError,
    CsvHeaderError,
    CsvInletError,
    CsvPathError,
    CsvPayloadError,
    CsvRecordError,
    CsvWriteError,
)
from databay_csv._inlet import CsvCursor, CsvInlet
from databay_csv._outlet import CsvOutlet

__all__ = [
    "CsvCursor",
    "CsvError",
    "CsvHeaderError",
    "CsvInlet",
    "CsvInletError",
    "CsvOutlet",
    "CsvPathError",
    "CsvPayloadError",
    "CsvRecordError",
    "CsvWriteError",
    "__version__",
]
