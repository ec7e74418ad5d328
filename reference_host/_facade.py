"""The facade's lazy loader: ``reference_host/__init__.pyi`` is the one list of exports.

The stub holds one ``from <defining module> import <name> as <name>`` line per supported name.
Type checkers read it as the package's interface (the ``as`` form marks an explicit re-export);
at run time :func:`attach_stub` reads the same lines and gives the package its ``__all__`` and a
module ``__getattr__`` that imports each name's module on first use -- so
``import reference_host.engine`` (or the CLI) does not pay for pydantic, pglast, ... until they
are needed.  The same idea as scientific-python's ``lazy_loader.attach_stub`` (SPEC 1).
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["attach_stub", "read_exports"]


def read_exports(stub: Path) -> dict[str, str]:
    """Map each exported name to its defining module, from the stub's ``from ... import`` lines.

    Anything in the stub besides its docstring and those lines is an error, as is an import
    without ``as`` (type checkers would not treat it as a re-export).
    """
    tree = ast.parse(stub.read_text(encoding="utf-8"), filename=str(stub))
    exports: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
            raise ImportError(f"{stub}:{node.lineno}: expected only `from <module> import X as X`")
        for alias in node.names:
            if alias.asname != alias.name:
                raise ImportError(
                    f"{stub}:{node.lineno}: write `import {alias.name} as {alias.name}`"
                )
            exports[alias.name] = node.module
    return exports


def attach_stub(
    package: str, init_file: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``__getattr__``, ``__dir__`` and ``__all__`` for the package whose stub lists them."""
    exports = read_exports(Path(init_file).with_name("__init__.pyi"))
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # resolved once; later lookups do not come here
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__, sorted(exports)
