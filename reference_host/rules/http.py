"""URL allowlisting for the ``http-client`` capability (its rate limit: :mod:`.rate`).

One :class:`UrlRules` object answers both ``is-url-allowed`` and ``request`` (and every redirect
hop), so the two functions agree by construction.  The rules, in the order they are applied:

1. The URL is a ``str`` of at most :data:`MAX_URL_LENGTH` characters with no control characters,
   no whitespace, no invisible format characters (``Cf``) and no backslash anywhere
   (``invalid-url``).
2. It is absolute, with scheme ``http`` or ``https`` (case-insensitive) followed by ``//``
   (``invalid-url`` otherwise: ``file:``, ``gopher:``, ``ftp:``, ``javascript:``, relative URLs).
3. The authority has no userinfo: any ``@`` before the first ``/``, ``?`` or ``#`` is refused
   (``forbidden``), so ``https://allowed.com@evil.com`` never reaches ``evil.com``.  A ``@`` in the
   fragment (``https://evil.com#@allowed.com``) is part of the fragment: the host is ``evil.com``.
4. The host is normalised: IDNA (UTS #46) for non-ASCII names, lower case, one trailing dot
   stripped; ``%`` in a host is refused; labels are 1-63 characters of ``a-z 0-9 - _``.
5. A host whose last label is a number is an IPv4 address in the WHATWG sense, so ``2130706433``,
   ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` all mean ``127.0.0.1`` (a malformed one is
   ``invalid-url``).  ``[...]`` hosts are IPv6; zone identifiers are always refused.
6. An IP host is allowed only if that exact address (same family; ``::ffff:127.0.0.1`` is not
   ``127.0.0.1``) is listed.  ``localhost`` and ``*.localhost`` are allowed only by an exact entry.
7. A name matches an exact entry, or a wildcard entry ``*.example.com`` whose suffix it ends with
   on a label boundary: ``a.example.com`` and ``a.b.example.com`` match; ``example.com`` and
   ``evilexample.com`` do not.
8. Ports: an entry without a port allows only the scheme's default port (80 for http, 443 for
   https); ``host:8080`` allows port 8080 (with either scheme) and nothing else.

Allowlist entries are ``name``, ``name:port``, ``*.name``, ``*.name:port``, an IPv4 address,
``ipv4:port``, an IPv6 address (``::1``, ``[::1]``) or ``[ipv6]:port``.  Names cannot be resolved
here (no network): the caller re-checks the address it connects to with
:meth:`UrlRules.check_address` and every redirect hop with :meth:`UrlRules.check_redirect`.

**Why this is one long module**: the eight rules are one decision (:meth:`UrlRules.check`); the
host, address and entry parsers serve only it, and keeping them together lets the order of the
checks be read top to bottom.  Rate limits and time budgets are in
:mod:`reference_host.rules.rate`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import urljoin

import idna

__all__ = [
    "DEFAULT_PORTS",
    "MAX_URL_LENGTH",
    "AllowEntry",
    "HttpCode",
    "UrlDecision",
    "UrlRules",
    "normalize_host",
    "parse_entry",
]

MAX_URL_LENGTH = 8192
DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_PORT = re.compile(r"[0-9]{1,5}")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Cs", "Co", "Cn"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class HttpCode(StrEnum):
    """Why a URL was allowed or refused; ``rules.expected_error_case`` maps it to a WIT case."""

    OK = "ok"
    MALFORMED = "malformed"
    SCHEME = "scheme"
    USERINFO = "userinfo"
    ZONE_ID = "zone-id"
    IP_LITERAL = "ip-literal"
    SPECIAL_NAME = "special-name"
    NOT_LISTED = "not-listed"
    PORT = "port"
    PRIVATE_ADDRESS = "private-address"
    DOWNGRADE = "downgrade"


@dataclass(frozen=True, slots=True)
class UrlDecision:
    """The verdict on one URL; ``url`` is the normalised URL the caller must send, if allowed."""

    allowed: bool
    reason: str
    code: HttpCode
    host: str | None = None
    port: int | None = None
    scheme: str | None = None
    url: str | None = None
    matched: str | None = None
    wildcard: bool = False


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One parsed ``allowed_domains`` entry."""

    raw: str
    host: str
    port: int | None
    wildcard: bool
    ip: IPAddress | None


