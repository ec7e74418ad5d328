"""Lowering: Python model values → ``wasmtime_component_val_t`` trees, written in one arena.

wasmtime's C API *borrows* call arguments (``wasmtime_component_func_call`` clones them into Rust
values), so the whole argument tree — value slots, record entries, list blocks and string bytes —
is laid out by ``struct.pack_into`` in a single Python-owned buffer: no allocation through the
C API and no FFI call per value.  The layout (wasmtime 50, 64-bit)::

    wasmtime_component_val_t   32 bytes: u8 kind, 7 pad, 24-byte union at offset 8
    string / enum / list /     union = {size_t size; T *data}
      record / tuple
    variant                    union = {wasm_name_t discriminant; val_t *payload}
    option                     union = {val_t *some_or_null}
    result                     union = {bool is_ok; 7 pad; val_t *payload_or_null}
    record entry               48 bytes: wasm_name_t name (16) + val_t (32)

Field and case names live in static buffers made once per type.  Every encoder checks the
Python type and integer ranges *before* anything reaches the guest, raising
:class:`~reference_host.errors.ValueConversionError` (stock wasmtime-py silently wraps
out-of-range integers, and an invalid enum name poisons the instance).

**Why this is one long module**: one encoder per kind of WIT type, all writing the layout drawn
above with the same packers; this is the one place that knows that layout
(:mod:`reference_host.abi.lift` reads it), and splitting the encoders would separate them from it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from struct import Struct
from typing import Any

from reference_host.abi import schema as s
from reference_host.errors import ValueConversionError

VAL = 32
ENTRY = 48

BOOL, S8, U8, S16, U16, S32, U32, S64, U64, F32, F64, CHAR, STRING = range(13)
LIST, RECORD, TUPLE, VARIANT, ENUM, OPTION, RESULT = range(13, 20)

_P_PTR2 = Struct("<B7xQQ").pack_into  # string, list, record, tuple, enum
_P_VAR = Struct("<B7xQQQ").pack_into
_P_PTR = Struct("<B7xQ").pack_into  # option
_P_RES = Struct("<B7x?7xQ").pack_into
_P_NAME = Struct("<QQ").pack_into

_RANGES: dict[str, tuple[int, int, Struct, int]] = {
    wit: (lo, hi, Struct(f"<B7x{code}"), kind)
    for (wit, (lo, hi)), code, kind in zip(
        s.INT_RANGES.items(), "BHIQbhiq", (U8, U16, U32, U64, S8, S16, S32, S64), strict=True
    )
}

Encoder = Callable[[Any, "Arena", int], None]


class ArenaFull(Exception):
    """Internal: the arena is too small for this value; the caller grows it and retries."""


class Arena:
    """A bump-allocated, Python-owned buffer holding one argument tree."""

    __slots__ = ("base", "buf", "limit", "mv", "top")

    def __init__(self, size: int = 1 << 16) -> None:
        self.buf = ctypes.create_string_buffer(size)
        self.base = ctypes.addressof(self.buf)
        self.mv = memoryview(self.buf).cast("B")
        self.top = 0
        self.limit = size

    def grown(self) -> Arena:
        """A fresh arena twice as large."""
        return Arena(self.limit * 2)


_STATIC: list[Any] = []  # keeps the static name buffers alive for the life of the process
_NAMES: dict[str, tuple[int, int]] = {}


def static_name(name: str) -> tuple[int, int]:
    """(size, address) of a process-lifetime buffer holding ``name`` in UTF-8."""
    hit = _NAMES.get(name)
    if hit is None:
        raw = name.encode()
        buf = ctypes.create_string_buffer(raw, len(raw) + 1)
        _STATIC.append(buf)
        hit = _NAMES[name] = (len(raw), ctypes.addressof(buf))
    return hit


def _bad(ty: s.Ty, value: Any, why: str = "") -> ValueConversionError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ValueConversionError(
        f"cannot pass {type(value).__name__} {shown} as WIT {ty.wit}{': ' + why if why else ''}"
    )


_CACHE: dict[s.Ty, Encoder] = {}
"""Memo keyed by the descriptor itself (structural equality), never by ``id()``: a temporary
descriptor's id is reused after it is freed."""


