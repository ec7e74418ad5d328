"""The HTTP backend of the ``http-client`` capability: one :class:`httpx.Client`, one seam.

The capability decides *whether* a request may go out; this module only sends it.  Tests swap
the transport (``HttpBackend(transport=httpx.MockTransport(handler))``) and the resolver.

What the backend does, and deliberately does not do:

* One request per :meth:`HttpBackend.exchange`; httpx never follows redirects (the capability
  follows them hop by hop and re-checks every hop).
* It connects to the address the capability checked: the URL's host is replaced by that IP, the
  ``Host`` header carries the name, and for https the TLS server name (SNI and the certificate
  check) is the name, through httpcore's ``sni_hostname`` extension.  :meth:`HttpBackend.resolve`
  asks DNS once per hop, bounded by the hop's timeout (the lookup runs in a worker thread; a lookup
  that outlives its timeout is abandoned, not interrupted).
* No environment proxies, ``.netrc`` or ``SSL_CERT_*`` settings (``trust_env=False``; TLS
  verifies against certifi's roots, :func:`default_ssl_context`) and no cookie jar (cleared
  after every exchange): nothing carries over from one guest request to the next.
* Bodies are streamed: :func:`read_capped` stops reading as soon as more than ``max_bytes`` of
  (content-decoded) body arrived, or at the deadline.  The deadline is checked between reads; a
  single read waits at most the hop's timeout.  Decompression happens per network chunk, so one
  chunk of a compression bomb may expand in memory before the cap is seen.
* httpx logs every request URL at INFO on the ``httpx`` logger; :class:`RedactUrls` (installed
  on that logger) redacts userinfo and secret-looking query values there, as :func:`redact_url`.

Errors are httpx's own exceptions plus :class:`ResponseTooLarge`, :class:`DeadlineExceeded` and
:class:`ResolveError`; turning them into WIT errors is the capability's job, at one boundary.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx

from reference_host.rules.names import sanitize_log_text

__all__ = [
    "USER_AGENT",
    "DeadlineExceeded",
    "HttpBackend",
    "RedactUrls",
    "ResolveError",
    "Resolver",
    "ResponseTooLarge",
    "default_ssl_context",
    "read_capped",
    "redact_url",
    "system_resolver",
]

USER_AGENT = "flowctl-reference-host/1.0 (obsrvr:flowctl/http-client@1.0.0)"
Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> IP addresses`` (strings), in the order they should be tried."""

_SECRET_PARAM = re.compile(
    r"pass|secret|token|key|sig|auth|credential|session|code|jwt|bearer", re.IGNORECASE
)
_MAX_SHOWN = 1000


class ResponseTooLarge(Exception):
    """The response body is larger than the policy's ``max_response_bytes``."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        said = f" (Content-Length {declared})" if declared is not None else ""
        super().__init__(
            f"response body larger than {limit} bytes{said}; the host stopped reading it "
            "(capabilities.http.max_response_bytes)"
        )
        self.limit = limit


class DeadlineExceeded(Exception):
    """The request's time budget ran out outside an httpx call (DNS, between body reads)."""


