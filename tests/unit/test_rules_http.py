"""reference_host.rules.http and .rate: URL allowlisting, redirects, rate limiting, timeouts."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_host.rules import expected_error_case
from reference_host.rules.http import HttpCode, UrlRules, normalize_host, parse_entry
from reference_host.rules.rate import RateLimiter, effective_timeout

RULES = UrlRules(["api.example.com", "*.example.org", "127.0.0.1:8080", "[::1]:9000", "10.1.2.3"])
NAMES_ONLY = UrlRules(["api.example.com", "*.example.org"])
LABEL = st.builds(
    lambda head, middle: head + middle.strip("-"),
    st.sampled_from("abcxyz0189"),
    st.text(alphabet="abcxyz0189-", max_size=10),
)
TLD = st.text(alphabet="abcdefz", min_size=2, max_size=6)  # a numeric last label is an IPv4 host
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL, min_size=1, max_size=2), TLD
)


def check(url: str) -> tuple[bool, HttpCode]:
    decision = RULES.check(url)
    assert RULES.is_allowed(url) is decision.allowed
    return decision.allowed, decision.code


# ---------------------------------------------------------------------- names and wildcards


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example.com/", True),
        ("https://api.example.com", True),
        ("https://API.Example.COM/", True),
        ("https://api.example.com./", True),
        ("https://xapi.example.com/", False),
        ("https://api.example.com.evil.com/", False),
        ("https://a.example.org/", True),
        ("https://a.b.c.example.org/", True),
        ("https://example.org/", False),
        ("https://evilexample.org/", False),
        ("https://example.org.evil.com/", False),
        ("https://a.example.org.evil.com/", False),
        ("https://a.example.orgx/", False),
    ],
)
def test_name_matching(url: str, allowed: bool) -> None:
    assert check(url)[0] is allowed


@settings(max_examples=60)
@given(label=LABEL, suffix=DOMAIN)
def test_wildcard_matches_whole_labels_only(label: str, suffix: str) -> None:
    rules = UrlRules([f"*.{suffix}"])
    assert rules.check(f"https://{label}.{suffix}/").allowed
    assert rules.check(f"https://{label}.{label}.{suffix}/").allowed
    assert not rules.check(f"https://{label}{suffix}/").allowed
    assert not rules.check(f"https://{suffix}/").allowed
    assert not rules.check(f"https://{suffix}.{label}x/").allowed


@settings(max_examples=60)
@given(host=DOMAIN, other=LABEL)
def test_exact_entries_match_exactly(host: str, other: str) -> None:
    rules = UrlRules([host])
    assert rules.check(f"http://{host}/").allowed
    assert rules.check(f"http://{host.upper()}./").allowed
    assert not rules.check(f"http://{other}.{host}/").allowed
    assert not rules.check(f"http://{other}{host}/").allowed


def test_idna_hosts_are_normalised() -> None:
    rules = UrlRules(["bücher.de"])
    decision = rules.check("https://BÜCHER.de/x")
    assert decision.allowed and decision.host == "xn--bcher-kva.de"
    assert rules.check("https://xn--bcher-kva.de/").allowed
    assert check("https://ａｐｉ．example.com/")[0]  # full-width letters and dot (UTS 46)
    assert not check("https://аpi.example.com/")[0]  # Cyrillic a


@pytest.mark.parametrize("url", ["http://localhost/", "http://LOCALHOST./", "http://x.localhost/"])
def test_loopback_names_need_an_exact_entry(url: str) -> None:
    assert check(url) == (False, HttpCode.SPECIAL_NAME)
    assert UrlRules([url.split("/")[2].lower().rstrip(".")]).check(url).allowed


# ---------------------------------------------------------------------- IP literals


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0X7F000001",
        "0177.0.0.1",
        "0177.0.0.01",
        "127.1",
        "127.0.1",
        "0x7f.0.0.1",
        "0x7f.1",
        "017700000001",
        "127.0.0.1.",
    ],
)
def test_every_ipv4_spelling_of_loopback(host: str) -> None:
    assert normalize_host(host) == ipaddress.IPv4Address("127.0.0.1")
    assert NAMES_ONLY.check(f"http://{host}/").code is HttpCode.IP_LITERAL
    assert RULES.check(f"http://{host}/").code is HttpCode.PORT
    decision = RULES.check(f"http://{host}:8080/x")
    assert decision.allowed and decision.url == "http://127.0.0.1:8080/x"


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_numeric_ipv4_forms_are_the_same_address(value: int) -> None:
    ip = ipaddress.IPv4Address(value)
    for form in (str(value), hex(value), f"0{value:o}" if value else "0", str(ip)):
        assert normalize_host(form) == ip
    rules = UrlRules([str(ip)])
    assert rules.check(f"http://{value}/").allowed
    assert not UrlRules(["example.com"]).check(f"http://{value}/").allowed


@pytest.mark.parametrize(
    "host",
    [
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[0:0:0:0:0:0:0:1]",
        "[::]",
        "169.254.169.254",
        "0",
        "0.0.0.0",
        "10.0.0.1",
        "192.168.1.1",
        "[fd00::1]",
        "8.8.8.8",
    ],
)
def test_unlisted_ip_literals_are_forbidden(host: str) -> None:
    decision = NAMES_ONLY.check(f"http://{host}/")
    assert (decision.allowed, decision.code) == (False, HttpCode.IP_LITERAL)
    assert expected_error_case(decision) == "forbidden"


def test_numeric_looking_names() -> None:
    assert normalize_host("0x") == ipaddress.IPv4Address(0)  # WHATWG: "0x" is the number 0
    assert normalize_host("1.0x1g") == "1.0x1g"  # last label is not a number: a DNS name


def test_listed_ips() -> None:
    assert check("http://[::1]:9000/")[0]
    assert check("http://[0:0::1]:9000/")[0]
    assert not check("http://[::1]/")[0]
    assert check("http://10.1.2.3/")[0]  # no port: http default
    assert check("https://10.1.2.3/")[0]  # and https default
    assert not check("http://10.1.2.3:8080/")[0]
    assert not check("http://[::ffff:10.1.2.3]/")[0]  # mapped form is not the listed address


def test_zone_ids_are_forbidden() -> None:
    rules = UrlRules(["[fe80::1]"])
    for url in ("http://[fe80::1%25eth0]/", "http://[fe80::1%eth0]/"):
        assert rules.check(url).code is HttpCode.ZONE_ID
    assert rules.check("http://[fe80::1]/").allowed


@pytest.mark.parametrize(
    "host",
    [
        "256.0.0.1",
        "1.2.3.4.5",
        "0x1g.1",
        "1.2.0x1g.1",
        "08.0.0.1",
        "a.1",
        "1.2.3.256",
        "4294967296",
        "1..1",
    ],
)
def test_malformed_numeric_hosts_are_invalid(host: str) -> None:
    assert check(f"http://{host}/") == (False, HttpCode.MALFORMED)


# ---------------------------------------------------------------------- syntax


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://api.example.com@evil.com/", HttpCode.USERINFO),
        ("https://user:pw@api.example.com/", HttpCode.USERINFO),
        ("https://@api.example.com/", HttpCode.USERINFO),
        ("https://evil.com#@api.example.com", HttpCode.NOT_LISTED),
        ("https://evil.com?@api.example.com", HttpCode.NOT_LISTED),
        ("https://evil.com/@api.example.com", HttpCode.NOT_LISTED),
        ("https://api.example.com\\@evil.com/", HttpCode.MALFORMED),
        ("https:\\\\api.example.com/", HttpCode.MALFORMED),
        ("file:///etc/passwd", HttpCode.MALFORMED),
        ("gopher://api.example.com/", HttpCode.MALFORMED),
        ("ftp://api.example.com/", HttpCode.MALFORMED),
        ("javascript:alert(1)", HttpCode.MALFORMED),
        ("api.example.com/", HttpCode.MALFORMED),
        ("//api.example.com/", HttpCode.MALFORMED),
        ("https:api.example.com", HttpCode.MALFORMED),
        ("https:/api.example.com", HttpCode.MALFORMED),
        ("https:///", HttpCode.MALFORMED),
        ("https://api.example.com:/", HttpCode.MALFORMED),
        ("https://api.example.com:0/", HttpCode.MALFORMED),
        ("https://api.example.com:65536/", HttpCode.MALFORMED),
        ("https://api.example.com:+443/", HttpCode.MALFORMED),
        ("https://api.example.com:44 3/", HttpCode.MALFORMED),
        ("https://a..example.org/", HttpCode.MALFORMED),
        ("https://api.example.com../", HttpCode.MALFORMED),
        ("https://api_.exa!mple.com/", HttpCode.MALFORMED),
        ("https://%61pi.example.com/", HttpCode.MALFORMED),
        ("https://[::1/", HttpCode.MALFORMED),
        ("https://[::1]x/", HttpCode.MALFORMED),
        ("https://[nope]/", HttpCode.MALFORMED),
        ("https://::1/", HttpCode.MALFORMED),
        ("https://api.example.com／.evil.com/", HttpCode.MALFORMED),
        ("", HttpCode.MALFORMED),
        ("https://" + "a" * 9000 + ".com/", HttpCode.MALFORMED),
    ],
)
def test_syntax_rules(url: str, code: HttpCode) -> None:
    assert check(url) == (False, code)


@pytest.mark.parametrize(
    "char",
    [
        "\x00",
        "\t",
        "\n",
        "\r",
        " ",
        "\x7f",
        "\x85",
        "\u200b",
        "\u00ad",
        "\u2028",
        "\u3000",
        "\ufeff",
    ],
)
@pytest.mark.parametrize("where", ["host", "path"])
def test_control_and_invisible_characters_are_invalid(char: str, where: str) -> None:
    url = (
        f"https://api{char}.example.com/" if where == "host" else f"https://api.example.com/{char}"
    )
    decision = RULES.check(url)
    assert decision.code is HttpCode.MALFORMED
    assert expected_error_case(decision) == "invalid-url"


URLISH = st.text(alphabet="0123456789abcdefxX.:@[]%/?#\\ -_*ÿé\u3002", max_size=40)


@given(
    st.one_of(
        st.text(max_size=60),
        URLISH.map("http://".__add__),
        URLISH.map("https://api.example.com".__add__),
    )
)
def test_check_never_raises_and_agrees(text: str) -> None:
    decision = RULES.check(text)
    assert RULES.is_allowed(text) is decision.allowed
    assert decision.allowed == (decision.code is HttpCode.OK)
    if decision.allowed:
        assert decision.url is not None
        again = RULES.check(decision.url)  # the normalised URL is a fixed point
        assert again.allowed and again.url == decision.url


def test_non_string_input_is_invalid() -> None:
    assert RULES.check(None).code is HttpCode.MALFORMED  # type: ignore[arg-type]


# ---------------------------------------------------------------------- ports and normalised URL


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://api.example.com/", True),
        ("http://api.example.com:80/", True),
        ("https://api.example.com:443/", True),
        ("http://api.example.com:443/", False),
        ("https://api.example.com:80/", False),
        ("https://api.example.com:8443/", False),
        ("http://127.0.0.1:8080/", True),
        ("https://127.0.0.1:8080/", True),
        ("http://127.0.0.1/", False),
        ("http://127.0.0.1:8081/", False),
    ],
)
def test_ports(url: str, allowed: bool) -> None:
    allowed_now, code = check(url)
    assert allowed_now is allowed
    assert code in {HttpCode.OK, HttpCode.PORT, HttpCode.IP_LITERAL}


def test_port_refusal_names_the_remedy() -> None:
    decision = RULES.check("https://api.example.com:8443/")
    assert decision.code is HttpCode.PORT
    assert "'api.example.com:8443'" in decision.reason


def test_wildcard_with_port() -> None:
    rules = UrlRules(["*.example.org:8443"])
    assert rules.check("https://a.example.org:8443/").allowed
    assert not rules.check("https://a.example.org/").allowed


def test_decision_carries_the_normalised_url() -> None:
    decision = RULES.check("HTTPS://API.EXAMPLE.COM.:443/a/b?c=d#frag")
    assert (decision.host, decision.port, decision.scheme) == ("api.example.com", 443, "https")
    assert decision.url == "https://api.example.com/a/b?c=d"
    assert decision.matched == "api.example.com" and not decision.wildcard
    assert RULES.check("https://api.example.com?q").url == "https://api.example.com/?q"


# ---------------------------------------------------------------------- allowlist entries


@pytest.mark.parametrize(
    ("entry", "host", "port", "wildcard"),
    [
        ("api.example.com", "api.example.com", None, False),
        ("API.Example.com.", "api.example.com", None, False),
        ("*.example.com:8443", "example.com", 8443, True),
        ("127.0.0.1:8080", "127.0.0.1", 8080, False),
        ("::1", "[::1]", None, False),
        ("[::1]:9000", "[::1]", 9000, False),
        ("localhost", "localhost", None, False),
    ],
)
def test_parse_entry(entry: str, host: str, port: int | None, wildcard: bool) -> None:
    parsed = parse_entry(entry)
    assert (parsed.host, parsed.port, parsed.wildcard) == (host, port, wildcard)


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "*",
        "*.com",
        "*example.com",
        "a.*.com",
        "*.*.example.com",
        "https://api.example.com",
        "api.example.com/path",
        "user@api.example.com",
        "api.example.com:0",
        "api.example.com:x",
        "*.127.0.0.1",
        "bad..name",
        "[::1",
        "*.localhost",
    ],
)
def test_bad_entries_are_rejected(entry: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_entry(entry)


# ---------------------------------------------------------------------- redirects and addresses


def test_redirects_are_checked_hop_by_hop() -> None:
    start = RULES.check("https://api.example.com/a/b")
    relative = RULES.check_redirect(start, "../c?x=1")
    assert relative.allowed and relative.url == "https://api.example.com/c?x=1"
    assert RULES.check_redirect(relative, "https://cdn.example.org/").allowed
    assert RULES.check_redirect(relative, "//evil.com/").code is HttpCode.NOT_LISTED
    assert RULES.check_redirect(relative, "http://api.example.com/").code is HttpCode.DOWNGRADE
    assert RULES.check_redirect(relative, "/x\r\nSet-Cookie: a").code is HttpCode.MALFORMED
    refused = RULES.check("https://evil.com/")
    assert not RULES.check_redirect(refused, "https://api.example.com/").allowed


def test_http_to_https_upgrade_is_fine() -> None:
    start = RULES.check("http://api.example.com/")
    assert RULES.check_redirect(start, "https://api.example.com/").allowed


@pytest.mark.parametrize(
    ("url", "address", "allowed"),
    [
        ("https://a.example.org/", "93.184.216.34", True),
        ("https://a.example.org/", "127.0.0.1", False),
        ("https://a.example.org/", "10.0.0.8", False),
        ("https://a.example.org/", "fe80::1%eth0", False),
        ("https://a.example.org/", "::ffff:127.0.0.1", False),
        ("https://api.example.com/", "10.0.0.8", True),
        ("https://a.example.org/", "not-an-ip", False),
    ],
)
def test_check_address(url: str, address: str, allowed: bool) -> None:
    decision = RULES.check_address(RULES.check(url), address)
    assert decision.allowed is allowed
    assert expected_error_case(decision) == (
        None
        if allowed
        else "forbidden"
        if decision.code is HttpCode.PRIVATE_ADDRESS
        else "invalid-url"
    )


# ---------------------------------------------------------------------- rate limiter, timeouts


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_sliding_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 10.0, clock)
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after() == pytest.approx(10.0)
    clock.now += 5
    assert not limiter.allow()
    assert limiter.retry_after() == pytest.approx(5.0)
    clock.now += 5  # the first three requests leave the window exactly now
    assert limiter.retry_after() == 0.0
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]


def test_rate_limiter_is_sliding_not_fixed() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, 10.0, clock)
    assert limiter.allow()
    clock.now += 9
    assert limiter.allow()
    clock.now += 2  # first left the window, second has not
    assert limiter.allow()
    assert not limiter.allow()


@pytest.mark.parametrize(("count", "window"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_rate_limiter_rejects_bad_settings(count: int, window: float) -> None:
    with pytest.raises(ValueError, match="max_requests"):
        RateLimiter(count, window)


@pytest.mark.parametrize(
    ("request_ms", "policy_s", "remaining", "expected"),
    [
        (500, 30.0, None, 0.5),
        (0, 30.0, None, 30.0),
        (60_000, 30.0, None, 30.0),
        (60_000, 30.0, 2.5, 2.5),
        (100, 30.0, 2.5, 0.1),
        (0, 30.0, 0.0, 0.0),
        (100, 30.0, -1.0, 0.0),
    ],
)
def test_effective_timeout(
    request_ms: int, policy_s: float, remaining: float | None, expected: float
) -> None:
    assert effective_timeout(request_ms, policy_s, remaining) == pytest.approx(expected)


def test_effective_timeout_needs_a_budget() -> None:
    with pytest.raises(ValueError, match="positive"):
        effective_timeout(0, 0.0, None)
