"""Lifting: ``wasmtime_component_val_t`` trees (owned by wasmtime) → Python model values.

Decoders read the tree in place: :data:`MEMORY` is a ``memoryview`` spanning the process's
address space, so a slot at address ``a`` is decoded with ``struct.unpack_from(MEMORY, a)`` and a
string with ``str(MEMORY[p:p + n], "utf-8")`` — no copy, no FFI call (measured: 0.2 µs per slot
against 0.7 µs for ``ctypes.string_at``).  Only addresses handed out by wasmtime for the value
being lifted are ever read.  The caller frees the whole tree with one
``wasmtime_component_val_delete`` afterwards.

The decoders trust the value kinds: they are only ever used on functions whose types were proven
equal to our WIT (see :mod:`reference_host.inspect`), so the tree has exactly the expected shape.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import partial
from struct import Struct
from typing import Any

from reference_host.abi import schema as s
from reference_host.abi.lower import ENTRY, VAL
from reference_host.types import Err, Ok

Decoder = Callable[[int], Any]

MEMORY = memoryview((ctypes.c_ubyte * (1 << 47)).from_address(0)).cast("B")
"""The process's address space as bytes (read-only use: decoding wasmtime-owned values)."""

_M = MEMORY
_U_PTR2 = Struct("<8xQQ").unpack_from  # (size, data)
_U_VAR = Struct("<8xQQQ").unpack_from  # (name size, name ptr, payload ptr)
_U_PTR = Struct("<8xQ").unpack_from
_U_RES = Struct("<8x?7xQ").unpack_from
_PRIMS = {
    "u8": "<8xB",
    "u16": "<8xH",
    "u32": "<8xI",
    "u64": "<8xQ",
    "s8": "<8xb",
    "s16": "<8xh",
    "s32": "<8xi",
    "s64": "<8xq",
    "f32": "<8xf",
    "f64": "<8xd",
    "bool": "<8x?",
}

_CACHE: dict[s.Ty, Decoder] = {}
"""Memo keyed by the descriptor itself (structural equality), never by ``id()``: a temporary
descriptor's id is reused after it is freed."""


_PY_CACHE: dict[s.Ty, Decoder] = {}


def decoder(ty: s.Ty) -> Decoder:
    """The decoder for ``ty`` (memoized): ``dec(slot_address) -> value``.

    The native layer's (:mod:`reference_host.abi.native`) when it is built, else the Python one.
    """
    hit = _CACHE.get(ty)
    if hit is None:
        from reference_host.abi import native

        mod = native.module()
        hit = _CACHE[ty] = (
            partial(mod.lift, native.descriptor(ty)) if mod is not None else python_decoder(ty)
        )
    return hit


def python_decoder(ty: s.Ty) -> Decoder:
    """The Python decoder for ``ty`` (memoized), nested values included."""
    hit = _PY_CACHE.get(ty)
    if hit is None:
        hit = _PY_CACHE[ty] = _make(ty)
    return hit


def _make(ty: s.Ty) -> Decoder:
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
    raise TypeError(f"no decoder for {ty!r}")


def read_string(size: int, ptr: int) -> str:
    """Decode ``size`` UTF-8 bytes at ``ptr``."""
    return str(_M[ptr : ptr + size], "utf-8") if size else ""


def _prim(ty: s.Prim) -> Decoder:
    if ty.wit == "string":

        def dec_string(a: int) -> str:
            n, p = _U_PTR2(_M, a)
            return str(_M[p : p + n], "utf-8") if n else ""

        return dec_string
    if ty.wit == "char":
        unpack_char = Struct("<8xI").unpack_from

        def dec_char(a: int) -> str:
            return chr(unpack_char(_M, a)[0])

        return dec_char
    unpack = Struct(_PRIMS[ty.wit]).unpack_from

    def dec_prim(a: int) -> Any:
        return unpack(_M, a)[0]

    return dec_prim


