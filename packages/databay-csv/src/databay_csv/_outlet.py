"""CsvOutlet: writes records to CSV files."""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import reprlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from databay.delivery import DEAD_LETTER
from databay.errors import UnsafePathError
from databay.outlet import MetadataKey, Outlet
from databay.paths import BaseFolder

from databay_csv._common import (
    Dialect,
    check_encoding,
    check_names,
    check_path,
    choice,
    flag,
    format_params,
)
from databay_csv._errors import (
    CsvHeaderError,
    CsvPathError,
    CsvPayloadError,
    CsvRecordError,
    CsvWriteError,
)

if TYPE_CHECKING:
    from databay.link import Update
    from databay.record import Record

__all__ = ["CsvOutlet"]

_LOGGER = logging.getLogger("databay.CsvOutlet")

_MODES = ("a", "w")
_FORMULA_CHARS = "=+-@\t\r"

_short = reprlib.Repr()
_short.maxstring = 120
_short.maxother = 120
_short.maxlist = 6
_short.maxdict = 6


def _defuse(value: Any) -> Any:
    """Prefix a cell that a spreadsheet would run as a formula with ``'``."""
    if isinstance(value, str) and value and value[0] in _FORMULA_CHARS:
        return "'" + value
    return value


def _undefuse(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_CHARS:
        return value[1:]
    return value


def _is_dataclass(value: Any) -> bool:
    # checked without importing dataclasses (and inspect): plugin loading stays light
    return hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type)


def _dataclass_dict(value: Any) -> dict[str, Any]:
    """Field name -> value, shallow (``dataclasses.asdict`` would deep-copy)."""
    import dataclasses

    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


class _Parts:
    """A file-like sink for csv.writer: one string per row, nothing touches the disk."""

    __slots__ = ("parts", "write")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.write = self.parts.append


class _Group:
    __slots__ = ("records", "truncate")

    def __init__(self, truncate: bool) -> None:
        self.records: list[Record] = []
        self.truncate = truncate


class _Plan:
    __slots__ = ("count", "data", "path", "truncate")

    def __init__(self, path: str, truncate: bool, data: bytes, count: int) -> None:
        self.path = path
        self.truncate = truncate
        self.data = data
        self.count = count


