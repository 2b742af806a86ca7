"""Pulls per second through HttpInlet against a plain ``requests.Session().get`` loop.

Both hit the same fast local server (a threaded HTTP/1.1 keep-alive server in a child
process, so it does not share the GIL with the client) returning a small JSON body.
Rounds alternate between them so that drift affects both alike; the ratio of the
medians and the median of the per-round ratios are printed. Traffic goes to 127.0.0.1
only and the run is bounded.

    python benchmarks/http/bench_http.py [--pulls 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BODY = json.dumps([{"id": 1, "name": "alpha", "value": 3.5},
                   {"id": 2, "name": "beta", "value": None}]).encode()
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.wfile.write(RESPONSE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pulls", type=int, default=2000, help="pulls per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    import requests
    from databay import Link, Update
    from databay.outlets import NullOutlet
    from databay_http import HttpInlet

    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        url = f"http://127.0.0.1:{int(child.stdout.readline())}/data"
        session = requests.Session()
        inlet = HttpInlet(url)
        inlet.try_start()
        link = Link(inlet, NullOutlet(), interval=1, copy_records=False)
        update = Update([], 0)
        expected = json.loads(BODY)

        def baseline(n: int) -> None:
            get = session.get
            for _ in range(n):
                assert get(url).json() == expected

        # The same requests calls HttpInlet makes: environment settings read once, not
        # per request as Session.get does. Isolates HttpInlet's own overhead.
        lean = requests.Session()
        settings = lean.merge_environment_settings(url, {}, True, True, None)
        prepare, send = lean.prepare_request, lean.send

        def baseline_env_once(n: int) -> None:
            for _ in range(n):
                resp = send(prepare(requests.Request("GET", url)), timeout=(5, 30),
                            **settings)
                assert json.loads(resp.content) == expected

        def through_inlet(n: int) -> None:
            pull = inlet.fetch  # what `await inlet.pull()` returns, without the thread hop
            for _ in range(n):
                assert pull(update) == expected

        def through_link(n: int) -> None:
            transfer = link.transfer
            for _ in range(n):
                transfer()

        cases = {"requests.Session().get": baseline, "HttpInlet.fetch": through_inlet,
                 "Link.transfer (HttpInlet)": through_link,
                 "requests, env read once": baseline_env_once}
        for run in cases.values():
            run(200)  # warm up connections and caches
        rates: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, run in cases.items():
                started = time.perf_counter()
                run(args.pulls)
                rates[name].append(args.pulls / (time.perf_counter() - started))
        inlet.try_shutdown()
        session.close()
        lean.close()
    finally:
        child.terminate()
        child.wait(10)

    base = statistics.median(rates["requests.Session().get"])
    print(f"python {sys.version.split()[0]}, requests {requests.__version__}, "
          f"{args.rounds} rounds x {args.pulls} pulls, {len(BODY)}-byte JSON body")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:28s} {median:8.0f} pulls/s  ratio {median / base:5.3f}")
    lean_paired = statistics.median(
        inlet / plain for inlet, plain in zip(rates["HttpInlet.fetch"],
                                              rates["requests, env read once"], strict=True))
    print(f"median of per-round ratios HttpInlet.fetch / requests (env read once): "
          f"{lean_paired:.3f}")
    paired = statistics.median(
        inlet / plain for inlet, plain in zip(rates["HttpInlet.fetch"],
                                              rates["requests.Session().get"], strict=True))
    ratio = min(paired, statistics.median(rates["HttpInlet.fetch"]) / base)
    print(f"median of per-round ratios HttpInlet.fetch / requests: {paired:.3f}")
    print(f"HttpInlet / plain requests (lower of the two ratios): {ratio:.3f} (target >= 0.9): "
          f"{'OK' if ratio >= 0.9 else 'BELOW TARGET'}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        main()
