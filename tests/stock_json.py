"""JSON form of WIT values <-> stock wasmtime-py values, for tests that drive guests with stock
wasmtime-py (independently of the host's own value layer)."""

from __future__ import annotations

from typing import Any


def to_stock(ty: Any, value: Any) -> Any:
    """JSON form -> stock wasmtime-py value, following the component's own type ``ty``.

    Every WIT variant of obsrvr:flowctl (event-data, operation-type, processor-error) is
    "tagged" under stock conversion (two cases share a Python class), so variants are always
    ``Variant(case, payload)``; options and results never are.
    """
    from wasmtime.component import (
        EnumType,
        ListType,
        OptionType,
        Record,
        RecordType,
        TupleType,
        Variant,
        VariantType,
    )

    if isinstance(ty, RecordType):
        record = Record()
        for name, field_ty in ty.fields:
            setattr(record, name, to_stock(field_ty, value[name]))
        return record
    if isinstance(ty, VariantType):
        if isinstance(value, str):
            return Variant(value)
        ((case, payload),) = value.items()
        return Variant(case, to_stock(dict(ty.cases)[case], payload))
    if isinstance(ty, OptionType):
        return None if value is None else to_stock(ty.payload, value)
    if isinstance(ty, ListType):
        return [to_stock(ty.element, v) for v in value]
    if isinstance(ty, TupleType):
        return tuple(to_stock(t, v) for t, v in zip(ty.elements, value, strict=True))
    if isinstance(ty, EnumType):
        assert value in ty.names, (value, ty.names)  # a bad enum name would poison the instance
        return value
    return value


def from_stock(value: Any) -> Any:
    """Stock wasmtime-py value -> JSON form (no type needed)."""
    from wasmtime.component import Record, Variant

    if isinstance(value, Record):
        return {k: from_stock(v) for k, v in vars(value).items()}
    if isinstance(value, Variant):
        return value.tag if value.payload is None else {value.tag: from_stock(value.payload)}
    if isinstance(value, (list, tuple)):
        return [from_stock(v) for v in value]
    return value
