"""The type descriptors (reference_host.abi.schema) are exactly the types of wit/flowctl.wit.

The value layer, the JSON form and the strategies are all generated from the descriptors, so this
test is what ties them to the WIT: it walks every function of every interface of a reference
component built from wit/ and compares kinds, field names, case names and payloads.
"""

from __future__ import annotations

from typing import Any

import pytest
from wasmtime import Config, Engine
from wasmtime.component import _types as wt

from reference_host import interfaces
from reference_host.abi import schema as s
from reference_host.inspect import Reference

PRIMS = {"string": wt.String, "bool": wt.Bool, "u32": wt.U32, "u64": wt.U64, "s64": wt.S64,
         "f64": wt.F64}  # fmt: skip


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(Engine(Config()))


def same(desc: s.Ty | None, vt: Any, where: str) -> None:
    if desc is None:
        assert vt is None, where
        return
    if isinstance(desc, s.Prim):
        assert isinstance(vt, PRIMS[desc.wit]), where
    elif isinstance(desc, s.Record):
        assert isinstance(vt, wt.RecordType), where
        assert [n for n, _a, _t in desc.fields] == [n for n, _ in vt.fields], where
        for (n, _a, t), (_, fv) in zip(desc.fields, vt.fields, strict=True):
            same(t, fv, f"{where}.{n}")
    elif isinstance(desc, s.Enum):
        if desc.as_variant:
            assert isinstance(vt, wt.VariantType), where
            assert [(n, None) for n in desc.cases] == [(n, p) for n, p in vt.cases], where
        else:
            assert isinstance(vt, wt.EnumType), where
            assert list(desc.cases) == list(vt.names), where
    elif isinstance(desc, s.Tagged):
        assert isinstance(vt, wt.VariantType), where
        assert [c for c, _ in desc.cases] == [c for c, _ in vt.cases], where
        for (c, p), (_, v) in zip(desc.cases, vt.cases, strict=True):
            same(p, v, f"{where}.{c}")
    elif isinstance(desc, s.ByClass):
        assert isinstance(vt, wt.VariantType), where
        assert [c[0] for c in desc.cases] == [c for c, _ in vt.cases], where
        for (c, _cls, p, _w), (_, v) in zip(desc.cases, vt.cases, strict=True):
            same(p, v, f"{where}.{c}")
    elif isinstance(desc, s.List):
        assert isinstance(vt, wt.ListType), where
        same(desc.elem, vt.element, f"{where}[]")
    elif isinstance(desc, s.Option):
        assert isinstance(vt, wt.OptionType), where
        same(desc.elem, vt.payload, f"{where}?")
    elif isinstance(desc, s.Result):
        assert isinstance(vt, wt.ResultType), where
        same(desc.ok, vt.ok, f"{where}.ok")
        same(desc.err, vt.err, f"{where}.err")
    elif isinstance(desc, s.Tuple):
        assert isinstance(vt, wt.TupleType), where
        assert len(desc.elems) == len(vt.elements), where
        for i, (d, v) in enumerate(zip(desc.elems, vt.elements, strict=True)):
            same(d, v, f"{where}.{i}")
    else:
        raise AssertionError(f"unknown descriptor {desc!r}")


@pytest.mark.parametrize("iface", sorted(s.INTERFACES))
def test_every_function_matches_the_wit(reference: Reference, iface: str) -> None:
    items = reference.interfaces[s.interface_name(iface)]
    funcs = {n: ty for n, ty in items.items() if isinstance(ty, wt.FuncType)}
    assert set(funcs) == set(s.INTERFACES[iface])
    for name, sig in s.INTERFACES[iface].items():
        fty = funcs[name]
        assert [n for n, _ in sig.params] == [n for n, _ in fty.params], name
        for (pname, d), (_, v) in zip(sig.params, fty.params, strict=True):
            same(d, v, f"{iface}.{name}({pname})")
        same(sig.result, fty.result, f"{iface}.{name} result")


def test_every_named_type_matches_the_wit(reference: Reference) -> None:
    seen = {}
    for name in (*interfaces.CAPABILITIES, interfaces.PROCESSOR):
        for item, ty in reference.interfaces[name].items():
            if not isinstance(ty, wt.FuncType):
                seen[item] = ty
    assert set(seen) == set(s.NAMED_TYPES)
    for name, ty in seen.items():
        same(s.NAMED_TYPES[name], ty, name)


def test_tagged_cases_follow_the_model() -> None:
    for desc in s.NAMED_TYPES.values():
        if isinstance(desc, s.Tagged):
            assert list(desc.cls.CASES) == [c for c, _ in desc.cases]
