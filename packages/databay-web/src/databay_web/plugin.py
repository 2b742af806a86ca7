"""Adds ``--http`` and ``--http-token`` to ``databay run`` and ``databay demo`` and starts
the web service when ``--http`` is given. Nothing heavy is imported here: the server,
``prometheus_client`` and the transfer hooks come in only with ``--http``."""

from __future__ import annotations

import argparse
from typing import Any

from databay.hookspecs import hookimpl

TOKEN_ENV = "DATABAY_HTTP_TOKEN"


def _address(text: str) -> tuple[str, int]:
    from databay_web._address import parse_address

    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--http ")) from None


@hookimpl
def databay_cli_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("web (databay-web)")
    group.add_argument("--http", metavar="[HOST:]PORT", default=None, type=_address,
                       help="serve /health, /ready, /metrics (Prometheus), /api/links and a "
                            "live status page on PORT (127.0.0.1 unless HOST is given)")
    group.add_argument("--http-token", metavar="TOKEN", default=None,
                       help="token for the pause/resume/run actions (Authorization: Bearer "
                            f"TOKEN); default: the environment variable {TOKEN_ENV}")


@hookimpl
def databay_cli_run_starting(options: argparse.Namespace, pipeline: Any, planner: Any) -> Any:
    address: tuple[str, int] | None = getattr(options, "http", None)
    if address is None:
        return None
    import os
    import sys

    from databay_web._server import WebService

    host, port = address
    token = getattr(options, "http_token", None) or os.environ.get(TOKEN_ENV) or None
    names = {spec.link: spec.name for spec in pipeline.enabled_links}
    service = WebService(planner, names=names, host=host, port=port, token=token)
    service.start()
    print(f"databay-web: serving {service.url} (/metrics, /health, /ready, /api/links)",
          file=sys.stderr, flush=True)
    return service
