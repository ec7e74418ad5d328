"""Hypothesis strategies for every WIT type, derived from the type descriptors.

``strategy(ty)`` gives values of the Python model of ``ty`` (see
:mod:`reference_host.abi.schema`): records as their dataclasses, enums as StrEnum members, error
variants as their tagged classes, results as ``Ok``/``Err``.  Sizes stay small by default so
property tests spend their budget on shapes, not on bulk.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from reference_host.abi import schema as s
from reference_host.types import Err, Ok

_INTS = s.INT_RANGES

TEXT = st.text(st.characters(codec="utf-8"), max_size=24)
"""Any Unicode text WIT strings can carry (no lone surrogates)."""


def strategy(ty: s.Ty, *, max_list: int = 3) -> st.SearchStrategy[Any]:
    """A strategy producing model values of WIT type ``ty``."""
    if isinstance(ty, s.Prim):
        if ty.wit == "string":
            return TEXT
        if ty.wit == "char":
            return st.characters(codec="utf-8")
        if ty.wit == "bool":
            return st.booleans()
        if ty.wit in ("f32", "f64"):
            return st.floats(allow_nan=False, width=64 if ty.wit == "f64" else 32)
        lo, hi = _INTS[ty.wit]
        return st.integers(lo, hi)
    if isinstance(ty, s.Record):
        return st.builds(ty.cls, *[strategy(t, max_list=max_list) for _n, _a, t in ty.fields])
    if isinstance(ty, s.Enum):
        return st.sampled_from(list(ty.cls))
    if isinstance(ty, s.Option):
        return st.none() | strategy(ty.elem, max_list=max_list)
    if isinstance(ty, s.List):
        return st.lists(strategy(ty.elem, max_list=max_list), max_size=max_list)
    if isinstance(ty, s.Tuple):
        return st.tuples(*[strategy(t, max_list=max_list) for t in ty.elems])
    if isinstance(ty, s.Tagged):
        return st.one_of(*[_case(ty.cls, case, pty, max_list) for case, pty in ty.cases])
    if isinstance(ty, s.ByClass):
        return st.one_of(
            *[
                strategy(pty, max_list=max_list).map(cls)
                if wrapped
                else strategy(pty, max_list=max_list)
                for _c, cls, pty, wrapped in ty.cases
            ]
        )
    if isinstance(ty, s.Result):
        ok = st.just(None) if ty.ok is None else strategy(ty.ok, max_list=max_list)
        err = st.just(None) if ty.err is None else strategy(ty.err, max_list=max_list)
        return ok.map(Ok) | err.map(Err)
    raise TypeError(f"no strategy for {ty!r}")


def _case(cls: type, case: str, pty: s.Ty | None, max_list: int) -> st.SearchStrategy[Any]:
    if pty is None:
        return st.just(cls(case))
    return st.builds(cls, st.just(case), strategy(pty, max_list=max_list))


def events(max_list: int = 3) -> st.SearchStrategy[Any]:
    """Well-typed events (any event-data case, any operation type, malformed bodies included)."""
    return strategy(s.EVENT, max_list=max_list)
