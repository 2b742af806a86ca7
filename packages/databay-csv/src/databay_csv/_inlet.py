"""CsvInlet: follows a CSV file and pulls the rows appended since the last pull."""

from __future__ import annotations

import codecs
import csv
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Literal, NamedTuple

from databay.inlet import Inlet

from databay_csv._common import (
    Dialect,
    check_encoding,
    check_names,
    check_path,
    choice,
    format_params,
)
from databay_csv._errors import CsvInletError

if TYPE_CHECKING:
    from databay.link import Update

__all__ = ["CsvCursor", "CsvInlet"]

_LOGGER = logging.getLogger("databay.CsvInlet")

_BLOCK = 1 << 16
_CHUNK = 1 << 20


class CsvCursor(NamedTuple):
    """Where a :class:`CsvInlet` is in its file: the file's identity (``device``,
    ``inode``) and the byte ``offset`` of the first row not pulled yet. Pass it back as
    ``CsvInlet(cursor=...)`` to resume."""

    device: int
    inode: int
    offset: int


def _as_cursor(value: Any, where: str) -> CsvCursor | None:
    """A cursor from a CsvCursor, its JSON list form or a dict; TypeError otherwise."""
    if value is None:
        return None
    parts: Any = value
    if isinstance(value, Mapping):
        try:
            parts = [value[key] for key in CsvCursor._fields]
        except KeyError:
            parts = None
        if len(value) != 3:
            parts = None
    if (isinstance(parts, (tuple, list)) and len(parts) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                    for v in parts)):
        return CsvCursor(*parts)
    raise TypeError(f"{where} must be a CsvCursor, a [device, inode, offset] list or a "
                    f"dict with the keys 'device', 'inode' and 'offset' (ints >= 0), "
                    f"got {value!r}")


class _NeedMore(Exception):
    """The parser ran out of complete lines."""


