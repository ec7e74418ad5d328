"""The flowctl SDK's HTTP health endpoints, on ``HEALTH_PORT`` (stdlib ``http.server``).

==================== ======================================================================
``GET /health``      always 200: ``{"status", "uptime", "timestamp"}``
``GET /ready``       200 when the status is HEALTHY, else 503 (same body)
``GET /live``        500 when the status is UNHEALTHY, else 200 (same body)
``GET /metrics``     the Prometheus text exposition of the registry; the SDK's JSON
                     ``{"status", "uptime", "timestamp", "metrics"}`` when ``Accept`` prefers
                     ``application/json``
anything else        404 JSON (``HEAD`` answers like ``GET`` without a body; other methods 405)
==================== ======================================================================

``status`` is one of the SDK's strings -- STARTING, HEALTHY, DEGRADED, UNHEALTHY, STOPPING, UNKNOWN
(DEGRADED is ours: the SDK has none; it is live but not ready).  ``uptime`` is printed like Go's
``time.Duration.String()`` (``1m2.5s``), ``timestamp`` is RFC 3339 in UTC, to the second.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

import prometheus_client

__all__ = ["STATUSES", "HealthServer", "format_go_duration", "prefers_json"]

_log = logging.getLogger(__name__)

STATUSES: Final = frozenset({"STARTING", "HEALTHY", "DEGRADED", "UNHEALTHY", "STOPPING", "UNKNOWN"})
"""The status strings the endpoints report."""
_JSON: Final = "application/json"
_OPENMETRICS: Final = "application/openmetrics-text"


def format_go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration.String()`` prints it: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    nanos = round(seconds * 1e9)
    sign, n = ("-" if nanos < 0 else ""), abs(nanos)
    if n == 0:
        return "0s"
    if n < 1_000:
        return f"{sign}{n}ns"
    if n < 1_000_000:
        return f"{sign}{_decimal(n, 3)}µs"
    if n < 1_000_000_000:
        return f"{sign}{_decimal(n, 6)}ms"
    whole_seconds = n // 1_000_000_000
    hours, rest = divmod(whole_seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = _decimal(secs * 1_000_000_000 + n % 1_000_000_000, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, digits: int) -> str:
    """``value / 10**digits`` without trailing zeros (``1500, 3`` -> ``1.5``)."""
    whole, fraction = divmod(value, 10**digits)
    tail = str(fraction).rjust(digits, "0").rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def prefers_json(accept: str | None) -> bool:
    """Whether an ``Accept`` header ranks ``application/json`` above Prometheus' text formats.

    Quality values and wildcards count as in RFC 9110 (the most specific range matching a type
    gives its quality); a tie goes to the text format, so ``*/*`` or no header gets text.
    """
    if not accept:
        return False
    ranges: list[tuple[str, float]] = []
    for item in accept.split(","):
        media, *params = item.split(";")
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        ranges.append((media.strip().lower(), quality))
    # OpenMetrics (which we answer with the text format) counts only when named
    text = max(_quality(ranges, "text/plain"), _quality(ranges, _OPENMETRICS, exact=True))
    return _quality(ranges, _JSON) > text


def _quality(ranges: list[tuple[str, float]], media: str, *, exact: bool = False) -> float:
    family = media.split("/", 1)[0] + "/*"
    ranks = {media: 2} if exact else {media: 2, family: 1, "*/*": 0}
    best, specificity = 0.0, -1
    for candidate, quality in ranges:
        rank = ranks.get(candidate, -1)
        if rank > specificity:
            best, specificity = quality, rank
    return best


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HealthServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away mid-answer; the stdlib would print a traceback to stderr
        _log.debug("health endpoint request from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "flowctl-host"
    error_content_type = "application/json"
    error_message_format = '{"error": "%(message)s", "code": %(code)d}'

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _not_allowed(self) -> None:
        body = _dumps({"error": "method not allowed", "allow": ["GET", "HEAD"]})
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED, _JSON, body, head=False, extra={"Allow": "GET, HEAD"}
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _answer(self, *, head: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        try:
            code, content_type, body = self.server.owner.respond(path, self.headers.get("Accept"))
        except Exception:
            _log.exception("health endpoint %s failed", path)
            code, content_type = HTTPStatus.INTERNAL_SERVER_ERROR, _JSON
            body = _dumps({"error": "internal error", "path": path})
        self._send(code, content_type, body, head=head)

    def _send(
        self,
        code: HTTPStatus,
        content_type: str,
        body: bytes,
        *,
        head: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s - " + format, self.address_string(), *args)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=str).encode("utf-8")


class HealthServer:
    """The SDK-compatible health endpoints on ``host:port`` (0: a free port, see :attr:`port`).

    ``status`` gives the current status string (one of :data:`STATUSES`; anything else reports
    UNKNOWN, and a callable that raises reports UNHEALTHY); ``registry`` is exposed on
    ``/metrics``; ``json_metrics`` fills the ``metrics`` field of the JSON form.  The callables run
    on the server's request threads.  ``start()`` serves on a daemon thread; ``stop()`` ends it;
    also a context manager.
    """

    def __init__(
        self,
        host: str,
        port: int,
        status: Callable[[], str],
        registry: prometheus_client.CollectorRegistry,
        json_metrics: Callable[[], Mapping[str, Any]],
    ) -> None:
        self._host, self._port = host, port
        self._status = status
        self._registry = registry
        self._json_metrics = json_metrics
        self._started = time.monotonic()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """The address served on."""
        return self._host

    @property
    def port(self) -> int:
        """The port served on (the one picked, once started with port 0)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    def start(self) -> HealthServer:
        """Bind and serve on a daemon thread; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the health server is already running")
        server = _Server((self._host, self._port), _Handler)
        server.owner = self
        self._server = server
        self._port = int(server.server_address[1])
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=server.serve_forever,
            name=f"flowctl-health-http[{self._port}]",
            daemon=True,
        )
        self._thread.start()
        _log.info("health endpoints on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def status(self) -> str:
        """The status reported now."""
        try:
            value = self._status()
        except Exception:
            _log.exception("the status callable failed; reporting UNHEALTHY")
            return "UNHEALTHY"
        return value if value in STATUSES else "UNKNOWN"

    def respond(self, path: str, accept: str | None) -> tuple[HTTPStatus, str, bytes]:
        """(status code, content type, body) of a GET on ``path``."""
        if path == "/metrics" and not prefers_json(accept):
            return (
                HTTPStatus.OK,
                prometheus_client.CONTENT_TYPE_LATEST,
                prometheus_client.generate_latest(self._registry),
            )
        if path not in ("/health", "/ready", "/live", "/metrics"):
            return HTTPStatus.NOT_FOUND, _JSON, _dumps({"error": "not found", "path": path})
        status = self.status()
        body: dict[str, Any] = {
            "status": status,
            "uptime": format_go_duration(time.monotonic() - self._started),
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        code = HTTPStatus.OK
        if path == "/ready" and status != "HEALTHY":
            code = HTTPStatus.SERVICE_UNAVAILABLE
        elif path == "/live" and status == "UNHEALTHY":
            code = HTTPStatus.INTERNAL_SERVER_ERROR
        elif path == "/metrics":
            body["metrics"] = dict(self._json_metrics())
        return code, _JSON, _dumps(body)
