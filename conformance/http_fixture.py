"""A real HTTP server on 127.0.0.1 that answers the routes of ``--conformance-http-fixture``.

``{"GET /path": {"status": 200, "body": ..., "headers": {...}}}``; any other request gets 404.
Every request is recorded in :attr:`FixtureServer.hits`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: FixtureServer

    def _answer(self) -> None:
        self.server.hits.append(f"{self.command} {self.path}")
        route = self.server.routes.get(f"{self.command} {self.path.split('?')[0]}")
        status, body, headers = 404, b'{"error": "no such fixture route"}', {}
        if isinstance(route, dict):
            status = int(route.get("status", 200))
            raw = route.get("body", "")
            body = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
            headers = dict(route.get("headers", {}))
        self.send_response(status)
        headers.setdefault("Content-Type", "application/json")
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, *_args: Any) -> None:
        """Stay quiet."""


class FixtureServer(ThreadingHTTPServer):
    """The fixture server; :meth:`start` serves in a daemon thread, :meth:`stop` ends it."""

    daemon_threads = True

    def __init__(self, routes: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.hits: list[str] = []

    @property
    def origin(self) -> str:
        """``127.0.0.1:<port>``."""
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> FixtureServer:
        """Serve in a daemon thread."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
