"""Logging without side effects: run in fresh interpreters, since the point is what
`import databay` does to a process."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\|W\| hello \(databay\.Link\)$")


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, check=True)


def test_default_line_format_and_level() -> None:
    out = run("""
        import logging, databay
        log = logging.getLogger("databay.Link")
        log.info("not shown")
        log.warning("hello")
    """)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and LINE.match(lines[0]), out.stderr


def test_debug_can_be_enabled_as_documented() -> None:
    out = run("""
        import logging, databay
        logging.getLogger("databay").setLevel(logging.DEBUG)
        from databay import Link
        from databay.inlets import NullInlet
        from databay.outlets import NullOutlet
        Link(NullInlet(), NullOutlet(), 1, tags="http_to_mongo").transfer()
    """)
    assert "|D| http_to_mongo.0 transfer (databay.Link)" in out.stderr


def test_no_duplicate_lines_when_the_application_configures_logging() -> None:
    out = run("""
        import logging
        logging.basicConfig(format="APP %(name)s %(message)s")
        import databay
        logging.getLogger("databay.Link").warning("hello")
    """)
    assert out.stderr.strip().splitlines() == ["APP databay.Link hello"]


def test_import_has_no_global_side_effects() -> None:
    out = run("""
        import logging, sys, warnings
        path = list(sys.path)
        filters = list(warnings.filters)
        root_handlers = list(logging.getLogger().handlers)
        import databay, databay.inlets, databay.outlets, databay.planners
        from databay.support.buffers import Buffer
        assert sys.path == path, "sys.path changed"
        assert warnings.filters == filters, "warning filters changed"
        assert logging.getLogger().handlers == root_handlers
        assert logging.getLogger("apscheduler.executors").level == logging.NOTSET
        import importlib.util
        assert importlib.util.find_spec("record") is None
        assert importlib.util.find_spec("link") is None
        print("ok")
    """)
    assert out.stdout.strip() == "ok"


def test_user_level_is_kept() -> None:
    out = run("""
        import logging
        logging.getLogger("databay").setLevel(logging.ERROR)
        import databay
        print(logging.getLogger("databay").level)
    """)
    assert out.stdout.strip() == str(40)


def test_iso8601_formatter_precision() -> None:
    import logging

    from databay.misc.logs import ISO8601Formatter

    record = logging.LogRecord("databay", logging.INFO, __file__, 1, "m", None, None)
    record.created = 1596138701.318456
    stamp = ISO8601Formatter("%(asctime)s", millis_precision=3).formatTime(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.318", stamp)
    assert ISO8601Formatter("%(asctime)s", millis_precision=0).formatTime(record)[-3:] != "318"
