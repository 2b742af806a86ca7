"""The checkpoint contract of check_inlet: cursors are JSON, seek re-reads, a new inlet
resumes after the committed cursor (issue 13, point 9)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from databay import Inlet, Update
from databay.inlets import FileInlet, NullInlet
from databay.testing import InletContract, check_inlet, check_inlet_checkpoint

ROWS = ["a", "b", "c", "d", "e", "f"]


class ListInlet(Inlet):
    """Reads ``ROWS`` two at a time; its cursor is the index of the next row."""

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(metadata)
        self.position = 0

    def pull(self, update: Update) -> list[str]:
        rows = ROWS[self.position:self.position + 2]
        self.position += len(rows)
        return rows

    @property
    def cursor(self) -> Any:
        return self.position

    def seek(self, cursor: Any) -> None:
        self.position = cursor or 0


class SeekDoesNothing(ListInlet):
    def seek(self, cursor: Any) -> None:
        pass


class TupleCursor(ListInlet):
    """A tuple is JSON-like (it becomes a list); seek takes the list back."""

    @property
    def cursor(self) -> Any:
        return ("rows", self.position)

    def seek(self, cursor: Any) -> None:
        self.position = 0 if cursor is None else cursor[1]


class ObjectCursor(ListInlet):
    @property
    def cursor(self) -> Any:
        return object()


class SetCursorAfterPull(ListInlet):
    @property
    def cursor(self) -> Any:
        return {self.position} if self.position else None


class NanCursor(ListInlet):
    @property
    def cursor(self) -> Any:
        return float("nan")


class ResumesAtTheStart(ListInlet):
    """seek works on a running inlet, but a new one ignores the committed cursor."""

    def seek(self, cursor: Any) -> None:
        if self.position:
            self.position = cursor or 0


class SeekPastTheCursor(ListInlet):
    def seek(self, cursor: Any) -> None:
        self.position = (cursor or 0) + 1


class CursorOnly(ListInlet):
    seek = Inlet.seek  # type: ignore[assignment]


class SeekOnly(ListInlet):
    cursor = Inlet.cursor  # type: ignore[assignment]


class EmptySource(ListInlet):
    def pull(self, update: Update) -> list[str]:
        return []


class BadKey(ListInlet):
    @property
    def checkpoint_key(self) -> str | None:
        return ""


def test_a_checkpointable_inlet_passes() -> None:
    report = check_inlet(ListInlet)
    assert "checkpoint" in report.passed and not report.skipped
    assert check_inlet_checkpoint(TupleCursor) is None


@pytest.mark.parametrize(("factory", "message"), [
    (SeekDoesNothing, "seek(0), the cursor before the first pull, then a pull gave "
                      "['e', 'f'], not what the first pull gave, ['a', 'b']"),
    (ResumesAtTheStart, "a new inlet resumed from the cursor committed after the first "
                        "pull, 2, pulled ['a', 'b'], not what followed that cursor, "
                        "['c', 'd']: seek must continue after the cursor"),
    (SeekPastTheCursor, "then a pull gave ['b', 'c'], not what the first pull gave"),
    (ObjectCursor, "its cursor before the first pull is <object object at"),
    (SetCursorAfterPull, "the link could not commit its cursor {2} (set): not JSON-like"),
    (NanCursor, "its cursor before the first pull is nan (float), which is not JSON-like"),
    (CursorOnly, "it overrides cursor but not seek"),
    (SeekOnly, "it overrides seek but not cursor"),
    (EmptySource, "its first pull gave no records, so the checkpoint checks cannot tell "
                  "re-reading from reading nothing"),
    (BadKey, "checkpoint_key is ''; it must be None"),
])
def test_a_broken_checkpoint_fails_the_checkpoint_check(factory: Any, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)) as caught:
        check_inlet(factory)
    assert str(caught.value).startswith(f"[checkpoint] {factory.__name__}")


def test_an_inlet_without_checkpoints_is_reported_skipped_and_may_opt_out() -> None:
    assert check_inlet(NullInlet).skipped == {
        "checkpoint": "NullInlet does not support checkpoints (it does not override seek)"}
    assert check_inlet(EmptySource, checkpoint=False).skipped == {
        "checkpoint": "checkpoint=False"}


def test_our_file_inlet_passes(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("one\ntwo\nthree\n")
    assert check_inlet_checkpoint(lambda metadata: FileInlet(path, metadata=metadata)) is None


class SeekDoesNothingContract(InletContract):
    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        return SeekDoesNothing(metadata)


class TestListInletContract(InletContract):
    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        return ListInlet(metadata)


class TestNullInletContract(InletContract):
    """No checkpoints: the checkpoint test passes (it checks nothing is half done)."""

    def make_inlet(self, metadata: dict[str, Any]) -> Inlet:
        return NullInlet(metadata)


def test_the_contract_class_runs_the_checkpoint_check() -> None:
    with pytest.raises(AssertionError, match=r"^\[checkpoint\] .*seek must move the inlet"):
        SeekDoesNothingContract().test_contract_checkpoint()
