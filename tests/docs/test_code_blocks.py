"""Every Python block of the docs and READMEs runs (see doc_blocks.py for the rules).

A block that fails shows its page and line. Blocks of one page share a namespace and a
working directory, and run in order: running one block alone (``-k``) runs the blocks
above it on that page first.
"""

from __future__ import annotations

import contextlib
import doctest
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from databay import redact
from doc_blocks import ROOT, Block, blocks, documents, plugin_names

NAMES = plugin_names()
ALL = [b for doc in documents() for b in blocks(doc, NAMES)]

#: What the local stand-in for https://example.com/ answers, by path (GET); any other
#: GET gets ``[]``, any POST/PUT/PATCH a 200.
PAGES: dict[str, Any] = {
    "/readings.json": [{"sensor": "s1", "celsius": 21.5}, {"sensor": "s2", "celsius": 19.0}],
    "/ticker.json": {"USD": {"15m": 50000.5, "last": 50001.25, "symbol": "$"},
                     "EUR": {"15m": 45000.0, "last": 45001.0, "symbol": "€"}},
    "/status.json": {"ok": True, "version": "1.2.3"},
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps(PAGES.get(self.path.split("?")[0], [])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_PATCH = do_POST


@pytest.fixture(scope="session")
def example_com() -> Iterator[str]:
    """A local HTTP server standing in for https://example.com/ in the docs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="session")
def mongodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of the MongoDB server the mongo tests use (nx-27017, or $MONGODB_URI)."""
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    sys.path.insert(0, str(ROOT / "tests" / "mongo"))
    from _mongo_server import NxServer, nx_executable

    if nx_executable() is None:
        pytest.skip("no MongoDB server: nx-27017 is installed by hatch (pip install nx-27017)")
    server = NxServer(tmp_path_factory.mktemp("docs-nx-27017"))
    server.start()
    try:
        yield server.uri.rstrip("/")
    finally:
        server.stop()


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:  # contextlib.chdir is 3.11+
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class Page:
    """The shared state of one page's blocks."""

    def __init__(self, workdir: Path) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__docs__"}
        self.workdir = workdir
        self.ran = 0  # blocks of this page run so far
        self.failed: str | None = None


_PAGES: dict[Path, Page] = {}


def _substituted(code: str, request: pytest.FixtureRequest) -> str:
    if "https://example.com/" in code:
        code = code.replace("https://example.com/", request.getfixturevalue("example_com"))
    if "mongodb://localhost:27017" in code:
        code = code.replace("mongodb://localhost:27017", request.getfixturevalue("mongodb"))
    return code


def _run(block: Block, page: Page, request: pytest.FixtureRequest) -> None:
    """Run one block; the log levels and handlers it changes, and the secret names it
    adds (``databay.redact.add_secret_names``), are put back afterwards."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "databay" or name.startswith("databay.")]
    saved = [(lg, lg.level, list(lg.handlers)) for lg in loggers]
    names, phrases = set(redact._names), set(redact._phrases)
    try:
        _run_code(block, page, request)
    finally:
        for logger, level, handlers in saved:
            logger.setLevel(level)
            logger.handlers[:] = handlers
        with redact._names_lock:
            redact._names.clear()
            redact._names.update(names)
            redact._phrases.clear()
            redact._phrases.update(phrases)
            redact._cache.clear()


def _run_code(block: Block, page: Page, request: pytest.FixtureRequest) -> None:
    code = _substituted(block.code, request)
    filename = f"{block.id} (a code block)"
    if code.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(code, page.namespace, block.id,
                                                   str(block.file), block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        out: list[str] = []
        runner.run(test, out=out.append, clear_globs=False)
        if runner.failures:
            raise AssertionError("".join(out))
        return
    exec(compile(code, filename, "exec"), page.namespace)  # running the block is the point


def _explain(block: Block, exc: Exception) -> str:
    """The error as the block's author needs it: the block's own lines, then the error.
    (To see databay's frames too: pytest --tb=long tests/docs -k '<page>'.)"""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.endswith("(a code block)")]
    lines = block.code.splitlines()
    where = "".join(
        f"  line {f.lineno} of the block (line {block.line + f.lineno} of the file): "
        f"{lines[f.lineno - 1].strip() if f.lineno and f.lineno <= len(lines) else ''}\n"
        for f in frames)
    kind = ("fix the example, or mark it <!-- doctest: fragment --> if it is only a piece "
            "of a program (see docs/contributing-docs.md)")
    return (f"{block.id}: the code block raised {type(exc).__name__}: {exc}\n{where}"
            f"  -> {kind}")


def _params() -> list[Any]:
    out = []
    for block in ALL:
        if "fragment" in block.marks:  # not run: test_fragments_are_python checks them
            continue
        marks = []
        if "plugins" in block.marks:
            marks.append(pytest.mark.plugins)
        out.append(pytest.param(block, id=block.id, marks=marks))
    return out


@pytest.mark.docs_block
@pytest.mark.parametrize("block", _params())
def test_code_block(block: Block, request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> None:
    page = _PAGES.get(block.file)
    if page is None:
        page = _PAGES[block.file] = Page(tmp_path_factory.mktemp("docs-page"))
    runnable = [b for b in ALL if b.file == block.file and "fragment" not in b.marks
                and ("plugins" not in b.marks or "plugins" in block.marks)]
    before = runnable[:runnable.index(block)]
    with _chdir(page.workdir):
        for earlier in before[page.ran:]:  # -k picked a later block: run the earlier ones
            if page.failed is None:
                try:
                    _run(earlier, page, request)
                except BaseException as exc:
                    page.failed = f"{earlier.id}: {exc!r}"
            page.ran += 1
        if page.failed is not None:
            pytest.fail(f"{block.id}: an earlier block of this page failed: {page.failed}",
                        pytrace=False)
        try:
            _run(block, page, request)
        except Exception as exc:
            page.failed = f"{block.id}: {exc!r}"
            pytest.fail(_explain(block, exc), pytrace=False)
        finally:
            page.ran = max(page.ran, len(before) + 1)


@pytest.mark.docs_block
def test_every_python_block_is_found_and_marks_are_known() -> None:
    # The collector must see blocks on the pages it claims to run.
    assert any(b.file == ROOT / "README.md" for b in ALL)
    assert any(b.file.parent == ROOT / "docs" / "concepts" for b in ALL)


@pytest.mark.docs_block
def test_fragments_are_python() -> None:
    """A block marked ``<!-- doctest: fragment -->`` is not run, but it must still be
    Python: a fragment with a typo fails here, naming its file and line."""
    fragments = [b for b in ALL if "fragment" in b.marks]
    assert fragments, "no fragment found: the marks are not read"
    broken = []
    for block in fragments:
        try:
            compile(block.code, f"{block.id} (a code block)", "exec")
        except SyntaxError as exc:
            broken.append(f"{block.id}: {exc.msg} (line {exc.lineno} of the block)")
    assert not broken, "fragments that are not Python:\n" + "\n".join(broken)
