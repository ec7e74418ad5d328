"""key-value capability on the in-memory twin: every function, rule, quota, TTL and error mapping.

The same behaviour against real Redis (and the twin side by side) is in
tests/integration/test_cap_kv.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis.exceptions as rex
from pydantic import SecretStr

from reference_host.backends.memory import (
    NOT_AN_INTEGER,
    OVERFLOW,
    MemoryBackend,
    ReplyError,
    glob_match,
)
from reference_host.backends.redis import RedisBackend
from reference_host.capabilities.base import HostContext
from reference_host.capabilities.key_value import KeyValueCapability, to_kv_error
from reference_host.errors import PolicyError
from reference_host.grants import KeyValueGrant
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.rules.kv import KeyRules, KvCode
from reference_host.types import Err, KvError

S64_MAX, S64_MIN = 2**63 - 1, -(2**63)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mem(clock: Clock) -> MemoryBackend:
    return MemoryBackend(clock=clock)


def make(mem: MemoryBackend, namespace: str = "app", **kw: Any) -> KeyValueCapability:
    rules_kw = {k: kw.pop(k) for k in ("max_value_bytes", "max_keys") if k in kw}
    return KeyValueCapability(mem, KeyRules(namespace, **rules_kw), **kw)


def raw(mem: MemoryBackend, key: str) -> str | None:
    return mem.get(key, 1.0)


# ---------------------------------------------------------------------- the seven functions


def test_round_trip_under_the_namespace(mem: MemoryBackend) -> None:
    cap = make(mem)
    assert cap.get("k") is None  # ok(none), not key-not-found
    assert cap.exists("k") is False
    assert cap.set("k", "v ü", None) is None
    assert raw(mem, "app:k") == "v ü"
    assert raw(mem, "k") is None
    assert (cap.get("k"), cap.exists("k")) == ("v ü", True)
    assert cap.set("k", "", None) is None
    assert cap.get("k") == ""  # the empty string is a value, not a missing key
    assert cap.delete("k") is None
    assert (cap.get("k"), cap.exists("k")) == (None, False)
    assert cap.delete("k") is None  # idempotent
    assert cap.denials == []


def test_list_keys_strips_the_namespace_sorts_and_limits(mem: MemoryBackend) -> None:
    cap = make(mem, list_keys_cap=4)
    for key in ("b:2", "a:1", "b:1", "c", "b:3", "b:4", "b:5"):
        assert cap.set(key, "x", None) is None
    assert cap.list_keys("b:", None) == ["b:1", "b:2", "b:3", "b:4"]  # the host-side cap
    assert cap.list_keys("b:", 100) == ["b:1", "b:2", "b:3", "b:4"]
    assert cap.list_keys("b:", 2) == ["b:1", "b:2"]
    assert cap.list_keys("b:", 0) == []
    assert cap.list_keys("a", None) == ["a:1"]
    assert cap.list_keys("zzz", None) == []
    assert make(mem).list_keys("", None) == ["a:1", "b:1", "b:2", "b:3", "b:4", "b:5", "c"]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("*", ["*", "*x"]),
        ("?", ["?"]),
        ("[", ["[a-z]"]),
        ("[a-z]", ["[a-z]"]),
        ("\\", ["\\"]),
        ("a*", ["a*"]),
        ("a", ["a*", "ab"]),
    ],
)
def test_list_keys_prefix_is_literal(mem: MemoryBackend, prefix: str, expected: list[str]) -> None:
    cap = make(mem, namespace="n*s")
    for key in ("*", "*x", "?", "[a-z]", "\\", "a*", "ab", "x"):
        cap.set(key, "1", None)
    mem.set("nXs:zz", "other namespace matched by an unescaped glob", None, 1.0)
    assert cap.list_keys(prefix, None) == expected


def test_increment(mem: MemoryBackend) -> None:
    cap = make(mem)
    assert cap.increment("n", 5) == 5  # a missing key counts from 0
    assert cap.increment("n", -7) == -2
    assert raw(mem, "app:n") == "-2"
    cap.set("n", str(S64_MAX - 1), None)
    assert cap.increment("n", 1) == S64_MAX  # reaching the maximum exactly is fine


@pytest.mark.parametrize(
    ("start", "delta"), [(S64_MAX, 1), (S64_MIN, -1), (1, S64_MAX), (-2, S64_MIN)]
)
def test_increment_overflow_leaves_the_value(mem: MemoryBackend, start: int, delta: int) -> None:
    cap = make(mem)
    cap.set("n", str(start), None)
    result = cap.increment("n", delta)
    assert isinstance(result, Err)
    assert result.error.case == "unknown-error"
    assert "overflow" in result.error.value and "unchanged" in result.error.value
    assert cap.get("n") == str(start)


@pytest.mark.parametrize("value", ["x", "1.5", "+1", "01", "-0", " 1", "1 ", "", str(2**63)])
def test_increment_of_a_non_integer(mem: MemoryBackend, value: str) -> None:
    cap = make(mem)
    cap.set("n", value, None)
    result = cap.increment("n", 1)
    assert isinstance(result, Err)
    assert result.error.case == "unknown-error"  # the key is fine: not invalid-key
    assert "not a base-10 signed 64-bit integer" in result.error.value
    assert cap.get("n") == value


# ---------------------------------------------------------------------- TTL


def test_ttl_without_ttl_max(mem: MemoryBackend, clock: Clock) -> None:
    cap = make(mem)
    cap.set("forever", "v", None)
    cap.set("zero", "v", 0)  # some(0) is "no TTL of its own", like none
    cap.set("short", "v", 10)
    assert [mem.ttl(f"app:{k}", 1) for k in ("forever", "zero", "short")] == [-1, -1, 10]
    clock.now += 9.9
    assert cap.get("short") == "v"
    clock.now += 0.1
    assert (cap.get("short"), cap.exists("short"), cap.list_keys("s", None)) == (None, False, [])
    assert cap.get("forever") == "v"


def test_ttl_capped_at_ttl_max(mem: MemoryBackend, clock: Clock) -> None:
    cap = make(mem, ttl_max=59.5)  # rounded up to whole seconds
    cap.set("none", "v", None)
    cap.set("zero", "v", 0)
    cap.set("long", "v", 2**32 - 1)
    cap.set("short", "v", 5)
    ttls = [mem.ttl(f"app:{k}", 1) for k in ("none", "zero", "long", "short")]
    assert ttls == [60, 60, 60, 5]
    assert cap.increment("counter", 1) == 1  # a counter it creates gets ttl_max too
    assert mem.ttl("app:counter", 1) == 60
    clock.now += 30
    assert cap.increment("counter", 1) == 2
    assert mem.ttl("app:counter", 1) == 30  # INCRBY keeps the expiry
    assert cap.get("short") is None
    assert cap.expire("long", 10**6) is None
    assert mem.ttl("app:long", 1) == 60
    clock.now += 60
    assert cap.list_keys("", None) == []


def test_overwrite_drops_the_old_ttl(mem: MemoryBackend) -> None:
    cap = make(mem)
    cap.set("k", "v", 10)
    cap.set("k", "w", None)
    assert mem.ttl("app:k", 1) == -1


def test_expire(mem: MemoryBackend, clock: Clock) -> None:
    cap = make(mem)
    assert cap.expire("missing", 5) == Err(KvError("key-not-found", "missing"))
    cap.set("k", "v", None)
    assert cap.expire("k", 5) is None
    assert mem.ttl("app:k", 1) == 5
    clock.now += 5
    assert cap.expire("k", 5) == Err(KvError("key-not-found", "k"))
    cap.set("k", "v", None)
    assert cap.expire("k", 0) is None  # 0 deletes now, as Redis EXPIRE does
    assert cap.exists("k") is False


# ---------------------------------------------------------------------- key rules


CALLS = {
    "get": lambda cap, key: cap.get(key),
    "set": lambda cap, key: cap.set(key, "v", None),
    "delete": lambda cap, key: cap.delete(key),
    "exists": lambda cap, key: cap.exists(key),
    "increment": lambda cap, key: cap.increment(key, 1),
    "expire": lambda cap, key: cap.expire(key, 5),
    "list-keys": lambda cap, key: cap.list_keys(key, None),
}


@pytest.mark.parametrize("function", sorted(CALLS))
@pytest.mark.parametrize(
    ("key", "case", "needle"),
    [
        ("a\0b", "invalid-key", "without control or invisible characters"),
        (" a", "invalid-key", "whitespace"),
        ("a\u200db", "invalid-key", "U+200D"),
        (":other:secret", "permission-denied", "keys are relative to namespace 'app'"),
        ("a/../../b", "permission-denied", "'..' segment"),
    ],
)
def test_refused_keys(mem: MemoryBackend, function: str, key: str, case: str, needle: str) -> None:
    mem.set("app:x", "1", None, 1.0)
    before = dict(mem._data)
    cap = make(mem)
    result = CALLS[function](cap, key)
    assert isinstance(result, Err)
    assert result.error.case == case
    assert needle in result.error.value and repr(key) in result.error.value
    assert mem._data == before
    (denial,) = cap.denials
    assert (denial.function, denial.key, denial.case) == (function, key, case)


def test_empty_and_long_keys(mem: MemoryBackend) -> None:
    cap = make(mem)
    assert cap.get("") == Err(KvError("invalid-key", cap.denials[-1].reason))
    assert "the key is empty" in cap.denials[-1].reason
    assert cap.set("€" * 170, "v", None) is None  # 510 bytes
    result = cap.set("€" * 171, "v", None)  # 513 bytes
    assert isinstance(result, Err)
    assert "513 bytes; at most 512" in result.error.value
    assert cap.list_keys("", None) == ["€" * 170]  # the empty prefix is allowed


# ---------------------------------------------------------------------- quotas


def test_value_size_quota(mem: MemoryBackend) -> None:
    cap = make(mem, max_value_bytes=6)
    assert cap.set("k", "€€", None) is None  # 6 bytes
    assert cap.set("k", "€€x", None) == Err(KvError("storage-full"))
    assert cap.get("k") == "€€"
    (denial,) = cap.denials
    assert denial.code is KvCode.VALUE_TOO_LARGE
    assert "7 bytes; at most 6" in denial.reason and "max_value_bytes" in denial.reason


def test_key_count_quota(mem: MemoryBackend, clock: Clock) -> None:
    cap = make(mem, max_keys=2)
    mem.set("other:a", "1", None, 1.0)  # other namespaces do not count
    assert cap.set("a", "1", None) is None
    assert cap.set("b", "1", 10) is None
    assert cap.set("c", "1", None) == Err(KvError("storage-full"))
    assert cap.increment("c", 1) == Err(KvError("storage-full"))
    assert cap.exists("c") is False
    assert cap.set("a", "2", None) is None  # overwriting never counts
    assert cap.increment("a", 1) == 3
    assert [d.code for d in cap.denials] == [KvCode.STORAGE_FULL] * 2
    assert "at most 2" in cap.denials[0].reason and "max_keys" in cap.denials[0].reason
    assert cap.delete("a") is None  # frees room
    assert cap.set("c", "1", None) is None
    clock.now += 10  # "b" expires: the recount at the limit sees it
    assert cap.increment("d", 1) == 1
    assert cap.set("e", "1", None) == Err(KvError("storage-full"))
    assert cap.expire("c", 0) is None
    assert cap.set("e", "1", None) is None


def test_key_count_quota_sees_other_writers_at_the_limit(mem: MemoryBackend) -> None:
    cap = make(mem, max_keys=3)
    assert cap.set("a", "1", None) is None  # the first creation counts exactly: 0 keys
    mem.set("app:x", "1", None, 1.0)  # another client writes two keys
    mem.set("app:y", "1", None, 1.0)
    assert cap.set("b", "1", None) is None  # cached count 1: admitted (documented overshoot)
    assert cap.set("c", "1", None) is None  # cached count 2: admitted
    assert cap.set("d", "1", None) == Err(KvError("storage-full"))  # recount at the limit: 5
    assert "holds 5 keys; at most 3" in cap.denials[-1].reason
    mem.delete("app:x", 1.0)
    mem.delete("app:y", 1.0)
    assert cap.set("d", "1", None) == Err(KvError("storage-full"))  # recount: 3
    assert cap.delete("c") is None
    assert cap.set("d", "1", None) is None
    assert mem.count("app:*", 1.0) == 3


def test_out_of_memory_is_storage_full(clock: Clock) -> None:
    cap = make(MemoryBackend(clock=clock, max_memory_bytes=20))
    assert cap.set("k", "12345", None) is None  # 5 + 5 bytes
    assert cap.set("k2", "1234567890", None) == Err(KvError("storage-full"))
    assert cap.denials == []  # the store refused, not the host


# ---------------------------------------------------------------------- budget and errors


class Exploding:
    """A backend whose every method raises ``exc``."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            raise self.exc

        return method


