"""``databay demo``: a local HTTP source of simulated sensor readings, pulled into CSV
files (and MongoDB with ``--mongo-uri``) by the pipeline in :data:`DEMO_PIPELINE`."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from databay import plugins
from databay.cli._commands import print_outcome
from databay.cli._errors import EXIT_OK, CliError
from databay.cli._run import StopRequest, run_pipeline
from databay.pipeline import build_pipeline, parse_interval, parse_toml
from databay.plugins import Kind
from databay.redact import redact_url

__all__ = ["DEFAULT_DURATION", "DEMO_PIPELINE", "SERVE_ONLY_PORT", "SensorSource", "demo"]

#: How long the demo runs, in seconds, unless --duration says otherwise.
DEFAULT_DURATION = 10.0

#: The port ``databay demo --serve-only`` uses by default, and the pipeline's default URL.
SERVE_ONLY_PORT = 8765

#: The demo's pipeline; shipped as examples/pipelines/demo.toml too (a test keeps them equal).
DEMO_PIPELINE = """\
# The pipeline that `databay demo` runs: simulated sensor readings, served over HTTP
# on 127.0.0.1, pulled into CSV files.
#
# Run it yourself in two terminals:
#     databay demo --serve-only                   # serves http://127.0.0.1:8765
#     databay demo --print-pipeline > demo.toml   # this file
#     databay run demo.toml                       # Ctrl-C to stop
#
# DATABAY_DEMO_SOURCE (the source's base URL) and DATABAY_DEMO_OUTPUT (the folder of
# the CSV files) change where it reads and writes.

[planner]
type = "ApsPlanner"
ignore_exceptions = true    # a failed transfer is logged and counted; the next one runs

# Every second: three sensors' temperature and humidity, one CSV row each.
[[links]]
name = "readings"
interval = "1s"

[[links.inlets]]
type = "HttpInlet"
url = "${DATABAY_DEMO_SOURCE:-http://127.0.0.1:8765}/readings"
timeout = 2.0
retries = 1

[[links.outlets]]
type = "CsvOutlet"
default_filepath = "${DATABAY_DEMO_OUTPUT:-databay-demo-output}/readings.csv"

# To keep the readings in MongoDB too, add (databay demo --mongo-uri does this):
# [[links.outlets]]
# type = "MongoOutlet"
# uri = "${MONGODB_URI}"
# database_name = "databay_demo"
# collection = "readings"

# Every two seconds: the devices' battery and signal.
[[links]]
name = "devices"
interval = "2s"

[[links.inlets]]
type = "HttpInlet"
url = "${DATABAY_DEMO_SOURCE:-http://127.0.0.1:8765}/devices"
timeout = 2.0
retries = 1

