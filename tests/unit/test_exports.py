"""The public facade exports exactly what its stub lists (httpx tests/test_exported_members.py).

``reference_host/__init__.pyi`` is the one list of exports: type checkers read it, and the
facade's ``__all__`` and lazy imports come from it (``reference_host._facade``).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import reference_host
from reference_host import _facade

PACKAGE = Path(reference_host.__file__).parent
EXPORTS = _facade.read_exports(PACKAGE / "__init__.pyi")
# the package's ``__all__`` is set at run time by the facade; the stub (the type checkers' view)
# holds only the re-exports, by design
ALL: list[str] = vars(reference_host)["__all__"]


def test_all_is_the_stub_list_sorted() -> None:
    assert EXPORTS
    assert list(ALL) == sorted(EXPORTS)


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_name_resolves_to_the_object_its_module_defines(name: str) -> None:
    obj = getattr(reference_host, name)
    # the stub names the defining module (no re-export chains)
    assert obj.__module__ == EXPORTS[name], (name, obj.__module__)
    assert getattr(importlib.import_module(EXPORTS[name]), name) is obj


def test_public_members_are_exactly_all() -> None:
    for name in ALL:
        getattr(reference_host, name)  # resolve every lazy name
    public = {
        n
        for n, v in vars(reference_host).items()
        if not n.startswith("_") and n != "annotations" and not isinstance(v, type(sys))
    }
    assert public == set(ALL)
    assert set(dir(reference_host)) >= set(ALL)


def test_unknown_attribute_raises() -> None:
    with pytest.raises(AttributeError, match="nope"):
        reference_host.nope  # type: ignore[attr-defined]  # noqa: B018


def test_the_stub_holds_only_explicit_re_exports(tmp_path: Path) -> None:
    # `from m import X` without `as X` is not a re-export for type checkers: refused
    plain = tmp_path / "plain.pyi"
    plain.write_text("from reference_host.engine import HostEngine\n", encoding="utf-8")
    with pytest.raises(ImportError, match="as HostEngine"):
        _facade.read_exports(plain)
    other = tmp_path / "other.pyi"
    other.write_text('"""Doc."""\n\nX: int\n', encoding="utf-8")
    with pytest.raises(ImportError, match="only `from <module> import X as X`"):
        _facade.read_exports(other)


def test_the_package_is_marked_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()


def test_importing_the_engine_does_not_import_pydantic_or_pglast() -> None:
    code = "import sys, reference_host.engine; print('pydantic' in sys.modules, 'pglast' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
