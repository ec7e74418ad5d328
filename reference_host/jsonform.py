"""The documented JSON form of every WIT value, and a JSON Schema for it.

Rules (derived from the type descriptors in :mod:`reference_host.abi.schema`, so they hold for
every type of the package):

- record → object keyed by the WIT field names (``source-component``; ``from`` and ``result``
  without the ``%``); every field is required, ``option`` fields may be ``null``;
- enum, and a variant case without payload (``operation-type``, ``processor-error`` ``timeout``)
  → the case name as a string;
- variant case with payload → a one-key object ``{"<case>": payload}``
  (``{"stellar-transaction": {...}}``, ``{"invalid-event": "bad body"}``);
- option → ``null`` or the value; list and tuple → array; string → string; integers → integer
  (range-checked); ``f64`` → number; bool → boolean;
- result → ``{"ok": value}`` or ``{"err": error}``.

Used by fixtures, the CLI (JSONL in and out) and, later, gRPC payloads.
"""

from __future__ import annotations

import json
from typing import Any, cast

from reference_host.abi import schema as s
from reference_host.errors import ValueConversionError
from reference_host.types import Err, Event, Ok

_INT_RANGES = s.INT_RANGES


def to_json(ty: s.Ty, value: Any) -> Any:
    """The JSON form (plain dicts/lists/scalars) of ``value`` of type ``ty``."""
    fast = _fast()
    if fast is not None:
        out = fast.to_json(_descriptor(ty), value)
        if out is not fast.MISMATCH:
            return out
    return _to_json_py(ty, value)


def from_json(ty: s.Ty, data: Any, path: str = "$") -> Any:
    """Parse the JSON form of a value of type ``ty``; errors name the JSON path."""
    fast = _fast()
    if fast is not None:
        out = fast.from_json(_descriptor(ty), data)
        if out is not fast.MISMATCH:
            return out
    return _from_json_py(ty, data, path)  # names the JSON path of the problem


_FAST: list[Any] = []
_BY_ID: dict[int, tuple[s.Ty, Any]] = {}
"""Descriptor memo by ``id``, holding the type itself: a held object's id cannot be reused, and
hashing a type (a frozen dataclass, hashed field by field) costs microseconds per call."""


def _fast() -> Any:
    """The native value layer (which also has the JSON form), or None."""
    if not _FAST:
        from reference_host.abi import native

        _FAST.append(native.module())
    return _FAST[0]


def _descriptor(ty: s.Ty) -> Any:
    hit = _BY_ID.get(id(ty))
    if hit is not None and hit[0] is ty:
        return hit[1]
    from reference_host.abi.native import descriptor

    if len(_BY_ID) > 4096:  # types made per call: keep the memo bounded
        _BY_ID.clear()
    d = descriptor(ty)
    _BY_ID[id(ty)] = (ty, d)
    return d


def _to_json_py(ty: s.Ty, value: Any) -> Any:
    """:func:`to_json` in Python (the reference the native layer is checked against)."""
    if isinstance(ty, s.Prim):
        return value
    if isinstance(ty, s.Record):
        return {name: _to_json_py(fty, getattr(value, attr)) for name, attr, fty in ty.fields}
    if isinstance(ty, s.Enum):
        return str(value)
    if isinstance(ty, s.Option):
        return None if value is None else _to_json_py(ty.elem, value)
    if isinstance(ty, s.List):
        return [_to_json_py(ty.elem, v) for v in value]
    if isinstance(ty, s.Tuple):
        return [_to_json_py(t, v) for t, v in zip(ty.elems, value, strict=True)]
    if isinstance(ty, s.Tagged):
        payload = dict(ty.cases)[value.case]
        return value.case if payload is None else {value.case: _to_json_py(payload, value.value)}
    if isinstance(ty, s.ByClass):
        for case, cls, pty, wrapped in ty.cases:
            if type(value) is cls:
                return {case: _to_json_py(pty, cast(Any, value).value if wrapped else value)}
        raise ValueConversionError(f"{type(value).__name__} is not a case of {ty.wit}")
    if isinstance(ty, s.Result):
        if isinstance(value, Err):
            return {"err": None if ty.err is None else _to_json_py(ty.err, value.error)}
        inner = value.value if isinstance(value, Ok) else value
        return {"ok": None if ty.ok is None else _to_json_py(ty.ok, inner)}
    raise TypeError(f"no JSON form for {ty!r}")


