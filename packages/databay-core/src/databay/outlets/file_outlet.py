"""FileOutlet: appends ``str(payload)`` lines to text files."""

from __future__ import annotations

import codecs
import json
import os
import reprlib
from collections import defaultdict
from typing import Any

from databay.delivery import DEAD_LETTER
from databay.outlet import MetadataKey, Outlet
from databay.paths import BaseFolder, check_path_argument
from databay.record import Record
from databay.update import Update

__all__ = ["FileOutlet"]

_MODES = ("a", "w", "x")

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80


def _check_mode(mode: Any, where: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"{where}: file mode must be one of {', '.join(map(repr, _MODES))}, "
                         f"got {mode!r}")
    return str(mode)


def _check_encoding(encoding: Any, where: str) -> str:
    if not isinstance(encoding, str):
        raise TypeError(f"{where}: the encoding must be a str, got {encoding!r}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"{where}: unknown encoding {encoding!r}") from None
    return encoding


class FileOutlet(Outlet):
    """Writes ``str(payload)`` plus a newline per record.

    The file, mode and encoding can be chosen per record with the metadata keys below.
    Each file is opened once per push; with mode ``'w'`` it is truncated once per push,
    so every record of the push is kept. Parent folders are created.

    A path from the ``FILEPATH`` metadata must be relative to ``base_dir`` (default:
    the working directory when the outlet was created) and stay inside it: absolute
    paths, ``..``, symbolic links out of it and NUL bytes raise
    :class:`~databay.errors.UnsafePathError` (see :mod:`databay.paths`), naming the
    link, the record, the metadata key and the path. Every record of a push is checked
    before anything is written, so a refused push writes nothing; the error is
    permanent, so a link's dead-letter outlet gets the batch at once. ``default_filepath``
    is yours and is not confined.

    A record that carries dead-letter details (:data:`databay.delivery.DEAD_LETTER`)
    goes to ``default_filepath`` with the default mode and encoding: its ``FILEPATH``,
    ``FILE_MODE`` and ``FILE_ENCODING`` were meant for the outlet that refused it (with
    ``json_lines=True`` they are kept in the line).

    :param default_filepath: the file for records without ``FILEPATH`` metadata.
    :param default_file_mode: ``'a'`` (append), ``'w'`` (truncate once per push) or
        ``'x'`` (create, fail if it exists).
    :param default_encoding: the files' text encoding.
    :param json_lines: write each record as one JSON object per line,
        ``{"payload": ..., "metadata": ...}`` (values JSON cannot hold become strings):
        the format for a dead-letter file, which keeps why each record failed.
    :param base_dir: the folder that ``FILEPATH`` paths are relative to and confined to.
    :param allow_any_path: accept any ``FILEPATH`` (absolute, ``..``): only for
        trusted metadata.
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
        base_dir: str | os.PathLike[str] | None = None,
        allow_any_path: bool = False,
    ) -> None:
        super().__init__(processors)
        if not isinstance(json_lines, bool):
            raise TypeError(f"FileOutlet(json_lines=...) must be True or False, "
                            f"got {type(json_lines).__name__}: {json_lines!r}")
        self.json_lines = json_lines
        self.default_filepath = check_path_argument(default_filepath,
                                                    "FileOutlet(default_filepath=...)")
        if os.path.isdir(self.default_filepath):
            raise ValueError(f"FileOutlet(default_filepath=...) must be a file, but "
                             f"{self.default_filepath!r} is a folder")
        self.default_file_mode = _check_mode(default_file_mode, "FileOutlet(default_file_mode=...)")
        self.default_encoding = _check_encoding(default_encoding,
                                                "FileOutlet(default_encoding=...)")
        self._folder = BaseFolder(base_dir, owner="FileOutlet", allow_any_path=allow_any_path)

    @property
    def base_dir(self) -> str:
        """The absolute folder that ``FILEPATH`` metadata paths are confined to."""
        return self._folder.path

    @property
    def allow_any_path(self) -> bool:
        """Whether ``FILEPATH`` metadata may point anywhere (trusted metadata only)."""
        return self._folder.allow_any_path

    @property
    def stores_metadata(self) -> bool:
        """True with ``json_lines=True``; plain lines hold only ``str(payload)``."""
        return self.json_lines

    def push(self, records: list[Record], update: Update) -> None:
        """Write one line per record; every record is checked before any file is
        opened."""
        groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        resolved: dict[Any, str] = {}
        encodings = {self.default_encoding}
        for record in records:
            md = record.metadata
            if DEAD_LETTER in md:  # its keys were meant for the outlet that refused it
                line = (json.dumps({"payload": record.payload, "metadata": md}, default=str)
                        if self.json_lines else str(record.payload))
                groups[(self.default_filepath, self.default_file_mode,
                        self.default_encoding)].append(f"{line}\n")
                continue
            raw = md.get(self.FILEPATH)
            if raw is None:
                path = self.default_filepath
            else:
                cached = resolved.get(raw) if isinstance(raw, (str, os.PathLike)) else None
                if cached is None:
                    cached = self._folder.resolve(raw, key=self.FILEPATH, record=record,
                                                 update=update)
                    resolved[raw] = cached
                path = cached
            mode = _check_mode(md.get(self.FILE_MODE, self.default_file_mode),
                               f"FileOutlet record {_short.repr(record)} "
                               f"(metadata {str(self.FILE_MODE)!r})")
            encoding = md.get(self.FILE_ENCODING, self.default_encoding)
            if not isinstance(encoding, str) or encoding not in encodings:
                encodings.add(_check_encoding(
                    encoding, f"FileOutlet record {_short.repr(record)} "
                              f"(metadata {str(self.FILE_ENCODING)!r})"))
            line = (json.dumps({"payload": record.payload, "metadata": md}, default=str)
                    if self.json_lines else str(record.payload))
            groups[(path, mode, encoding)].append(f"{line}\n")
        for (path, mode, encoding), lines in groups.items():
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            with open(path, mode, encoding=encoding) as f:
                f.writelines(lines)

    def __repr__(self) -> str:
        return f"FileOutlet(default_filepath={self.default_filepath!r})"