class CsvInlet(Inlet):
    """Follows a CSV file: each pull returns the rows appended since the last pull, one
    record per row, each a dict keyed by the header.

    The first row of the file is its header, unless ``fieldnames`` is given (then every
    row is data). Only complete rows are returned: a last line without its line break
    waits for the next pull. The inlet keeps the file open between pulls and follows
    rotation: when the path is replaced by a new file, the rest of the old file is read
    first, then the new file from its start; when the file is truncated, reading starts
    again from its start (rows written and truncated between two pulls cannot be seen).
    A path that does not exist (yet) gives no records.

    :param filepath: the CSV file to follow.
    :param metadata: the inlet's global metadata (see :class:`databay.Inlet`).
    :param start: ``'beginning'`` to read the rows already in the file, ``'end'`` to
        return only rows appended after this inlet was created.
    :param fieldnames: the column names, for a file without a header row.
    :param restkey: the key that collects the extra cells of a row longer than the header.
    :param restval: the value of the keys missing from a row shorter than the header.
    :param encoding: the file's encoding (ASCII-compatible: utf-8, latin-1, cp1252, ...).
    :param encoding_errors: how undecodable bytes are handled (``'strict'`` raises
        :class:`~databay_csv.CsvInletError` naming the file and offset, ``'replace'``...).
    :param dialect: a :mod:`csv` dialect name or ``csv.Dialect`` subclass.
    :param delimiter: overrides the dialect's delimiter.
    :param fmtparams: other :mod:`csv` format parameters.
    :param max_rows: at most this many rows per pull (the rest come with later pulls);
        None for all.
    :param cursor: a :attr:`cursor` saved earlier (or its JSON form, see :meth:`seek`):
        resume after it if the file is still the same file (same device and inode), else
        read the current file from its start.
    :param checkpoint_key: the key of this inlet's cursor in a link's state store (see
        :attr:`databay.Inlet.checkpoint_key`); None keys it by the inlet's position.
    :param stream: pull returns a generator of rows instead of a list: the link reads
        them in chunks of its ``batch_size`` and pushes each chunk before reading on, so
        a file of millions of rows is read in bounded memory; :attr:`cursor` follows each
        row yielded, so a link with a state store commits after each delivered chunk.

    Checkpoints: :attr:`cursor` and :meth:`seek` let a link with a state store commit
    the position after each delivered transfer and resume from it after a restart.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        metadata: dict[str, Any] | None = None,
        *,
        start: Literal["beginning", "end"] = "beginning",
        fieldnames: Sequence[str] | None = None,
        restkey: str | None = None,
        restval: Any = None,
        encoding: str = "utf-8",
        encoding_errors: str = "strict",
        dialect: Dialect = "excel",
        delimiter: str | None = None,
        fmtparams: Mapping[str, Any] | None = None,
        max_rows: int | None = None,
        cursor: CsvCursor | Sequence[int] | Mapping[str, int] | None = None,
        checkpoint_key: str | None = None,
        stream: bool = False,
    ) -> None:
        super().__init__(metadata, checkpoint_key=checkpoint_key)
        path = check_path(filepath, "CsvInlet", "filepath")
        owner = f"CsvInlet({path!r})"
        if os.path.isdir(path):
            raise ValueError(f"{owner}: filepath is a folder, not a CSV file")
        self.filepath = path
        self.start = choice(start, owner, "start", ("beginning", "end"))
        self.fieldnames = check_names(fieldnames, owner)
        self.restkey = restkey
        self.restval = restval
        self.encoding = check_encoding(encoding, owner)
        if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")) or \
                "\n".encode(encoding) != b"\n":
            raise ValueError(f"{owner}(encoding=...) must be ASCII-compatible (utf-8, "
                             f"latin-1, cp1252, ...), got {encoding!r}")
        try:
            codecs.lookup_error(encoding_errors)
        except (LookupError, TypeError):
            raise ValueError(f"{owner}(encoding_errors=...): unknown error handler "
                             f"{encoding_errors!r}") from None
        self.encoding_errors = encoding_errors
        self.dialect, self.fmtparams = format_params(owner, dialect, delimiter, fmtparams)
        if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int)
                                     or max_rows < 1):
            raise ValueError(f"{owner}(max_rows=...) must be a positive int or None, "
                             f"got {max_rows!r}")
        self.max_rows = max_rows
        if not isinstance(stream, bool):
            raise TypeError(f"{owner}(stream=...) must be True or False, got {stream!r}")
        self.stream = stream
        saved = _as_cursor(cursor, f"{owner}(cursor=...)")
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._header: list[str] | None = self.fieldnames
        # the file a pull saw rotated away, kept open until the next pull so that a
        # link can seek back into it when that pull's records were not delivered
        self._rotated: tuple[IO[bytes], tuple[int, int]] | None = None
        if saved is not None:
            self._ident = (saved.device, saved.inode)
            self._offset = saved.offset
        elif self.start == "end":
            self._ident, self._offset = self._end_of(path)

    @staticmethod
    def _end_of(path: str) -> tuple[tuple[int, int] | None, int]:
        """The file's identity and the offset just after its last line break."""
        try:
            f = open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return None, 0
        with f:
            st = os.fstat(f.fileno())
            pos = st.st_size
            while pos > 0:
                block = max(0, pos - _BLOCK)
                f.seek(block)
                found = f.read(pos - block).rfind(b"\n")
                if found >= 0:
                    return (st.st_dev, st.st_ino), block + found + 1
                pos = block
            return (st.st_dev, st.st_ino), 0

    @property
    def cursor(self) -> CsvCursor | None:
        """Where the next pull starts (None before the file was first seen). A
        :class:`CsvCursor` is a tuple, so it is stored as the JSON list
        ``[device, inode, offset]`` (see :meth:`seek`)."""
        with self._lock:
            if self._ident is None:
                return None
            return CsvCursor(self._ident[0], self._ident[1], self._offset)

    def seek(self, cursor: CsvCursor | Sequence[int] | Mapping[str, int] | None) -> None:
        """Continue at ``cursor``, a value :attr:`cursor` returned before: a
        :class:`CsvCursor`, its JSON form ``[device, inode, offset]``, or a dict with
        those keys. None starts over as a new inlet does (the current file from its
        start). If the cursor's file is no longer the file at the path, the current file
        is read from its start; a file rotated away during the last pull is still open,
        so a link can seek back into it and re-read what that pull returned."""
        saved = _as_cursor(cursor, "CsvInlet.seek(cursor=...)")
        with self._lock:
            self._seek(saved)

    def _seek(self, saved: CsvCursor | None) -> None:
        self._header = self.fieldnames  # read again from the file when it has one
        if saved is None:
            self._close()
            self._drop_rotated()
            self._ident, self._offset = None, 0
            return
        ident = (saved.device, saved.inode)
        if ident != self._ident:
            self._close()
            if self._rotated is not None and self._rotated[1] == ident:
                self._file = self._rotated[0]
                self._rotated = None
        self._drop_rotated()
        self._ident, self._offset = ident, saved.offset

    def on_shutdown(self) -> None:
        """Close the file; the cursor is kept, so a restart goes on from it."""
        with self._lock:
            self._close()
            self._drop_rotated()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _drop_rotated(self) -> None:
        if self._rotated is not None:
            self._rotated[0].close()
            self._rotated = None

    # -- pull -----------------------------------------------------------------------

    def pull(self, update: Update) -> list[dict[Any, Any]] | Iterator[dict[Any, Any]]:
        """The rows appended since the last pull, as dicts (a generator of them with
        ``stream=True``). A pull that raises (bytes invalid in the encoding, ...) leaves
        the position where it was (streamed: after the last row yielded), so the rows it
        had read before the error are not skipped."""
        if not self.active:  # pulled without a planner: Link.on_shutdown() closes the file
            self.try_start()
        if self.stream:
            return self._stream()
        with self._lock:
            self._drop_rotated()  # the last pull was delivered or rewound by now
            before = (None if self._ident is None
                      else CsvCursor(self._ident[0], self._ident[1], self._offset))
            try:
                return self._pull()
            except BaseException:
                self._seek(before)
                raise

    def _pull(self) -> list[dict[Any, Any]]:
        rows: list[dict[Any, Any]] = []
        if self._file is None and not self._open():
            return rows
        if not self._read(rows):
            return rows  # max_rows reached: rotation is looked at once this file is read
        try:
            st = os.stat(self.filepath)
            ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            ident = None
        if ident != self._ident:  # rotated away: what it held was read just above
            self._leftover()
            assert self._file is not None and self._ident is not None
            self._rotated, self._file = (self._file, self._ident), None
            self._ident, self._offset = None, 0
            self._header = self.fieldnames
            if ident is not None and self._open():
                self._read(rows)
        return rows

    def _stream(self) -> Iterator[dict[Any, Any]]:
        """The rows one by one; the offset follows each row yielded. The lock is held
        while a block is read, never while the generator waits for its reader (the link
        reads :attr:`cursor` between chunks)."""
        with self._lock:
            self._drop_rotated()
            if self._file is None and not self._open():
                return
        count = 0
        limit = self.max_rows or 0
        while True:
            with self._lock:
                block = self._next_rows(limit - count if limit else 0)
            if block:
                for record, end in block:
                    self._offset = end
                    count += 1
                    yield record
                if not limit or count < limit:
                    continue
                return  # max_rows reached: rotation is looked at once this file is read
            with self._lock:  # the end of this file: rotated away?
                try:
                    st = os.stat(self.filepath)
                    ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
                except FileNotFoundError:
                    ident = None
                if ident == self._ident:
                    return
                self._leftover()
                assert self._file is not None and self._ident is not None
                self._rotated, self._file = (self._file, self._ident), None
                self._ident, self._offset = None, 0
                self._header = self.fieldnames
                if ident is None or not self._open():
                    return

    def _next_rows(self, limit: int) -> list[tuple[dict[Any, Any], int]]:
        """The next complete rows after the offset (one block's worth, at most
        ``limit`` if set), each with the offset just after it; [] at the end."""
        f = self._file
        assert f is not None
        if os.fstat(f.fileno()).st_size < self._offset:
            _LOGGER.warning("%r was truncated; reading it again from its start",
                            self.filepath)
            self._offset = 0
            self._header = self.fieldnames
        if self._header is None:
            self._read_header(f)
            if self._header is None:
                return []
        header = self._header
        width = len(header)
        restkey, restval = self.restkey, self.restval
        f.seek(self._offset)
        pending = b""
        while True:
            block = f.read(_CHUNK)
            if not block:
                return []
            pending += block
            end = pending.rfind(b"\n") + 1
            if not end:
                continue
            ends: list[int] = []
            rows, used = self._parse(pending[:end], self._offset, limit, ends)
            if not rows:
                if used:  # blank lines only: step over them
                    self._offset += used
                    pending = pending[used:]
                continue
            base = self._offset
            out: list[tuple[dict[Any, Any], int]] = []
            for row, row_end in zip(rows, ends, strict=True):
                record: dict[Any, Any] = dict(zip(header, row, strict=False))
                n = len(row)
                if n > width:
                    record[restkey] = row[width:]
                elif n < width:
                    for key in header[n:]:
                        record[key] = restval
                out.append((record, base + row_end))
            return out

    def _open(self) -> bool:
        try:
            f = open(self.filepath, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise CsvInletError(f"CsvInlet cannot open {self.filepath!r}: {exc}") from exc
        st = os.fstat(f.fileno())
        ident = (st.st_dev, st.st_ino)
        if ident != self._ident:  # a file we have not read before: from its start
            self._ident, self._offset = ident, 0
            self._header = self.fieldnames
        self._file = f
        return True

    def _leftover(self) -> None:
        assert self._file is not None
        self._file.seek(self._offset)
        rest = self._file.read()
        if rest.strip():
            _LOGGER.warning("%r was rotated away with an incomplete last row (no line "
                            "break) that is not returned: %r", self.filepath, rest[:200])

    def _read(self, out: list[dict[Any, Any]]) -> bool:
        """Append the new complete rows to ``out``; False when ``max_rows`` stopped it
        before the end of the file."""
        f = self._file
        assert f is not None
        if os.fstat(f.fileno()).st_size < self._offset:
            _LOGGER.warning("%r was truncated; reading it again from its start",
                            self.filepath)
            self._offset = 0
            self._header = self.fieldnames
        if self._header is None:
            self._read_header(f)
            if self._header is None:
                return True
        limit = self.max_rows or 0
        header = self._header
        width = len(header)
        restkey, restval = self.restkey, self.restval
        f.seek(self._offset)
        pending = b""
        while True:
            block = f.read(_CHUNK)
            if not block:
                return True
            pending += block
            end = pending.rfind(b"\n") + 1
            if not end:
                continue
            rows, used = self._parse(pending[:end], self._offset,
                                     limit - len(out) if limit else 0)
            self._offset += used
            pending = pending[used:]
            for row in rows:
                record: dict[Any, Any] = dict(zip(header, row, strict=False))
                n = len(row)
                if n > width:
                    record[restkey] = row[width:]
                elif n < width:
                    for key in header[n:]:
                        record[key] = restval
                out.append(record)
            if limit and len(out) >= limit:
                return False

    def _read_header(self, f: IO[bytes]) -> None:
        f.seek(0)
        data = b""
        while True:
            block = f.read(_BLOCK)
            data += block
            end = data.rfind(b"\n") + 1
            if end:
                rows, used = self._parse(data[:end], 0, limit=1)
                if rows:
                    header = rows[0]
                    if header and header[0].startswith("\ufeff"):
                        header[0] = header[0][1:]
                    self._header = header
                    self._offset = max(self._offset, used)
                    return
            if not block:
                return  # no complete header line yet

    def _parse(self, data: bytes, base: int, limit: int = 0, ends: list[int] | None = None
               ) -> tuple[list[list[str]], int]:
        """Complete CSV records in ``data`` (which ends with a line break) and how many
        of its bytes they use. A record still open at the end is left for later. With
        ``ends``, the offset in ``data`` just after each record is appended to it."""
        try:
            text = data.decode(self.encoding, self.encoding_errors)
        except UnicodeDecodeError as exc:
            raise CsvInletError(
                f"CsvInlet cannot decode {self.filepath!r} as {self.encoding!r} at byte "
                f"{base + exc.start}: {exc.reason} (pass encoding_errors='replace' to "
                f"read on)") from exc
        lines = text.split("\n")
        lines.pop()  # after the final line break: empty
        fed = 0

        def feed() -> Iterator[str]:
            nonlocal fed
            for line in lines:
                fed += 1
                yield line + "\n"
            raise _NeedMore

        rows: list[list[str]] = []
        row_lines: list[int] = []
        complete = 0
        reader = csv.reader(feed(), self.dialect, **self.fmtparams)
        try:
            for row in reader:
                complete = fed
                if not row:  # a blank line
                    continue
                rows.append(row)
                if ends is not None:
                    row_lines.append(fed)
                if limit and len(rows) >= limit:
                    break
        except _NeedMore:
            pass
        except csv.Error as exc:
            raise CsvInletError(f"CsvInlet cannot parse {self.filepath!r} after byte "
                                f"{base}: {exc}") from exc
        if ends is not None:
            pos = line = 0
            for want in row_lines:
                while line < want:
                    pos = data.index(b"\n", pos) + 1
                    line += 1
                ends.append(pos)
        if complete == len(lines):
            return rows, len(data)
        used = 0
        for _ in range(complete):
            used = data.index(b"\n", used) + 1
        return rows, used

    def __repr__(self) -> str:
        return f"CsvInlet(filepath={self.filepath!r}, metadata={self.metadata!r})"