class CsvOutlet(Outlet):
    """Writes each record's payload as one row of a CSV file.

    The file and mode can be chosen per record with the metadata keys
    :attr:`CSV_FILE` and :attr:`FILE_MODE`. Each target file is opened once per push,
    and a push is all or nothing per file: every row is formatted and encoded before
    the file is touched, so a record that cannot be written raises
    :class:`~databay_csv.CsvRecordError` (naming it) and no part of that push reaches
    the file. Each push ends flushed (``fsync=True`` also syncs to disk).

    **Payloads**: dicts and other mappings, dataclass instances, named tuples, and plain
    sequences (lists, tuples) when ``fieldnames`` is given. Anything else raises
    :class:`~databay_csv.CsvPayloadError`.

    **Header**: written once per file, when the file is new, empty or truncated by
    mode ``'w'``. Its columns are ``fieldnames`` when given, otherwise the keys of the
    first record written to that file. An existing file's header is read back, so later
    runs append under the same columns in the same order. Keys missing from a record
    give ``missing_value`` cells; keys not in the header raise (``extra_keys='raise'``,
    the default) or are dropped (``extra_keys='ignore'``). Rows never shift columns.

    **Mode**: ``'a'`` appends; ``'w'`` truncates the file once per push, so the file
    holds every record of the last push. A file that some records of a push ask to
    truncate is truncated once and receives all of that push's records for it.

    **Paths** from the ``CSV_FILE`` metadata are relative to ``base_dir`` (default: the
    working directory when the outlet was created) and must stay inside it: absolute
    paths, ``..``, symbolic links out of it and NUL bytes raise
    :class:`~databay_csv.CsvPathError` (an :class:`~databay.errors.UnsafePathError`, see
    :mod:`databay.paths`) naming the link, the record, the key and the path;
    ``allow_any_path=True`` lifts the check. Parent folders are created. A record that
    carries dead-letter details (:data:`databay.delivery.DEAD_LETTER`) goes to
    ``default_filepath``: its ``CSV_FILE`` and ``FILE_MODE`` were meant for the outlet
    that refused it.

    :param default_filepath: the file for records without ``CSV_FILE`` metadata.
    :param default_file_mode: ``'a'`` (append) or ``'w'`` (truncate once per push).
    :param processors: this outlet's processors (see :class:`databay.Outlet`).
    :param fieldnames: the header; required for sequence payloads.
    :param extra_keys: ``'raise'`` or ``'ignore'`` keys that are not in the header.
    :param missing_value: the cell written for a key missing from a record.
    :param on_bad_record: ``'raise'`` (default: the push writes nothing) or ``'log'``:
        a record that cannot be written is logged at ERROR with its error and the
        others are written.
    :param encoding: the files' text encoding.
    :param dialect: a :mod:`csv` dialect name or ``csv.Dialect`` subclass.
    :param delimiter: overrides the dialect's delimiter.
    :param fmtparams: other :mod:`csv` format parameters (``quoting``,
        ``lineterminator``, ...).
    :param escape_formulas: prefix cells starting with ``= + - @``, tab or carriage
        return with ``'`` so spreadsheets do not evaluate them.
    :param fsync: ``os.fsync`` each file after writing.
    :param base_dir: the folder metadata paths are relative to and confined to.
    :param allow_any_path: accept any metadata path (only for trusted metadata).
    """

    CSV_FILE: MetadataKey = MetadataKey("CsvOutlet.CSV_FILE")
    FILE_MODE: MetadataKey = MetadataKey("CsvOutlet.FILE_MODE")

    def __init__(
        self,
        default_filepath: str | os.PathLike[str],
        default_file_mode: str = "a",
        processors: Any = None,
        *,
        fieldnames: Sequence[str] | None = None,
        extra_keys: Literal["raise", "ignore"] = "raise",
        missing_value: Any = "",
        on_bad_record: Literal["raise", "log"] = "raise",
        encoding: str = "utf-8",
        dialect: Dialect = "excel",
        delimiter: str | None = None,
        fmtparams: Mapping[str, Any] | None = None,
        escape_formulas: bool = False,
        fsync: bool = False,
        base_dir: str | os.PathLike[str] | None = None,
        allow_any_path: bool = False,
    ) -> None:
        super().__init__(processors)
        path = check_path(default_filepath, "CsvOutlet", "default_filepath")
        owner = f"CsvOutlet({path!r})"
        self.default_filepath = path
        self.default_file_mode = choice(default_file_mode, owner, "default_file_mode", _MODES)
        self.fieldnames = check_names(fieldnames, owner)
        self.extra_keys = choice(extra_keys, owner, "extra_keys", ("raise", "ignore"))
        self.missing_value = missing_value
        self.on_bad_record = choice(on_bad_record, owner, "on_bad_record", ("raise", "log"))
        self.encoding = check_encoding(encoding, owner)
        self.dialect, self.fmtparams = format_params(owner, dialect, delimiter, fmtparams)
        self.escape_formulas = flag(escape_formulas, owner, "escape_formulas")
        self.fsync = flag(fsync, owner, "fsync")
        self.allow_any_path = flag(allow_any_path, owner, "allow_any_path")
        if base_dir is not None:
            check_path(base_dir, "CsvOutlet", "base_dir")
        self._folder = BaseFolder(base_dir, owner="CsvOutlet", allow_any_path=self.allow_any_path)
        #: the absolute folder that ``CSV_FILE`` paths are relative to and confined to
        self.base_dir: str = self._folder.path
        self._target = os.path.realpath(path)
        if os.path.isdir(self._target):
            raise ValueError(f"{owner}: default_filepath is a directory, not a file")
        parent = os.path.dirname(self._target)
        probe = parent
        while probe and not os.path.exists(probe):
            probe = os.path.dirname(probe) if os.path.dirname(probe) != probe else ""
        if probe and not os.path.isdir(probe):
            raise ValueError(f"{owner}: default_filepath cannot be created, {probe!r} "
                             f"is a file, not a folder")
        self._newline = self._encode_newline()
        self._lock = threading.Lock()

    def _encode_newline(self) -> bytes:
        encoder = codecs.getincrementalencoder(self.encoding)()
        encoder.encode("x")  # past any byte order mark
        terminator: str = csv.writer(io.StringIO(), self.dialect,
                                     **self.fmtparams).dialect.lineterminator
        return encoder.encode(terminator[-1:] or "\n")

    # -- push ---------------------------------------------------------------------

    @property
    def stores_metadata(self) -> bool:
        """False: rows hold payload fields only (a dead-letter CsvOutlet needs a
        processor that copies ``DEAD_LETTER`` details into the payload)."""
        return False

    def push(self, records: list[Record], update: Update) -> None:
        """Write ``records``: one row each, grouped by target file."""
        if not records:
            return
        with self._lock:
            groups = self._group(records, update)
            plans = [self._render(path, group) for path, group in groups.items()]
            self._write(plans)

    def _group(self, records: list[Record], update: Update | None) -> dict[str, _Group]:
        csv_key, mode_key = self.CSV_FILE, self.FILE_MODE
        default = _Group(self.default_file_mode == "w")
        groups: dict[str, _Group] = {self._target: default}
        plain = default.records
        resolved: dict[Any, str] = {}
        for record in records:
            md = record.metadata
            if (csv_key not in md and mode_key not in md) or DEAD_LETTER in md:
                plain.append(record)
                continue
            try:
                raw = md.get(csv_key)
                path = (self._target if raw is None
                        else self._allowed(raw, record, resolved, update))
                mode = md.get(mode_key, self.default_file_mode)
                if mode not in _MODES:
                    raise CsvRecordError(
                        f"CsvOutlet cannot write record {_short.repr(record)} to {path!r}: "
                        f"metadata {str(mode_key)!r} must be one of "
                        f"{', '.join(map(repr, _MODES))}, got {mode!r}",
                        record=record, path=path)
            except CsvRecordError as exc:
                self._bad(exc)
                continue
            group = groups.get(path)
            if group is None:
                group = groups[path] = _Group(False)
            if mode == "w":
                group.truncate = True
            group.records.append(record)
        if not plain:
            del groups[self._target]
        return groups

    def _allowed(self, raw: Any, record: Record, resolved: dict[Any, str],
                 update: Update | None) -> str:
        found = resolved.get(raw) if isinstance(raw, (str, os.PathLike)) else None
        if found is not None:
            return found
        try:
            path = self._folder.resolve(raw, key=self.CSV_FILE, record=record, update=update)
        except UnsafePathError as exc:
            raise CsvPathError(str(exc), record=record, path=exc.path, key=exc.key,
                               link=exc.link, base=exc.base, reason=exc.reason) from None
        resolved[raw] = path
        return path

    def _bad(self, exc: CsvRecordError) -> None:
        if self.on_bad_record == "raise":
            raise exc
        _LOGGER.error("record not written (on_bad_record='log'): %s", exc)

    # -- formatting ----------------------------------------------------------------

    def _render(self, path: str, group: _Group) -> _Plan:
        size, existing, ends_newline = (0, None, True) if group.truncate else self._inspect(path)
        records = group.records
        header: list[str] | None
        if existing is not None:
            if self.fieldnames is not None and existing != self.fieldnames:
                raise CsvHeaderError(
                    f"CsvOutlet: {path!r} already has the header {existing!r}, which differs "
                    f"from CsvOutlet(fieldnames={self.fieldnames!r}); rows would not line up "
                    f"(write to another file, or truncate it with mode 'w')")
            header = existing
        else:
            header = self._new_header(records)
        sink = _Parts()
        writer = csv.writer(sink, self.dialect, **self.fmtparams)
        fresh = group.truncate or size == 0
        if header is not None and fresh:
            writer.writerow([_defuse(h) for h in header] if self.escape_formulas else header)
        dropped: set[int] = set()
        if header is not None and records:
            self._rows_into(writer, path, header, records, dropped)
        elif header is None:  # no record has named fields: none can be written
            for record in records:
                try:
                    self._payload_error(record, path)
                except CsvRecordError as exc:
                    self._bad(exc)
                dropped.add(id(record))
        text = "".join(sink.parts)
        if text and not fresh and not ends_newline:
            _LOGGER.warning("%r does not end with a line break; one is added before the "
                            "new rows so that they do not join its last line", path)
            text = (writer.dialect.lineterminator or "\n") + text
        data = self._encode(path, text, sink.parts, records, dropped, fresh)
        return _Plan(path, group.truncate, data, len(records) - len(dropped))

    def _inspect(self, path: str) -> tuple[int, list[str] | None, bool]:
        """Size, header and whether it ends with a line break, of an existing file."""
        try:
            f = open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return 0, None, True
        except OSError as exc:
            raise CsvWriteError(f"CsvOutlet cannot write to {path!r}, reading it failed: {exc}",
                               path=path, errno=exc.errno) from exc
        try:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return 0, None, True
            f.seek(max(0, size - len(self._newline)))
            ends_newline = f.read().endswith(self._newline)
            f.seek(0)
            text = io.TextIOWrapper(f, encoding=self.encoding, newline="")
            try:
                row = next(csv.reader(text, self.dialect, **self.fmtparams), [])
            finally:
                text.detach()
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CsvHeaderError(
                f"CsvOutlet cannot read the header of {path!r} as {self.encoding!r} "
                f"CSV: {exc}") from exc
        except OSError as exc:
            raise CsvWriteError(f"CsvOutlet cannot write to {path!r}, reading it failed: {exc}",
                               path=path, errno=exc.errno) from exc
        finally:
            f.close()
        if row and row[0].startswith("\ufeff"):
            row[0] = row[0][1:]
        if not row or not any(row):
            raise CsvHeaderError(f"CsvOutlet: {path!r} is not empty but its first line is "
                                 f"not a header row ({row!r})")
        if self.escape_formulas:
            row = [_undefuse(h) for h in row]
        return size, row, ends_newline

    def _new_header(self, records: list[Record]) -> list[str] | None:
        """``fieldnames``, or the keys of the first record that has named fields."""
        if self.fieldnames is not None:
            return self.fieldnames
        for record in records:
            payload = record.payload
            if isinstance(payload, Mapping):
                return list(payload)
            if _is_dataclass(payload):
                return list(_dataclass_dict(payload))
            if isinstance(payload, tuple) and hasattr(payload, "_fields"):
                return list(payload._fields)
        return None

    def _payload_error(self, record: Record, path: str) -> None:
        payload = record.payload
        if isinstance(payload, (list, tuple)):
            raise CsvPayloadError(
                f"CsvOutlet cannot write record {_short.repr(record)} to {path!r}: a "
                f"{type(payload).__name__} payload needs CsvOutlet(fieldnames=[...]) to name "
                f"its columns", record=record, path=path)
        raise CsvPayloadError(
            f"CsvOutlet cannot write record {_short.repr(record)} to {path!r}: payload type "
            f"{type(payload).__name__} is not supported (use a dict or other mapping, a "
            f"dataclass instance, a named tuple, or a list/tuple with fieldnames=...)",
            record=record, path=path)

    def _rows_into(
        self, writer: Any, path: str, header: list[str], records: list[Record],
        dropped: set[int],
    ) -> None:
        width = len(header)
        if width > 1:
            getter: Callable[[Any], Any] = itemgetter(*header)
        else:
            first = header[0]

            def getter(payload: Any) -> Any:
                return (payload[first],)
        slow = self._row_builder(path, header)
        escape = self.escape_formulas
        current: list[Record] = []
        log = self.on_bad_record == "log"

        def rows() -> Iterator[Any]:
            for record in records:
                current[:] = (record,)
                payload = record.payload
                row: Any = None
                if type(payload) is dict and len(payload) == width:
                    try:
                        row = getter(payload)
                    except KeyError:
                        row = None
                if row is None:
                    try:
                        row = slow(record)
                    except CsvRecordError as exc:
                        if not log:
                            raise
                        self._bad(exc)
                        dropped.add(id(record))
                        continue
                if escape:
                    row = [_defuse(v) for v in row]
                yield row

        it = rows()
        while True:
            try:
                writer.writerows(it)
                return
            except CsvRecordError:
                raise
            except Exception as exc:  # raised formatting the row that `rows` just gave
                record = current[0]
                err = CsvRecordError(
                    f"CsvOutlet cannot write record {_short.repr(record)} to {path!r}: "
                    f"{type(exc).__name__}: {exc}", record=record, path=path)
                if not log:
                    raise err from exc
                self._bad(err)
                dropped.add(id(record))

    def _row_builder(self, path: str, header: list[str]) -> Callable[[Record], list[Any]]:
        known = frozenset(header)
        width = len(header)
        missing = self.missing_value
        strict = self.extra_keys == "raise"
        sequences = self.fieldnames is not None

        def from_mapping(record: Record, payload: Mapping[Any, Any]) -> list[Any]:
            if strict:
                extra = [k for k in payload if k not in known]
                if extra:
                    raise CsvRecordError(
                        f"CsvOutlet cannot write record {_short.repr(record)} to {path!r}: "
                        f"keys {extra!r} are not in the file's header {header!r} (pass "
                        f"extra_keys='ignore' to drop them, or write to another file)",
                        record=record, path=path)
            get = payload.get
            return [get(k, missing) for k in header]

        def build(record: Record) -> list[Any]:
            payload = record.payload
            try:
                if isinstance(payload, Mapping):
                    return from_mapping(record, payload)
                if _is_dataclass(payload):
                    return from_mapping(record, _dataclass_dict(payload))
                if isinstance(payload, tuple) and hasattr(payload, "_fields"):
                    return from_mapping(record, payload._asdict())  # type: ignore[attr-defined]
                if sequences and isinstance(payload, (list, tuple)):
                    if len(payload) > width and strict:
                        raise CsvRecordError(
                            f"CsvOutlet cannot write record {_short.repr(record)} to "
                            f"{path!r}: it has {len(payload)} values but the header "
                            f"{header!r} has {width} columns (pass extra_keys='ignore' to "
                            f"drop the extra values)", record=record, path=path)
                    row = list(payload[:width])
                    row.extend([missing] * (width - len(row)))
                    return row
            except CsvRecordError:
                raise
            except Exception as exc:
                raise CsvRecordError(
                    f"CsvOutlet cannot read the payload of record {_short.repr(record)}: "
                    f"{type(exc).__name__}: {exc}", record=record, path=path) from exc
            self._payload_error(record, path)
            raise AssertionError("unreachable")  # pragma: no cover

        return build

    def _encode(
        self, path: str, text: str, parts: list[str], records: list[Record],
        dropped: set[int], fresh: bool,
    ) -> bytes:
        encoder = codecs.getincrementalencoder(self.encoding)()
        if not fresh:
            encoder.setstate(0)  # appending: no second byte order mark
        try:
            return encoder.encode(text, True)
        except UnicodeEncodeError:
            pass
        # find the rows that cannot be encoded, to name their records
        written = [r for r in records if id(r) not in dropped]
        offset = len(parts) - len(written)  # the header row, if one was written
        keep: list[str] = []
        for i, part in enumerate(parts):
            try:
                part.encode(self.encoding)
            except UnicodeEncodeError as exc:
                if i < offset:
                    raise CsvHeaderError(
                        f"CsvOutlet cannot encode the header of {path!r} as "
                        f"{self.encoding!r}: {exc}") from exc
                record = written[i - offset]
                self._bad(CsvRecordError(
                    f"CsvOutlet cannot write record {_short.repr(record)} to {path!r}: "
                    f"it cannot be encoded as {self.encoding!r}: {exc}",
                    record=record, path=path))
                dropped.add(id(record))
                continue
            keep.append(part)
        encoder = codecs.getincrementalencoder(self.encoding)()
        if not fresh:
            encoder.setstate(0)
        prefix = text[: len(text) - sum(map(len, parts))]
        return encoder.encode(prefix + "".join(keep), True)

    # -- writing -------------------------------------------------------------------

    def _write(self, plans: list[_Plan]) -> None:
        done: list[str] = []
        for plan in plans:
            if not plan.count:
                continue
            try:
                self._write_one(plan)
            except OSError as exc:
                also = (f"; this push already wrote {', '.join(map(repr, done))}"
                        if done else "")
                raise CsvWriteError(
                    f"CsvOutlet could not write {plan.count} record(s) to {plan.path!r}: "
                    f"{exc}{also}", path=plan.path, errno=exc.errno) from exc
            done.append(plan.path)

    def _write_one(self, plan: _Plan) -> None:
        parent = os.path.dirname(plan.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
        flags |= os.O_TRUNC if plan.truncate else os.O_APPEND
        fd = os.open(plan.path, flags, 0o666)
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(plan.data)
                while view:
                    view = view[os.write(fd, view):]
                if self.fsync:
                    os.fsync(fd)
            except BaseException:
                # never leave part of a row behind: cut the file back to where it was
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    _LOGGER.exception("could not cut %r back to %d bytes after a failed "
                                      "write; it may end with a partial row", plan.path, start)
                raise
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return (f"CsvOutlet(default_filepath={self.default_filepath!r}, "
                f"default_file_mode={self.default_file_mode!r})")
