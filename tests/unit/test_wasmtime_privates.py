"""wasmtime-py's private names are used in one module only: reference_host/abi/_wasmtime.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import reference_host

PACKAGE = Path(reference_host.__file__).parent
ADAPTER = PACKAGE / "abi" / "_wasmtime.py"
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "gen" not in p.relative_to(PACKAGE).parts)
#: private members of wasmtime-py objects the adapter wraps
PRIVATE_MEMBERS = frozenset(
    {"_bindings", "_context", "_ffi", "_from_ptr", "_func", "_tagged", "_types"}
)


def own(node: ast.Attribute) -> bool:
    """``self._func``: a class's own attribute, not wasmtime's."""
    return isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}


def private_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wasmtime"):
            dotted = [*(node.module or "").split("."), *(a.name for a in node.names)]
            found += [f"import {node.module}.{p}" for p in dotted if p.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [
                f"import {a.name}"
                for a in node.names
                if "._" in a.name and a.name.startswith("wasmtime")
            ]
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_MEMBERS and not own(node):
            found.append(f".{node.attr}")
    return found


def test_the_adapter_is_the_only_module_touching_wasmtime_privates() -> None:
    assert ADAPTER in SOURCES
    offenders = {
        str(path.relative_to(PACKAGE)): uses
        for path in SOURCES
        if path != ADAPTER and (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
    assert private_uses(ADAPTER.read_text(encoding="utf-8"))  # and it does (else drop it)


@pytest.mark.parametrize(
    "source",
    [
        "from wasmtime import _bindings as ffi",
        "from wasmtime.component import _types as wt",
        "from wasmtime.component._types import FuncType",
        "import wasmtime._ffi",
        "store._context()",
        "raise WasmtimeError._from_ptr(err)",
    ],
)
def test_the_check_sees_each_kind_of_private_use(source: str) -> None:
    assert private_uses(source)


def test_public_wasmtime_names_pass() -> None:
    assert private_uses("from wasmtime.component import FuncType, Linker\nself._func = func") == []
