"""http-client capability against its in-memory twin (httpx.MockTransport + a fake resolver).

Every rule of reference_host/capabilities/http_client.py's docstring has a test here; the
sandbox probe corpus (fixtures/probes/http.yaml) runs through ``request`` and
``is_url_allowed`` with a recording transport.  The real-server tests are in
tests/integration/test_cap_http.py.
"""

from __future__ import annotations

import functools
import gzip
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_host import interfaces
from reference_host.backends.http import ResponseTooLarge, read_capped, redact_url
from reference_host.capabilities.base import HostContext
from reference_host.capabilities.http_client import HttpClientCapability
from reference_host.grants import HttpGrant
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.rules.http import HttpCode, UrlDecision
from reference_host.types import Err, HttpError, HttpRequest, HttpResponse, Ok

PUBLIC = "93.184.215.14"
DOMAINS = ("api.example.com", "*.example.org", "127.0.0.1:8080", "internal.example.net")
PROBES = Path(__file__).resolve().parents[2] / "fixtures" / "probes" / "http.yaml"

Handler = Callable[[httpx.Request], httpx.Response]


def context(remaining: float) -> HostContext:
    budget = CallBudget(ResourceLimits())
    budget.deadline = time.monotonic() + remaining
    return HostContext("c1", budget)