def context(seconds: float) -> HostContext:
    ctx = HostContext("c1", CallBudget(ResourceLimits()))
    ctx.budget.deadline = time.monotonic() + seconds
    return ctx


@pytest.mark.parametrize("function", sorted(CALLS))
def test_no_budget_left_is_timeout_without_io(function: str) -> None:
    backend = Exploding(AssertionError("touched"))
    cap = KeyValueCapability(backend, KeyRules("app"), context=context(-1))
    assert CALLS[function](cap, "k") == Err(KvError("timeout"))
    assert backend.calls == []


def test_backend_calls_are_bounded_by_the_remaining_budget(mem: MemoryBackend) -> None:
    seen: list[float] = []

    class Spy(MemoryBackend):
        def get(self, key: str, timeout: float) -> str | None:
            seen.append(timeout)
            return super().get(key, timeout)

    cap = KeyValueCapability(Spy(), KeyRules("app"), context=context(2.0))
    cap.get("k")
    KeyValueCapability(Spy(), KeyRules("app"), standalone_timeout=7.0).get("k")
    assert 1.5 < seen[0] <= 2.0
    assert seen[1] == 7.0


OVERFLOW_MSG = "the result would overflow"
NOT_INT_MSG = "not a base-10 signed 64-bit integer"


@pytest.mark.parametrize(
    ("exc", "case", "needle"),
    [
        (TimeoutError("budget"), "timeout", None),
        (rex.TimeoutError("Timeout reading from socket"), "timeout", None),
        (rex.ConnectionError("Error 111 connecting"), "unknown-error", "connection to the"),
        (rex.AuthenticationError("invalid password"), "unknown-error", "credentials"),
        (ConnectionRefusedError(111, "refused"), "unknown-error", "connection to the"),
        (rex.OutOfMemoryError("command not allowed when used memory"), "storage-full", None),
        (rex.ResponseError("Error running script: -OOM command not allowed"), "storage-full", None),
        (rex.ResponseError(OVERFLOW), "unknown-error", OVERFLOW_MSG),
        (rex.ResponseError(NOT_AN_INTEGER), "unknown-error", NOT_INT_MSG),
        (ReplyError(OVERFLOW), "unknown-error", OVERFLOW_MSG),
        (rex.ResponseError("WRONGTYPE Operation against a key"), "unknown-error", "non-string"),
        (
            rex.ReadOnlyError("You can't write against a read only replica."),
            "unknown-error",
            "answered",
        ),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), "unknown-error", "not UTF-8"),
        (RuntimeError("bug"), "unknown-error", "internal host error (RuntimeError)"),
    ],
)
def test_one_boundary_maps_backend_errors(exc: Exception, case: str, needle: str | None) -> None:
    cap = KeyValueCapability(Exploding(exc), KeyRules("app"))
    for function in sorted(CALLS):
        result = CALLS[function](cap, "k")
        assert isinstance(result, Err), function  # get returns err too
        assert result.error.case == case
        if needle is not None:
            assert needle in result.error.value
    assert to_kv_error(exc, "get", "k").case == case


