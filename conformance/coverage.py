"""Events that reach every choice point of the WIT ``event`` type, one at a time (ERR-001).

Random generation finds rare inputs only by luck.  :func:`coverage_events` starts from real
events (one per ``event-data`` case of the workload) and changes one thing each time, walking the
WIT type tree: every case of every variant and enum (each operation type, memo type, asset type,
event type, ``event-data`` case), both states of every option, empty and long lists (1,000
elements), empty, long (64 KiB) and non-ASCII strings, the bounds of every integer.  Everything
else of the event stays as in the real one, so the change reaches the code that reads it.
Deterministic: the same workload gives the same events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from reference_host import types as t
from reference_host.abi import schema as s

LONG_STRING = 64 * 1024
LONG_LIST = 1000
UNICODE = "ünïcødé ✓ 𝄞 \u202e\u0000 end"


def default(ty: s.Ty) -> Any:
    """A small valid value of ``ty`` (the payload of a case a real event does not carry)."""
    if isinstance(ty, s.Prim):
        if ty.wit == "string":
            return "conformance"
        if ty.wit == "bool":
            return False
        if ty.wit in ("f32", "f64"):
            return 1.0
        if ty.wit == "char":
            return "c"
        return 1
    if isinstance(ty, s.Enum):
        return next(iter(ty.cls))
    if isinstance(ty, s.Option):
        return None
    if isinstance(ty, s.List):
        return b"" if ty.elem == s.Prim("u8") else []
    if isinstance(ty, s.Tuple):
        return tuple(default(e) for e in ty.elems)
    if isinstance(ty, s.Record):
        return ty.cls(*[default(f) for _n, _a, f in ty.fields])
    if isinstance(ty, s.Tagged):
        case, pty = ty.cases[0]
        return ty.cls(case) if pty is None else ty.cls(case, default(pty))
    if isinstance(ty, s.ByClass):
        _case, cls, pty, wrapped = ty.cases[0]
        return cls(default(pty)) if wrapped else default(pty)
    raise TypeError(f"no default for {ty!r}")


def _prim(ty: s.Prim, value: Any) -> Iterator[tuple[str, Any]]:
    if ty.wit == "string":
        candidates: list[tuple[str, Any]] = [
            ("empty", ""), ("long", "x" * LONG_STRING), ("unicode", UNICODE),
        ]  # fmt: skip
    elif ty.wit == "bool":
        candidates = [(str(not value).lower(), not value)]
    elif ty.wit in ("f32", "f64"):
        candidates = [("0", 0.0), ("max", 1.7976931348623157e308), ("min", -1.7976931348623157e308)]
    elif ty.wit == "char":
        candidates = [("unicode", "𝄞")]
    else:
        lo, hi = s.INT_RANGES[ty.wit]
        candidates = [("min", lo), ("max", hi)] + ([("0", 0)] if lo < 0 else [])
    for label, new in candidates:
        if new != value:
            yield label, new


def variants(ty: s.Ty, value: Any) -> Iterator[tuple[str, Any]]:
    """``(what changed, new value)`` for each single change of ``value`` (of WIT type ``ty``)."""
    if isinstance(ty, s.Prim):
        yield from _prim(ty, value)
    elif isinstance(ty, s.Enum):
        for member in ty.cls:
            if member != value:
                yield member.value, member
    elif isinstance(ty, s.Option):
        if value is None:
            inner = default(ty.elem)
            yield "some", inner
            for label, new in variants(ty.elem, inner):
                yield f"some({label})", new
        else:
            yield "none", None
            for label, new in variants(ty.elem, value):
                yield f"some({label})", new
    elif isinstance(ty, s.List):
        yield from _list(ty, value)
    elif isinstance(ty, s.Tuple):
        for i, elem_ty in enumerate(ty.elems):
            for label, new in variants(elem_ty, value[i]):
                yield f"[{i}]={label}", (*value[:i], new, *value[i + 1 :])
    elif isinstance(ty, s.Record):
        for name, attr, field_ty in ty.fields:
            for label, new in variants(field_ty, getattr(value, attr)):
                yield f"{name}.{label}", dataclasses.replace(value, **{attr: new})
    elif isinstance(ty, s.Tagged):
        for case, pty in ty.cases:
            if case != value.case:
                yield case, ty.cls(case) if pty is None else ty.cls(case, default(pty))
    elif isinstance(ty, s.ByClass):
        yield from _by_class(ty, value)


def _list(ty: s.List, value: Sequence[Any]) -> Iterator[tuple[str, Any]]:
    if isinstance(value, bytes | bytearray):
        return
    first = value[0] if value else default(ty.elem)
    if value:
        yield "empty", []
    yield f"long({LONG_LIST})", [first] * LONG_LIST
    rest = list(value[1:])
    for label, new in variants(ty.elem, first):
        yield f"[0].{label}", [new, *rest]


def _by_class(ty: s.ByClass, value: Any) -> Iterator[tuple[str, Any]]:
    for case, cls, pty, wrapped in ty.cases:
        payload: Any = getattr(value, "value", None) if wrapped else value
        if isinstance(value, cls):
            for label, new in variants(pty, payload):
                yield f"{case}.{label}", cls(new) if wrapped else new
        else:
            inner = default(pty)
            yield case, cls(inner) if wrapped else inner


def coverage_events(base: Sequence[t.Event], limit: int = 2000) -> list[t.Event]:
    """One-change variants of one event per ``event-data`` case of ``base`` (at most ``limit``).

    Each variant's id is ``<base id>~<what changed>`` (so a finding names the input), unless
    the id itself is what changed.
    """
    seen: set[type] = set()
    bases = []
    for event in base:
        if type(event.data) not in seen:
            seen.add(type(event.data))
            bases.append(event)
    if not bases:
        bases = [default(s.EVENT)]
    out: list[t.Event] = []
    for event in bases:
        for label, new in variants(s.EVENT, event):
            if not label.startswith("id."):
                new = dataclasses.replace(new, id=f"{event.id}~{label}"[:200])
            out.append(new)
            if len(out) >= limit:
                return out
    return out