_PY_CACHE: dict[s.Ty, Encoder] = {}


def encoder(ty: s.Ty) -> Encoder:
    """The encoder for ``ty`` (memoized): ``enc(value, arena, slot_offset)``.

    The native layer's (:mod:`reference_host.abi.native`) when it is built, else the Python one.
    """
    hit = _CACHE.get(ty)
    if hit is None:
        from reference_host.abi import native

        mod = native.module()
        hit = _CACHE[ty] = _native(ty, mod) if mod is not None else python_encoder(ty)
    return hit


def python_encoder(ty: s.Ty) -> Encoder:
    """The Python encoder for ``ty`` (memoized), nested values included."""
    hit = _PY_CACHE.get(ty)
    if hit is None:
        hit = _PY_CACHE[ty] = _make(ty)
    return hit


def _native(ty: s.Ty, mod: Any) -> Encoder:
    from reference_host.abi.native import descriptor

    d = descriptor(ty)
    low = mod.lower
    fallback = python_encoder(ty)

    def enc_native(v: Any, a: Arena, off: int) -> None:
        top = low(d, v, a.base, a.limit, a.top, off)
        if top >= 0:
            a.top = top
        elif top == -1:
            raise ArenaFull
        else:  # the value does not fit: the Python encoder names the problem
            fallback(v, a, off)

    return enc_native


def _make(ty: s.Ty) -> Encoder:
    if isinstance(ty, s.Prim):
        return _prim(ty)
    if isinstance(ty, s.Record):
        return _record(ty)
    if isinstance(ty, s.List):
        return _list(ty)
    if isinstance(ty, s.Option):
        return _option(ty)
    if isinstance(ty, s.Tuple):
        return _tuple(ty)
    if isinstance(ty, s.Enum):
        return _enum(ty)
    if isinstance(ty, s.Tagged):
        return _tagged(ty)
    if isinstance(ty, s.ByClass):
        return _byclass(ty)
    if isinstance(ty, s.Result):
        return _result(ty)
    raise TypeError(f"no encoder for {ty!r}")


def _prim(ty: s.Prim) -> Encoder:
    wit = ty.wit
    if wit == "string":

        def enc_string(v: Any, a: Arena, off: int) -> None:
            if not isinstance(v, str):
                raise _bad(ty, v)
            try:
                b = v.encode()
            except UnicodeEncodeError as exc:
                raise _bad(ty, v, "not valid Unicode (lone surrogate)") from exc
            p = a.top
            e = p + len(b)
            if e > a.limit:
                raise ArenaFull
            a.top = (e + 7) & -8
            a.mv[p:e] = b
            _P_PTR2(a.mv, off, STRING, e - p, a.base + p)

        return enc_string
    if wit == "bool":
        pack_bool = Struct("<B7x?").pack_into

        def enc_bool(v: Any, a: Arena, off: int) -> None:
            if type(v) is not bool:
                raise _bad(ty, v)
            pack_bool(a.mv, off, BOOL, v)

        return enc_bool
    if wit in ("f64", "f32"):
        pack_f = Struct("<B7xd" if wit == "f64" else "<B7xf").pack_into
        kind = F64 if wit == "f64" else F32

        def enc_float(v: Any, a: Arena, off: int) -> None:
            if type(v) is not float:
                if type(v) is not int:
                    raise _bad(ty, v)
                try:
                    v = float(v)
                except OverflowError as exc:
                    raise _bad(ty, v, "out of range") from exc
            pack_f(a.mv, off, kind, v)

        return enc_float
    if wit == "char":

        def enc_char(v: Any, a: Arena, off: int) -> None:
            if not isinstance(v, str) or len(v) != 1 or 0xD800 <= ord(v) <= 0xDFFF:
                raise _bad(ty, v, "expected one Unicode scalar value")
            _P_PTR(a.mv, off, CHAR, ord(v))

        return enc_char
    lo, hi, st, kind = _RANGES[wit]
    pack_int = st.pack_into

    def enc_int(v: Any, a: Arena, off: int) -> None:
        if type(v) is not int:
            raise _bad(ty, v)
        if not lo <= v <= hi:
            raise _bad(ty, v, f"out of range [{lo}, {hi}]")
        pack_int(a.mv, off, kind, v)

    return enc_int