class _Invalid(ValueError):
    """Internal: the URL is malformed (``invalid-url``)."""


class _Refused(Exception):
    """Internal: the URL is well formed but refused with ``code``."""

    def __init__(self, code: HttpCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def _check_chars(text: str, what: str) -> None:
    for index, char in enumerate(text):
        if char == "\\":
            raise _Invalid(f"{what} contains a backslash at position {index}")
        if unicodedata.category(char) in _BAD_CATEGORIES:
            raise _Invalid(
                f"{what} contains a control, whitespace or invisible character "
                f"U+{ord(char):04X} at position {index}"
            )


def _parse_ipv4_number(part: str) -> int:
    if part[:2].lower() == "0x":
        digits = part[2:]
        if digits and not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise _Invalid(f"invalid hexadecimal IPv4 part {part!r}")
        return int(digits, 16) if digits else 0
    if len(part) > 1 and part.startswith("0"):
        if not (part.isascii() and part.isdigit()) or any(c in "89" for c in part):
            raise _Invalid(f"invalid octal IPv4 part {part!r}")
        return int(part, 8)
    if not (part.isascii() and part.isdigit()):
        raise _Invalid(f"invalid IPv4 part {part!r}")
    return int(part)


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """Parse an IPv4 host the way WHATWG URL parsers and ``inet_aton`` do."""
    parts = host.split(".")
    if len(parts) > 4 or any(not part for part in parts):
        raise _Invalid(f"{host!r} ends in a number but is not a valid IPv4 address")
    numbers = [_parse_ipv4_number(part) for part in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise _Invalid(f"{host!r} is an out-of-range IPv4 address")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def normalize_host(raw: str) -> str | IPAddress:
    """Normalise a host (without brackets or port) to a lower-case name or an IP address.

    Raises :class:`ValueError` (with a message naming the problem) for malformed hosts.
    """
    _check_chars(raw, "host")
    if "%" in raw:
        raise _Invalid("percent-encoded or zone-qualified hosts are not accepted")
    host = raw
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise _Invalid(f"host {raw!r} is not a valid internationalised name: {exc}") from exc
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise _Invalid("the URL has an empty host")
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return _parse_ipv4(host)
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _Invalid(f"host {raw!r} is not a valid DNS name")
    return host


def _split_host_port(authority: str) -> tuple[str, str | None, bool]:
    """Split ``host[:port]`` / ``[v6][:port]``; returns (host, port text, bracketed)."""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise _Invalid("unterminated '[' in host")
        rest = authority[close + 1 :]
        if rest and not rest.startswith(":"):
            raise _Invalid(f"unexpected {rest!r} after ']'")
        return authority[1:close], (rest[1:] if rest else None), True
    if authority.count(":") > 1:
        raise _Invalid("IPv6 addresses must be written in brackets")
    host, sep, port = authority.partition(":")
    return host, (port if sep else None), False


def _parse_port(text: str | None) -> int | None:
    if text is None:
        return None
    if not _PORT.fullmatch(text) or not 0 < int(text) < 65536:
        raise _Invalid(f"invalid port {text!r}")
    return int(text)


def _parse_ipv6(text: str) -> ipaddress.IPv6Address:
    try:
        return ipaddress.IPv6Address(text)
    except ValueError as exc:
        raise _Invalid(f"invalid IPv6 address [{text}]") from exc


def _is_special_name(host: str) -> bool:
    return host in {"localhost", "localhost.localdomain"} or host.endswith(".localhost")


def _display(host: str | IPAddress) -> str:
    if isinstance(host, ipaddress.IPv6Address):
        return f"[{host.compressed}]"
    return str(host)


def parse_entry(entry: str) -> AllowEntry:
    """Parse one ``allowed_domains`` entry; raise :class:`ValueError` saying what is expected."""
    if not isinstance(entry, str) or not entry:
        raise ValueError("expected a non-empty host, *.domain, IP or host:port string")
    if "://" in entry or any(c in entry for c in "/?#@"):
        raise ValueError(f"{entry!r}: write a host or host:port, without scheme, path or user")
    text, wildcard = entry, False
    if text.startswith("*."):
        text, wildcard = text[2:], True
    if "*" in text:
        raise ValueError(f"{entry!r}: '*' is only allowed as a whole first label ('*.example.com')")
    try:
        if ":" in text and not text.startswith("[") and text.count(":") > 1:
            host_text, port_text, bracketed = text, None, True
        else:
            host_text, port_text, bracketed = _split_host_port(text)
        port = _parse_port(port_text)
        host = _parse_ipv6(host_text) if bracketed else normalize_host(host_text)
    except ValueError as exc:
        raise ValueError(f"{entry!r}: {exc}") from exc
    ip = host if isinstance(host, ipaddress.IPv4Address | ipaddress.IPv6Address) else None
    if wildcard and (ip is not None or "." not in str(host)):
        raise ValueError(
            f"{entry!r}: a wildcard needs a domain of at least two labels ('*.example.com')"
        )
    return AllowEntry(raw=entry, host=_display(host), port=port, wildcard=wildcard, ip=ip)


class UrlRules:
    """Decide whether the ``http-client`` capability may fetch a URL (see the module docstring)."""

    def __init__(self, allowed_domains: Iterable[str]) -> None:
        self.entries: tuple[AllowEntry, ...] = tuple(parse_entry(e) for e in allowed_domains)

    def __repr__(self) -> str:
        return f"UrlRules({[entry.raw for entry in self.entries]!r})"

    def is_allowed(self, url: str) -> bool:
        """Answer ``is-url-allowed``: exactly ``check(url).allowed``."""
        return self.check(url).allowed

    def check(self, url: str) -> UrlDecision:
        """Check one URL; never raises for any ``str`` input."""
        try:
            scheme, host, port, rest = self._parse(url)
        except _Invalid as exc:
            return UrlDecision(False, f"invalid URL: {exc}", HttpCode.MALFORMED)
        except _Refused as exc:
            return UrlDecision(False, str(exc), exc.code)
        effective_port = port if port is not None else DEFAULT_PORTS[scheme]
        shown = _display(host)
        netloc = shown if port in (None, DEFAULT_PORTS[scheme]) else f"{shown}:{port}"
        base = UrlDecision(
            False,
            "",
            HttpCode.NOT_LISTED,
            shown,
            effective_port,
            scheme,
            f"{scheme}://{netloc}{rest}",
        )
        return self._match(base, host, effective_port)

    def _parse(self, url: str) -> tuple[str, str | IPAddress, int | None, str]:
        if not isinstance(url, str):
            raise _Invalid("the URL is not a string")
        if len(url) > MAX_URL_LENGTH:
            raise _Invalid(f"the URL is longer than {MAX_URL_LENGTH} characters")
        _check_chars(url, "the URL")
        scheme_match = _SCHEME.match(url)
        if scheme_match is None:
            raise _Invalid("the URL is not absolute (no scheme)")
        scheme = scheme_match.group(1).lower()
        if scheme not in DEFAULT_PORTS:
            raise _Invalid(f"scheme {scheme!r} is not supported; only http and https are")
        after = url[scheme_match.end() :]
        if not after.startswith("//"):
            raise _Invalid(f"expected '//' after '{scheme}:'")
        after = after[2:]
        end = min((i for i in (after.find(c) for c in "/?#") if i >= 0), default=len(after))
        authority, rest = after[:end], after[end:]
        if "@" in authority:
            raise _Refused(HttpCode.USERINFO, "URLs with userinfo (user@host) are not allowed")
        host_text, port_text, bracketed = _split_host_port(authority)
        port = _parse_port(port_text)
        if bracketed:
            if "%" in host_text:
                raise _Refused(HttpCode.ZONE_ID, "IPv6 zone identifiers are not allowed")
            host: str | IPAddress = _parse_ipv6(host_text)
        else:
            host = normalize_host(host_text)
        rest = rest.split("#", 1)[0]
        if not rest.startswith("/"):
            rest = "/" + rest
        return scheme, host, port, rest

    def _match(self, base: UrlDecision, host: str | IPAddress, port: int) -> UrlDecision:
        candidates = [e for e in self.entries if self._host_matches(e, host)]
        hit = next((e for e in candidates if self._port_matches(e, port, base.scheme)), None)
        if hit is not None:
            return replace(
                base,
                allowed=True,
                reason=f"allowed by {hit.raw!r}",
                code=HttpCode.OK,
                matched=hit.raw,
                wildcard=hit.wildcard,
            )
        if candidates:
            listed = ", ".join(repr(e.raw) for e in candidates)
            return replace(
                base,
                code=HttpCode.PORT,
                reason=f"port {port} is not allowed for {base.host} (entries {listed}; an entry "
                f"without a port allows only the scheme's default port; list "
                f"'{base.host}:{port}' to allow it)",
            )
        if not isinstance(host, str):
            kind = "non-public " if not host.is_global else ""
            return replace(
                base,
                code=HttpCode.IP_LITERAL,
                reason=f"{kind}IP address {base.host} is not listed in allowed_domains "
                "(IP literals in any form are refused unless that exact address is listed)",
            )
        if _is_special_name(host):
            return replace(
                base,
                code=HttpCode.SPECIAL_NAME,
                reason=f"{host!r} is a loopback name; only an exact allowed_domains entry "
                "allows it",
            )
        return replace(base, reason=f"host {host!r} is not in allowed_domains")

    @staticmethod
    def _host_matches(entry: AllowEntry, host: str | IPAddress) -> bool:
        if not isinstance(host, str):
            return entry.ip is not None and entry.ip == host
        if entry.ip is not None:
            return False
        if entry.wildcard:
            return not _is_special_name(host) and host.endswith("." + entry.host)
        return host == entry.host

    @staticmethod
    def _port_matches(entry: AllowEntry, port: int, scheme: str | None) -> bool:
        if entry.port is None:
            return scheme is not None and port == DEFAULT_PORTS[scheme]
        return port == entry.port

    def check_redirect(self, current: UrlDecision, location: str) -> UrlDecision:
        """Check one redirect hop from an allowed ``current`` URL to a ``Location`` header."""
        if not current.allowed or current.url is None:
            return UrlDecision(False, "the redirecting URL itself is not allowed", current.code)
        try:
            _check_chars(location, "the Location header")
        except _Invalid as exc:
            return UrlDecision(False, f"invalid redirect: {exc}", HttpCode.MALFORMED)
        decision = self.check(urljoin(current.url, location))
        if decision.allowed and current.scheme == "https" and decision.scheme == "http":
            return replace(
                decision,
                allowed=False,
                code=HttpCode.DOWNGRADE,
                reason="redirect from https to http is not allowed",
            )
        return decision

    def check_address(self, decision: UrlDecision, address: str) -> UrlDecision:
        """Re-check the IP address a name resolved to, just before connecting.

        Names matched by a wildcard entry may only reach public (global) addresses, so a
        wildcard cannot be turned against the host's own network by DNS.  Exact entries (and IP
        entries) were written by the operator for that host and may reach any address.
        """
        if not decision.allowed:
            return decision
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return replace(
                decision,
                allowed=False,
                code=HttpCode.MALFORMED,
                reason=f"resolved address {address!r} is not an IP address",
            )
        if decision.wildcard and not ip.is_global:
            return replace(
                decision,
                allowed=False,
                code=HttpCode.PRIVATE_ADDRESS,
                reason=f"{decision.host} resolved to non-public address {ip}, which a wildcard "
                "entry does not allow (list the host or address explicitly)",
            )
        return decision
