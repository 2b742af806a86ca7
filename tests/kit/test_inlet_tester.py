"""The original's InletTester works at its documented path, built on databay.testing."""

from __future__ import annotations

import unittest
from pathlib import Path
from typing import Any

import databay.misc.inlet_tester as inlet_tester
from databay import Inlet, Record, Update
from databay.inlets import FileInlet, RandomIntInlet


def run(case: type[unittest.TestCase]) -> unittest.TestResult:
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    result = unittest.TestResult()
    suite.run(result)
    return result


class RandomIntInletTest(inlet_tester.InletTester):
    """Collected by pytest directly, as a user's subclass would be."""

    def get_inlet(self) -> list[Inlet]:
        return [RandomIntInlet(), RandomIntInlet(5, 6, metadata={"own": True})]


def test_the_test_names_of_the_original_are_kept() -> None:
    names = unittest.defaultTestLoader.getTestCaseNames(inlet_tester.InletTester)
    assert {"test_new_record", "test_new_record_override_global", "test_dont_read_metadata",
            "test_pull"} <= set(names)


def test_the_default_inlet_passes() -> None:
    result = run(inlet_tester.InletTester)
    assert result.wasSuccessful(), result.failures + result.errors
    assert result.testsRun >= 4


def test_a_list_of_inlets_is_tested_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("x\ny\n")
    tested: list[str] = []

    class Recording(FileInlet):
        def pull(self, update: Update) -> Any:
            tested.append(repr(self))
            return super().pull(update)

    class FileInletTest(inlet_tester.InletTester):
        def get_inlet(self) -> list[Inlet]:
            return [FileInlet(path), Recording(path, metadata={"n": 2})]

    result = run(FileInletTest)
    assert result.wasSuccessful(), result.failures + result.errors
    assert any("'n': 2" in t and "'global': 'global'" in t for t in tested)


class LeaksMetadata(Inlet):
    def pull(self, update: Update) -> Record:
        self.metadata["__inlet__"] = str(self)
        return Record(1, self.metadata)


class Overwrites(Inlet):
    def new_record(self, payload: Any, metadata: dict[str, Any] | None = None) -> Record:
        return super().new_record(payload, {**(metadata or {}), "global": "mine"})

    def pull(self, update: Update) -> int:
        return 1


def test_a_broken_inlet_fails_the_tests_that_concern_it() -> None:
    class LeaksTest(inlet_tester.InletTester):
        def get_inlet(self) -> Inlet:
            return LeaksMetadata()

    class OverwritesTest(inlet_tester.InletTester):
        def get_inlet(self) -> Inlet:
            return Overwrites()

    def failed(result: unittest.TestResult) -> set[str]:
        return {test.id().rsplit(".", 1)[-1].split(" ")[0]
                for test, _ in result.failures + result.errors}

    leaks = run(LeaksTest)
    assert failed(leaks) == {"test_dont_read_metadata", "test_pull", "test_pull_async"}
    assert "shares the inlet's metadata dict" in leaks.failures[0][1]
    overwrites = run(OverwritesTest)
    assert failed(overwrites) == {"test_new_record", "test_new_record_override_global"}


def test_get_inlet_returning_something_else_is_an_error() -> None:
    class Wrong(inlet_tester.InletTester):
        def get_inlet(self) -> Any:
            return "inlet"

    result = run(Wrong)
    assert result.errors and "must return an Inlet or a list of them" in result.errors[0][1]
