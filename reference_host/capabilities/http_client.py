"""``obsrvr:flowctl/http-client@1.0.0``: outbound HTTP to ``allowed_domains`` only.

``is-url-allowed`` and ``request`` agree by construction: both ask
:meth:`HttpClientCapability.check_url` (one :class:`~reference_host.rules.http.UrlRules`).
``request`` applies, in this order, and the first refusal answers (nothing is sent before the
method, URL, headers, time budget, rate limit and resolved address all pass):

1. **Method**: ``GET HEAD POST PUT PATCH DELETE OPTIONS``, case-insensitive, sent upper-case.
   Anything else (``TRACE``, ``CONNECT``, custom tokens) is ``forbidden``: the sandbox refuses it
   as it refuses a URL.
2. **URL**: ``check_url``; refusals are ``invalid-url`` or ``forbidden`` as
   :func:`reference_host.rules.expected_error_case` says.
3. **Headers**: names must be HTTP tokens and values free of control characters (else
   ``forbidden``: header injection).  Hop-by-hop headers (``Connection`` and the names it lists,
   ``Keep-Alive``, ``Proxy-*``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``),
   ``Content-Length`` (computed from the body) and ``Accept-Encoding`` (the host decodes the body)
   are dropped.  A ``Host`` header equal to the URL's own ``host[:port]`` is dropped; any other
   ``Host`` is ``forbidden``.
4. **Time**: ``effective_timeout(timeout-ms, request_timeout, context.remaining())`` bounds the
   whole request (DNS, every hop, the body); 0 means ``timeout`` without sending.
5. **Rate**: every request about to be sent, redirect hops included, takes one of
   ``max_requests`` slots per ``rate_limit_window``; none left is ``too-many-requests``.
6. **DNS**: a name is resolved once per hop.  If it matched a wildcard entry, every address must
   be public (:meth:`UrlRules.check_address`, else ``forbidden``); exact entries may reach any
   address.  The connection goes to the first address (pinned: no second lookup, no fallback).
7. **Response**: 2xx/3xx are ``ok``; 429 is ``too-many-requests``; other 4xx ``client-error(code)``;
   5xx and above ``server-error(code)``.  An error response's body is not read: the WIT error has
   no room for it.  The body is read up to ``max_response_bytes`` (after content decoding); more is
   ``unknown-error("response body larger than N bytes ...")`` and reading stops.  It is decoded as
   UTF-8 with U+FFFD for invalid bytes, whatever charset is declared.  Hop-by-hop response
   headers are dropped, and so are ``Content-Encoding``/``Content-Length`` of a decoded body.
8. **Redirects**: only with ``follow_redirects``: a 301/302/303/307/308 with ``Location`` is
   re-checked with :meth:`UrlRules.check_redirect` (https to http refused), then 4-6 again.  303
   (and 301/302 after POST) become GET without body; ``Authorization``, ``Proxy-Authorization``
   and ``Cookie`` are dropped when the origin changes; a redirect beyond ``max_redirects`` is
   ``network-error``.  Without ``follow_redirects`` the 3xx response is returned as is.

Failures become errors at one boundary (:func:`~reference_host.capabilities.base.map_exceptions`
with :func:`to_http_error`): httpx timeouts ``timeout``; other transport, DNS and decoding failures
``network-error``; anything else (a host bug) ``unknown-error``, logged with its traceback.
Nothing raises into the guest.  Every refusal is kept in :attr:`HttpClientCapability.denials`,
every request sent in ``sent`` (the first ``max_records`` of each; ``denied_count`` and
``sent_count`` count all).  URLs kept or logged are redacted
(:func:`~reference_host.backends.http.redact_url`); after 100 refusals they are logged at DEBUG
instead of WARNING, so a guest cannot flood the host's log.

**Why this is one long module**: the eight steps are one request pipeline, implemented in that
order by :meth:`HttpClientCapability._request` and its helpers; the sending itself is in
:mod:`reference_host.backends.http`, the URL rules in :mod:`reference_host.rules.http`.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import httpx
from wasmtime.component import LinkerInstance

from reference_host import interfaces
from reference_host.backends.http import (
    DeadlineExceeded,
    HttpBackend,
    ResolveError,
    Resolver,
    ResponseTooLarge,
    read_capped,
    redact_url,
)
from reference_host.capabilities.base import HostContext, link_interface, map_exceptions
from reference_host.rules import expected_error_case
from reference_host.rules.http import DEFAULT_PORTS, HttpCode, UrlDecision, UrlRules
from reference_host.rules.rate import RateLimiter, effective_timeout
from reference_host.types import Err, HttpError, HttpRequest, HttpResponse, Ok

if TYPE_CHECKING:
    from reference_host.grants import HttpGrant

__all__ = ["ALLOWED_METHODS", "Denial", "HttpClientCapability", "to_http_error"]

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authenticate"}
    | {"proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}
)
_HOST_OWNED = frozenset({"content-length", "accept-encoding"})
_CROSS_ORIGIN = frozenset({"authorization", "proxy-authorization", "cookie"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

logger = logging.getLogger("flowctl.host.http")


@dataclass(frozen=True)
class Denial:
    """One request the sandbox refused: redacted URL, reason, WIT error case, redirect hop."""

    url: str
    reason: str
    case: str
    hop: int = 0
    code: str = ""


class _Failure(Exception):
    """Internal: the request ends with ``error`` (raised inside, returned at the boundary)."""

    def __init__(self, error: HttpError) -> None:
        super().__init__(str(error))
        self.error = error


def to_http_error(exc: Exception) -> HttpError:
    """The ``http-error`` for an exception raised while serving a request.

    The error a refusal or status ended the request with is returned as is; httpx timeouts and
    the request's deadline are ``timeout``; a body over ``max_response_bytes`` is
    ``unknown-error``; DNS, transport and decoding failures ``network-error``; an invalid URL
    ``invalid-url``; anything else is a host bug: logged with its traceback, ``unknown-error``.
    """
    if isinstance(exc, _Failure):
        return exc.error
    if isinstance(exc, httpx.TimeoutException | DeadlineExceeded):
        return HttpError("timeout")
    if isinstance(exc, ResponseTooLarge):
        return HttpError("unknown-error", str(exc))
    if isinstance(exc, ResolveError):
        return HttpError("network-error", str(exc))
    if isinstance(exc, httpx.TransportError | httpx.DecodingError):
        return HttpError("network-error", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.InvalidURL):
        return HttpError("invalid-url", str(exc))
    logger.error("http-client: unexpected host error", exc_info=exc)
    return HttpError(
        "unknown-error",
        f"host error {type(exc).__name__}: {str(exc)[:200]} (a reference host bug; the "
        "traceback is in the flowctl.host.http log)",
    )


def _authority(decision: UrlDecision) -> set[str]:
    """The ``Host`` values naming the decision's own host (with and without default port)."""
    host, port, scheme = decision.host or "", decision.port, decision.scheme or "http"
    names = {f"{host}:{port}"}
    if port == DEFAULT_PORTS[scheme]:
        names.add(host)
    return names


