"""Integrity of a certification run: nothing outside the suite changes a verdict unseen.

Three audits, each giving *violations* (a run with one can never certify; the result says why)
and facts the result records:

* :func:`audit_plugins` (controlling process): every loaded plugin with its distribution and
  version, every ``conftest.py`` with its sha256; a plugin or conftest that is not one of the
  trusted distributions (:data:`TRUSTED`) and implements a hook that can change what a test does
  or how its outcome is reported (:data:`OUTCOME_HOOKS`) is a violation.
* :func:`audit_items` (every process that collects): a fixture the suite's tests use that is
  defined outside the suite (a ``conftest.py`` redefining ``conformance_check``, an autouse
  fixture of the user's) and a test outside the suite that claims a check id are violations.
* :func:`tampered` (every process): a function or method of ``conformance`` / ``reference_host``
  that is no longer the one its module's source defines (monkeypatched by a conftest or plugin).

Certifiers run with ``--noconftest`` (and ``-p no:<plugin>`` for anything not trusted); the
result lists what was loaded either way.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.metadata
import inspect
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

#: Distributions whose pytest plugins may run inside a certification run.
TRUSTED = frozenset({
    "pytest", "flowctl-conformance", "pytest-xdist", "pytest-timeout", "hypothesis",
    "pytest-benchmark", "pytest-cov", "execnet",
    "anyio",  # pulled in by httpx; its hooks act on async tests and fixtures only
})  # fmt: skip

#: Hooks through which a plugin can change what a test does, whether it runs, or its outcome.
OUTCOME_HOOKS = frozenset({
    "pytest_runtestloop", "pytest_runtest_protocol", "pytest_runtest_setup",
    "pytest_runtest_call", "pytest_runtest_teardown", "pytest_runtest_makereport",
    "pytest_runtest_logreport", "pytest_pyfunc_call", "pytest_fixture_setup",
    "pytest_collection", "pytest_collection_modifyitems", "pytest_itemcollected",
    "pytest_collect_file", "pytest_pycollect_makemodule", "pytest_pycollect_makeitem",
    "pytest_generate_tests", "pytest_make_collect_report", "pytest_collectreport",
    "pytest_sessionfinish", "pytest_report_teststatus", "pytest_report_to_serializable",
    "pytest_report_from_serializable", "pytest_testnodedown", "pytest_handlecrashitem",
})  # fmt: skip

PACKAGES = ("conformance", "reference_host")
_ROOTS = {name: Path(__file__).resolve().parents[1] / name for name in PACKAGES}
SUITE_DIR = _ROOTS["conformance"] / "suite"


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inside(path: str | Path | None, root: Path) -> bool:
    if not path:
        return False
    try:
        Path(path).resolve().relative_to(root)
    except (ValueError, OSError):
        return False
    return True


def ours(path: str | Path | None) -> bool:
    """Whether ``path`` is a file of the conformance / reference_host packages."""
    return any(_inside(path, root) for root in _ROOTS.values())


# ---------------------------------------------------------------------- plugins and hooks


@cache
def _package_dists() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def _module_of(plugin: Any) -> str:
    name = getattr(plugin, "__name__", None) if inspect.ismodule(plugin) else None
    return name or type(plugin).__module__


def _distribution(plugin: Any, known: dict[int, tuple[str, str]]) -> tuple[str | None, str | None]:
    if id(plugin) in known:
        return known[id(plugin)]
    top = _module_of(plugin).split(".")[0]
    if top in ("_pytest", "pytest", "py"):
        return "pytest", importlib.metadata.version("pytest")
    if top in PACKAGES:
        return "flowctl-conformance", _version("flowctl-conformance")
    dists = _package_dists().get(top, [])
    if dists and not _is_conftest(plugin):
        return dists[0], _version(dists[0])
    return None, None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _is_conftest(plugin: Any) -> bool:
    return inspect.ismodule(plugin) and Path(getattr(plugin, "__file__", "") or "").name == (
        "conftest.py"
    )


def audit_plugins(pluginmanager: Any) -> tuple[dict[str, Any], list[str]]:
    """Loaded plugins and conftests (the facts), and the untrusted outcome hooks (violations)."""
    known = {
        id(plugin): (dist.project_name, dist.version)
        for plugin, dist in pluginmanager.list_plugin_distinfo()
    }
    hooks: dict[int, set[str]] = {}
    for name in dir(pluginmanager.hook):
        caller: Any = getattr(pluginmanager.hook, name, None)
        if name.startswith("pytest_") and caller is not None and hasattr(caller, "get_hookimpls"):
            for impl in caller.get_hookimpls():
                hooks.setdefault(id(impl.plugin), set()).add(name)
    plugins: dict[str, dict[str, Any]] = {}
    conftests: list[dict[str, str]] = []
    violations: list[str] = []
    for plugin_name, plugin in pluginmanager.list_name_plugin():
        if plugin is None:
            continue
        dist, version = _distribution(plugin, known)
        if _is_conftest(plugin):
            path = Path(plugin.__file__)
            conftests.append({"path": str(path), "sha256": sha256_file(path)})
            where = f"conftest {path}"
        else:
            where = f"plugin {plugin_name} ({_module_of(plugin)})"
            if dist is not None:
                entry = plugins.setdefault(dist, {"version": version, "plugins": []})
                entry["plugins"].append(str(plugin_name))
            else:
                plugins.setdefault("(no distribution)", {"version": None, "plugins": []})[
                    "plugins"
                ].append(f"{plugin_name} ({_module_of(plugin)})")
        risky = sorted(hooks.get(id(plugin), set()) & OUTCOME_HOOKS)
        if risky and dist not in TRUSTED:
            violations.append(
                f"{where} implements {', '.join(risky)}, which can change what the suite's tests "
                "do or how their outcome is reported; certify without it (--noconftest, "
                f"-p no:{plugin_name})"
            )
    return {"plugins": plugins, "conftests": conftests}, violations


# ---------------------------------------------------------------------- the suite's items


def audit_items(items: Iterable[Any]) -> list[str]:
    """Fixtures of the suite's tests defined elsewhere; tests elsewhere claiming a check id."""
    violations: list[str] = []
    seen: set[tuple[str, str | None]] = set()
    for item in items:
        marker = item.get_closest_marker("conformance_check")
        path = getattr(item, "path", None)
        if not _inside(path, SUITE_DIR):
            if marker is not None:
                violations.append(
                    f"{item.nodeid} is marked conformance_check({marker.args[0]!r}) but is not a "
                    "test of the packaged suite; only the suite's tests decide checks"
                )
            continue
        info = getattr(item, "_fixtureinfo", None)
        for name, defs in (getattr(info, "name2fixturedefs", None) or {}).items():
            if not defs:
                continue
            active = defs[-1]
            func = getattr(active, "func", None)
            origin = inspect.getsourcefile(func) if callable(func) else None
            if _fixture_dist(origin) is not None or (name, origin) in seen:
                continue
            seen.add((name, origin))
            violations.append(
                f"fixture {name!r} used by the suite's tests is defined in {origin}, outside the "
                "suite; certify without it (--noconftest)"
            )
    return violations


