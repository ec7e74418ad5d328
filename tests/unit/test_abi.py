"""The fast value layer equals stock wasmtime-py's conversion, and fixes its known gaps.

Round trips go through the `echo-types` guest (tests/guests): each `echo-<T>` returns its
`list<T>` argument unchanged, so lowering and lifting meet real wasmtime type checks.  For every
type of the package, hypothesis checks three paths agree:

  ours  -> guest -> ours      (round trip)
  ours  -> guest -> stock     (our lowering is what stock would lift)
  stock -> guest -> ours      (our lifting reads what stock lowered)
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wasmtime import Store
from wasmtime.component import Linker

from conformance.strategies import strategy
from reference_host import types as t
from reference_host.abi import schema as s
from reference_host.abi.call import GuestFunc, add_host_func
from reference_host.abi.stock import from_stock, to_stock
from reference_host.engine import HostEngine
from reference_host.errors import ValueConversionError
from tests.guests.build import build_guest

ECHOED: dict[str, s.Ty] = {
    "event": s.EVENT,
    "processor-error": s.PROCESSOR_ERROR,
    "processor-info": s.PROCESSOR_INFO,
    "health-status": s.HEALTH_STATUS,
    "token-transfer": s.TOKEN_TRANSFER,
    "stellar-ledger": s.STELLAR_LEDGER,
    "stellar-operation": s.STELLAR_OPERATION,
    "http-request": s.HTTP_REQUEST,
    "http-response": s.HTTP_RESPONSE,
    "http-error": s.HTTP_ERROR,
    "query-result": s.QUERY_RESULT,
    "db-error": s.DB_ERROR,
    "kv-error": s.KV_ERROR,
    "config-error": s.CONFIG_ERROR,
    "log-level": s.LOG_LEVEL,
    "metric-tag": s.METRIC_TAG,
    "u64s": s.U64,
    "s64s": s.S64,
    "f64s": s.F64,
    "u32s": s.U32,
    "strings": s.STRING,
    "kv-get": s.Result(s.Option(s.STRING), s.KV_ERROR),
}

STOCK_CANNOT_EXPRESS = {"kv-get"}
"""Types whose `err` stock wasmtime-py can neither lower nor tell apart when lifting."""

KV_GET_ANSWERS: dict[str, Any] = {}
CONFIG_ANSWERS: dict[str, Any] = {}


class Echo:
    """The echo-types guest instantiated with our host functions for kv get / config get-int."""

    def __init__(self) -> None:
        self.host = HostEngine()
        comp = self.host.load(build_guest("echo-types")).component
        linker = Linker(self.host.engine)
        with linker.root() as root:
            with root.add_instance("obsrvr:flowctl/key-value@1.0.0") as li:
                add_host_func(li, s.INTERFACES["key-value"]["get"], KV_GET_ANSWERS.__getitem__)
            with root.add_instance("obsrvr:flowctl/config@1.0.0") as li:
                add_host_func(li, s.INTERFACES["config"]["get-int"], CONFIG_ANSWERS.__getitem__)
        self.store = Store(self.host.engine)
        self.store.set_epoch_deadline(1 << 40)
        self.inst = linker.instantiate(self.store, comp)

    def func(self, name: str) -> Any:
        idx = self.inst.get_export_index(self.store, name)
        assert idx is not None, name
        return self.inst.get_func(self.store, idx)

    def ours(
        self, name: str, params: tuple[tuple[str, s.Ty], ...], result: s.Ty, *, native: bool = True
    ) -> GuestFunc:
        return GuestFunc(self.func(name), s.FuncSig(name, params, result), native_layer=native)

    def echo(self, key: str, *, native: bool = True) -> GuestFunc:
        lt = s.List(ECHOED[key])
        return self.ours(f"echo-{key}", (("x", lt),), lt, native=native)


@pytest.fixture(scope="module")
def echo() -> Echo:
    return Echo()


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("key", sorted(ECHOED))
def test_round_trip_and_differential(echo: Echo, key: str) -> None:
    ty = ECHOED[key]
    ours = echo.echo(key)
    python_layer = echo.echo(key, native=False)
    stock = echo.func(f"echo-{key}")
    vt_list = stock.type(echo.store).params[0][1]

    @FAST
    @given(st.lists(strategy(ty), max_size=3))
    def check(values: list[Any]) -> None:
        ctx = echo.store._context()
        # ours -> ours, with the native value layer (where built) and with the Python one
        assert ours(ctx, values) == values
        assert python_layer(ctx, values) == values
        if key in STOCK_CANNOT_EXPRESS:
            return
        # ours -> stock lift
        raw = stock(echo.store, to_stock(s.List(ty), values, vt_list))
        assert from_stock(s.List(ty), raw, vt_list) == values
        # stock lowering -> our lift: stock lowers, the guest echoes, we lift
        back = ours(ctx, from_stock(s.List(ty), to_stock(s.List(ty), values, vt_list), vt_list))
        assert back == values

    check()


def test_stock_and_ours_lower_to_identical_guest_memory(echo: Echo) -> None:
    # Same event through both lowerings: the guest sees identical bytes, so the stock lift of
    # our lowering equals the stock lift of the stock lowering (checked field by field).
    ev = t.Event(
        "e-1",
        2**64 - 1,
        "src",
        t.EventType.TOKEN_TRANSFER,
        t.TokenTransfer(
            "GA", "GB", t.StellarAsset(t.AssetType.CREDIT_ALPHANUM4, "USD", "GI"), "1.5", "h", 7,
            [t.StellarAsset(t.AssetType.NATIVE)],
        ),
        [("k", "v"), ("ünï", "cødé")],
    )  # fmt: skip
    stock = echo.func("echo-event")
    vt = stock.type(echo.store).params[0][1]
    via_stock = stock(echo.store, to_stock(s.List(s.EVENT), [ev], vt))
    via_ours = echo.echo("event")(echo.store._context(), [ev])
    assert from_stock(s.List(s.EVENT), via_stock, vt) == via_ours == [ev]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (t.KvError("storage-full"), t.Err(t.KvError("storage-full"))),
        (t.Err(t.KvError("invalid-key", "../x")), t.Err(t.KvError("invalid-key", "../x"))),
        (None, t.Ok(None)),
        ("value", t.Ok("value")),
        (t.Ok(""), t.Ok("")),
    ],
)
def test_host_function_returns_err_for_result_option(
    echo: Echo, answer: Any, expected: Any
) -> None:
    # stock wasmtime-py cannot: the untagged `none` case of option matches any object
    KV_GET_ANSWERS["k"] = answer
    call = echo.ours("call-kv-get", (("key", s.STRING),), s.Result(s.Option(s.STRING), s.KV_ERROR))
    assert call(echo.store._context(), "k") == expected


def test_stock_cannot_return_err_for_result_option() -> None:
    # the gap we close, demonstrated: stock treats every returned object as ok(some(...)) / none
    host = HostEngine()
    comp = host.load(build_guest("echo-types")).component
    linker = Linker(host.engine)
    with linker.root() as root:
        with root.add_instance("obsrvr:flowctl/key-value@1.0.0") as li:
            from wasmtime.component import Variant

            li.add_func("get", lambda _store, _key: Variant("err", Variant("storage-full")))
        with root.add_instance("obsrvr:flowctl/config@1.0.0") as li:
            li.add_func("get-int", lambda _store, _key: 0)
    store = Store(host.engine)
    store.set_epoch_deadline(1 << 40)
    inst = linker.instantiate(store, comp)
    index = inst.get_export_index(store, "call-kv-get")
    assert index is not None
    func = inst.get_func(store, index)
    assert func is not None
    # stock lifts the returned Variant as ok(some(...)) and fails lowering it into option<string>
    with pytest.raises(ValueError, match="value not valid for this variant"):
        func(store, "k")


def test_config_get_int_err_through_host(echo: Echo) -> None:
    CONFIG_ANSWERS["x"] = t.ConfigError("invalid-type", "x is a number, not an integer")
    CONFIG_ANSWERS["y"] = -(2**63)
    call = echo.ours("call-config-get-int", (("key", s.STRING),), s.Result(s.S64, s.CONFIG_ERROR))
    ctx = echo.store._context()
    assert call(ctx, "x") == t.Err(t.ConfigError("invalid-type", "x is a number, not an integer"))
    assert call(ctx, "y") == t.Ok(-(2**63))


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("u64s", 2**64 + 5),
        ("u64s", -1),
        ("s64s", 2**63),
        ("u32s", 2**32),
        ("u64s", True),
        ("u64s", 1.0),
        ("strings", b"bytes"),
        ("strings", "\ud800"),
        ("log-level", "verbose"),
        ("f64s", "1.0"),
    ],
)
@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_bad_values_rejected_before_the_call(echo: Echo, key: str, bad: Any, native: bool) -> None:
    ours = echo.echo(key, native=native)
    with pytest.raises(ValueConversionError, match=f"WIT {ECHOED[key].wit}"):
        ours(echo.store._context(), [bad])
    # nothing entered the guest: the instance still works
    assert ours(echo.store._context(), []) == []


def test_stock_wraps_out_of_range_u64_silently(echo: Echo) -> None:
    stock = echo.func("echo-u64s")
    assert stock(echo.store, [2**64 + 5]) == [5]  # the bug our layer refuses (see above)


def test_invalid_enum_in_nested_value_is_rejected_and_instance_survives(echo: Echo) -> None:
    ev = t.Event("e", 1, "s", "not-an-event-type", t.Generic("x"), [])  # type: ignore[arg-type]
    ours = echo.echo("event")
    with pytest.raises(ValueConversionError, match="event-type"):
        ours(echo.store._context(), [ev])
    good = t.Event("e", 1, "s", t.EventType.CUSTOM, t.Generic("x"), [])
    assert ours(echo.store._context(), [good]) == [good]


def test_plain_strings_are_accepted_for_enums(echo: Echo) -> None:
    ev = t.Event("e", 1, "s", "ledger", t.Generic("x"), [])  # type: ignore[arg-type]
    out = echo.echo("event")(echo.store._context(), [ev])
    assert out[0].event_type is t.EventType.LEDGER


def test_large_values_grow_the_arena(echo: Echo) -> None:
    big = ["x" * 100_000, "y" * 300_000]
    assert echo.echo("strings")(echo.store._context(), big) == big


def test_wrong_record_class_names_the_type(echo: Echo) -> None:
    with pytest.raises(ValueConversionError, match="WIT metric-tag"):
        echo.echo("metric-tag")(echo.store._context(), [t.MemoType.TEXT])


def test_wrong_arity_is_refused(echo: Echo) -> None:
    with pytest.raises(ValueConversionError, match="takes 1 argument"):
        echo.echo("strings")(echo.store._context())


def test_codec_memo_is_keyed_by_type_not_by_reused_ids() -> None:
    # regression: a memo keyed by id() handed a freed descriptor's codec to a new, different one
    from reference_host.abi.lift import decoder
    from reference_host.abi.lower import encoder

    for _ in range(300):
        tmp = s.List(s.STRING)
        enc_list, dec_list = encoder(tmp), decoder(tmp)
        del tmp
        other = s.Option(s.U32)
        assert encoder(other) is not enc_list
        assert decoder(other) is not dec_list
        assert encoder(other) is encoder(s.Option(s.U32))  # structural: equal types share a codec


#: How long the registration-and-collection work below may take (~0.05 s when it works).  Short,
#: so a deadlock fails the test with the stuck thread's stack instead of stalling until
#: pytest-timeout; generous, so a loaded machine never trips it.
DEADLOCK_WATCHDOG_SECONDS = 30


def test_linker_finalizers_during_registration_do_not_deadlock() -> None:
    # regression: registering a host function allocates; a collected Linker's finalizers then ran
    # _finalize, which waited for the lock the registering thread already held (a hang)
    import gc
    import sys
    import threading
    import traceback

    from wasmtime.component import Linker

    from reference_host.abi import call

    host = HostEngine()
    sig = s.INTERFACES["config"]["has-key"]

    def register_and_collect() -> None:
        for _ in range(50):
            linker = Linker(host.engine)
            with linker.root() as root, root.add_instance("obsrvr:flowctl/config@1.0.0") as li:
                add_host_func(li, sig, lambda _k: True)
            del linker  # its handlers are finalized by GC, possibly inside the next registration
        with call._LOCK:  # the lock is re-entrant: a finalizer on this thread may take it again
            gc.collect()
            call._finalize(10**9)

    raised: list[BaseException] = []

    def work() -> None:
        try:
            register_and_collect()
        except BaseException as exc:  # handed to the test thread below
            raised.append(exc)

    worker = threading.Thread(target=work, name="register-and-collect", daemon=True)
    worker.start()
    worker.join(timeout=DEADLOCK_WATCHDOG_SECONDS)
    if worker.is_alive():
        frame = sys._current_frames().get(worker.ident or 0)
        stack = "".join(traceback.format_stack(frame)) if frame else "(no frame)\n"
        pytest.fail(
            f"registering host functions while GC finalizes linkers did not finish in "
            f"{DEADLOCK_WATCHDOG_SECONDS} s: deadlocked?  reference_host.abi.call._LOCK is "
            f"{call._LOCK!r}; the worker thread is at:\n{stack}"
        )
    if raised:
        raise raised[0]