def _record(ty: s.Record) -> Encoder:
    """Generate one encoder function per record, inlining string / integer / enum fields."""
    n = len(ty.fields)
    template = bytearray(n * ENTRY)
    for i, (name, _attr, _fty) in enumerate(ty.fields):
        _P_NAME(template, i * ENTRY, *static_name(name))
    ns: dict[str, Any] = {
        "cls": ty.cls,
        "TMPL": bytes(template),
        "P2": _P_PTR2,
        "P1": _P_PTR,
        "Full": ArenaFull,
        "bad": _bad,
        "TY": ty,
        "RECORD": RECORD,
        "STRING": STRING,
        "ENUM": ENUM,
        "OPTION": OPTION,
        "LIST": LIST,
        "VARIANT": VARIANT,
        "PV": _P_VAR,
    }
    attrs = [attr for _n, attr, _t in ty.fields]
    lines = [
        "def enc_record(v, a, off):",
        "    if type(v) is not cls:",
        "        raise bad(TY, v, 'expected ' + cls.__name__)",
        f"    {', '.join(f'x{i}' for i in range(n))}{',' if n == 1 else ''} = "
        + ", ".join(f"v.{attr}" for attr in attrs),
        "    p = a.top",
        f"    e = p + {n * ENTRY}",
        "    if e > a.limit:",
        "        raise Full",
        "    a.top = e",
        "    mv = a.mv",
        "    base = a.base",
        "    mv[p:e] = TMPL",
        f"    P2(mv, off, RECORD, {n}, base + p)",
    ]
    for i, (_name, _attr, fty) in enumerate(ty.fields):
        o = i * ENTRY + 16
        x = f"x{i}"
        ns[f"T{i}"] = fty
        if isinstance(fty, s.Prim) and fty.wit == "string":
            lines += _inline_string(x, f"p + {o}", f"T{i}", "    ")
        elif isinstance(fty, s.Option) and fty.elem == s.STRING:
            lines += _inline_option(x, o, _inline_string(x, "slot", f"T{i}.elem", "        "))
        elif isinstance(fty, s.Prim) and fty.wit in _RANGES:
            lo, hi, st, kind = _RANGES[fty.wit]
            ns[f"PI{i}"] = st.pack_into
            lines += [
                f"    if type({x}) is not int or not {lo} <= {x} <= {hi}:",
                f"        raise bad(T{i}, {x}, 'expected an integer in [{lo}, {hi}]')",
                f"    PI{i}(mv, p + {o}, {kind}, {x})",
            ]
        elif isinstance(fty, s.Enum):
            ns[f"E{i}"] = {case: static_name(case) for case in fty.cases}
            write = (
                f"    PV(mv, p + {o}, VARIANT, nn, na, 0)"
                if fty.as_variant
                else f"    P2(mv, p + {o}, ENUM, nn, na)"
            )
            lines += [
                "    try:",
                f"        nn, na = E{i}[{x}]",
                "    except (KeyError, TypeError):",
                f"        raise bad(T{i}, {x}, 'expected one of ' + ', '.join(E{i})) from None",
                write,
            ]
        elif isinstance(fty, s.Option):
            ns[f"F{i}"] = python_encoder(fty.elem)
            lines += _inline_option(x, o, [f"        F{i}({x}, a, slot)"])
        elif isinstance(fty, s.List):
            ns[f"F{i}"] = python_encoder(fty.elem)
            lines += [
                f"    if not isinstance({x}, list | tuple):",
                f"        raise bad(T{i}, {x}, 'expected a list')",
                "    q = a.top",
                f"    r = q + len({x}) * 32",
                "    if r > a.limit:",
                "        raise Full",
                "    a.top = r",
                f"    P2(mv, p + {o}, LIST, len({x}), base + q)",
                f"    for item in {x}:",
                f"        F{i}(item, a, q)",
                "        q += 32",
            ]
        else:
            ns[f"F{i}"] = python_encoder(fty)
            lines.append(f"    F{i}({x}, a, p + {o})")
    exec("\n".join(lines), ns)  # noqa: S102 - generated from our own schema, no outside input
    fn: Encoder = ns["enc_record"]
    return fn


