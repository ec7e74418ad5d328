"""http-client capability against a real HTTP server on 127.0.0.1 (started here, in a thread).

The server is ``http.server.ThreadingHTTPServer``; the capability uses its real httpx transport.
Loopback is refused unless listed, so every grant lists ``127.0.0.1:<port>`` explicitly.  The
last test sends a request from a guest (capability-proxy) through the wasmtime ABI.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from reference_host import interfaces
from reference_host.capabilities.base import HostContext
from reference_host.capabilities.http_client import HttpClientCapability
from reference_host.grants import HttpGrant
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.types import Err, HttpError, HttpRequest, HttpResponse, Ok

pytestmark = pytest.mark.integration

HUGE = 50 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    """Routes: /echo /status/<n> /redirect/<n> /to?url= /loop /slow?s= /trickle /huge
    /huge-chunked /gzip."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, parts.path, self.headers.get("Host", "")))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.strip("/").split("/")
        name = segments[0]
        if name == "echo":
            echo = {
                "method": self.command,
                "host": self.headers.get("Host"),
                "body": body.decode(),
                "headers": [k.lower() for k in self.headers],
            }
            self._send(200, json.dumps(echo).encode(), {"Content-Type": "application/json"})
        elif name == "status":
            self._send(int(segments[1]), b"the server's explanation")
        elif name == "redirect":
            n = int(segments[1])
            target = f"/redirect/{n - 1}" if n > 1 else "/echo"
            self._send(302, headers={"Location": target})
        elif name == "to":
            self._send(int(query.get("code", "302")), headers={"Location": unquote(query["url"])})
        elif name == "loop":
            self._send(302, headers={"Location": "/loop"})
        elif name == "slow":
            self.server.stop.wait(float(query["s"]))
            self._send(200, b"late")
        elif name == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "40")
            self.end_headers()
            self._stream([b"x"] * 40, pause=0.1)
        elif name == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(HUGE))
            self.end_headers()
            self._stream([b"h" * 65536] * (HUGE // 65536))
        elif name == "huge-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._stream([b"10000\r\n" + b"c" * 65536 + b"\r\n"] * (HUGE // 65536) + [b"0\r\n\r\n"])
        elif name == "gzip":
            packed = gzip.compress(b"squeezed " * 1000)
            self._send(
                200, packed, {"Content-Encoding": "gzip", "Content-Length": str(len(packed))}
            )
        else:
            self._send(404)

    def _stream(self, chunks: list[bytes], pause: float = 0.0) -> None:
        written = 0
        try:
            for chunk in chunks:
                if self.server.stop.is_set():
                    break
                self.wfile.write(chunk)
                self.wfile.flush()
                written += len(chunk)
                if pause:
                    time.sleep(pause)
        except OSError:
            self.close_connection = True
        finally:
            self.server.written[self.path] = written

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _route


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[tuple[str, str, str]] = []
        self.written: dict[str, int] = {}
        self.stop = threading.Event()
        self.errors: list[str] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, size caps) is expected; anything else is a test bug."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):
            self.errors.append(repr(exc))

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    httpd = Server()
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.05,), name="test-http", daemon=True
    )
    thread.start()
    try:
        yield httpd
    finally:
        httpd.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    assert httpd.errors == []


Make = Callable[..., HttpClientCapability]


@pytest.fixture
def make(server: Server) -> Iterator[Make]:
    made: list[HttpClientCapability] = []
    server.seen.clear()

    def factory(
        *extra: str,
        remaining: float = 5.0,
        resolver: Callable[[str, int], list[str]] | None = None,
        **policy: Any,
    ) -> HttpClientCapability:
        domains = (f"127.0.0.1:{server.port}", *extra)
        cap = HttpClientCapability.from_policy(
            HttpGrant(enabled=True, allowed_domains=domains, **policy),
            component_id="it",
            resolver=resolver,
        )
        cap.context = context(remaining)
        made.append(cap)
        return cap

    yield factory
    for cap in made:
        cap.close()


def context(remaining: float) -> HostContext:
    budget = CallBudget(ResourceLimits())
    budget.deadline = time.monotonic() + remaining
    return HostContext("it", budget)