def test_interrupts_are_not_swallowed() -> None:
    cap = KeyValueCapability(Exploding(KeyboardInterrupt()), KeyRules("app"))
    with pytest.raises(KeyboardInterrupt):
        cap.get("k")


# ---------------------------------------------------------------------- the twin's semantics


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("a*", "abc", True),
        ("a\\*", "a*", True),
        ("a\\*", "ab", False),
        ("a?c", "abc", True),
        ("a?c", "a€c", False),  # '?' is one byte; '€' is three
        ("a???c", "a€c", True),
        ("[a-c]x", "bx", True),
        ("[c-a]x", "bx", True),  # reversed range
        ("[^a-c]x", "bx", False),
        ("[^a-c]x", "dx", True),
        ("[\\]]", "]", True),
        ("[abc", "b", True),  # an unterminated class runs to the end
        ("x[", "x", False),
        ("\\", "\\", True),  # a trailing backslash is literal
        ("*", "", True),
        ("a**b", "ab", True),
        ("a*b", "a\nb", True),
    ],
)
def test_glob_match_is_redis_stringmatch(pattern: str, key: str, expected: bool) -> None:
    assert glob_match(pattern, key) is expected


def test_twin_incrby_and_set_details(mem: MemoryBackend, clock: Clock) -> None:
    with pytest.raises(ReplyError, match="invalid expire time"):
        mem.set("k", "v", 0, 1.0)
    assert mem.set("k", "v", None, 1.0, only_if_exists=True) is False
    assert mem.incrby("n", 3, 10, 1.0) == 3
    assert mem.ttl("n", 1.0) == 10
    clock.now += 9.4
    assert mem.ttl("n", 1.0) == 1  # rounded to the nearest second, like Redis
    assert mem.ttl("missing", 1.0) == -2
    with pytest.raises(TimeoutError):
        mem.get("n", 0.0)
    assert mem.count("*", 1.0) == 1
    mem.close()
    assert mem.count("*", 1.0) == 0