@cache
def _trusted_roots() -> tuple[Path, ...]:
    """Directories of the importable packages of :data:`TRUSTED` distributions (and ours)."""
    roots = list(_ROOTS.values())
    for top, dists in _package_dists().items():
        module = sys.modules.get(top)
        base = getattr(module, "__file__", None)
        if base and set(dists) & TRUSTED:
            roots.append(Path(base).resolve().parent)
    return tuple(roots)


def _fixture_dist(origin: str | None) -> str | None:
    """``"trusted"`` when a fixture's source file belongs to a trusted distribution."""
    if origin is None:
        return None
    return "trusted" if any(_inside(origin, root) for root in _trusted_roots()) else None


# ---------------------------------------------------------------------- monkeypatching


@cache
def _defined(path: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """What a source file binds at top level.

    Functions ("def"), classes ("class", with their methods) and names imported from our
    packages ("from", with the module and the name).
    """
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out[node.name] = ("def", ())
        elif isinstance(node, ast.ClassDef):
            methods = tuple(
                n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            )
            out[node.name] = ("class", methods)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
            for alias in node.names:
                out[alias.asname or alias.name] = ("from", (node.module or "", alias.name))
    return out


def _code_file(obj: Any) -> str | None:
    """The source file of the code behind a function, method, property or wrapper."""
    if isinstance(obj, property):
        obj = obj.fget
    elif isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    elif isinstance(obj, functools.cached_property):
        obj = obj.func
    getter = getattr(obj, "_get_wrapped_function", None)  # pytest fixture definitions
    if callable(getter):
        obj = getter()
    with contextlib.suppress(ValueError):
        obj = inspect.unwrap(obj)
    code = getattr(obj, "__code__", None)
    return getattr(code, "co_filename", None)


def tampered() -> list[str]:
    """Functions and methods of our loaded modules that their source file no longer defines."""
    found: list[str] = []
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in PACKAGES or module is None:
            continue
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py") or not ours(path):
            continue
        for attr, (kind, names) in _defined(path).items():
            value = module.__dict__.get(attr)
            if value is None:
                continue
            if kind == "from":
                module_name, source = names
                origin = sys.modules.get(module_name)
                expected = getattr(origin, source, None) if origin is not None else None
                if expected is not None and expected is not value and not inspect.ismodule(value):
                    found.append(f"{name}.{attr} is no longer {module_name}.{source}")
                continue
            if kind == "def":
                where = _code_file(value)
                if where is not None and Path(where).resolve() != Path(path).resolve():
                    found.append(f"{name}.{attr} was replaced by code from {where}")
                continue
            if not inspect.isclass(value) or value.__module__ != name:
                found.append(f"{name}.{attr} was replaced by {value!r}")
                continue
            for method in names:
                raw = value.__dict__.get(method)
                where = _code_file(raw) if raw is not None else None
                if where is not None and Path(where).resolve() != Path(path).resolve():
                    found.append(f"{name}.{attr}.{method} was replaced by code from {where}")
    return sorted(set(found))