def get(url: str, method: str = "GET", **kw: Any) -> HttpRequest:
    return HttpRequest(method, url, kw.get("headers", []), kw.get("body"), kw.get("timeout_ms", 0))


def ok(result: object) -> HttpResponse:
    assert isinstance(result, Ok), result
    assert isinstance(result.value, HttpResponse)
    return result.value


def err(result: object) -> HttpError:
    assert isinstance(result, Err), result
    assert isinstance(result.error, HttpError)
    return result.error


# ---------------------------------------------------------------------- status and body


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, 200),
        (204, 204),
        (404, HttpError("client-error", 404)),
        (403, HttpError("client-error", 403)),
        (429, HttpError("too-many-requests")),
        (500, HttpError("server-error", 500)),
        (503, HttpError("server-error", 503)),
    ],
)
def test_status_mapping(make: Make, server: Server, status: int, expected: object) -> None:
    result = make().request(get(f"{server.base}/status/{status}"))
    if isinstance(expected, HttpError):
        assert err(result) == expected
    else:
        assert ok(result).status_code == expected


def test_post_echo_sends_body_and_derived_host(make: Make, server: Server) -> None:
    headers = [("Content-Type", "text/plain"), ("Connection", "close"), ("X-Custom", "1")]
    response = ok(make().request(get(f"{server.base}/echo", "POST", headers=headers, body="hé")))
    echo = json.loads(response.body)
    assert (echo["method"], echo["body"], echo["host"]) == (
        "POST",
        "hé",
        f"127.0.0.1:{server.port}",
    )
    assert "x-custom" in echo["headers"]
    assert ("Content-Type", "application/json") in response.headers


def test_gzip_body_is_decoded(make: Make, server: Server) -> None:
    assert ok(make().request(get(f"{server.base}/gzip"))).body == "squeezed " * 1000


def test_exact_name_is_resolved_once_and_pinned(make: Make, server: Server) -> None:
    lookups: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        return ["127.0.0.1"]

    cap = make(f"svc.test:{server.port}", resolver=resolve)
    echo = json.loads(ok(cap.request(get(f"http://svc.test:{server.port}/echo"))).body)
    assert echo["host"] == f"svc.test:{server.port}"
    assert lookups == [("svc.test", server.port)]


def test_wildcard_name_resolving_to_loopback_is_refused(make: Make, server: Server) -> None:
    cap = make(f"*.example.test:{server.port}", resolver=lambda _h, _p: ["127.0.0.1"])
    url = f"http://a.example.test:{server.port}/echo"
    assert cap.is_url_allowed(url) is True
    assert err(cap.request(get(url))).case == "forbidden"
    assert cap.denials[-1].code == "private-address"
    assert server.seen == []


def test_connection_refused_is_network_error(make: Make) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cap = make(f"127.0.0.1:{port}")
    assert err(cap.request(get(f"http://127.0.0.1:{port}/"))).case == "network-error"


# ---------------------------------------------------------------------- redirects


def test_redirect_chain_is_followed_hop_by_hop(make: Make, server: Server) -> None:
    cap = make(follow_redirects=True)
    echo = json.loads(ok(cap.request(get(f"{server.base}/redirect/3"))).body)
    assert echo["method"] == "GET"
    assert [path for _, path, _ in server.seen] == [
        "/redirect/3",
        "/redirect/2",
        "/redirect/1",
        "/echo",
    ]
    assert len(cap.sent) == 4


def test_redirect_is_returned_when_not_followed(make: Make, server: Server) -> None:
    response = ok(make().request(get(f"{server.base}/redirect/2")))
    assert response.status_code == 302
    assert ("Location", "/redirect/1") in response.headers
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    "location",
    [
        "http://evil.test/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:{port}/echo",
        "http://127.0.0.1:1/echo",
        "http://[::1]:{port}/echo",
    ],
)
def test_redirect_to_a_refused_place_never_leaves(
    make: Make, server: Server, location: str
) -> None:
    target = location.format(port=server.port)
    cap = make(follow_redirects=True)
    error = err(cap.request(get(f"{server.base}/to?url={target}")))
    assert error.case == "forbidden"
    assert [path for _, path, _ in server.seen] == ["/to"]
    assert cap.denials[-1].hop == 1