# ---------------------------------------------------------------------- construction


def test_from_policy_memory_backend() -> None:
    policy = KeyValueGrant(
        enabled=True, backend="memory", namespace="proc", ttl_max=30, max_keys=7,
        max_value_bytes=100, max_key_bytes=64,
    )  # fmt: skip
    cap = KeyValueCapability.from_policy(policy, component_id="c1")
    assert isinstance(cap.backend, MemoryBackend) and cap.owns_backend
    assert (cap.rules.namespace, cap.rules.max_keys, cap.rules.max_value_bytes) == ("proc", 7, 100)
    assert (cap.rules.max_key_bytes, cap.ttl_max, cap.component_id) == (64, 30, "c1")
    assert cap.interface == "obsrvr:flowctl/key-value@1.0.0"
    assert cap.set("k", "v", None) is None
    assert cap.backend.ttl("proc:k", 1.0) == 30
    cap.close()
    assert cap.get("k") is None  # closed: the memory store was dropped


def test_from_policy_redis_backend_is_lazy_and_injected_backends_stay_open(
    mem: MemoryBackend,
) -> None:
    url = SecretStr("redis://:s3cret@127.0.0.1:1/0")
    cap = KeyValueCapability.from_policy(KeyValueGrant(url=url), component_id="c")
    assert isinstance(cap.backend, RedisBackend)
    assert "s3cret" not in repr(cap.backend) and "not connected" in repr(cap.backend)
    cap.close()
    mem.set("x", "1", None, 1.0)
    cap = KeyValueCapability.from_policy(
        KeyValueGrant(backend="redis"), component_id="c", backend=mem
    )
    cap.close()
    assert mem.get("x", 1.0) == "1"


@pytest.mark.parametrize(
    ("policy", "needle"),
    [
        (KeyValueGrant(backend="redis"), "no url is set; set capabilities.key_value.url"),
        (KeyValueGrant(url=SecretStr("http://x/")), "must start with redis://"),
    ],
)
def test_from_policy_refuses_unusable_redis_settings(policy: KeyValueGrant, needle: str) -> None:
    with pytest.raises(PolicyError, match="capabilities.key_value") as info:
        KeyValueCapability.from_policy(policy, component_id="c")
    assert needle in str(info.value)
