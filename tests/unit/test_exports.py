"""The public facade exports exactly what __all__ says (httpx tests/test_exported_members.py)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import reference_host


def test_all_names_resolve_to_objects_defined_in_the_package() -> None:
    for name in reference_host.__all__:
        obj = getattr(reference_host, name)
        module = getattr(obj, "__module__", "")
        assert module.startswith("reference_host"), (name, module)
        # the facade names the defining module (no re-export chains)
        assert getattr(importlib.import_module(reference_host._EXPORTS[name]), name) is obj


def test_all_matches_the_export_table_and_is_sorted() -> None:
    assert list(reference_host.__all__) == sorted(reference_host._EXPORTS)


def test_public_members_are_exactly_all() -> None:
    for name in reference_host.__all__:
        getattr(reference_host, name)  # resolve every lazy name
    public = {
        n
        for n, v in vars(reference_host).items()
        if not n.startswith("_")
        and n not in {"annotations", "importlib", "TYPE_CHECKING", "Any"}
        and not isinstance(v, type(sys))
    }
    assert public == set(reference_host.__all__)


def test_unknown_attribute_raises() -> None:
    import pytest

    with pytest.raises(AttributeError, match="nope"):
        reference_host.nope  # noqa: B018


def test_importing_the_engine_does_not_import_pydantic_or_pglast() -> None:
    code = "import sys, reference_host.engine; print('pydantic' in sys.modules, 'pglast' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
