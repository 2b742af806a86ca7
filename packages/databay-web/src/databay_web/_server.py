"""The HTTP service: health, readiness, metrics, the JSON API, its actions and the page."""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import threading
import urllib.parse
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from databay import plugins
from databay.base_planner import BasePlanner
from databay.link import Link
from prometheus_client.exposition import choose_encoder

from databay_web._address import parse_address
from databay_web._metrics import registry_for
from databay_web._monitor import Monitor

__all__ = ["WebService", "parse_address"]

_LOGGER = logging.getLogger("databay.web")

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
_ACTIONS = ("pause", "resume", "run")
_MAX_BODY = 64 * 1024


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: WebService

    def handle_error(self, request: Any, client_address: Any) -> None:
        _LOGGER.debug("web request from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "databay-web"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a malformed request still gets a status line

    def log_message(self, format: str, *args: Any) -> None:
        _LOGGER.debug("%s " + format, self.address_string(), *args)

    # -- replies ----------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str,
              headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; frame-ancestors 'none'")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(data, indent=1).encode()
        self._send(status, body, "application/json", headers)

    def _text(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, (text + "\n").encode(), "text/plain; charset=utf-8", headers)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        # http.server's own errors (a malformed request line, ...): short, no HTML
        self.close_connection = True
        with contextlib.suppress(Exception):
            self._text(code, f"{code} {(message or HTTPStatus(code).phrase)[:100]}")

    # -- routing ----------------------------------------------------------------------

    def _route(self, method: str) -> None:
        try:
            path = urllib.parse.urlsplit(self.path).path
            self._dispatch(method, path)
        except Exception:  # never a traceback for the client
            _LOGGER.exception("databay-web: %s %s failed", method, self.path[:200])
            with contextlib.suppress(Exception):
                self._text(500, "500 internal error (see the databay log)")

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def _dispatch(self, method: str, path: str) -> None:
        service = self.server.service
        if path.startswith("/api/links/") and path.count("/") == 4:
            _, _, _, name, action = path.split("/")
            if action not in _ACTIONS:
                self._text(404, f"404 no such action {action[:40]!r}: "
                                f"POST /api/links/NAME/{{{'|'.join(_ACTIONS)}}}")
                return
            if method != "POST":
                self._text(405, "405 use POST", {"Allow": "POST"})
                return
            self._action(urllib.parse.unquote(name), action)
            return
        routes = {"/health": self._health, "/ready": self._ready, "/metrics": self._metrics,
                  "/api/links": self._links}
        handler = routes.get(path)
        if handler is None and path in _STATIC:
            handler = self._static
        if handler is None:
            self._text(404, "404 not found: try /, /health, /ready, /metrics or /api/links")
            return
        if method != "GET":
            self._text(405, "405 use GET", {"Allow": "GET, HEAD"})
            return
        del service
        handler()

    def _health(self) -> None:
        self._text(200, "ok")

    def _ready(self) -> None:
        reason = self.server.service.monitor.readiness()
        if reason is None:
            self._text(200, "ready")
        else:
            self._text(503, f"not ready: {reason}")

    def _metrics(self) -> None:
        # the text format 0.0.4 by default, OpenMetrics when the scraper asks for it
        encoder, content_type = choose_encoder(self.headers.get("Accept") or "")
        self._send(200, encoder(self.server.service.registry), content_type)

    def _links(self) -> None:
        self._json(200, self.server.service.monitor.as_json())

    def _static(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        name, content_type = _STATIC[path]
        self._send(200, self.server.service.asset(name), content_type)

    def _action(self, name: str, action: str) -> None:
        service = self.server.service
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > _MAX_BODY:
            self._text(400, "400 bad Content-Length")
            return
        if int(length):
            self.rfile.read(int(length))  # the body is not used
        refusal = service.check_token(self.headers.get("Authorization"))
        if refusal is not None:
            status, why = refusal
            self._text(status, f"{status} {why}", {"WWW-Authenticate": 'Bearer realm="databay"'}
                       if status == 401 else None)
            return
        state = service.monitor.find(name)
        if state is None:
            self._text(404, f"404 no link named {name[:80]!r}")
            return
        refused = service.actions_refused()
        if refused is not None:
            self._text(409, f"409 {refused}")
            return
        service.act(state.link, action)
        status = 202 if action == "run" else 200
        self._json(status, {"link": state.name, "action": action,
                            "state": service.monitor.link_state(state),
                            "paused": service.planner.link_paused(state.link)})


class WebService:
    """Serves a planner's health, readiness, metrics, links and status page over HTTP.

    :param planner: the planner whose links are shown.
    :param names: a name per link (a pipeline's link names); others are named by tags.
    :param host: address to bind (default 127.0.0.1; a non-loopback address without a
        token is warned about).
    :param port: port to bind (0: any free port; see :attr:`port`).
    :param token: the token the pause/resume/run actions require (``Authorization:
        Bearer TOKEN``); without one, the actions are refused (403).

    ``start()`` registers the hooks and serves in a thread; ``close()`` stops both.
    """

    def __init__(self, planner: BasePlanner, *, names: Mapping[Link, str] | None = None,
                 host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> None:
        if not isinstance(planner, BasePlanner):
            raise TypeError(f"WebService(planner=...) must be a BasePlanner, got {planner!r}")
        if token is not None and (not isinstance(token, str) or len(token) < 8):
            raise ValueError("the web token must be a string of at least 8 characters "
                             "(e.g. python -c 'import secrets; print(secrets.token_urlsafe())')")
        self.planner = planner
        self.host = host
        self._port = port
        self._token = token
        self.monitor = Monitor(planner, names)
        self.registry = registry_for(self.monitor)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._plugin_name: str | None = None
        self._assets: dict[str, bytes] = {}
        self._actions: list[threading.Thread] = []

    @property
    def port(self) -> int:
        """The port served (the one chosen when started with port 0)."""
        return self._server.server_address[1] if self._server is not None else self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Bind, register the hooks and serve in a background thread. OSError (port in
        use, ...) names the address."""
        if self._server is not None:
            raise RuntimeError(f"{self!r} is already started")
        if self._token is None and not _loopback(self.host):
            _LOGGER.warning(
                "databay-web: serving on %s, which is not a loopback address, without a "
                "token: anyone who reaches it sees the links and metrics (the actions stay "
                "refused); give --http-token or DATABAY_HTTP_TOKEN", self.host)
        family_server = _Server
        if ":" in self.host:
            import socket

            class _Server6(_Server):
                address_family = socket.AF_INET6

            family_server = _Server6
        try:
            server = family_server((self.host, self._port), _Handler)
        except OSError as exc:
            raise OSError(exc.errno, f"databay-web cannot serve on {self.host}:{self._port}: "
                                     f"{exc.strerror or exc}") from exc
        server.service = self
        self._server = server
        self._plugin_name = plugins.register(self.monitor, name=f"databay-web-{id(self)}")
        self._thread = threading.Thread(target=server.serve_forever, name="databay-web",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and unregister the hooks (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._plugin_name is not None:
            plugins.unregister(self._plugin_name)
            self._plugin_name = None
        for thread in self._actions:
            thread.join(5)
        self._actions.clear()

    def __enter__(self) -> WebService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WebService({self.url})"

    # -- what the handler uses --------------------------------------------------------

    def asset(self, name: str) -> bytes:
        found = self._assets.get(name)
        if found is None:
            found = self._assets[name] = (
                resources.files("databay_web").joinpath("static").joinpath(name).read_bytes())
        return found

    def check_token(self, header: str | None) -> tuple[int, str] | None:
        """None when ``header`` carries the token; else ``(status, why)``."""
        if self._token is None:
            return 403, ("actions are disabled: start with --http-token TOKEN or "
                         "DATABAY_HTTP_TOKEN")
        if not header:
            return 401, "send Authorization: Bearer TOKEN"
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return 401, "send Authorization: Bearer TOKEN"
        if not hmac.compare_digest(given.strip().encode(), self._token.encode()):
            return 403, "wrong token"
        return None

    def actions_refused(self) -> str | None:
        """Why this planner's links cannot be paused, resumed or run from here, or None.

        A planner with roles (``CeleryPlanner``) spreads a link over processes: beat
        publishes its ticks, any worker runs them. A pause in one process would not stop
        the others, and beat has no started nodes to run a transfer with, so the actions
        are refused (409) rather than half done."""
        role = getattr(self.planner, "role", None)
        if role is None:
            return None
        return (f"pause, resume and run now are not available for {type(self.planner).__name__} "
                f"(role {role}): its ticks come from beat and run on any worker, so one "
                f"process cannot pause or run a link for all of them; pause the whole "
                f"pipeline by stopping beat")

    def act(self, link: Link, action: str) -> None:
        if action == "pause":
            self.planner.pause_link(link)
        elif action == "resume":
            self.planner.resume_link(link)
        else:  # run now, in a thread of its own: the request does not wait for it
            self._actions = [t for t in self._actions if t.is_alive()]
            thread = threading.Thread(target=self._run_now, args=(link,),
                                      name="databay-web-run", daemon=True)
            self._actions.append(thread)
            thread.start()

    def _run_now(self, link: Link) -> None:
        try:
            self.planner.force_transfer(link)
        except Exception:
            _LOGGER.exception("databay-web: running %r now failed", link)
