"""The public facade exports exactly what __all__ says (httpx tests/test_exported_members.py)."""

from __future__ import annotations

import types

import reference_host


def test_all_matches_exported_members() -> None:
    exported = {
        name
        for name, value in vars(reference_host).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert exported == set(reference_host.__all__)


def test_all_is_sorted_and_unique() -> None:
    assert list(reference_host.__all__) == sorted(set(reference_host.__all__))


def test_every_exported_name_is_defined_in_the_package() -> None:
    for name in reference_host.__all__:
        obj = getattr(reference_host, name)
        module = getattr(obj, "__module__", "reference_host")
        assert module.startswith("reference_host"), (name, module)