class ResolveError(Exception):
    """DNS did not give any address for the host."""


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the system resolver; IPv4 and IPv6 addresses, duplicates removed."""
    found: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family in (socket.AF_INET, socket.AF_INET6):
            address = str(sockaddr[0])
            if address not in found:
                found.append(address)
    return found


def redact_url(url: str) -> str:
    """Return ``url`` fit for logs and reports; never raises.

    Userinfo becomes ``***@``, values of query parameters whose names look secret (``token``,
    ``api_key``, ``sig``, ...) become ``***``, control characters are escaped and the result is
    cut to about 1000 characters.
    """
    text = str(url)
    scheme_end = text.find("//")
    if scheme_end >= 0:
        start = scheme_end + 2
        ends = [i for i in (text.find(c, start) for c in "/?#") if i >= 0]
        end = min(ends, default=len(text))
        at = text.rfind("@", start, end)
        if at >= 0:
            text = f"{text[:start]}***{text[at:]}"
    base, hash_, fragment = text.partition("#")
    path, question, query = base.partition("?")
    if question:
        parts = []
        for item in query.split("&"):
            name, eq, _ = item.partition("=")
            parts.append(f"{name}=***" if eq and _SECRET_PARAM.search(name) else item)
        base = f"{path}?{'&'.join(parts)}"
    return sanitize_log_text(base + hash_ + fragment, _MAX_SHOWN)


class RedactUrls(logging.Filter):
    """Redact :class:`httpx.URL` arguments of log records (httpx logs each request URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite URL arguments in place; always keep the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


_REDACT = RedactUrls()


def read_capped(
    response: httpx.Response, max_bytes: int, deadline: float, *, trust_length: bool = True
) -> bytes:
    """Read a streamed response body: at most ``max_bytes`` (decoded), until ``deadline``.

    Raises :class:`ResponseTooLarge` as soon as the body is known to be too large (the bytes read
    so far, or, with ``trust_length``, a declared ``Content-Length`` of an unencoded body: pass
    False for HEAD, 204 and 304, whose Content-Length describes no body) and
    :class:`DeadlineExceeded` when ``time.monotonic()`` passes ``deadline`` between reads.
    """
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    declared = response.headers.get("content-length", "")
    if trust_length and encoding == "identity" and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(max_bytes, int(declared))
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise ResponseTooLarge(max_bytes)
        if time.monotonic() > deadline:
            raise DeadlineExceeded("the response body did not arrive within the request timeout")
    return bytes(body)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The TLS settings of the default transport: certifi roots, verification on, no env.

    Built once per process (loading the roots takes a noticeable fraction of a second) and shared
    by every backend; an :class:`ssl.SSLContext` may wrap sockets from many threads.
    """
    return httpx.create_ssl_context(trust_env=False)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HttpBackend:
    """An :class:`httpx.Client` with a swappable transport and resolver (see the module doc)."""

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        *,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.client = httpx.Client(
            transport=transport
            if transport is not None
            else httpx.HTTPTransport(verify=default_ssl_context(), retries=0),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": user_agent},
        )
        self.resolver: Resolver = resolver if resolver is not None else system_resolver
        self._pool: ThreadPoolExecutor | None = None
        logging.getLogger("httpx").addFilter(_REDACT)  # idempotent: one shared filter object

    def resolve(self, host: str, port: int, timeout: float) -> list[str]:
        """Resolve ``host`` once, waiting at most ``timeout`` seconds.

        Raises :class:`DeadlineExceeded` on timeout and :class:`ResolveError` when DNS fails or
        gives nothing.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="flowctl-dns")
        future = self._pool.submit(self.resolver, host, port)
        try:
            addresses = [str(a) for a in future.result(timeout=max(timeout, 0.0))]
        except TimeoutError as exc:
            future.cancel()
            raise DeadlineExceeded(
                f"DNS lookup of {host!r} did not finish within {timeout:.3f} s"
            ) from exc
        except OSError as exc:
            raise ResolveError(f"cannot resolve {host!r}: {exc}") from exc
        if not addresses:
            raise ResolveError(f"cannot resolve {host!r}: DNS returned no address")
        return addresses

    @contextmanager
    def exchange(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        *,
        address: str | None,
        timeout: float,
    ) -> Iterator[httpx.Response]:
        """Send one request to ``address`` (None: the URL's own host) and yield the response.

        The response is streamed (its body is not read); it is closed, and the cookie jar
        cleared, when the block exits.  Header values are sent as UTF-8.
        """
        target = httpx.URL(url)
        extensions: dict[str, str] = {}
        raw = [(name.encode("ascii"), value.encode("utf-8")) for name, value in headers]
        name = target.raw_host.decode("ascii")
        if address is not None and not _is_ip(name) and address != name:
            raw.insert(0, (b"Host", target.netloc))
            if target.scheme == "https":
                extensions["sni_hostname"] = name
            target = target.copy_with(host=address)
        request = self.client.build_request(
            method, target, headers=raw, content=body, timeout=timeout, extensions=extensions
        )
        response = self.client.send(request, stream=True)
        try:
            yield response
        finally:
            response.close()
            self.client.cookies.clear()

    def close(self) -> None:
        """Close pooled connections and abandon pending DNS lookups."""
        self.client.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