def _inline_option(x: str, o: int, some: list[str]) -> list[str]:
    """Source lines writing option ``x`` at field offset ``o``; ``some`` fills ``slot``."""
    return [
        f"    if {x} is None:",
        f"        P1(mv, p + {o}, OPTION, 0)",
        "    else:",
        "        slot = a.top",
        "        if slot + 32 > a.limit:",
        "            raise Full",
        "        a.top = slot + 32",
        f"        P1(mv, p + {o}, OPTION, base + slot)",
        *some,
    ]


def _inline_string(x: str, slot: str, ty: str, ind: str) -> list[str]:
    """Source lines writing the string ``x`` into the value slot at ``slot``."""
    return [
        f"{ind}if type({x}) is not str:",
        f"{ind}    if not isinstance({x}, str):",
        f"{ind}        raise bad({ty}, {x})",
        f"{ind}try:",
        f"{ind}    b = {x}.encode()",
        f"{ind}except UnicodeEncodeError:",
        f"{ind}    raise bad({ty}, {x}, 'not valid Unicode (lone surrogate)') from None",
        f"{ind}q = a.top",
        f"{ind}r = q + len(b)",
        f"{ind}if r > a.limit:",
        f"{ind}    raise Full",
        f"{ind}a.top = (r + 7) & -8",
        f"{ind}mv[q:r] = b",
        f"{ind}P2(mv, {slot}, STRING, r - q, base + q)",
    ]


def _list(ty: s.List) -> Encoder:
    f = python_encoder(ty.elem)

    def enc_list(v: Any, a: Arena, off: int) -> None:
        if not isinstance(v, list | tuple):
            raise _bad(ty, v, "expected a list")
        n = len(v)
        p = a.top
        e = p + n * VAL
        if e > a.limit:
            raise ArenaFull
        a.top = e
        _P_PTR2(a.mv, off, LIST, n, a.base + p)
        for x in v:
            f(x, a, p)
            p += VAL

    return enc_list


_P_STR_PAIR = Struct("<B7xQQ8xB7xQQ").pack_into  # two string slots side by side


def _str_pair(ty: s.Tuple) -> Encoder:
    def enc_str_pair(v: Any, a: Arena, off: int) -> None:
        if not isinstance(v, tuple | list) or len(v) != 2:
            raise _bad(ty, v, "expected a 2-tuple")
        k, w = v
        if not (isinstance(k, str) and isinstance(w, str)):
            raise _bad(ty, v, "expected two strings")
        try:
            bk, bw = k.encode(), w.encode()
        except UnicodeEncodeError as exc:
            raise _bad(ty, v, "not valid Unicode (lone surrogate)") from exc
        p = a.top
        q = p + 2 * VAL
        r = q + len(bk)
        t = ((r + 7) & -8) + len(bw)
        if t > a.limit:
            raise ArenaFull
        a.top = (t + 7) & -8
        mv, base = a.mv, a.base
        rr = (r + 7) & -8
        mv[q:r] = bk
        mv[rr:t] = bw
        _P_STR_PAIR(mv, p, STRING, len(bk), base + q, STRING, len(bw), base + rr)
        _P_PTR2(mv, off, TUPLE, 2, base + p)

    return enc_str_pair


def _tuple(ty: s.Tuple) -> Encoder:
    if ty.elems == (s.STRING, s.STRING):
        return _str_pair(ty)
    fs = [python_encoder(e) for e in ty.elems]
    n = len(fs)

    def enc_tuple(v: Any, a: Arena, off: int) -> None:
        if not isinstance(v, tuple | list) or len(v) != n:
            raise _bad(ty, v, f"expected a {n}-tuple")
        p = a.top
        e = p + n * VAL
        if e > a.limit:
            raise ArenaFull
        a.top = e
        _P_PTR2(a.mv, off, TUPLE, n, a.base + p)
        for f, x in zip(fs, v, strict=True):
            f(x, a, p)
            p += VAL

    return enc_tuple


def _option(ty: s.Option) -> Encoder:
    f = python_encoder(ty.elem)

    def enc_option(v: Any, a: Arena, off: int) -> None:
        if v is None:
            _P_PTR(a.mv, off, OPTION, 0)
            return
        p = a.top
        if p + VAL > a.limit:
            raise ArenaFull
        a.top = p + VAL
        _P_PTR(a.mv, off, OPTION, a.base + p)
        f(v, a, p)

    return enc_option