[[links.outlets]]
type = "CsvOutlet"
default_filepath = "${DATABAY_DEMO_OUTPUT:-databay-demo-output}/devices.csv"
"""

_NEEDED: tuple[tuple[Kind, str], ...] = (
    ("inlet", "HttpInlet"), ("outlet", "CsvOutlet"), ("planner", "ApsPlanner"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class SensorSource:
    """Simulated sensors over HTTP on 127.0.0.1: ``/readings`` (temperature and humidity,
    a random walk per sensor) and ``/devices`` (battery and signal), as JSON lists."""

    SENSORS = ("greenhouse-1", "greenhouse-2", "cellar")

    def __init__(self, port: int = 0, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._seq = 0
        self._climate = {name: [18.0 + 4 * i, 55.0 + 10 * i]
                         for i, name in enumerate(self.SENSORS)}
        self._battery = {name: 100.0 - 7 * i for i, name in enumerate(self.SENSORS)}
        self.requests = 0
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = self.path.split("?", 1)[0].rstrip("/")
                body: Any
                if route == "/readings":
                    body, status = source.readings(), 200
                elif route == "/devices":
                    body, status = source.devices(), 200
                elif route == "":
                    body, status = {"readings": "/readings", "devices": "/devices"}, 200
                else:
                    body, status = {"error": f"no such path: {self.path}"}, 404
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the demo shows its own status

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def readings(self) -> list[dict[str, Any]]:
        with self._lock:
            self.requests += 1
            out = []
            for name, state in self._climate.items():
                self._seq += 1
                state[0] = min(40.0, max(-5.0, state[0] + self._rng.gauss(0, 0.3)))
                state[1] = min(100.0, max(5.0, state[1] + self._rng.gauss(0, 0.8)))
                out.append({"sensor": name, "seq": self._seq, "time": _now(),
                            "temperature_c": round(state[0], 2),
                            "humidity_pct": round(state[1], 1)})
            return out

    def devices(self) -> list[dict[str, Any]]:
        with self._lock:
            self.requests += 1
            uptime = time.monotonic() - self._started
            out = []
            for i, name in enumerate(self.SENSORS):
                self._battery[name] = max(0.0, self._battery[name] - self._rng.random() * 0.2)
                out.append({"sensor": name, "time": _now(),
                            "battery_pct": round(self._battery[name], 1),
                            "rssi_dbm": round(-60 - 10 * i + 3 * math.sin(uptime + i)
                                              + self._rng.gauss(0, 1)),
                            "uptime_s": round(uptime, 1)})
            return out

    def start(self) -> SensorSource:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,),
                                        name="databay-demo-source", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> SensorSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _redact(uri: str) -> str:
    """``uri`` without its credentials (databay.redact)."""
    return redact_url(uri)


def _check_plugins(mongo: bool) -> None:
    needed = list(_NEEDED)
    if mongo:
        needed.append(("outlet", "MongoOutlet"))
    missing: list[str] = []  # distributions not installed
    unloaded: dict[str, str] = {}  # installed but disabled or failed: why
    installed = {plugins._normalise(info.distribution) for info in plugins.plugins()
                 if info.distribution}
    for kind, name in needed:
        if name not in plugins.registry(kind):
            dist = plugins.KNOWN_PROVIDERS.get(kind, {}).get(name, name)
            if dist in installed:
                unloaded.setdefault(dist, plugins.missing_hint(kind, name) or dist)
            elif dist not in missing:
                missing.append(dist)
    problems = [f"{', '.join(missing)}, not installed: pip install {' '.join(missing)}"] \
        if missing else []
    problems += unloaded.values()
    if problems:
        needs = ", ".join([*missing, *unloaded])
        raise CliError(f"databay demo needs {needs}: " + "; ".join(problems)
                       if unloaded else f"databay demo needs {problems[0]}")


def _lines(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def _serve_only(args: argparse.Namespace) -> int:
    port = SERVE_ONLY_PORT if args.port is None else args.port
    try:
        source = SensorSource(port)
    except OSError as exc:
        raise CliError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc} "
                       f"(choose another with --port)") from None
    with source, StopRequest(print) as stop:
        print(f"databay demo: serving simulated sensor readings at {source.url}/readings "
              f"and {source.url}/devices")
        print("Run the demo pipeline against it, in another terminal:")
        env = "" if source.url.endswith(f":{SERVE_ONLY_PORT}") else \
            f"DATABAY_DEMO_SOURCE={source.url} "
        print("    databay demo --print-pipeline > demo.toml")
        print(f"    {env}databay run demo.toml")
        limit = f"for {args.duration:g} s, " if args.duration is not None else ""
        print(f"Serving {limit}Ctrl-C to stop.", flush=True)
        stop.event.wait(args.duration)
    print(f"databay demo: source stopped after {source.requests} requests")
    return EXIT_OK


def demo(args: argparse.Namespace) -> int:
    if args.print_pipeline:
        print(DEMO_PIPELINE, end="")
        return EXIT_OK
    if args.serve_only:
        return _serve_only(args)
    _check_plugins(bool(args.mongo_uri))
    if args.interval is not None:
        try:
            parse_interval(args.interval)
        except (TypeError, ValueError) as exc:
            raise CliError(f"--interval: {exc}") from None
    duration = DEFAULT_DURATION if args.duration is None else args.duration
    output = os.path.abspath(args.output)
    data = parse_toml(DEMO_PIPELINE, "the demo pipeline")
    readings = data["links"][0]
    if args.interval is not None:
        readings["interval"] = args.interval
    if args.mongo_uri:
        readings["outlets"].append({"type": "MongoOutlet", "uri": "${DATABAY_DEMO_MONGO_URI}",
                                    "database_name": args.mongo_database,
                                    "collection": "readings"})
    try:
        source = SensorSource(args.port or 0)
    except OSError as exc:
        raise CliError(f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}") \
            from None
    with source:
        env = {**os.environ, "DATABAY_DEMO_SOURCE": source.url, "DATABAY_DEMO_OUTPUT": output}
        if args.mongo_uri:
            env["DATABAY_DEMO_MONGO_URI"] = args.mongo_uri
        pipeline = build_pipeline(data, "the demo pipeline", env)
        where = f"{output}{os.sep}" + (f" and MongoDB ({_redact(args.mongo_uri)})"
                                       if args.mongo_uri else "")
        print(f"databay demo: pulling simulated sensor readings from {source.url} into "
              f"{where} for {duration:g} s (Ctrl-C to stop early)", flush=True)
        began = time.monotonic()

        def title() -> str:
            return (f"databay demo: {time.monotonic() - began:.0f} of {duration:g} s "
                    f"(Ctrl-C to stop)")

        outcome = run_pipeline(pipeline, duration=duration, status=args.status,
                               log_level=getattr(args, "log_level", logging.WARNING),
                               debug=getattr(args, "debug", False), title=title,
                               on_forced=lambda o: print_outcome("databay demo", pipeline, o),
                               options=args)
    print_outcome("databay demo", pipeline, outcome)
    print("Data written to:")
    for name in ("readings.csv", "devices.csv"):
        path = os.path.join(output, name)
        print(f"  {path}  ({_lines(path)} lines)")
    if args.mongo_uri:
        print(f"  MongoDB {_redact(args.mongo_uri)}: database {args.mongo_database!r}, "
              f"collection 'readings'")
    print("The same pipeline as a file: databay demo --print-pipeline > demo.toml")
    return outcome.code