def _fail(path: str, ty: s.Ty, data: Any, why: str = "") -> ValueConversionError:
    shown = json.dumps(data)[:60] if _jsonable(data) else repr(data)[:60]
    extra = f" ({why})" if why else ""
    return ValueConversionError(f"{path or '$'}: expected {ty.wit}, got {shown}{extra}")


def _jsonable(data: Any) -> bool:
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        return False
    return True


def _from_json_py(ty: s.Ty, data: Any, path: str = "$") -> Any:
    """:func:`from_json` in Python: the reference, and what names the path of an error."""
    if isinstance(ty, s.Prim):
        w = ty.wit
        if w in ("string", "char"):
            if not isinstance(data, str) or (w == "char" and len(data) != 1):
                raise _fail(path, ty, data)
            return data
        if w == "bool":
            if type(data) is not bool:
                raise _fail(path, ty, data)
            return data
        if w in ("f32", "f64"):
            if type(data) not in (int, float):
                raise _fail(path, ty, data)
            return float(data)
        lo, hi = _INT_RANGES[w]
        if type(data) is not int or not lo <= data <= hi:
            raise _fail(path, ty, data, f"an integer in [{lo}, {hi}]")
        return data
    if isinstance(ty, s.Record):
        if not isinstance(data, dict):
            raise _fail(path, ty, data, "an object")
        unknown = set(data) - {n for n, _a, _t in ty.fields}
        if unknown:
            raise _fail(path, ty, data, f"unknown field(s) {', '.join(sorted(unknown))}")
        args = []
        for name, _attr, fty in ty.fields:
            if name not in data and not isinstance(fty, s.Option):
                raise _fail(path, ty, data, f"missing field {name!r}")
            args.append(_from_json_py(fty, data.get(name), f"{path}.{name}"))
        return ty.cls(*args)
    if isinstance(ty, s.Enum):
        if data not in ty.cases:
            raise _fail(path, ty, data, "one of " + ", ".join(ty.cases))
        return ty.cls(data)
    if isinstance(ty, s.Option):
        return None if data is None else _from_json_py(ty.elem, data, path)
    if isinstance(ty, s.List):
        if not isinstance(data, list):
            raise _fail(path, ty, data, "an array")
        return [_from_json_py(ty.elem, v, f"{path}[{i}]") for i, v in enumerate(data)]
    if isinstance(ty, s.Tuple):
        if not isinstance(data, list) or len(data) != len(ty.elems):
            raise _fail(path, ty, data, f"an array of {len(ty.elems)}")
        return tuple(
            _from_json_py(t, v, f"{path}[{i}]")
            for i, (t, v) in enumerate(zip(ty.elems, data, strict=True))
        )
    if isinstance(ty, s.Tagged):
        cases = dict(ty.cases)
        if isinstance(data, str) and data in cases and cases[data] is None:
            return ty.cls(data)
        if isinstance(data, dict) and len(data) == 1:
            ((case, payload),) = data.items()
            if case in cases and cases[case] is not None:
                return ty.cls(case, _from_json_py(cases[case], payload, f"{path}.{case}"))  # type: ignore[arg-type]
        raise _fail(path, ty, data, "a case name or {case: payload}: " + ", ".join(cases))
    if isinstance(ty, s.ByClass):
        if isinstance(data, dict) and len(data) == 1:
            ((case, payload),) = data.items()
            for c, cls, pty, wrapped in ty.cases:
                if c == case:
                    v = _from_json_py(pty, payload, f"{path}.{case}")
                    return cls(v) if wrapped else v
        raise _fail(
            path, ty, data, "{case: payload} with case " + ", ".join(c[0] for c in ty.cases)
        )
    if isinstance(ty, s.Result):
        if isinstance(data, dict) and len(data) == 1 and ("ok" in data or "err" in data):
            if "ok" in data:
                return Ok(None if ty.ok is None else _from_json_py(ty.ok, data["ok"], f"{path}.ok"))
            return Err(
                None if ty.err is None else _from_json_py(ty.err, data["err"], f"{path}.err")
            )
        raise _fail(path, ty, data, '{"ok": ...} or {"err": ...}')
    raise TypeError(f"no JSON form for {ty!r}")


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON form of an event."""
    out: dict[str, Any] = to_json(s.EVENT, event)
    return out


def event_from_json(data: Any, path: str = "$") -> Event:
    """Parse an event from its JSON form."""
    ev: Event = from_json(s.EVENT, data, path)
    return ev


# --------------------------------------------------------------------------- JSON Schema


def json_schema(ty: s.Ty) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for the JSON form of ``ty``, named types under ``$defs``."""
    defs: dict[str, Any] = {}
    root = _schema(ty, defs)
    out: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    out.update(root)
    if defs:
        out["$defs"] = defs
    return out