class Server:
    """The transport's handler: records every request that reached it."""

    def __init__(self, respond: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond or (lambda _r: httpx.Response(200, text="ok"))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


Make = Callable[..., tuple[HttpClientCapability, Server]]


class Dns:
    """A fake resolver: every name is PUBLIC unless listed."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append((host, port))
        return self.answers.get(host, [PUBLIC])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting(httpx.SyncByteStream):
    """A response body of ``n`` chunks that counts how many were pulled."""

    def __init__(self, n: int, chunk: bytes = b"x" * 1024) -> None:
        self.n, self.chunk, self.pulled = n, chunk, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.n):
            self.pulled += 1
            yield self.chunk


@pytest.fixture
def make() -> Iterator[Make]:
    made: list[HttpClientCapability] = []

    def factory(
        respond: Handler | None = None,
        *,
        domains: tuple[str, ...] = DOMAINS,
        dns: Dns | None = None,
        clock: Clock | None = None,
        remaining: float = 5.0,
        **policy: Any,
    ) -> tuple[HttpClientCapability, Server]:
        server = Server(respond)
        cap = HttpClientCapability.from_policy(
            HttpGrant(enabled=policy.pop("enabled", True), allowed_domains=domains, **policy),
            component_id="c1",
            transport=httpx.MockTransport(server),
            clock=clock,
            resolver=dns or Dns(),
        )
        cap.context = context(remaining)
        made.append(cap)
        return cap, server

    yield factory
    for cap in made:
        cap.close()


def req(
    url: str,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: str | None = None,
    timeout_ms: int = 0,
) -> HttpRequest:
    return HttpRequest(method, url, headers or [], body, timeout_ms)


def err(result: object) -> HttpError:
    assert isinstance(result, Err), result
    assert isinstance(result.error, HttpError)
    return result.error


def ok(result: object) -> HttpResponse:
    assert isinstance(result, Ok), result
    assert isinstance(result.value, HttpResponse)
    return result.value


# ---------------------------------------------------------------------- basics and pinning


def test_get_connects_to_the_checked_address_with_host_and_sni(make: Make) -> None:
    dns = Dns()
    cap, server = make(dns=dns)
    response = ok(cap.request(req("https://API.example.com/v1?limit=1#frag")))
    assert (response.status_code, response.body) == (200, "ok")
    sent = server.requests[0]
    assert str(sent.url) == f"https://{PUBLIC}/v1?limit=1"
    assert sent.headers["host"] == "api.example.com"
    assert sent.extensions["sni_hostname"] == "api.example.com"
    assert dns.lookups == [("api.example.com", 443)]
    assert cap.sent == ["https://api.example.com/v1?limit=1"]
    assert cap.denials == []


def test_ip_entry_is_not_resolved_and_non_default_port_kept_in_host(make: Make) -> None:
    dns = Dns()
    cap, server = make(dns=dns)
    ok(cap.request(req("http://127.0.0.1:8080/health")))
    assert dns.lookups == []
    assert str(server.requests[0].url) == "http://127.0.0.1:8080/health"
    assert "sni_hostname" not in server.requests[0].extensions


def test_disabled_policy_allows_nothing(make: Make) -> None:
    cap, server = make(enabled=False)
    assert cap.is_url_allowed("https://api.example.com/") is False
    error = err(cap.request(req("https://api.example.com/")))
    assert error.case == "forbidden"
    assert "set capabilities.http.enabled: true" in error.value
    assert server.requests == []


URLS = [
    "https://api.example.com/",
    "https://a.example.org/x",
    "http://api.example.com/",
    "https://evil.com/",
    "ftp://api.example.com/",
    "https://api.example.com:8443/",
    "http://127.0.0.1:8080/",
    "http://127.0.0.1/",
    "not a url",
    "",
]


@pytest.mark.parametrize("url", URLS)
def test_is_url_allowed_agrees_with_request(make: Make, url: str) -> None:
    cap, server = make()
    allowed = cap.is_url_allowed(url)
    result = cap.request(req(url))
    assert allowed is (len(server.requests) == 1)
    if not allowed:
        assert err(result).case in {"invalid-url", "forbidden"}
        assert cap.denials[-1].case == err(result).case


def test_both_functions_ask_check_url(make: Make) -> None:
    cap, server = make()
    asked: list[str] = []
    refused = UrlDecision(False, "test says no", HttpCode.NOT_LISTED)

    def no(url: str) -> UrlDecision:
        asked.append(url)
        return refused

    cap.check_url = no  # type: ignore[method-assign]
    assert cap.is_url_allowed("https://api.example.com/") is False
    assert err(cap.request(req("https://api.example.com/"))).case == "forbidden"
    assert asked == ["https://api.example.com/"] * 2
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://api.example.com/", "gopher://api.example.com/", "ws://x/"],
)
def test_only_http_and_https(make: Make, url: str) -> None:
    cap, server = make()
    assert err(cap.request(req(url))).case == "invalid-url"
    assert server.requests == []


def test_link_defines_both_functions_and_keeps_the_context(make: Make) -> None:
    from wasmtime import Engine
    from wasmtime.component import Linker

    cap, _ = make()
    ctx = context(1.0)
    linker = Linker(Engine())
    with linker.root() as root, root.add_instance(interfaces.HTTP_CLIENT) as instance:
        cap.link(instance, ctx)
    assert cap.context is ctx
    assert cap.interface == "obsrvr:flowctl/http-client@1.0.0"


def test_close_closes_the_client(make: Make) -> None:
    cap, _ = make()
    cap.close()
    assert cap.backend.client.is_closed
    assert err(cap.request(req("https://api.example.com/"))).case == "unknown-error"


# ---------------------------------------------------------------------- methods and headers


@pytest.mark.parametrize("method", ["GET", "head", "Post", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_allowed_methods_are_sent_upper_case(make: Make, method: str) -> None:
    cap, server = make()
    ok(cap.request(req("https://api.example.com/", method)))
    assert server.requests[0].method == method.upper()


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "", "GET\r\n", "G ET"])
def test_other_methods_are_forbidden(make: Make, method: str) -> None:
    cap, server = make()
    error = err(cap.request(req("https://api.example.com/", method)))
    assert error.case == "forbidden"
    assert "is not allowed; use one of GET" in error.value
    assert (server.requests, cap.denials[-1].code) == ([], "method")


def test_hop_by_hop_and_host_owned_headers_are_dropped(make: Make) -> None:
    cap, server = make()
    headers = [
        ("Connection", "keep-alive, X-Listed"),
        ("X-Listed", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Trailer", "X-T"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic eA=="),
        ("Content-Length", "999"),
        ("Accept-Encoding", "br"),
        ("Host", "api.example.com"),
        ("X-Kept", "yes"),
        ("Authorization", "Bearer t"),
    ]
    ok(cap.request(req("https://api.example.com/", "POST", headers, body="héllo")))
    sent = server.requests[0]
    names = {k.decode().lower() for k, _ in sent.headers.raw}
    assert names.isdisjoint(
        {"x-listed", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
        | {"proxy-authorization"}
    )
    assert sent.headers["content-length"] == str(len("héllo".encode()))
    assert sent.content == "héllo".encode()
    assert sent.headers["accept-encoding"] != "br"
    assert sent.headers.get_list("host") == ["api.example.com"]
    assert (sent.headers["x-kept"], sent.headers["authorization"]) == ("yes", "Bearer t")


@pytest.mark.parametrize("host", ["api.example.com:443", "API.example.com"])
def test_host_header_naming_the_url_host_is_dropped(make: Make, host: str) -> None:
    cap, server = make()
    ok(cap.request(req("https://api.example.com/", headers=[("Host", host)])))
    assert server.requests[0].headers.get_list("host") == ["api.example.com"]


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (("Host", "internal.example.net"), "host-header"),
        (("Host", "api.example.com:8443"), "host-header"),
        (("X-A", "v\r\nHost: evil.com"), "header"),
        (("X-A", "nul\x00"), "header"),
        (("X A", "v"), "header"),
        (("X-A\r\nEvil", "v"), "header"),
        (("", "v"), "header"),
    ],
)
def test_bad_headers_are_forbidden_before_sending(
    make: Make, header: tuple[str, str], code: str
) -> None:
    cap, server = make()
    assert err(cap.request(req("https://api.example.com/", headers=[header]))).case == "forbidden"
    assert (server.requests, cap.denials[-1].code) == ([], code)


def test_non_ascii_header_values_are_sent_as_utf8(make: Make) -> None:
    cap, server = make()
    ok(cap.request(req("https://api.example.com/", headers=[("X-Name", "Zoë\t1")])))
    assert dict(server.requests[0].headers.raw)[b"X-Name"] == "Zoë\t1".encode()


# ---------------------------------------------------------------------- time budget


def test_spent_call_budget_is_timeout_without_sending_or_rate_slot(make: Make) -> None:
    clock = Clock()
    cap, server = make(remaining=0.0, max_requests=1, clock=clock)
    assert err(cap.request(req("https://api.example.com/"))) == HttpError("timeout")
    assert server.requests == []
    cap.context = context(5.0)
    ok(cap.request(req("https://api.example.com/")))  # the slot was not used up


@pytest.mark.parametrize(
    ("timeout_ms", "policy_s", "remaining", "expected"),
    [(250, 30.0, 5.0, 0.25), (0, 2.0, 5.0, 2.0), (0, 30.0, 0.5, 0.5), (9000, 30.0, 1.0, 1.0)],
)
def test_effective_timeout_is_passed_to_httpx(
    make: Make, timeout_ms: int, policy_s: float, remaining: float, expected: float
) -> None:
    cap, server = make(request_timeout=policy_s, remaining=remaining)
    ok(cap.request(req("https://api.example.com/", timeout_ms=timeout_ms)))
    given_s = server.requests[0].extensions["timeout"]
    assert set(given_s) == {"connect", "read", "write", "pool"}
    assert expected - 0.3 < given_s["read"] <= expected
    assert len(set(given_s.values())) == 1


def test_slow_dns_is_bounded_by_the_budget(make: Make) -> None:
    def slow(host: str, port: int) -> list[str]:
        time.sleep(1.0)
        return [PUBLIC]

    cap, server = make(remaining=0.2)
    cap.backend.resolver = slow
    start = time.monotonic()
    assert err(cap.request(req("https://api.example.com/"))) == HttpError("timeout")
    assert time.monotonic() - start < 0.8
    assert server.requests == []


# ---------------------------------------------------------------------- the error boundary


@pytest.mark.parametrize(
    ("exc", "case"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.PoolTimeout("busy"), "timeout"),
        (httpx.ConnectError("refused"), "network-error"),
        (httpx.RemoteProtocolError("bad"), "network-error"),
        (httpx.ReadError("reset"), "network-error"),
        (httpx.DecodingError("bad gzip"), "network-error"),
        (RuntimeError("boom"), "unknown-error"),
        (KeyError("bug"), "unknown-error"),
    ],
)
def test_transport_exceptions_map_at_one_boundary(make: Make, exc: Exception, case: str) -> None:
    def fail(_request: httpx.Request) -> httpx.Response:
        raise exc

    cap, _ = make(fail)
    assert err(cap.request(req("https://api.example.com/"))).case == case


def test_a_bug_in_the_capability_is_unknown_error_and_logged(
    make: Make, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cap, _ = make()

    def broken(*_a: object) -> object:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(cap, "_finish", broken)
    with caplog.at_level(logging.ERROR, logger="flowctl.host.http"):
        error = err(cap.request(req("https://api.example.com/")))
    assert error.case == "unknown-error"
    assert "ZeroDivisionError" in error.value
    assert caplog.records[0].exc_info is not None
    monkeypatch.setattr(cap, "check_url", broken)
    assert cap.is_url_allowed("https://api.example.com/") is False


def test_dns_failure_is_network_error(make: Make) -> None:
    def fail(host: str, port: int) -> list[str]:
        raise socket.gaierror(-2, "Name or service not known")

    cap, server = make()
    cap.backend.resolver = fail
    error = err(cap.request(req("https://api.example.com/")))
    assert error.case == "network-error"
    assert "cannot resolve 'api.example.com'" in error.value
    assert server.requests == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "get", "TRACE", ""]) | st.text(max_size=8),
    url=st.sampled_from(["https://api.example.com/", "http://127.0.0.1:8080/"])
    | st.text(max_size=40),
    headers=st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=3),
    body=st.none() | st.text(max_size=20),
    timeout_ms=st.integers(0, 2**32 - 1),
)
def test_request_never_raises(
    method: str, url: str, headers: list[tuple[str, str]], body: str | None, timeout_ms: int
) -> None:
    cap = HttpClientCapability.from_policy(
        HttpGrant(enabled=True, allowed_domains=DOMAINS),
        component_id="fuzz",
        transport=httpx.MockTransport(lambda _r: httpx.Response(200, text="ok")),
        resolver=Dns(),
    )
    cap.context = context(5.0)
    try:
        result = cap.request(HttpRequest(method, url, headers, body, timeout_ms))
        assert isinstance(result, Ok | Err)
        assert isinstance(cap.is_url_allowed(url), bool)
    finally:
        cap.close()


# ---------------------------------------------------------------------- rate limit


def test_rate_limit_counts_sent_requests_only(make: Make) -> None:
    clock = Clock()
    cap, server = make(max_requests=2, rate_limit_window=10.0, clock=clock)
    ok(cap.request(req("https://api.example.com/1")))
    err(cap.request(req("https://evil.com/")))  # refused by the allowlist: no slot
    err(cap.request(req("https://api.example.com/", "TRACE")))  # refused method: no slot
    ok(cap.request(req("https://api.example.com/2")))
    assert err(cap.request(req("https://api.example.com/3"))) == HttpError("too-many-requests")
    assert len(server.requests) == 2
    denial = cap.denials[-1]
    assert (denial.case, denial.code) == ("too-many-requests", "rate-limit")
    assert "at most 2 requests per 10 s" in denial.reason
    clock.now += 10.0
    ok(cap.request(req("https://api.example.com/4")))


# ---------------------------------------------------------------------- responses


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, 200),
        (201, 201),
        (204, 204),
        (302, 302),
        (304, 304),
        (400, HttpError("client-error", 400)),
        (404, HttpError("client-error", 404)),
        (418, HttpError("client-error", 418)),
        (429, HttpError("too-many-requests")),
        (500, HttpError("server-error", 500)),
        (503, HttpError("server-error", 503)),
        (599, HttpError("server-error", 599)),
    ],
)
def test_status_mapping_and_error_bodies_are_not_read(
    make: Make, status: int, expected: int | HttpError
) -> None:
    body = Counting(3)
    cap, _ = make(lambda _r: httpx.Response(status, stream=body))
    result = cap.request(req("https://api.example.com/"))
    if isinstance(expected, HttpError):
        assert err(result) == expected
        assert body.pulled == 0
    else:
        assert ok(result).status_code == expected
        assert body.pulled == 3


def test_body_is_utf8_with_replacement_whatever_the_charset(make: Make) -> None:
    def respond(_r: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/plain; charset=latin-1"}
        return httpx.Response(200, headers=headers, content=b"caf\xc3\xa9 \xff\xe9")

    cap, _ = make(respond)
    assert ok(cap.request(req("https://api.example.com/"))).body == "café \ufffd\ufffd"


def test_response_headers_drop_hop_by_hop_and_keep_order(make: Make) -> None:
    headers = [
        ("Connection", "close, X-Private"),
        ("Keep-Alive", "timeout=5"),
        ("X-Private", "1"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("X-Kept", "é"),
    ]
    raw = [(k.encode(), v.encode()) for k, v in headers]
    cap, _ = make(lambda _r: httpx.Response(200, headers=raw, content=b"ok"))
    got = ok(cap.request(req("https://api.example.com/"))).headers
    assert got == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Kept", "é"), *got[3:]]
    assert [k.lower() for k, _ in got[3:]] == ["content-length"]


def test_cookies_do_not_carry_over(make: Make) -> None:
    cap, server = make(lambda _r: httpx.Response(200, headers={"Set-Cookie": "s=1"}))
    ok(cap.request(req("https://api.example.com/")))
    ok(cap.request(req("https://api.example.com/")))
    assert "cookie" not in server.requests[1].headers


def test_gzip_body_is_decoded_and_its_headers_dropped(make: Make) -> None:
    packed = gzip.compress(b"hello " * 100)

    def respond(_r: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=packed)

    cap, _ = make(respond)
    response = ok(cap.request(req("https://api.example.com/")))
    assert response.body == "hello " * 100
    names = {k.lower() for k, _ in response.headers}
    assert names.isdisjoint({"content-encoding", "content-length"})
    small, _ = make(respond, max_response_bytes=100)  # the cap applies to the decoded body
    assert err(small.request(req("https://api.example.com/"))).case == "unknown-error"


# ---------------------------------------------------------------------- size cap


@pytest.mark.parametrize(("size", "good"), [(10, True), (11, False)])
def test_size_cap_is_inclusive(make: Make, size: int, good: bool) -> None:
    cap, _ = make(lambda _r: httpx.Response(200, content=b"a" * size), max_response_bytes=10)
    result = cap.request(req("https://api.example.com/"))
    if good:
        assert ok(result).body == "a" * 10
    else:
        error = err(result)
        assert error.case == "unknown-error"
        assert "larger than 10 bytes" in error.value


def test_declared_oversize_body_is_refused_without_reading(make: Make) -> None:
    body = Counting(100)
    headers = {"Content-Length": str(100 * 1024)}
    cap, _ = make(lambda _r: httpx.Response(200, headers=headers, stream=body))
    cap.policy = cap.policy.model_copy(update={"max_response_bytes": 4096})
    assert "Content-Length 102400" in err(cap.request(req("https://api.example.com/"))).value
    assert body.pulled == 0


@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_bodiless_responses_ignore_content_length(make: Make, method: str, status: int) -> None:
    headers = {"Content-Length": str(10 * 1024 * 1024)}
    cap, _ = make(lambda _r: httpx.Response(status, headers=headers), max_response_bytes=1024)
    response = ok(cap.request(req("https://api.example.com/", method)))
    assert (response.status_code, response.body) == (status, "")


def test_streamed_oversize_body_stops_reading_at_the_cap(make: Make) -> None:
    body = Counting(1000)
    cap, _ = make(lambda _r: httpx.Response(200, stream=body), max_response_bytes=4096)
    assert err(cap.request(req("https://api.example.com/"))).case == "unknown-error"
    assert body.pulled == 5  # 5 KiB > 4 KiB: the sixth chunk is never pulled


def test_read_capped_deadline_between_reads() -> None:
    response = httpx.Response(200, stream=Counting(3))
    with pytest.raises(Exception, match="within the request timeout"):
        read_capped(response, 1 << 20, time.monotonic() - 1)
    with pytest.raises(ResponseTooLarge):
        read_capped(httpx.Response(200, content=b"abc"), 2, time.monotonic() + 5)


# ---------------------------------------------------------------------- redirects


def redirector(*locations: str, status: int = 302) -> Handler:
    hops = iter(locations)

    def respond(_r: httpx.Request) -> httpx.Response:
        location = next(hops, None)
        if location is None:
            return httpx.Response(200, text="final")
        return httpx.Response(status, headers={"Location": location})

    return respond


def test_redirects_are_returned_as_is_unless_the_policy_follows_them(make: Make) -> None:
    cap, server = make(redirector("/next"))
    response = ok(cap.request(req("https://api.example.com/")))
    assert response.status_code == 302
    assert ("location", "/next") in [(k.lower(), v) for k, v in response.headers]
    assert len(server.requests) == 1


def test_followed_hops_are_each_checked_and_pinned(make: Make) -> None:
    dns = Dns()
    cap, server = make(redirector("/next", "https://cdn.example.org/f"), dns=dns,
                       follow_redirects=True)  # fmt: skip
    assert ok(cap.request(req("https://api.example.com/r"))).body == "final"
    assert cap.sent == [
        "https://api.example.com/r",
        "https://api.example.com/next",
        "https://cdn.example.org/f",
    ]
    assert [r.headers["host"] for r in server.requests] == [
        "api.example.com",
        "api.example.com",
        "cdn.example.org",
    ]
    assert dns.lookups[-1] == ("cdn.example.org", 443)


@pytest.mark.parametrize(
    ("location", "case", "code"),
    [
        ("https://evil.com/", "forbidden", "not-listed"),
        ("http://169.254.169.254/latest/meta-data/", "forbidden", "ip-literal"),
        ("http://api.example.com/", "forbidden", "downgrade"),
        ("https://user:pw@api.example.com/", "forbidden", "userinfo"),
        ("gopher://api.example.com/", "invalid-url", "malformed"),
    ],
)
def test_redirect_to_a_refused_url_is_refused_before_sending(
    make: Make, location: str, case: str, code: str
) -> None:
    cap, server = make(redirector(location), follow_redirects=True)
    assert err(cap.request(req("https://api.example.com/r"))).case == case
    assert len(server.requests) == 1
    denial = cap.denials[-1]
    assert (denial.hop, denial.code, denial.case) == (1, code, case)
    assert "pw" not in denial.url


def test_redirect_loop_stops_at_max_redirects(make: Make) -> None:
    cap, server = make(lambda _r: httpx.Response(302, headers={"Location": "/again"}),
                       follow_redirects=True, max_redirects=3)  # fmt: skip
    error = err(cap.request(req("https://api.example.com/")))
    assert error.case == "network-error"
    assert "more than 3 redirects" in error.value
    assert len(server.requests) == 4


def test_redirect_hops_take_rate_limit_slots(make: Make) -> None:
    cap, server = make(redirector("/a", "/b"), follow_redirects=True, max_requests=2)
    assert err(cap.request(req("https://api.example.com/"))) == HttpError("too-many-requests")
    assert len(server.requests) == 2
    assert cap.denials[-1].hop == 2


@pytest.mark.parametrize(
    ("status", "method", "after", "body"),
    [
        (303, "POST", "GET", b""),
        (302, "POST", "GET", b""),
        (301, "POST", "GET", b""),
        (307, "POST", "POST", b"data"),
        (308, "PUT", "PUT", b"data"),
        (303, "HEAD", "HEAD", b"data"),
    ],
)
def test_redirect_method_rewrites(
    make: Make, status: int, method: str, after: str, body: bytes
) -> None:
    cap, server = make(redirector("/next", status=status), follow_redirects=True)
    headers = [("Content-Type", "text/plain")]
    ok(cap.request(req("https://api.example.com/", method, headers, body="data")))
    second = server.requests[1]
    assert (second.method, second.content) == (after, body)
    assert ("content-type" in second.headers) is (after == method)


@pytest.mark.parametrize(
    ("location", "kept"), [("/same-origin", True), ("https://cdn.example.org/", False)]
)
def test_credentials_are_dropped_when_the_origin_changes(
    make: Make, location: str, kept: bool
) -> None:
    cap, server = make(redirector(location), follow_redirects=True)
    headers = [("Authorization", "Bearer s3cret"), ("Cookie", "a=1"), ("X-Other", "1")]
    ok(cap.request(req("https://api.example.com/", headers=headers)))
    second = server.requests[1].headers
    assert ("authorization" in second, "cookie" in second) == (kept, kept)
    assert second["x-other"] == "1"


# ---------------------------------------------------------------------- DNS rebinding guard


@pytest.mark.parametrize(
    ("answers", "allowed"),
    [
        (["10.0.0.5"], False),
        (["127.0.0.1"], False),
        (["169.254.169.254"], False),
        ([PUBLIC, "127.0.0.1"], False),
        (["::1"], False),
        (["2606:4700::1111"], True),
        ([PUBLIC, "1.1.1.1"], True),
    ],
)
def test_wildcard_names_may_only_reach_public_addresses(
    make: Make, answers: list[str], allowed: bool
) -> None:
    cap, server = make(dns=Dns({"a.example.org": answers}))
    result = cap.request(req("https://a.example.org/"))
    assert cap.is_url_allowed("https://a.example.org/") is True  # static rules only
    if allowed:
        ok(result)
        assert server.requests[0].url.host == answers[0]  # pinned to the first address
    else:
        assert err(result).case == "forbidden"
        assert cap.denials[-1].code == "private-address"
        assert server.requests == []


def test_exact_names_may_reach_private_addresses(make: Make) -> None:
    cap, server = make(dns=Dns({"internal.example.net": ["10.0.0.5"]}))
    ok(cap.request(req("https://internal.example.net/")))
    assert server.requests[0].url.host == "10.0.0.5"


def test_redirect_hop_to_a_rebound_wildcard_name_is_refused(make: Make) -> None:
    dns = Dns({"evil.example.org": ["127.0.0.1"]})
    cap, server = make(redirector("https://evil.example.org/"), dns=dns, follow_redirects=True)
    assert err(cap.request(req("https://api.example.com/"))).case == "forbidden"
    assert (len(server.requests), cap.denials[-1].hop) == (1, 1)


# ---------------------------------------------------------------------- records and secrets


def test_records_are_capped_counts_are_not_and_logs_quieten(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    cap, _ = make()
    cap.max_records = 3
    with caplog.at_level(logging.DEBUG, logger="flowctl.host.http"):
        for i in range(105):
            cap.request(req(f"https://evil.com/{i}"))
        for _ in range(4):
            ok(cap.request(req("https://api.example.com/")))
    assert (len(cap.denials), cap.denied_count) == (3, 105)
    assert (len(cap.sent), cap.sent_count) == (3, 4)
    assert [d.url for d in cap.denials] == [f"https://evil.com/{i}" for i in range(3)]
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.WARNING] * 100 + [logging.DEBUG] * 5
    assert refusals[0].component_id == "c1"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:pw@h.com/p?q=1", "https://***@h.com/p?q=1"),
        ("https://h.com/p?token=abc&limit=1", "https://h.com/p?token=***&limit=1"),
        ("https://h.com/?api_key=k&Signature=s#x", "https://h.com/?api_key=***&Signature=***#x"),
        ("https://a@b@h.com?x", "https://***@h.com?x"),
        ("https://h.com/a@b", "https://h.com/a@b"),
        ("https://h.com/\r\nX", "https://h.com/\\u000d\\u000aX"),
        ("no url at all", "no url at all"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_secrets_never_reach_denials_or_logs(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    cap, _ = make()
    with caplog.at_level(logging.DEBUG):
        cap.request(req("https://user:hunter2@evil.com/?token=t0ps3cret"))
        cap.request(req("https://api.example.com/?api_key=t0ps3cret"))
    assert cap.denials[0].url == "https://***@evil.com/?token=***"
    assert cap.sent == ["https://api.example.com/?api_key=***"]
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "httpx" in {r.name for r in caplog.records}  # httpx logged the request, redacted
    assert "hunter2" not in text
    assert "t0ps3cret" not in text


# ---------------------------------------------------------------------- the probe corpus


@functools.cache
def _probes() -> list[dict[str, Any]]:
    data = yaml.safe_load(PROBES.read_text(encoding="utf-8"))
    assert data["capability"] == "http-client"
    return list(data["probes"])


@pytest.mark.parametrize("probe", _probes(), ids=lambda p: p["id"])
def test_probe_through_the_capability(make: Make, probe: dict[str, Any]) -> None:
    redirects = probe["input"].get("redirects", [])
    cap, server = make(
        redirector(*redirects),
        domains=tuple(probe["grant"]["allowed_domains"]),
        follow_redirects=True,
    )
    url, expect = probe["input"]["url"], probe["expect"]
    result = cap.request(req(url))
    hop = expect.get("hop", 0)
    assert cap.is_url_allowed(url) is (expect.get("allowed", False) or hop > 0)
    if expect.get("allowed"):
        assert ok(result).body == "final"
        assert cap.sent[-1] == expect["url"]
        assert len(server.requests) == len(redirects) + 1
    else:
        assert err(result).case == expect["error"]
        assert len(server.requests) == hop  # the refused URL never reached the transport
        assert (cap.denials[-1].hop, cap.denials[-1].case) == (hop, expect["error"])


def test_probe_corpus_is_not_empty() -> None:
    probes = _probes()
    assert len(probes) >= 50
    assert any(p["expect"].get("allowed") for p in probes)
    assert any("redirects" in p["input"] for p in probes)