def _record(ty: s.Record) -> Decoder:
    """Generate one decoder function per record, inlining string / integer / enum fields."""
    ns: dict[str, Any] = {"M": _M, "U2": _U_PTR2, "U1": _U_PTR, "UV": _U_VAR, "cls": ty.cls}
    lines = ["def dec_record(a):", "    _n, p = U2(M, a)"]
    out = []
    for i, (_name, _attr, fty) in enumerate(ty.fields):
        o = i * ENTRY + 16
        v = f"v{i}"
        out.append(v)
        if isinstance(fty, s.Prim) and fty.wit == "string":
            lines += [
                f"    n, q = U2(M, p + {o})",
                f"    {v} = str(M[q : q + n], 'utf-8') if n else ''",
            ]
        elif isinstance(fty, s.Prim) and fty.wit in _PRIMS:
            ns[f"P{i}"] = Struct(_PRIMS[fty.wit]).unpack_from
            lines.append(f"    ({v},) = P{i}(M, p + {o})")
        elif isinstance(fty, s.Enum):
            ns[f"T{i}"] = {m.value.encode(): m for m in fty.cls}
            read = "n, q, _pp = UV(M, p + {o})" if fty.as_variant else "n, q = U2(M, p + {o})"
            lines += [f"    {read.format(o=o)}", f"    {v} = T{i}[M[q : q + n].tobytes()]"]
        elif (
            isinstance(fty, s.Option) and isinstance(fty.elem, s.Prim) and fty.elem.wit == "string"
        ):
            lines += [
                f"    (q,) = U1(M, p + {o})",
                "    if q:",
                "        n, q = U2(M, q)",
                f"        {v} = str(M[q : q + n], 'utf-8') if n else ''",
                "    else:",
                f"        {v} = None",
            ]
        elif isinstance(fty, s.Option):
            ns[f"F{i}"] = python_decoder(fty.elem)
            lines += [f"    (q,) = U1(M, p + {o})", f"    {v} = F{i}(q) if q else None"]
        elif isinstance(fty, s.List):
            ns[f"F{i}"] = python_decoder(fty.elem)
            lines += [
                f"    n, q = U2(M, p + {o})",
                f"    {v} = [F{i}(x) for x in range(q, q + n * {VAL}, {VAL})] if n else []",
            ]
        else:
            ns[f"F{i}"] = python_decoder(fty)
            lines.append(f"    {v} = F{i}(p + {o})")
    lines.append(f"    return cls({', '.join(out)})")
    exec("\n".join(lines), ns)  # noqa: S102 - generated from our own schema, no outside input
    fn: Decoder = ns["dec_record"]
    return fn


def _list(ty: s.List) -> Decoder:
    f = python_decoder(ty.elem)

    def dec_list(a: int) -> list[Any]:
        n, p = _U_PTR2(_M, a)
        return [f(x) for x in range(p, p + n * VAL, VAL)] if n else []

    return dec_list


_U_STR_PAIR = Struct("<8xQQ8x8xQQ").unpack_from  # two string slots: (n0, p0, n1, p1)


def _tuple(ty: s.Tuple) -> Decoder:
    if ty.elems == (s.STRING, s.STRING):  # metadata / headers / details: one read per pair

        def dec_str_pair(a: int) -> tuple[str, str]:
            _n, p = _U_PTR2(_M, a)
            n0, p0, n1, p1 = _U_STR_PAIR(_M, p)
            return (
                str(_M[p0 : p0 + n0], "utf-8") if n0 else "",
                str(_M[p1 : p1 + n1], "utf-8") if n1 else "",
            )

        return dec_str_pair
    plan = [(python_decoder(e), i * VAL) for i, e in enumerate(ty.elems)]

    def dec_tuple(a: int) -> tuple[Any, ...]:
        _n, p = _U_PTR2(_M, a)
        return tuple([f(p + o) for f, o in plan])

    return dec_tuple


def _option(ty: s.Option) -> Decoder:
    f = python_decoder(ty.elem)

    def dec_option(a: int) -> Any:
        (p,) = _U_PTR(_M, a)
        return f(p) if p else None

    return dec_option


def _enum(ty: s.Enum) -> Decoder:
    table = {m.value.encode(): m for m in ty.cls}

    def dec_enum(a: int) -> Any:
        n, p = _U_PTR2(_M, a)
        return table[_M[p : p + n].tobytes()]

    return dec_enum


def _tagged(ty: s.Tagged) -> Decoder:
    cls = ty.cls
    table = {
        case.encode(): (case, python_decoder(pty) if pty is not None else None)
        for case, pty in ty.cases
    }

    def dec_tagged(a: int) -> Any:
        n, np, pp = _U_VAR(_M, a)
        case, f = table[_M[np : np + n].tobytes()]
        return cls(case, f(pp) if f is not None else None)

    return dec_tagged


def _byclass(ty: s.ByClass) -> Decoder:
    table = {
        case.encode(): (python_decoder(pty), cls if wrapped else None)
        for case, cls, pty, wrapped in ty.cases
    }

    def dec_byclass(a: int) -> Any:
        n, np, pp = _U_VAR(_M, a)
        f, wrap = table[_M[np : np + n].tobytes()]
        v = f(pp)
        return wrap(v) if wrap is not None else v

    return dec_byclass


def _result(ty: s.Result) -> Decoder:
    fok = python_decoder(ty.ok) if ty.ok is not None else None
    ferr = python_decoder(ty.err) if ty.err is not None else None

    def dec_result(a: int) -> Any:
        ok, p = _U_RES(_M, a)
        if ok:
            return Ok(fok(p) if fok is not None and p else None)
        return Err(ferr(p) if ferr is not None and p else None)

    return dec_result


def lift_slots(addr: int, decoders: list[Decoder]) -> list[Any]:
    """Decode ``len(decoders)`` consecutive value slots starting at ``addr``."""
    return [f(addr + i * VAL) for i, f in enumerate(decoders)]