def _enum(ty: s.Enum) -> Encoder:
    table = {case: static_name(case) for case in ty.cases}
    if ty.as_variant:

        def enc_variant_enum(v: Any, a: Arena, off: int) -> None:
            try:
                n, addr = table[v]
            except (KeyError, TypeError):
                raise _bad(ty, v, f"expected one of {', '.join(table)}") from None
            _P_VAR(a.mv, off, VARIANT, n, addr, 0)

        return enc_variant_enum

    def enc_enum(v: Any, a: Arena, off: int) -> None:
        try:
            n, addr = table[v]
        except (KeyError, TypeError):
            raise _bad(ty, v, f"expected one of {', '.join(table)}") from None
        _P_PTR2(a.mv, off, ENUM, n, addr)

    return enc_enum


def _payload_case(
    a: Arena, off: int, name: tuple[int, int], f: Encoder | None, payload: Any
) -> None:
    if f is None:
        _P_VAR(a.mv, off, VARIANT, name[0], name[1], 0)
        return
    p = a.top
    if p + VAL > a.limit:
        raise ArenaFull
    a.top = p + VAL
    _P_VAR(a.mv, off, VARIANT, name[0], name[1], a.base + p)
    f(payload, a, p)


def _tagged(ty: s.Tagged) -> Encoder:
    cls = ty.cls
    table = {
        case: (static_name(case), python_encoder(pty) if pty is not None else None)
        for case, pty in ty.cases
    }

    def enc_tagged(v: Any, a: Arena, off: int) -> None:
        if type(v) is not cls:
            raise _bad(ty, v, f"expected {cls.__name__}")
        name, f = table[v.case]
        if f is None and v.value is not None:
            raise _bad(ty, v, f"case {v.case} has no payload")
        _payload_case(a, off, name, f, v.value)

    return enc_tagged


def _byclass(ty: s.ByClass) -> Encoder:
    table = {
        cls: (static_name(case), python_encoder(pty), wrapped)
        for case, cls, pty, wrapped in ty.cases
    }

    def enc_byclass(v: Any, a: Arena, off: int) -> None:
        try:
            name, f, wrapped = table[type(v)]
        except KeyError:
            names = ", ".join(c.__name__ for c in table)
            raise _bad(ty, v, f"expected one of {names}") from None
        _payload_case(a, off, name, f, v.value if wrapped else v)

    return enc_byclass


def _result(ty: s.Result) -> Encoder:
    from reference_host.types import Err, Ok

    fok = python_encoder(ty.ok) if ty.ok is not None else None
    ferr = python_encoder(ty.err) if ty.err is not None else None
    err_cls = ty.err.cls if isinstance(ty.err, s.Tagged) else None

    def enc_result(v: Any, a: Arena, off: int) -> None:
        if type(v) is Err:
            ok, f, payload = False, ferr, v.error
        elif err_cls is not None and type(v) is err_cls:
            ok, f, payload = False, ferr, v
        else:
            ok, f, payload = True, fok, (v.value if type(v) is Ok else v)
        if f is None:
            if payload is not None:
                raise _bad(ty, v, f"the {'ok' if ok else 'err'} side carries no value")
            _P_RES(a.mv, off, RESULT, ok, 0)
            return
        p = a.top
        if p + VAL > a.limit:
            raise ArenaFull
        a.top = p + VAL
        _P_RES(a.mv, off, RESULT, ok, a.base + p)
        f(payload, a, p)

    return enc_result


def lower_into(arena: Arena, encoders: list[Encoder], values: tuple[Any, ...]) -> Arena:
    """Write ``values`` as consecutive slots at the start of ``arena`` (growing it if needed).

    Returns the arena actually used (a larger one when the given one was too small).
    """
    while True:
        arena.top = len(encoders) * VAL
        try:
            for i, (f, v) in enumerate(zip(encoders, values, strict=True)):
                f(v, arena, i * VAL)
        except ArenaFull:
            arena = arena.grown()
            continue
        return arena
