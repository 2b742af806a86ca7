"""FileInlet: reads a file line by line, or whole."""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator
from enum import Enum
from typing import IO, Any

from databay.inlet import Inlet
from databay.paths import check_path_argument
from databay.update import Update

__all__ = ["FileInlet", "FileInletMode"]


class FileInletMode(Enum):
    """How FileInlet reads: one line per pull, the whole file per pull, or every line
    not read yet per pull, streamed (one record per line, read in the link's chunks)."""

    LINE = "line"
    FILE = "file"
    LINES = "lines"


class FileInlet(Inlet):
    """Reads ``filepath``: in ``LINE`` mode one line per pull (newline included; at the
    end of the file no record), in ``FILE`` mode the whole content on every pull, in
    ``LINES`` mode every line not read yet, one record each, as a stream (a generator
    the link reads in chunks of its ``batch_size``, committing the offset after each
    delivered chunk; lines appended later come with the next pull).

    :param filepath: the file to read.
    :param read_mode: a :class:`FileInletMode`.
    :param encoding: the file's text encoding.
    :param checkpoint_key: the key of the cursor in a link's state store (see
        :attr:`databay.Inlet.checkpoint_key`).
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        read_mode: FileInletMode = FileInletMode.LINE,
        metadata: dict[str, Any] | None = None,
        encoding: str = "utf-8",
        *,
        checkpoint_key: str | None = None,
    ) -> None:
        super().__init__(metadata, checkpoint_key=checkpoint_key)
        path = check_path_argument(filepath, "FileInlet(filepath=...)")
        if os.path.isdir(path):
            raise ValueError(f"FileInlet(filepath=...) must be a file, but {path!r} is a folder")
        if not isinstance(read_mode, FileInletMode):
            raise ValueError(
                f"FileInlet(read_mode=...) must be FileInletMode.LINE or FileInletMode.FILE, "
                f"got {read_mode!r}"
            )
        if not isinstance(encoding, str):
            raise TypeError(f"FileInlet(encoding=...) must be a str, got {encoding!r}")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"FileInlet(encoding=...): unknown encoding {encoding!r}") from None
        self.filepath = path
        self.read_mode = read_mode
        self.encoding = encoding
        self._file: IO[str] | None = None

    def on_start(self) -> None:
        if self.read_mode is not FileInletMode.FILE and self._file is None:
            self._file = open(self.filepath, encoding=self.encoding)  # noqa: SIM115

    def on_shutdown(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def cursor(self) -> int | None:
        """LINE and LINES modes: the offset after the last line read (None before the
        first pull)."""
        if self.read_mode is not FileInletMode.FILE and self._file is not None:
            return self._file.tell()
        return None

    def seek(self, cursor: Any) -> None:
        """LINE and LINES modes: continue at the offset ``cursor`` (None: the start of
        the file)."""
        if self.read_mode is FileInletMode.FILE:
            return
        self._open_on_demand()
        assert self._file is not None
        self._file.seek(cursor or 0)

    def _open_on_demand(self) -> None:
        # used without a planner: start now, so that Link.on_shutdown() closes the file
        if self._file is None:
            self.try_start()
            if self._file is None:  # it was started before, in another mode's state
                self.on_start()

    def pull(self, update: Update) -> Any:
        if self.read_mode is FileInletMode.FILE:
            with open(self.filepath, encoding=self.encoding) as f:
                return f.read()
        self._open_on_demand()
        assert self._file is not None
        if self.read_mode is FileInletMode.LINES:
            return self._lines(self._file)
        line = self._file.readline()
        return line if line else None

    @staticmethod
    def _lines(file: IO[str]) -> Iterator[str]:
        # readline, not iteration: tell() (the cursor) works between lines
        readline = file.readline
        while line := readline():
            yield line

    def __repr__(self) -> str:
        return (f"FileInlet(filepath={self.filepath!r}, read_mode={self.read_mode}, "
                f"metadata={self.metadata!r})")
