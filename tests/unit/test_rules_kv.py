"""reference_host.rules.kv: key validation, namespacing, glob escaping, TTLs, counters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_host.rules import expected_error_case
from reference_host.rules.kv import S64_MAX, S64_MIN, KeyRules, KvCode, check_namespace

RULES = KeyRules("app")


def redis_glob(pattern: str, text: str) -> bool:
    """Match like Redis ``stringmatchlen`` for the subset we emit (``\\`` escapes, ``*``)."""
    regex, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += {"*": ".*", "?": "."}.get(ch, re.escape(ch))
        assert ch not in "[]", f"unescaped {ch!r} in {pattern!r}"
        i += 1
    return re.fullmatch(regex, text, re.DOTALL) is not None


# ---------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "counter:ledger:1",
        "a*b?[c]\\",
        "ключ",
        "😀",
        ".hidden",
        "a.b..c",
        "a b",
        "x" * 512,
        "€" * 170,
        "a/b/c",
        "a:b:",
        "..x",
        "x..",
        "-",
        "a\u00e9",
    ],
)
def test_valid_keys(key: str) -> None:
    decision = RULES.check(key)
    assert decision.allowed, decision.reason
    assert decision.full_key == RULES.full_key(key) == f"app:{key}"
    assert RULES.strip_namespace(RULES.full_key(key)) == key


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("", KvCode.EMPTY),
        ("a\x00b", KvCode.BAD_CHARACTER),
        ("a\nb", KvCode.BAD_CHARACTER),
        ("a\r\n", KvCode.BAD_CHARACTER),
        ("\tab", KvCode.BAD_CHARACTER),
        ("a\x1bb", KvCode.BAD_CHARACTER),
        ("a\x7f", KvCode.BAD_CHARACTER),
        ("a\x85b", KvCode.BAD_CHARACTER),
        ("a\u200db", KvCode.BAD_CHARACTER),
        ("a\ufeffb", KvCode.BAD_CHARACTER),
        ("a\ud800b", KvCode.BAD_CHARACTER),
        (" a", KvCode.WHITESPACE),
        ("a ", KvCode.WHITESPACE),
        ("a\u3000", KvCode.WHITESPACE),
        ("\u00a0a", KvCode.WHITESPACE),
        ("x" * 513, KvCode.TOO_LONG),
        ("€" * 171, KvCode.TOO_LONG),
        (":a", KvCode.NAMESPACE_ESCAPE),
        ("::a", KvCode.NAMESPACE_ESCAPE),
        ("..", KvCode.NAMESPACE_ESCAPE),
        ("../a", KvCode.NAMESPACE_ESCAPE),
        ("a/../b", KvCode.NAMESPACE_ESCAPE),
        ("a:..:b", KvCode.NAMESPACE_ESCAPE),
        ("a:.", KvCode.NAMESPACE_ESCAPE),
        ("./a", KvCode.NAMESPACE_ESCAPE),
    ],
)
def test_invalid_keys(key: str, code: KvCode) -> None:
    decision = RULES.check(key)
    assert (decision.allowed, decision.code) == (False, code), decision.reason
    assert decision.full_key is None
    expected = "permission-denied" if code is KvCode.NAMESPACE_ESCAPE else "invalid-key"
    assert expected_error_case(decision) == expected
    with pytest.raises(ValueError, match=r"."):
        RULES.full_key(key)


def test_key_cap_is_configurable_and_in_bytes() -> None:
    rules = KeyRules("n", max_key_bytes=4)
    assert rules.check("abcd").allowed
    assert rules.check("ab€").code is KvCode.TOO_LONG  # 5 bytes, 3 characters
    assert "5 bytes" in rules.check("ab€").reason


def test_non_string_key() -> None:
    assert RULES.check(b"key").code is KvCode.BAD_CHARACTER  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_check_never_raises_and_full_key_stays_in_namespace(key: str) -> None:
    decision = RULES.check(key)
    assert decision.allowed == (decision.code is KvCode.OK)
    if decision.allowed:
        assert decision.full_key is not None
        assert decision.full_key.startswith("app:")
        assert not decision.full_key.startswith("app::")
        assert RULES.strip_namespace(decision.full_key) == key


# ---------------------------------------------------------------------- namespaces


@pytest.mark.parametrize("namespace", ["app", "te*st", "a.b", "ns-1", "ключ"])
def test_valid_namespaces(namespace: str) -> None:
    assert check_namespace(namespace) == namespace


@pytest.mark.parametrize("namespace", ["", "a:b", "a b", "a\x00", "a\n", "\u200b"])
def test_invalid_namespaces(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        KeyRules(namespace)


def test_strip_namespace_refuses_other_namespaces() -> None:
    assert RULES.strip_namespace("other:key") is None
    assert RULES.strip_namespace("application:key") is None
    assert RULES.strip_namespace("app:") == ""


# ---------------------------------------------------------------------- list-keys patterns


@pytest.mark.parametrize(
    ("prefix", "pattern"),
    [
        ("", "app:*"),
        ("user:", "app:user:*"),
        ("*", "app:\\**"),
        ("?", "app:\\?*"),
        ("[a-z]", "app:\\[a-z\\]*"),
        ("\\", "app:\\\\*"),
        ("a*b", "app:a\\*b*"),
        ("trailing ", "app:trailing *"),
        ("..x", "app:..x*"),
        ("a:..", "app:a:..*"),
    ],
)
def test_scan_pattern(prefix: str, pattern: str) -> None:
    assert RULES.scan_pattern(prefix) == pattern


def test_scan_pattern_escapes_the_namespace() -> None:
    assert KeyRules("te*st").scan_pattern("x") == "te\\*st:x*"
    assert KeyRules("a[b]?\\").scan_pattern("") == "a\\[b\\]\\?\\\\:*"


@pytest.mark.parametrize(
    ("prefix", "code"),
    [
        (":", KvCode.NAMESPACE_ESCAPE),
        ("../", KvCode.NAMESPACE_ESCAPE),
        ("a:..:", KvCode.NAMESPACE_ESCAPE),
        ("a\x00", KvCode.BAD_CHARACTER),
        (" a", KvCode.WHITESPACE),
        ("x" * 513, KvCode.TOO_LONG),
    ],
)
def test_bad_prefixes(prefix: str, code: KvCode) -> None:
    assert RULES.check(prefix, prefix=True).code is code
    with pytest.raises(ValueError, match=r"."):
        RULES.scan_pattern(prefix)


PRINTABLE = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zs")), max_size=12
)


@given(
    namespace=PRINTABLE.filter(lambda n: n and ":" not in n),
    prefix=PRINTABLE,
    suffix=PRINTABLE,
    other=PRINTABLE,
)
def test_scan_pattern_matches_exactly_the_keys_with_that_prefix(
    namespace: str, prefix: str, suffix: str, other: str
) -> None:
    rules = KeyRules(namespace)
    if not rules.check(prefix, prefix=True).allowed:
        return
    pattern = rules.scan_pattern(prefix)
    assert redis_glob(pattern, f"{namespace}:{prefix}{suffix}")
    if not other.startswith(prefix):
        assert not redis_glob(pattern, f"{namespace}:{other}")
    assert not redis_glob(pattern, f"x{namespace}:{prefix}")
    assert not redis_glob(pattern, f"{namespace}x:{prefix}")


def test_redis_glob_helper_can_fail() -> None:
    assert redis_glob("app:*", "app:x")
    assert not redis_glob("app:\\*", "app:x")
    assert redis_glob("app:?", "app:x")


# ---------------------------------------------------------------------- values and counts


def test_value_and_key_count_limits() -> None:
    rules = KeyRules("n", max_value_bytes=4, max_keys=2)
    assert rules.check_value("abcd").allowed
    too_big = rules.check_value("abc€")
    assert too_big.code is KvCode.VALUE_TOO_LARGE
    assert expected_error_case(too_big) == "storage-full"
    assert rules.check_key_count(1).allowed
    full = rules.check_key_count(2)
    assert full.code is KvCode.STORAGE_FULL and expected_error_case(full) == "storage-full"
    unlimited = KeyRules("n")
    assert unlimited.check_value("x" * 10_000).allowed and unlimited.check_key_count(10**9).allowed


# ---------------------------------------------------------------------- TTLs


@pytest.mark.parametrize(
    ("seconds", "ttl_max", "expected"),
    [
        (None, None, None),
        (10, None, 10),
        (None, 3600.0, 3600),
        (10, 3600.0, 10),
        (7200, 3600.0, 3600),
        (0, 3600.0, 0),
        (4294967295, 60.0, 60),
        (None, 0.5, 1),
        (5, 1.5, 2),
    ],
)
def test_ttl(seconds: int | None, ttl_max: float | None, expected: int | None) -> None:
    assert KeyRules.ttl(seconds, ttl_max) == expected


def test_negative_ttl() -> None:
    with pytest.raises(ValueError, match="negative"):
        KeyRules.ttl(-1, None)


@given(seconds=st.integers(0, 2**32 - 1), cap=st.floats(0.001, 1e9))
def test_ttl_never_exceeds_the_cap(seconds: int, cap: float) -> None:
    ttl = KeyRules.ttl(seconds, cap)
    assert ttl is not None and 0 <= ttl <= max(1, -(-cap // 1)) and ttl <= seconds


# ---------------------------------------------------------------------- counters


@pytest.mark.parametrize(
    ("current", "delta", "result"),
    [
        (0, 1, 1),
        (S64_MAX - 1, 1, S64_MAX),
        (S64_MIN + 1, -1, S64_MIN),
        (-5, 3, -2),
        (S64_MAX, S64_MIN, -1),
    ],
)
def test_increment_in_range(current: int, delta: int, result: int) -> None:
    decision = KeyRules.check_increment(current, delta)
    assert decision.allowed and decision.value == result


@pytest.mark.parametrize(
    ("current", "delta"),
    [(S64_MAX, 1), (S64_MIN, -1), (S64_MAX, S64_MAX), (0, S64_MAX + 1), (S64_MIN - 1, 0)],
)
def test_increment_overflow(current: int, delta: int) -> None:
    decision = KeyRules.check_increment(current, delta)
    assert (decision.allowed, decision.code) == (False, KvCode.OVERFLOW)
    assert expected_error_case(decision) == "unknown-error"


@given(st.integers(S64_MIN, S64_MAX), st.integers(S64_MIN, S64_MAX))
def test_increment_matches_s64_arithmetic(current: int, delta: int) -> None:
    decision = KeyRules.check_increment(current, delta)
    assert decision.allowed == (S64_MIN <= current + delta <= S64_MAX)
    if decision.allowed:
        assert decision.value == current + delta