def test_redirect_loop_stops(make: Make, server: Server) -> None:
    cap = make(follow_redirects=True, max_redirects=3)
    assert err(cap.request(get(f"{server.base}/loop"))).case == "network-error"
    assert len(server.seen) == 4


# ---------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("remaining", "timeout_ms", "policy_s", "bound"),
    [(0.3, 0, 30.0, 0.3), (5.0, 200, 30.0, 0.2), (5.0, 0, 0.25, 0.25)],
)
def test_slow_response_times_out_at_the_effective_timeout(
    make: Make, server: Server, remaining: float, timeout_ms: int, policy_s: float, bound: float
) -> None:
    cap = make(remaining=remaining, request_timeout=policy_s)
    start = time.monotonic()
    result = cap.request(get(f"{server.base}/slow?s=2", timeout_ms=timeout_ms))
    elapsed = time.monotonic() - start
    assert err(result) == HttpError("timeout")
    assert bound - 0.05 <= elapsed < bound + 0.8  # the server answers after 2 s


def test_trickling_body_is_bounded_by_the_call_budget(make: Make, server: Server) -> None:
    cap = make(remaining=0.5)
    start = time.monotonic()
    assert err(cap.request(get(f"{server.base}/trickle"))) == HttpError("timeout")
    assert time.monotonic() - start < 1.5  # 40 bytes at 10/s would take 4 s


def test_spent_budget_sends_nothing(make: Make, server: Server) -> None:
    assert err(make(remaining=0.0).request(get(f"{server.base}/echo"))) == HttpError("timeout")
    assert server.seen == []


# ---------------------------------------------------------------------- rate and size


def test_rate_limit(make: Make, server: Server) -> None:
    cap = make(max_requests=3, rate_limit_window=60.0)
    for _ in range(3):
        ok(cap.request(get(f"{server.base}/echo")))
    assert err(cap.request(get(f"{server.base}/echo"))) == HttpError("too-many-requests")
    assert len(server.seen) == 3


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_size_cap_stops_reading(make: Make, server: Server, path: str) -> None:
    cap = make(max_response_bytes=1024 * 1024)
    start = time.monotonic()
    error = err(cap.request(get(f"{server.base}{path}")))
    assert error.case == "unknown-error"
    assert f"larger than {1024 * 1024} bytes" in error.value
    assert time.monotonic() - start < 2.0
    deadline = time.monotonic() + 3.0
    while path not in server.written and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.written[path] < HUGE // 2  # the server could not push the rest


# ---------------------------------------------------------------------- through a guest


def test_request_from_a_guest_through_the_abi(make: Make, server: Server) -> None:
    from wasmtime import Store
    from wasmtime.component import Linker

    from reference_host.abi import schema
    from reference_host.abi._wasmtime import store_context
    from reference_host.abi.call import GuestFunc
    from reference_host.engine import HostEngine
    from tests.guests.build import build_guest

    host = HostEngine()
    component = host.load(build_guest("capability-proxy")).component
    cap = make(follow_redirects=True)
    linker = Linker(host.engine)
    with linker.root() as root, root.add_instance(interfaces.HTTP_CLIENT) as instance:
        cap.link(instance, context(5.0))
    linker.define_unknown_imports_as_traps(component)
    store = Store(host.engine)
    store.set_epoch_deadline(1 << 40)
    proxy = linker.instantiate(store, component)

    def export(name: str, sig: schema.FuncSig) -> GuestFunc:
        index = proxy.get_export_index(store, name)
        assert index is not None
        func = proxy.get_func(store, index)
        assert func is not None
        return GuestFunc(func, dataclasses.replace(sig, name=name))

    sigs = schema.INTERFACES["http-client"]
    request = export("call-http-client-request", sigs["request"])
    allowed = export("call-http-client-is-url-allowed", sigs["is-url-allowed"])
    ctx = store_context(store)
    response = ok(request(ctx, get(f"{server.base}/redirect/1", "POST", body="x")))
    assert json.loads(response.body)["method"] == "GET"
    assert request(ctx, get(f"{server.base}/status/404")) == Err(HttpError("client-error", 404))
    forbidden = err(request(ctx, get("http://169.254.169.254/")))
    assert forbidden.case == "forbidden"
    assert (allowed(ctx, f"{server.base}/x"), allowed(ctx, "http://169.254.169.254/")) == (
        True,
        False,
    )
