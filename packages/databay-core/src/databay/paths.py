"""Keep paths taken from record metadata inside one folder.

Outlets that let a record choose its file (``FileOutlet.FILEPATH``,
``CsvOutlet.CSV_FILE``, ...) must not let that record write anywhere else: record
metadata often comes from the data itself. :class:`BaseFolder` is the one check they
share::

    from databay.paths import BaseFolder

    class MyOutlet(Outlet):
        TARGET = MetadataKey("MyOutlet.TARGET")

        def __init__(self, base_dir=None):
            super().__init__()
            self.folder = BaseFolder(base_dir, owner="MyOutlet")

        def push(self, records, update):
            for record in records:
                path = self.folder.resolve(record.metadata[self.TARGET], key=self.TARGET,
                                           record=record, update=update)
                ...

A metadata path must be **relative** to the base folder and may not contain ``..``, a
NUL byte, or lead out of the folder through a symbolic link; the base folder itself is
not a file either. Anything else raises :class:`~databay.errors.UnsafePathError`, which
names the outlet, the link, the record, the metadata key and the path. It is a
:class:`~databay.errors.PermanentError`: a link's :class:`~databay.delivery.RetryPolicy`
does not retry it, and with a dead-letter outlet the batch goes there at once, its
``DEAD_LETTER`` details saying why. Outlets should check every record of a push
before writing any of them, so a refused push writes nothing.
"""

from __future__ import annotations

import os
import reprlib
from typing import TYPE_CHECKING, Any, NoReturn

from databay.errors import UnsafePathError

if TYPE_CHECKING:
    from databay.record import Record
    from databay.update import Update

__all__ = ["BaseFolder", "UnsafePathError", "check_path_argument"]

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxlist = 4
_short.maxdict = 4


def check_path_argument(value: Any, where: str) -> str:
    """``value`` as a str path, or a TypeError/ValueError naming ``where`` (for example
    ``"FileOutlet(default_filepath=...)"``): for paths given to constructors."""
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{where} must be a str or os.PathLike path, "
                        f"got {type(value).__name__}: {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str):
        raise TypeError(f"{where} must be a str path, got {value!r}")
    if not path:
        raise ValueError(f"{where} must be a non-empty path, got {value!r}")
    if "\x00" in path:
        raise ValueError(f"{where} must not contain a NUL byte, got {path!r}")
    return path


class BaseFolder:
    """The folder that paths from record metadata must stay in.

    :param base: the folder; None means the working directory at construction. It does
        not need to exist yet; outlets create folders as they write.
    :param owner: who checks, as error messages should name it (``"FileOutlet"``).
    :param allow_any_path: accept absolute paths, ``..`` and symbolic links anywhere
        (for trusted metadata only); the type, empty and NUL-byte checks still apply and
        relative paths are still taken from ``base``.
    :param option: the constructor keyword that sets ``base``, named in the hint of
        errors.
    """

    __slots__ = ("_real", "allow_any_path", "option", "owner", "path")

    def __init__(
        self,
        base: str | os.PathLike[str] | None = None,
        *,
        owner: str = "outlet",
        allow_any_path: bool = False,
        option: str = "base_dir",
    ) -> None:
        if not isinstance(allow_any_path, bool):
            raise TypeError(f"{owner}(allow_any_path=...) must be True or False, "
                            f"got {allow_any_path!r}")
        text = os.getcwd() if base is None else check_path_argument(base, f"{owner}({option}=...)")
        self.path = os.path.abspath(text)
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"{owner}({option}=...) must be a folder, but {self.path!r} is "
                             f"a file")
        self.owner = owner
        self.option = option
        self.allow_any_path = allow_any_path
        self._real = os.path.realpath(self.path)

    def resolve(
        self,
        value: Any,
        *,
        key: str,
        record: Record | None = None,
        update: Update | None = None,
    ) -> str:
        """The real, absolute path that ``value`` (taken from ``record``'s metadata
        ``key``) names inside this folder; or :class:`UnsafePathError`."""
        if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
            self._refuse(value, f"must be a str or os.PathLike path, got "
                                f"{type(value).__name__}: {value!r}", key, record, update)
        text = os.fspath(value)
        if not isinstance(text, str) or not text:
            self._refuse(value, "must be a non-empty str path", key, record, update)
        if "\x00" in text:
            self._refuse(text, "contains a NUL byte", key, record, update)
        if self.allow_any_path:
            return os.path.realpath(os.path.join(self.path, text))
        if os.path.isabs(text) or os.path.splitdrive(text)[0]:
            self._refuse(text, "is absolute", key, record, update)
        parts = (text.replace(os.altsep, os.sep) if os.altsep else text).split(os.sep)
        if ".." in parts:
            self._refuse(text, "contains '..'", key, record, update)
        real = os.path.realpath(os.path.join(self._real, text))
        if not self._inside(real):
            self._real = os.path.realpath(self.path)  # the folder may have been created since
            if not self._inside(real):
                self._refuse(text, f"resolves to {real!r} through a symbolic link, outside "
                                   f"the folder", key, record, update)
        if real == self._real:
            self._refuse(text, "names the folder itself, not a file", key, record, update)
        return real

    def _inside(self, real: str) -> bool:
        base = self._real
        return real == base or real.startswith(base.rstrip(os.sep) + os.sep)

    def _refuse(self, value: Any, reason: str, key: str, record: Record | None,
                update: Update | None) -> NoReturn:
        link = ".".join(update.tags) if update is not None else None
        parts = [f"{self.owner} refused"]
        parts.append(f"record {_short.repr(record)}" if record is not None else "a path")
        if link is not None:
            parts.append(f"of link {link!r} (transfer {update})" if link
                         else f"of transfer {update}")
        message = (f"{' '.join(parts)}: its metadata {str(key)!r} path {value!r} {reason}; "
                   f"metadata paths must be relative paths inside {self.path!r} (choose "
                   f"the folder with {self.owner}({self.option}=...); allow_any_path=True "
                   f"lifts the check, for trusted metadata only)")
        raise UnsafePathError(message, path=value, key=str(key), link=link, record=record,
                              base=self.path, reason=reason)

    def __repr__(self) -> str:
        return f"BaseFolder({self.path!r}, owner={self.owner!r})"