def _schema(ty: s.Ty, defs: dict[str, Any]) -> dict[str, Any]:
    named = isinstance(ty, s.Record | s.Enum | s.Tagged | s.ByClass)
    if named and ty.wit in defs:
        return {"$ref": f"#/$defs/{ty.wit}"}
    if isinstance(ty, s.Prim):
        if ty.wit in ("string", "char"):
            return {"type": "string"}
        if ty.wit == "bool":
            return {"type": "boolean"}
        if ty.wit in ("f32", "f64"):
            return {"type": "number"}
        lo, hi = _INT_RANGES[ty.wit]
        return {"type": "integer", "minimum": lo, "maximum": hi}
    if isinstance(ty, s.Option):
        return {"anyOf": [{"type": "null"}, _schema(ty.elem, defs)]}
    if isinstance(ty, s.List):
        return {"type": "array", "items": _schema(ty.elem, defs)}
    if isinstance(ty, s.Tuple):
        items = [_schema(t, defs) for t in ty.elems]
        return {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}
    if isinstance(ty, s.Result):
        ok = {"type": "null"} if ty.ok is None else _schema(ty.ok, defs)
        err = {"type": "null"} if ty.err is None else _schema(ty.err, defs)
        return {"oneOf": [_one("ok", ok), _one("err", err)]}
    defs[ty.wit] = {}  # reserve the name first: recursive references resolve to $ref
    if isinstance(ty, s.Record):
        body: dict[str, Any] = {
            "type": "object",
            "properties": {n: _schema(t, defs) for n, _a, t in ty.fields},
            "required": [n for n, _a, t in ty.fields if not isinstance(t, s.Option)],
            "additionalProperties": False,
        }
    elif isinstance(ty, s.Enum):
        body = {"enum": list(ty.cases)}
    elif isinstance(ty, s.Tagged):
        bare = [c for c, p in ty.cases if p is None]
        alts: list[dict[str, Any]] = [{"enum": bare}] if bare else []
        alts += [_one(c, _schema(p, defs)) for c, p in ty.cases if p is not None]
        body = {"oneOf": alts}
    else:
        assert isinstance(ty, s.ByClass)
        body = {"oneOf": [_one(c, _schema(p, defs)) for c, _cls, p, _w in ty.cases]}
    defs[ty.wit] = body
    return {"$ref": f"#/$defs/{ty.wit}"}


def _one(key: str, sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: sub},
        "required": [key],
        "additionalProperties": False,
    }


def event_schema() -> dict[str, Any]:
    """The JSON Schema of one event in JSON form (what ``flowctl-host run`` reads per line)."""
    out = json_schema(s.EVENT)
    out["title"] = "obsrvr:flowctl@1.0.0 event (JSON form)"
    return out
