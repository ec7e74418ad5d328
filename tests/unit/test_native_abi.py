"""The native value layer (``reference_host/abi/_native.c``) against the Python one.

Both write and read the same ``wasmtime_component_val_t`` layout, so each is checked against the
other with no guest in between: a value lowered by one layer into an arena is lifted by the
other, for generated values of every WIT type the host passes (``test_abi.py`` then sends both
through a real guest).  Values that do not fit their type must give the Python layer's error, word
for word.  ``FLOWCTL_REQUIRE_NATIVE=1`` (set by ``.ci/run``) turns "not built" into a failure, so
CI cannot silently measure or test the Python layer alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from conformance.strategies import strategy
from reference_host import jsonform
from reference_host import types as t
from reference_host.abi import lift, lower, native
from reference_host.abi import schema as s
from reference_host.errors import ValueConversionError

MOD = native.module()
if MOD is None and os.environ.get("FLOWCTL_REQUIRE_NATIVE") == "1":
    raise RuntimeError(f"FLOWCTL_REQUIRE_NATIVE=1 but {native.status()}")
pytestmark = pytest.mark.skipif(MOD is None, reason=native.status())

TYPES: dict[str, s.Ty] = {
    **{
        f"{iface}.{fn}.{name}": ty
        for iface, funcs in s.INTERFACES.items()
        for fn, sig in funcs.items()
        for name, ty in sig.params
    },
    **{
        f"{iface}.{fn}.result": sig.result
        for iface, funcs in s.INTERFACES.items()
        for fn, sig in funcs.items()
        if sig.result is not None
    },
    **{wit: s.Prim(wit) for wit in ("s8", "s16", "s32", "u8", "u16", "f32", "char", "bool")},
}
UNIQUE = {ty: name for name, ty in TYPES.items()}

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _lowered(ty: s.Ty, value: Any, *, by_native: bool, size: int = 1 << 16) -> lower.Arena:
    arena = lower.Arena(size)
    enc = lower.encoder(ty) if by_native else lower.python_encoder(ty)
    return lower.lower_into(arena, [enc], (value,))


@pytest.mark.parametrize("ty", list(UNIQUE), ids=list(UNIQUE.values()))
def test_each_layer_reads_what_the_other_wrote(ty: s.Ty) -> None:
    assert MOD is not None
    d = native.descriptor(ty)

    @FAST
    @given(strategy(ty))
    def check(value: Any) -> None:
        a = _lowered(ty, value, by_native=True)
        assert lift.python_decoder(ty)(a.base) == value
        b = _lowered(ty, value, by_native=False)
        assert MOD.lift(d, b.base) == value
        assert lift.decoder(ty)(b.base) == value

    check()


@pytest.mark.parametrize("ty", list(UNIQUE), ids=list(UNIQUE.values()))
def test_the_json_form_is_the_python_layers(ty: s.Ty) -> None:
    assert MOD is not None
    d = native.descriptor(ty)

    @FAST
    @given(strategy(ty))
    def check(value: Any) -> None:
        form = jsonform._to_json_py(ty, value)
        assert MOD.to_json(d, value) == form
        assert jsonform.to_json(ty, value) == form
        assert MOD.from_json(d, form) == value
        assert jsonform.from_json(ty, form) == value

    check()


JSON_BAD: list[tuple[s.Ty, Any]] = [
    (s.U64, -1),
    (s.U64, 2**64),
    (s.U64, 1.5),
    (s.U64, True),
    (s.F64, "1"),
    (s.F64, 10**400),
    (s.STRING, 3),
    (s.Prim("char"), "ab"),
    (s.BOOL, 0),
    (s.LOG_LEVEL, "verbose"),
    (s.LOG_LEVEL, ["unhashable"]),
    (s.METRIC_TAG, {"key": "k"}),
    (s.METRIC_TAG, {"key": "k", "value": "v", "extra": 1}),
    (s.METRIC_TAG, ["k", "v"]),
    (s.PAIRS, [["a"]]),
    (s.PAIRS, [("a", "b")]),
    (s.PROCESSOR_ERROR, "invalid-event"),
    (s.PROCESSOR_ERROR, {"timeout": None}),
    (s.PROCESSOR_ERROR, {"nope": "x"}),
    (s.PROCESSOR_ERROR, {"invalid-event": "x", "timeout": None}),
    (s.EVENT_DATA, {"generic": 5}),
    (s.EVENT_DATA, {"nope": "x"}),
    (s.EVENT_DATA, "generic"),
    (s.EVENTS_RESULT, {"ok": [], "err": "timeout"}),
    (s.EVENTS_RESULT, {"maybe": []}),
    (s.EVENTS_RESULT, {"ok": {"not": "a list"}}),
]


@pytest.mark.parametrize(
    ("ty", "bad"), JSON_BAD, ids=[f"{ty.wit}-{v!r}"[:40] for ty, v in JSON_BAD]
)
def test_json_that_does_not_fit_gets_the_python_layers_error(ty: s.Ty, bad: Any) -> None:
    assert MOD is not None
    assert MOD.from_json(native.descriptor(ty), bad) is MOD.MISMATCH
    errors: list[str] = []
    for parse in (jsonform.from_json, jsonform._from_json_py):
        with pytest.raises((ValueConversionError, OverflowError)) as info:
            parse(ty, bad)
        errors.append(f"{type(info.value).__name__}: {info.value}")
    assert errors[0] == errors[1]


BAD: list[tuple[s.Ty, Any]] = [
    (s.U64, 2**64),
    (s.U64, -1),
    (s.U64, True),
    (s.U64, 1.0),
    (s.S64, 2**63),
    (s.S64, -(2**63) - 1),
    (s.Prim("s8"), 128),
    (s.Prim("u8"), -1),
    (s.Prim("u16"), 2**16),
    (s.U32, "1"),
    (s.STRING, b"bytes"),
    (s.STRING, "\ud800"),
    (s.STRING, None),
    (s.F64, "1.0"),
    (s.F64, 10**400),
    (s.F64, True),
    (s.Prim("char"), "ab"),
    (s.Prim("char"), "\udfff"),
    (s.BOOL, 1),
    (s.LOG_LEVEL, "verbose"),
    (s.LOG_LEVEL, ["unhashable"]),
    (s.STRINGS, "not a list"),
    (s.STRINGS, ["ok", 3]),
    (s.PAIRS, [("a",)]),
    (s.PAIRS, [("a", "b", "c")]),
    (s.METRIC_TAG, t.MemoType.TEXT),
    (s.METRIC_TAG, t.MetricTag("k", 5)),  # type: ignore[arg-type]
    (s.EVENT, t.Event("e", -1, "s", t.EventType.CUSTOM, t.Generic("x"))),
    (s.EVENT, t.Event("e", 1, "s", "not-a-type", t.Generic("x"))),  # type: ignore[arg-type]
    (s.EVENT, t.Event("e", 1, "s", t.EventType.CUSTOM, "not event data")),  # type: ignore[arg-type]
    (s.EVENT, t.Event("e", 1, "s", t.EventType.CUSTOM, t.Generic(5))),  # type: ignore[arg-type]
    (s.PROCESSOR_ERROR, t.ProcessorError("timeout", "no payload allowed")),
    (s.PROCESSOR_ERROR, t.ProcessorError("invalid-event", 7)),
    (s.EVENTS_RESULT, t.Ok("not a list")),
    (s.UNIT_RESULT, t.Ok("a value")),
    (s.Option(s.STRING), 5),
]


@pytest.mark.parametrize(("ty", "bad"), BAD, ids=[f"{ty.wit}-{v!r}"[:40] for ty, v in BAD])
def test_a_value_that_does_not_fit_gets_the_python_layers_error(ty: s.Ty, bad: Any) -> None:
    assert MOD is not None
    assert MOD.lower(native.descriptor(ty), bad, lower.Arena(64).base, 64, 32, 0) in (-1, -2)
    errors: list[str] = []
    for by_native in (True, False):
        with pytest.raises((ValueConversionError, OverflowError, KeyError)) as info:
            _lowered(ty, bad, by_native=by_native)
        errors.append(f"{type(info.value).__name__}: {info.value}")
    assert errors[0] == errors[1]


def test_a_full_arena_is_grown_and_the_value_written_whole() -> None:
    events = [
        t.Event(f"e{i}", i, "s" * 300, t.EventType.CUSTOM, t.Generic("g" * 1000), [("k", "v")])
        for i in range(50)
    ]
    a = _lowered(s.EVENTS, events, by_native=True, size=256)
    assert a.limit > 256
    assert lift.python_decoder(s.EVENTS)(a.base) == events


def test_the_bounds_of_the_arena_are_checked() -> None:
    assert MOD is not None
    a = lower.Arena(64)
    with pytest.raises(ValueError, match="outside the arena"):
        MOD.lower(native.descriptor(s.STRING), "x", a.base, 64, 0, 40)


def test_a_build_that_disagrees_with_the_python_layer_is_never_used() -> None:
    mod: Any = MOD
    assert mod is not None

    class Skewed:
        lower = mod.lower

        @staticmethod
        def lift(d: Any, addr: int) -> Any:
            v = mod.lift(d, addr)
            return v + 1 if type(v) is int else v

    problem = native._self_check(Skewed)  # type: ignore[arg-type]
    assert problem is not None and "lifting gave" in problem


def test_no_compiler_means_the_python_layer_and_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(out_dir: Path | None = None) -> Path:
        raise RuntimeError("cc: not found")

    monkeypatch.setattr(native, "_dirs", lambda: [tmp_path])
    monkeypatch.setattr(native, "build", refuse)
    mod, reason = native._load_checked()
    assert mod is None
    assert "cc: not found" in reason and "Python value layer runs alone" in reason


def test_build_writes_one_file_named_by_the_source_and_the_abi(tmp_path: Path) -> None:
    built = native.build(tmp_path)
    assert built.parent == tmp_path and built.name == native._tag()
    assert native.build(tmp_path) == built  # present: not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [built.name]  # no temporary left behind
