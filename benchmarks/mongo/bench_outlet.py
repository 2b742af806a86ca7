"""MongoOutlet throughput and client CPU beside raw pymongo, on the same server, in one run.

    python benchmarks/mongo/bench_outlet.py                # starts nx-27017 on a free port
    MONGODB_URI=mongodb://... python benchmarks/mongo/bench_outlet.py   # or uses that server

Each round writes ``--docs`` small documents twice, alternately (the order flips every
round), each time into a fresh collection:

* raw:  the documents built, then ``collection.insert_many(chunk, ordered=False)`` per
  chunk of ``--batch`` documents;
* link: ``Link(inlet, MongoOutlet(batch_size=--batch)).transfer()``, where the inlet's
  pull builds the same documents; the link wraps them in Records (and, with the default
  ``copy_records=True``, copies them), the outlet groups and writes them in chunks of the
  same size.

Wall time gives throughput (documents per second); ``time.process_time()`` (CPU of every
thread of this process, pymongo's included) gives client CPU per document. The server runs
in its own process and is not counted. Targets: link throughput >= 0.95 of raw and link
CPU per document <= 1.2 times raw (medians over the rounds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from databay import Inlet, Link, Update
from databay_mongo import MongoOutlet
from pymongo import MongoClient


def make_docs(count: int) -> list[dict[str, Any]]:
    return [{"n": n, "name": f"item-{n}", "value": n * 0.5, "ok": n % 2 == 0}
            for n in range(count)]


class DocsInlet(Inlet):
    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def pull(self, update: Update) -> list[dict[str, Any]]:
        return make_docs(self.count)


@contextmanager
def nx_server() -> Iterator[str]:
    executable = Path(sys.executable).parent / "nx-27017"
    command = str(executable) if executable.exists() else shutil.which("nx-27017")
    if command is None:
        raise SystemExit("nx-27017 is not installed; pip install nx-27017 or set MONGODB_URI")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = Path(tempfile.mkdtemp(prefix="bench-mongo-"))
    pid_file = workdir / "nx.pid"
    process = subprocess.Popen(
        [command, "--db", "memory", "--host", "127.0.0.1", "-p", str(port),
         "--log-file", str(workdir / "nx.log"), "--pid-file", str(pid_file)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("nx-27017 did not start") from None
                time.sleep(0.05)
        yield f"mongodb://127.0.0.1:{port}/"
    finally:
        try:
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def run_raw(client: MongoClient[dict[str, Any]], db: str, coll: str, count: int,
            batch: int) -> tuple[float, float]:
    collection = client[db][coll]
    wall, cpu = time.perf_counter(), time.process_time()
    docs = make_docs(count)
    for start in range(0, count, batch):
        collection.insert_many(docs[start:start + batch], ordered=False)
    return time.perf_counter() - wall, time.process_time() - cpu


def run_link(link: Link, outlet: MongoOutlet, coll: str, count: int) -> tuple[float, float]:
    outlet.collection = coll  # a fresh collection per round, as for raw
    wall, cpu = time.perf_counter(), time.process_time()
    result = link.transfer()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert result.pushed[outlet] == count and not result.errors, result
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--no-copy", action="store_true",
                        help="Link(copy_records=False) instead of the default True")
    args = parser.parse_args()
    uri = os.environ.get("MONGODB_URI")
    with (nx_server() if not uri else _given(uri)) as server_uri:
        run(server_uri, args.docs, args.batch, args.rounds, not args.no_copy)


@contextmanager
def _given(uri: str) -> Iterator[str]:
    yield uri


def run(uri: str, count: int, batch: int, rounds: int, copy_records: bool) -> None:
    db = f"databay_bench_{os.getpid()}"
    # both sides keep one client for the whole run, connected before anything is timed
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    client.admin.command("ping")
    outlet = MongoOutlet(db, uri=uri, batch_size=batch)
    link = Link(DocsInlet(count), outlet, interval=1, copy_records=copy_records)
    link.on_start()
    raw: list[tuple[float, float]] = []
    linked: list[tuple[float, float]] = []
    try:
        run_raw(client, db, "warmup_raw", count, batch)
        run_link(link, outlet, "warmup_link", count)
        for round_ in range(rounds):
            order = ["raw", "link"] if round_ % 2 == 0 else ["link", "raw"]
            for kind in order:
                coll = f"{kind}_{round_}"
                if kind == "raw":
                    raw.append(run_raw(client, db, coll, count, batch))
                else:
                    linked.append(run_link(link, outlet, coll, count))
                assert client[db][coll].count_documents({}) == count
                client[db].drop_collection(coll)
    finally:
        link.on_shutdown()
        client.drop_database(db)
        client.close()
    raw_wall = statistics.median(w for w, _ in raw)
    link_wall = statistics.median(w for w, _ in linked)
    raw_cpu = statistics.median(c for _, c in raw)
    link_cpu = statistics.median(c for _, c in linked)
    # each round's pair ran back to back: their ratio cancels the server's drift
    throughput = statistics.median(r[0] / k[0] for r, k in zip(raw, linked, strict=True))
    cpu_ratio = statistics.median(k[1] / r[1] for r, k in zip(raw, linked, strict=True))
    print(f"{count} documents, batches of {batch}, {rounds} rounds, "
          f"Link(copy_records={copy_records}), Python {sys.version.split()[0]}")
    print(f"raw pymongo insert_many : {count / raw_wall:>10,.0f} docs/s  "
          f"{raw_cpu / count * 1e6:6.2f} us CPU/doc  (medians)")
    print(f"Link -> MongoOutlet     : {count / link_wall:>10,.0f} docs/s  "
          f"{link_cpu / count * 1e6:6.2f} us CPU/doc")
    print(f"throughput ratio {throughput:.3f} (median of rounds; target >= 0.95): "
          f"{'ok' if throughput >= 0.95 else 'MISSED'}")
    print(f"CPU per document ratio {cpu_ratio:.3f} (median of rounds; target <= 1.2): "
          f"{'ok' if cpu_ratio <= 1.2 else 'MISSED'}")


if __name__ == "__main__":
    main()
