"""Which test of the packaged suite decides each check, read from the suite's source.

Every ``test_*`` function of ``conformance/suite/test_*.py`` is marked
``@pytest.mark.conformance_check("ID")`` (the suite's modules write it through an alias,
``check = pytest.mark.conformance_check``).  The source is parsed, not imported: importing the
suite would pull in hypothesis, wasmtime and the fixtures.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conformance.integrity import SUITE_DIR

_MARK = "conformance_check"


def _is_mark(node: ast.expr) -> bool:
    """``pytest.mark.conformance_check`` (or ``mark.conformance_check``)."""
    return isinstance(node, ast.Attribute) and node.attr == _MARK


def _aliases(tree: ast.Module) -> set[str]:
    """Module-level names bound to the mark (``check = pytest.mark.conformance_check``)."""
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign) and _is_mark(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _checks_named(function: ast.FunctionDef, aliases: set[str]) -> list[str]:
    """The check ids of ``function``'s ``conformance_check`` marks."""
    ids: list[str] = []
    for decorator in function.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        func = decorator.func
        if not (_is_mark(func) or (isinstance(func, ast.Name) and func.id in aliases)):
            continue
        first = decorator.args[0] if decorator.args else None
        ids.append(str(first.value) if isinstance(first, ast.Constant) else ast.unparse(decorator))
    return ids


def deciding_tests(suite_dir: Path = SUITE_DIR) -> dict[str, list[str]]:
    """Check id -> the suite tests (``module.py::function``) that decide it, in file order.

    Raises :class:`ValueError` for a suite test that does not name exactly one check.
    """
    tests: dict[str, list[str]] = {}
    for path in sorted(suite_dir.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = _aliases(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                ids = _checks_named(node, aliases)
                if len(ids) != 1:
                    raise ValueError(
                        f"{path.name}::{node.name} must name exactly one check "
                        f"(@pytest.mark.conformance_check(ID)), it names {ids}"
                    )
                tests.setdefault(ids[0], []).append(f"{path.name}::{node.name}")
    return tests
