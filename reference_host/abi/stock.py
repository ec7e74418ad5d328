"""Our model ↔ stock wasmtime-py values, for differential tests and the side-by-side benchmark.

Stock wasmtime-py represents records as ``wasmtime.component.Record`` with dashed attribute names,
and variants/options/results either as the bare payload or as ``Variant(tag, payload)`` depending
on whether the Python classes of the cases overlap ("tagged").  These functions follow exactly
that rule (``VariantLikeType._tagged``, through :mod:`reference_host.abi._wasmtime`), so a value
converted here is what a stock user writes.
The production path never uses them.
"""

from __future__ import annotations

from typing import Any, cast

from wasmtime.component import Record, Variant

from reference_host.abi import schema as s
from reference_host.abi._wasmtime import is_tagged
from reference_host.types import Err, Ok


def to_stock(ty: s.Ty, value: Any, vt: Any) -> Any:
    """Convert a model value of type ``ty`` to what stock wasmtime-py accepts for ``vt``."""
    if isinstance(ty, s.Prim):
        return float(value) if ty.wit in ("f32", "f64") else value
    if isinstance(ty, s.Record):
        rec = Record()
        for (name, attr, fty), (_n, fvt) in zip(ty.fields, vt.fields, strict=True):
            setattr(rec, name, to_stock(fty, getattr(value, attr), fvt))
        return rec
    if isinstance(ty, s.Enum):
        return Variant(str(value)) if ty.as_variant else str(value)
    if isinstance(ty, s.List):
        return [to_stock(ty.elem, v, vt.element) for v in value]
    if isinstance(ty, s.Tuple):
        return tuple(
            to_stock(t, v, e) for t, v, e in zip(ty.elems, value, vt.elements, strict=True)
        )
    if isinstance(ty, s.Option):
        return None if value is None else to_stock(ty.elem, value, vt.payload)
    cases = dict(vt.cases) if hasattr(vt, "cases") else {"ok": vt.ok, "err": vt.err}
    if isinstance(ty, s.Tagged):
        case, pty = value.case, dict(ty.cases)[value.case]
        payload = None if pty is None else to_stock(pty, value.value, cases[case])
    elif isinstance(ty, s.ByClass):
        for c, cls, pty2, wrapped in ty.cases:
            if type(value) is cls:
                case = c
                payload = to_stock(pty2, cast(Any, value).value if wrapped else value, cases[c])
                break
        else:
            raise TypeError(f"{type(value).__name__} is not a case of {ty.wit}")
    elif isinstance(ty, s.Result):
        if isinstance(value, Err):
            case, inner, pty = "err", value.error, ty.err
        else:
            case, inner, pty = "ok", (value.value if isinstance(value, Ok) else value), ty.ok
        payload = None if pty is None else to_stock(pty, inner, cases[case])
    else:
        raise TypeError(f"no stock form for {ty!r}")
    return Variant(case, payload) if is_tagged(vt) else payload


def from_stock(ty: s.Ty, value: Any, vt: Any) -> Any:
    """Convert what stock wasmtime-py returned for ``vt`` into our model value of type ``ty``."""
    if isinstance(ty, s.Prim):
        return value
    if isinstance(ty, s.Record):
        return ty.cls(
            *[
                from_stock(fty, getattr(value, name), fvt)
                for (name, _a, fty), (_n, fvt) in zip(ty.fields, vt.fields, strict=True)
            ]
        )
    if isinstance(ty, s.Enum):
        return ty.cls(value.tag if isinstance(value, Variant) else value)
    if isinstance(ty, s.List):
        return [from_stock(ty.elem, v, vt.element) for v in value]
    if isinstance(ty, s.Tuple):
        return tuple(
            from_stock(t, v, e) for t, v, e in zip(ty.elems, value, vt.elements, strict=True)
        )
    if isinstance(ty, s.Option):
        return None if value is None else from_stock(ty.elem, value, vt.payload)
    cases = dict(vt.cases) if hasattr(vt, "cases") else {"ok": vt.ok, "err": vt.err}
    if is_tagged(vt):
        case, payload = value.tag, value.payload
    else:
        case = _case_of(value, cases)
        payload = value
    if isinstance(ty, s.Tagged):
        pty = dict(ty.cases)[case]
        return ty.cls(case, None if pty is None else from_stock(pty, payload, cases[case]))
    if isinstance(ty, s.ByClass):
        for c, cls, pty2, wrapped in ty.cases:
            if c == case:
                v = from_stock(pty2, payload, cases[c])
                return cls(v) if wrapped else v
    if isinstance(ty, s.Result):
        side = ty.ok if case == "ok" else ty.err
        inner = None if side is None else from_stock(side, payload, cases[case])
        return Ok(inner) if case == "ok" else Err(inner)
    raise TypeError(f"no stock form for {ty!r}")


def _case_of(value: Any, cases: dict[str, Any]) -> str:
    for name, cvt in cases.items():
        classes: set[type] = set()
        if cvt is None:
            classes.add(object)
        else:
            cvt.add_classes(classes)
        if isinstance(value, tuple(classes)):
            return name
    raise TypeError(f"{value!r} matches no case of {list(cases)}")
