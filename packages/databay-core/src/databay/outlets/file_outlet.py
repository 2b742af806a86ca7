"""FileOutlet: appends ``str(payload)`` lines to text files."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any

from databay.outlet import MetadataKey, Outlet
from databay.record import Record
from databay.update import Update

__all__ = ["FileOutlet"]

_MODES = ("a", "w", "x")


def _check_mode(mode: Any, where: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"{where}: file mode must be one of {', '.join(map(repr, _MODES))}, "
                         f"got {mode!r}")
    return str(mode)


class FileOutlet(Outlet):
    """Writes ``str(payload)`` plus a newline per record.

    The file, mode and encoding can be chosen per record with the metadata keys below.
    Each file is opened once per push; with mode ``'w'`` it is truncated once per push,
    so every record of the push is kept.

    :param json_lines: write each record as one JSON object per line,
        ``{"payload": ..., "metadata": ...}`` (values JSON cannot hold become strings):
        the format for a dead-letter file, which keeps why each record failed.
    """

    FILEPATH: MetadataKey = MetadataKey("FileOutlet.FILEPATH")
    FILE_MODE: MetadataKey = MetadataKey("FileOutlet.FILE_MODE")
    FILE_ENCODING: MetadataKey = MetadataKey("FileOutlet.FILE_ENCODING")

    def __init__(
        self,
        default_filepath: str | os.PathLike[str],
        default_file_mode: str = "a",
        default_encoding: str = "utf-8",
        processors: Any = None,
        *,
        json_lines: bool = False,
    ) -> None:
        super().__init__(processors)
        self.json_lines = bool(json_lines)
        if not isinstance(default_filepath, (str, os.PathLike)):
            raise TypeError(f"FileOutlet(default_filepath=...) must be a path, "
                            f"got {default_filepath!r}")
        self.default_filepath = os.fspath(default_filepath)
        self.default_file_mode = _check_mode(default_file_mode, "FileOutlet(default_file_mode=...)")
        self.default_encoding = default_encoding

    def push(self, records: list[Record], update: Update) -> None:
        groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for record in records:
            md = record.metadata
            path = os.fspath(md.get(self.FILEPATH, self.default_filepath))
            mode = _check_mode(md.get(self.FILE_MODE, self.default_file_mode),
                               f"FileOutlet record {record!r}")
            line = (json.dumps({"payload": record.payload, "metadata": md}, default=str)
                    if self.json_lines else str(record.payload))
            groups[(path, mode, md.get(self.FILE_ENCODING, self.default_encoding))].append(
                f"{line}\n")
        for (path, mode, encoding), lines in groups.items():
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            with open(path, mode, encoding=encoding) as f:
                f.writelines(lines)

    def __repr__(self) -> str:
        return f"FileOutlet(default_filepath={self.default_filepath!r})"
