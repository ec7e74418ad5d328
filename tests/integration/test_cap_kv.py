"""key-value capability against a REAL Redis server (embedded, one per module), and its twin.

Tests parametrized with ``kind`` run the same assertions on the Redis backend and on the
in-memory twin, which is what shows the twin behaves like the real thing.  Every test gets its
own Redis DB index (``isolated_namespace``); the capability's namespace is that space's prefix.
Every probe of fixtures/probes/kv.yaml runs through the capability against Redis.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from wasmtime import Store
from wasmtime.component import Linker

from conformance import services as svc
from reference_host import interfaces
from reference_host import types as t
from reference_host.abi import schema
from reference_host.abi._wasmtime import store_context
from reference_host.abi.call import GuestFunc
from reference_host.backends.memory import MemoryBackend
from reference_host.backends.redis import RedisBackend
from reference_host.capabilities.base import HostContext, link_interface
from reference_host.capabilities.key_value import KeyValueCapability
from reference_host.engine import HostEngine
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.rules.kv import KeyRules
from reference_host.types import Err, KvError
from tests.guests.build import build_guest

pytestmark = pytest.mark.integration

S64_MAX, S64_MIN = 2**63 - 1, -(2**63)
PROBES = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "fixtures/probes/kv.yaml").read_text(encoding="utf-8")
)["probes"]


@pytest.fixture(scope="module")
def rds() -> Iterator[svc.RedisService]:
    with svc.start_redis("embedded") as service:
        yield service


@pytest.fixture
def space(rds: svc.RedisService) -> Iterator[svc.IsolatedNamespace]:
    with rds.isolated_namespace("kv") as ns:
        assert ns.dedicated_db  # the probe tests snapshot the whole DB
        yield ns


@pytest.fixture
def client(space: svc.IsolatedNamespace) -> Iterator[redis.Redis]:
    with space.endpoint.client() as c:
        yield c


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(kind: str, space: svc.IsolatedNamespace) -> Iterator[Any]:
    backend: Any = MemoryBackend() if kind == "memory" else RedisBackend(space.url)
    yield backend
    backend.close()


@pytest.fixture
def ns(space: svc.IsolatedNamespace) -> str:
    return space.prefix.rstrip(":")


def context(seconds: float = 30.0) -> HostContext:
    ctx = HostContext("kv-test", CallBudget(ResourceLimits()))
    ctx.budget.deadline = time.monotonic() + seconds
    return ctx


def make(
    store: Any, namespace: str, ttl_max: float | None = None, **rules: Any
) -> KeyValueCapability:
    return KeyValueCapability(store, KeyRules(namespace, **rules), ttl_max, context=context())


def snapshot(store: Any, skip_prefix: str | None = None) -> dict[str, tuple[str | None, int]]:
    """Every key with its value and TTL, through the seam (works for both backends)."""
    keys = store.scan("*", 10**6, 5.0)
    return {
        k: (store.get(k, 5.0), store.ttl(k, 5.0))
        for k in keys
        if skip_prefix is None or not k.startswith(skip_prefix)
    }


# ---------------------------------------------------------------------- every function, both


def test_every_function(store: Any, ns: str) -> None:
    cap = make(store, ns)
    assert cap.get("missing") is None  # ok(none)
    assert cap.exists("missing") is False
    assert cap.set("a:1", "ü €", None) is None
    assert store.get(f"{ns}:a:1", 1.0) == "ü €"
    assert (cap.get("a:1"), cap.exists("a:1")) == ("ü €", True)
    assert cap.increment("n", 41) == 41
    assert cap.increment("n", 1) == 42
    assert cap.set("a:2", "x", 100) is None
    assert cap.list_keys("a:", None) == ["a:1", "a:2"]
    assert cap.list_keys("", 1) in (["a:1"], ["a:2"], ["n"])
    assert cap.expire("a:1", 50) is None
    assert store.ttl(f"{ns}:a:1", 1.0) == 50
    assert cap.expire("nope", 5) == Err(KvError("key-not-found", "nope"))
    assert cap.expire("a:1", 0) is None
    assert cap.delete("a:2") is None
    assert cap.delete("a:2") is None
    assert cap.list_keys("", None) == ["n"]
    assert cap.denials == []


def test_get_returns_err(store: Any, ns: str, client: redis.Redis, kind: str) -> None:
    cap = make(store, ns)
    result = cap.get("bad\0key")
    assert isinstance(result, Err) and result.error.case == "invalid-key"
    if kind == "redis":  # a value another client wrote that is not UTF-8
        client.set(f"{ns}:bin", b"\xff\xfe")
        result = cap.get("bin")
        assert isinstance(result, Err) and "not UTF-8" in result.error.value
        client.hset(f"{ns}:hash", "f", "v")
        result = cap.get("hash")
        assert isinstance(result, Err) and "non-string" in result.error.value


def test_keys_that_are_not_utf8_are_counted_but_not_listed(
    space: svc.IsolatedNamespace, ns: str, client: redis.Redis
) -> None:
    backend = RedisBackend(space.url)
    cap = make(backend, ns, max_keys=2)
    client.set(f"{ns}:".encode() + b"\xff", "another client's key")
    assert cap.set("a", "1", None) is None
    assert cap.list_keys("", None) == ["a"]
    assert cap.set("b", "1", None) == Err(KvError("storage-full"))
    backend.close()


@pytest.mark.parametrize("prefix", ["*", "?", "[", "[a", "a*", "\\", "[^x]"])
def test_glob_characters_in_the_prefix_match_literally(store: Any, ns: str, prefix: str) -> None:
    cap = make(store, ns)
    keys = [
        "*",
        "*x",
        "?",
        "?x",
        "[",
        "[a]",
        "[ab",
        "a",
        "a*",
        "ab",
        "b",
        "\\",
        "\\x",
        "[^x]y",
        "x",
    ]
    for key in keys:
        assert cap.set(key, "1", None) is None
    expected = sorted(k for k in keys if k.startswith(prefix))
    assert cap.list_keys(prefix, None) == expected
    limited = cap.list_keys(prefix, 1)
    assert isinstance(limited, list) and len(limited) == min(1, len(expected))
    assert set(limited) <= set(expected)


def test_glob_characters_in_the_namespace(store: Any, ns: str) -> None:
    globby, sibling = make(store, f"{ns}[ab]"), make(store, f"{ns}a")
    assert sibling.set("k", "sibling", None) is None  # `<ns>a:k` matches `<ns>[ab]:*` unescaped
    assert globby.set("k", "mine", None) is None
    assert globby.list_keys("", None) == ["k"]
    assert globby.get("k") == "mine"
    assert sibling.get("k") == "sibling"


def test_other_namespaces_are_invisible_and_untouched(store: Any, ns: str) -> None:
    for key in (f"{ns}2:k", f"{ns}2:n", ns, f"x{ns}:k", f":{ns}:k", "k", f"{ns}k"):
        store.set(key, "7", None, 1.0)
    before = snapshot(store)
    cap = make(store, ns, max_keys=3)
    assert cap.list_keys("", None) == []
    assert cap.get("k") is None
    assert cap.set("k", "mine", None) is None
    assert cap.increment("n", 1) == 1
    assert cap.expire("k", 0) is None
    assert cap.delete("n") is None
    assert isinstance(cap.get(f":{ns}2:k"), Err)
    assert isinstance(cap.set(f"../{ns}2/k", "x", None), Err)
    for key in ("a", "b", "c"):  # the quota counts only this namespace
        assert cap.set(key, "1", None) is None
    assert snapshot(store, skip_prefix=f"{ns}:") == before
    assert cap.list_keys("", None) == ["a", "b", "c"]


def test_ttl_is_capped(store: Any, ns: str, client: redis.Redis, kind: str) -> None:
    cap = make(store, ns, ttl_max=99.2)
    cap.set("none", "v", None)
    cap.set("long", "v", 10**6)
    cap.set("short", "v", 7)
    cap.set("free", "v", 0)
    cap.increment("counter", 1)
    cap.set("later", "v", None)
    cap.expire("later", 2**32 - 1)
    expected = {"none": 100, "long": 100, "short": 7, "free": 100, "counter": 100, "later": 100}
    assert {k: store.ttl(f"{ns}:{k}", 1.0) for k in expected} == expected
    if kind == "redis":  # asked of the server itself, with the TTL command
        assert {k: client.ttl(f"{ns}:{k}") for k in expected} == expected
    uncapped = make(store, ns)
    uncapped.set("none", "v", None)
    assert store.ttl(f"{ns}:none", 1.0) == -1


def test_increment_overflow_leaves_the_value(store: Any, ns: str) -> None:
    cap = make(store, ns)
    for start, delta in ((S64_MAX, 1), (S64_MIN, -1), (S64_MAX, S64_MAX), (-5, S64_MIN)):
        cap.set("n", str(start), None)
        result = cap.increment("n", delta)
        assert isinstance(result, Err) and result.error.case == "unknown-error"
        assert "overflow" in result.error.value
        assert cap.get("n") == str(start)
    cap.set("n", str(S64_MAX - 3), None)
    assert cap.increment("n", 3) == S64_MAX
    assert cap.increment("n", S64_MIN) == -1


@pytest.mark.parametrize(
    ("value", "delta", "expected"),
    [
        ("0", 1, 1),
        ("-12", 2, -10),
        (str(S64_MIN), S64_MAX, -1),
        ("+1", 1, "not an integer"),
        ("01", 1, "not an integer"),
        ("-0", 1, "not an integer"),
        (" 1", 1, "not an integer"),
        ("1.0", 1, "not an integer"),
        ("", 1, "not an integer"),
        (str(2**63), -1, "not an integer"),
        ("１", 1, "not an integer"),  # a full-width digit
    ],
)
def test_incrby_parsing_is_the_same_on_both(
    store: Any, value: str, delta: int, expected: Any
) -> None:
    store.set("n", value, None, 1.0)
    try:
        outcome: Any = store.incrby("n", delta, None, 1.0)
    except Exception as exc:
        outcome = "not an integer" if "not an integer" in str(exc) else repr(exc)
    assert outcome == expected
    assert store.get("n", 1.0) == (value if isinstance(expected, str) else str(expected))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("a?c", ["abc", "a?c", "a*c"]),
        ("a???c", ["a€c"]),  # Redis matches bytes: '€' is three
        ("a[b-b]c", ["abc"]),
        ("a[^b]c", ["a?c", "a*c"]),
        ("a[c-a]c", ["abc"]),
        ("a\\*c", ["a*c"]),
        ("*c", ["abc", "a?c", "a*c", "a€c"]),
        ("[", []),
        ("\\", ["\\"]),
    ],
)
def test_scan_glob_semantics_are_the_same_on_both(
    store: Any, pattern: str, expected: list[str]
) -> None:
    for key in ("abc", "a?c", "a*c", "a€c", "\\", "zz"):
        store.set(key, "1", None, 1.0)
    assert sorted(store.scan(pattern, 100, 1.0)) == sorted(expected)
    assert store.count(pattern, 1.0) == len(expected)


def test_quotas_are_storage_full(store: Any, ns: str) -> None:
    cap = make(store, ns, max_keys=2, max_value_bytes=4)
    assert cap.set("a", "€", None) is None  # 3 bytes
    assert cap.set("a", "€€", None) == Err(KvError("storage-full"))
    assert cap.set("b", "1", 60) is None
    assert cap.set("c", "1", None) == Err(KvError("storage-full"))
    assert cap.increment("c", 1) == Err(KvError("storage-full"))
    assert cap.set("b", "2", None) is None  # overwrite
    assert cap.delete("b") is None
    assert cap.increment("c", 1) == 1
    assert sorted(d.code.value for d in cap.denials) == [
        "storage-full",
        "storage-full",
        "value-too-large",
    ]
    assert cap.list_keys("", None) == ["a", "c"]


def test_out_of_memory_is_storage_full(store: Any, ns: str, client: redis.Redis, kind: str) -> None:
    cap = make(store, ns)
    cap.set("k", "v", None)
    if kind == "redis":
        client.config_set("maxmemory", 1)
    else:
        store.max_memory_bytes = 1
    try:
        assert cap.set("k", "w", None) == Err(KvError("storage-full"))
        assert cap.set("new", "w", None) == Err(KvError("storage-full"))
        assert cap.increment("n", 1) == Err(KvError("storage-full"))
        assert cap.get("k") == "v"  # reads still work
    finally:
        if kind == "redis":
            client.config_set("maxmemory", 0)


# ---------------------------------------------------------------------- Redis failure modes


def test_unreachable_server_is_unknown_error_at_once() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    cap = KeyValueCapability(
        RedisBackend(f"redis://127.0.0.1:{port}/0"), KeyRules("app"), context=context(5)
    )
    started = time.monotonic()
    result = cap.get("k")
    assert time.monotonic() - started < 1.0  # no retries with backoff
    assert isinstance(result, Err) and result.error.case == "unknown-error"
    assert result.error.value.startswith("connection to the key-value store failed")
    assert "capabilities.key_value.url" in result.error.value
    cap.backend.close()


def test_a_silent_server_is_timeout_within_the_budget() -> None:
    with socket.socket() as listener:  # accepts TCP connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        backend = RedisBackend(f"redis://127.0.0.1:{port}/0")
        cap = KeyValueCapability(backend, KeyRules("app"), context=context(0.3))
        started = time.monotonic()
        assert cap.get("k") == Err(KvError("timeout"))
        assert cap.list_keys("", None) == Err(KvError("timeout"))
        assert time.monotonic() - started < 1.2
        backend.close()


def test_timeout_then_recovery(space: svc.IsolatedNamespace, ns: str, client: redis.Redis) -> None:
    backend = RedisBackend(space.url)
    cap = make(backend, ns)
    assert cap.set("k", "v", None) is None  # connected
    client.client_pause(400)
    cap.context = context(0.15)
    started = time.monotonic()
    assert cap.get("k") == Err(KvError("timeout"))
    assert time.monotonic() - started < 0.4
    time.sleep(0.4)
    cap.context = context(5)
    assert cap.get("k") == "v"  # the next call reconnects
    backend.close()


# ---------------------------------------------------------------------- through a guest


class Proxy:
    """The capability-proxy guest with our capability linked as its key-value import."""

    def __init__(self, cap: KeyValueCapability) -> None:
        host = HostEngine()
        component = host.load(build_guest("capability-proxy")).component
        linker = Linker(host.engine)
        with linker.root() as root:
            for iface in interfaces.CAPABILITIES:
                with root.add_instance(iface) as li:
                    if iface == cap.interface:
                        cap.link(li, context())
                    else:
                        names = schema.INTERFACES[interfaces.short(iface)]
                        link_interface(li, iface, dict.fromkeys(names, lambda *a: None))
        self.store = Store(host.engine)
        self.store.set_epoch_deadline(1 << 40)
        self.instance = linker.instantiate(self.store, component)

    def __call__(self, function: str, *args: Any) -> Any:
        index = self.instance.get_export_index(self.store, f"call-key-value-{function}")
        assert index is not None
        func = self.instance.get_func(self.store, index)
        assert func is not None
        return GuestFunc(func, schema.INTERFACES["key-value"][function])(
            store_context(self.store), *args
        )


def test_through_a_guest(store: Any, ns: str) -> None:
    call = Proxy(make(store, ns, max_keys=3))
    assert call("get", "k") == t.Ok(None)
    assert call("set", "k", "v", 30) == t.Ok(None)
    assert call("get", "k") == t.Ok("v")
    assert call("exists", "k") == t.Ok(True)
    bad = call("get", ":x")
    assert isinstance(bad, t.Err) and bad.error.case == "permission-denied"
    assert call("increment", "n", S64_MAX) == t.Ok(S64_MAX)
    overflow = call("increment", "n", 1)
    assert isinstance(overflow, t.Err) and overflow.error.case == "unknown-error"
    assert call("list-keys", "", None) == t.Ok(["k", "n"])
    assert call("expire", "gone", 5) == t.Err(KvError("key-not-found", "gone"))
    assert call("set", "a", "1", None) == t.Ok(None)
    assert call("set", "b", "1", None) == t.Err(KvError("storage-full"))
    assert call("delete", "k") == t.Ok(None)
    assert store.get(f"{ns}:n", 1.0) == str(S64_MAX)


# ---------------------------------------------------------------------- the probe corpus


NAMESPACE_KEYS = [
    "*",
    "*x",
    "?",
    "[a-z]",
    "[a-z]x",
    "\\",
    "x",
    "a*b?[c]",
    "ключ:.hidden",
    "counter",
]
OUTSIDE_KEYS = [
    "other:secret",
    "probe2:x",
    "prob:x",
    "probe",
    ":probe:x",
    "te1st:x",
    "teXst:x",
    "x",
]


def _key(data: dict[str, Any]) -> str:
    return str(data["key"] if "key" in data else data["key_repeat"][0] * data["key_repeat"][1])


def _run(cap: KeyValueCapability, data: dict[str, Any]) -> Any:
    op = data["op"]
    if op == "list-keys":
        return cap.list_keys(data["prefix"], None)
    key = _key(data)
    if op == "set":
        return cap.set(key, data["value"], None)
    if op == "increment":
        return cap.increment(key, data["delta"])
    if op == "expire":
        return cap.expire(key, data["ttl"])
    return {"get": cap.get, "delete": cap.delete, "exists": cap.exists}[op](key)


@pytest.mark.parametrize("probe", PROBES, ids=[p["id"] for p in PROBES])
def test_probe_against_redis(
    probe: dict[str, Any], space: svc.IsolatedNamespace, client: redis.Redis
) -> None:
    namespace, data, expect = probe["grant"]["namespace"], probe["input"], probe["expect"]
    for key in OUTSIDE_KEYS:
        client.set(key, "outside")
    for key in NAMESPACE_KEYS:
        client.set(f"{namespace}:{key}", "inside")
    if "full_key" in expect:
        client.set(expect["full_key"], "seeded")
    if data["op"] == "increment":
        client.set(f"{namespace}:{_key(data)}", str(data["current"]))
    backend = RedisBackend(space.url)
    cap = make(backend, namespace)
    before = {k: (client.get(k), client.ttl(k)) for k in client.scan_iter("*")}
    try:
        result = _run(cap, data)
    finally:
        backend.close()
    after = {k: (client.get(k), client.ttl(k)) for k in client.scan_iter("*")}
    inside = f"{namespace}:".encode()
    assert {k: v for k, v in after.items() if not k.startswith(inside)} == {
        k: v for k, v in before.items() if not k.startswith(inside)
    }, "a key outside the namespace was touched"
    if "error" in expect:
        assert isinstance(result, Err), result
        assert result.error.case == expect["error"], result.error
        assert after == before, "a refused call changed the store"
        if expect["error"] != "unknown-error":  # overflow is the store's refusal, not the host's
            assert cap.denials[-1].case == expect["error"]
        return
    assert not isinstance(result, Err), result
    assert cap.denials == []
    if data["op"] == "list-keys":
        assert cap.rules.scan_pattern(data["prefix"]) == expect["pattern"]
        assert result == sorted(k for k in NAMESPACE_KEYS if k.startswith(data["prefix"]))
    if "full_key" in expect:
        stored = client.get(expect["full_key"])
        assert stored == (data["value"].encode() if data["op"] == "set" else b"seeded")
        if data["op"] == "get":
            assert result == "seeded"
    if "value" in expect:
        assert result == expect["value"]
        assert client.get(f"{namespace}:{_key(data)}") == str(expect["value"]).encode()