def _response_headers(response: httpx.Response) -> list[tuple[str, str]]:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    drop = set(HOP_BY_HOP)
    drop |= {t.strip().lower() for t in response.headers.get_list("connection", split_commas=True)}
    if encoding != "identity":
        drop |= {"content-encoding", "content-length"}
    pairs = [(k.decode("latin-1"), v.decode("utf-8", "replace")) for k, v in response.headers.raw]
    return [(k, v) for k, v in pairs if k.lower() not in drop]


@dataclass(eq=False)
class HttpClientCapability:
    """Serves the http-client interface for one component instance (see the module docstring)."""

    component_id: str
    policy: HttpGrant
    rules: UrlRules
    limiter: RateLimiter
    backend: HttpBackend
    context: HostContext | None = None
    denials: list[Denial] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    denied_count: int = 0
    sent_count: int = 0
    #: ``is-url-allowed`` questions answered no (a refusal the guest saw without a request).
    refused_questions: int = 0
    max_records: int = 10_000
    interface: str = interfaces.HTTP_CLIENT

    @classmethod
    def from_policy(
        cls,
        http_policy: HttpGrant,
        *,
        component_id: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] | None = None,
        resolver: Resolver | None = None,
    ) -> HttpClientCapability:
        """Build from ``capabilities.http``; a disabled block allows no URL at all."""
        domains = http_policy.allowed_domains if http_policy.enabled else ()
        return cls(
            component_id=component_id,
            policy=http_policy,
            rules=UrlRules(domains),
            limiter=RateLimiter(
                http_policy.max_requests, http_policy.rate_limit_window, clock or time.monotonic
            ),
            backend=HttpBackend(transport, resolver),
        )

    def link(self, linker: LinkerInstance, context: HostContext) -> None:
        """Define ``request`` and ``is-url-allowed``; requests are bounded by ``context``."""
        self.context = context
        link_interface(
            linker,
            self.interface,
            {"request": self.request, "is-url-allowed": self.is_url_allowed},
            context=context,
        )

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self.backend.close()

    # ------------------------------------------------------------------ the two WIT functions

    def check_url(self, url: str) -> UrlDecision:
        """The one allowlist decision behind both ``is-url-allowed`` and ``request``."""
        return self.rules.check(url)

    def is_url_allowed(self, url: str) -> bool:
        """``is-url-allowed``: ``check_url(url).allowed`` (False if the check itself fails)."""
        allowed = False
        with map_exceptions(to_http_error):
            allowed = self.check_url(url).allowed
        self.refused_questions += not allowed
        return allowed

    def request(self, req: HttpRequest) -> Ok[HttpResponse] | Err[HttpError]:
        """``request``: never raises; every failure is an ``http-error``."""
        with map_exceptions(to_http_error) as boundary:
            return Ok(self._request(req))
        return boundary.result()

    # ------------------------------------------------------------------ the steps

    def _request(self, req: HttpRequest) -> HttpResponse:
        method = self._check_method(req)
        decision = self.check_url(req.url)
        if not decision.allowed:
            raise self._deny(req.url, decision, hop=0)
        headers = self._clean_headers(req, decision)
        remaining = self.context.remaining() if self.context is not None else None
        timeout = effective_timeout(req.timeout_ms, self.policy.request_timeout, remaining)
        if timeout <= 0:
            raise _Failure(HttpError("timeout"))
        deadline = time.monotonic() + timeout
        body = req.body.encode("utf-8") if req.body is not None else None
        for hop in itertools.count():
            address = self._admit(decision, hop, deadline)
            url = decision.url
            assert url is not None  # allowed decisions carry the normalised URL
            shown = redact_url(url)
            self.sent_count += 1
            if len(self.sent) < self.max_records:
                self.sent.append(shown)
            logger.debug("http-client %s %s (hop %d)", method, shown, hop)
            with self.backend.exchange(
                method, url, headers, body, address=address, timeout=self._left(deadline)
            ) as response:
                location = response.headers.get("location")
                status = response.status_code
                if not (self.policy.follow_redirects and status in REDIRECTS and location):
                    return self._finish(response, method, deadline)
            target = self.rules.check_redirect(decision, location)
            if not target.allowed:
                raise self._deny(urljoin(url, location), target, hop=hop + 1)
            if hop >= self.policy.max_redirects:
                raise _Failure(
                    HttpError(
                        "network-error",
                        f"more than {self.policy.max_redirects} redirects "
                        "(capabilities.http.max_redirects); the server may redirect in a loop",
                    )
                )
            method, body, headers = self._redirected(
                status, method, body, headers, decision, target
            )
            decision = target
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_method(self, req: HttpRequest) -> str:
        method = req.method.upper() if isinstance(req.method, str) else ""
        if method not in ALLOWED_METHODS:
            raise self._refuse(
                req.url,
                f"method {str(req.method)[:40]!r} is not allowed; use one of "
                f"{', '.join(ALLOWED_METHODS)}",
                code="method",
            )
        return method

    def _clean_headers(self, req: HttpRequest, decision: UrlDecision) -> list[tuple[str, str]]:
        listed = {
            token.strip().lower()
            for name, value in req.headers
            if name.lower() == "connection"
            for token in value.split(",")
        }
        own = _authority(decision)
        kept: list[tuple[str, str]] = []
        for name, value in req.headers:
            if not _TOKEN.fullmatch(name):
                raise self._refuse(
                    req.url, f"header name {name[:80]!r} is not a valid HTTP token", code="header"
                )
            if _CONTROL.search(value):
                raise self._refuse(
                    req.url,
                    f"header {name!r} contains a control character (CR, LF, NUL, ...); "
                    "header injection is refused",
                    code="header",
                )
            key = name.lower()
            if key == "host":
                if value.strip().lower() not in own:
                    raise self._refuse(
                        req.url,
                        f"Host header {value[:80]!r} differs from the URL's host "
                        f"{decision.host!r}; the host sets Host from the URL (drop the header)",
                        code="host-header",
                    )
                continue
            if key not in HOP_BY_HOP and key not in _HOST_OWNED and key not in listed:
                kept.append((name, value))
        return kept

    @staticmethod
    def _left(deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Failure(HttpError("timeout"))
        return left

    def _admit(self, decision: UrlDecision, hop: int, deadline: float) -> str | None:
        """Take a rate-limit slot and return the checked address to connect to (None: an IP)."""
        left = self._left(deadline)
        url = decision.url or ""
        if not self.limiter.allow():
            retry = self.limiter.retry_after()
            raise self._refuse(
                url,
                f"rate limit: at most {self.limiter.max_requests} requests per "
                f"{self.limiter.window_s:g} s (capabilities.http.max_requests, "
                f"rate_limit_window); retry in {retry:.1f} s",
                case="too-many-requests",
                hop=hop,
                code="rate-limit",
            )
        host = (decision.host or "").strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return None
        addresses = self.backend.resolve(host, decision.port or 0, left)
        for address in addresses:
            checked = self.rules.check_address(decision, address)
            if not checked.allowed:
                raise self._deny(url, checked, hop=hop)
        return addresses[0]

    def _finish(self, response: httpx.Response, method: str, deadline: float) -> HttpResponse:
        status = response.status_code
        if status == 429:
            raise _Failure(HttpError("too-many-requests"))
        if 400 <= status < 500:
            raise _Failure(HttpError("client-error", status))
        if status >= 500:
            raise _Failure(HttpError("server-error", status))
        bodiless = method == "HEAD" or status in (204, 304)  # Content-Length is not the body's
        data = read_capped(
            response, self.policy.max_response_bytes, deadline, trust_length=not bodiless
        )
        return HttpResponse(status, _response_headers(response), data.decode("utf-8", "replace"))

    @staticmethod
    def _redirected(
        status: int,
        method: str,
        body: bytes | None,
        headers: list[tuple[str, str]],
        old: UrlDecision,
        new: UrlDecision,
    ) -> tuple[str, bytes | None, list[tuple[str, str]]]:
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, body = "GET", None
            headers = [h for h in headers if h[0].lower() != "content-type"]
        if (old.scheme, old.host, old.port) != (new.scheme, new.host, new.port):
            headers = [h for h in headers if h[0].lower() not in _CROSS_ORIGIN]
        return method, body, headers

    # ------------------------------------------------------------------ refusals

    def _deny(self, url: str, decision: UrlDecision, *, hop: int) -> _Failure:
        reason = decision.reason
        if not self.policy.enabled:
            reason = "outbound HTTP is not granted (set capabilities.http.enabled: true)"
        elif decision.code == HttpCode.NOT_LISTED:
            reason += " (add it to capabilities.http.allowed_domains to allow it)"
        case = expected_error_case(decision) or "forbidden"
        return self._refuse(url, reason, case=case, hop=hop, code=str(decision.code))

    def _refuse(
        self, url: str, reason: str, *, case: str = "forbidden", hop: int = 0, code: str = ""
    ) -> _Failure:
        shown = redact_url(url)
        self.denied_count += 1
        if len(self.denials) < self.max_records:
            self.denials.append(Denial(shown, reason, case, hop, code))
        logger.log(
            logging.WARNING if self.denied_count <= 100 else logging.DEBUG,
            "http-client refused %s (hop %d, %s): %s",
            shown,
            hop,
            case,
            reason,
            extra={"component_id": self.component_id},
        )
        return _Failure(HttpError(case, None if case == "too-many-requests" else reason))
