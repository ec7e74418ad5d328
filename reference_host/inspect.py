"""What a component imports and exports, which worlds it satisfies, and whether its types drift.

Nothing is instantiated.  Types are compared structurally (wasmtime's type equality) against a
*reference component* built from our ``wit/`` with ``wasm-tools component embed --dummy`` +
``component new`` for the world ``flowctl-processor`` (it imports all six capabilities and exports
``processor``).  When a function's types differ, :func:`describe_difference` walks both types and
names the first differing WIT type ("record `event`: field 7 `extra` is not in the WIT").

Building the reference runs ``wasm-tools`` twice (~100 ms); an engine made by a
:class:`~reference_host.engine.HostEngine` with a compile cache keeps the compiled reference
there, keyed by the WIT files' contents and the ``wasm-tools`` binary (:func:`reference_cache_key`),
so a warm start runs no subprocess.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from wasmtime import Engine
from wasmtime.component import (
    Component,
    EnumType,
    FlagsType,
    FuncType,
    RecordType,
    TupleType,
    VariantType,
)

from reference_host import interfaces as names
from reference_host._tools import wasm_tools, wit_dir
from reference_host.errors import FlowctlHostError


@dataclass(frozen=True)
class ImportInfo:
    """One import of a component and what the host makes of it."""

    name: str
    kind: str  # "flowctl" | "wasi" | "other"
    drift: str | None = None


@dataclass(frozen=True)
class ComponentReport:
    """The result of :func:`inspect_component` (JSON-able with :meth:`to_dict`)."""

    imports: tuple[ImportInfo, ...]
    exports: tuple[str, ...]
    processor_export: bool
    functions: dict[str, str]  # function -> "ok" | "missing" | "<difference>"
    worlds: tuple[str, ...]
    drift: tuple[str, ...] = field(default=())

    @property
    def flowctl_imports(self) -> tuple[str, ...]:
        """The ``obsrvr:flowctl/*`` interfaces imported."""
        return tuple(i.name for i in self.imports if i.kind == "flowctl")

    @property
    def wasi_imports(self) -> tuple[str, ...]:
        """The ``wasi:*`` interfaces imported."""
        return tuple(i.name for i in self.imports if i.kind == "wasi")

    @property
    def other_imports(self) -> tuple[str, ...]:
        """Imports that are neither flowctl capabilities nor WASI."""
        return tuple(i.name for i in self.imports if i.kind == "other")

    @property
    def conforms(self) -> bool:
        """All seven processor functions present with exactly our WIT's types, no drift."""
        return (
            self.processor_export
            and all(v == "ok" for v in self.functions.values())
            and not self.drift
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out = asdict(self)
        out["conforms"] = self.conforms
        return out


# --------------------------------------------------------------------------- reference types


def _run(argv: list[str]) -> None:
    import subprocess  # only when the reference is built, not on a warm start

    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise FlowctlHostError(f"{' '.join(argv[:3])} failed: {proc.stderr.strip()}")


@cache
def reference_component_bytes() -> bytes:
    """The reference component for world ``flowctl-processor`` built from our WIT.

    Built once per process in a private temporary directory and kept in memory: a reference at a
    predictable shared path could be swapped for one that matches a drifted component.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flowctl-reference-") as tmp:
        core = Path(tmp) / "core.wasm"
        comp = Path(tmp) / "ref.wasm"
        tool = wasm_tools()
        _run(
            [tool, "component", "embed", "--dummy", str(wit_dir()), "--world",
             "flowctl-processor", "-o", str(core)]
        )  # fmt: skip
        _run([tool, "component", "new", str(core), "-o", str(comp)])
        return comp.read_bytes()


def reference_cache_key() -> str:
    """What the reference component depends on: our WIT's files and the wasm-tools binary.

    Hashing a few kilobytes of WIT and one ``stat`` instead of running ``wasm-tools`` twice
    (~100 ms per process) makes the compiled reference cacheable with the components' artifacts.
    """
    digest = hashlib.sha256(b"flowctl-reference;world=flowctl-processor")
    root = wit_dir()
    for path in sorted(root.rglob("*.wit")):
        digest.update(f";{path.relative_to(root).as_posix()}=".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    tool = Path(wasm_tools()).resolve()
    st = tool.stat()
    digest.update(f";wasm-tools={tool}|{st.st_size}|{st.st_mtime_ns}".encode())
    return f"reference:{digest.hexdigest()}"


def _reference_component(engine: Engine) -> Component:
    """The compiled reference component: from the compile cache of the engine's HostEngine.

    The cache is the per-user one that already holds the components' compiled code (trusted
    the same way); without one (``--no-cache``, a bare engine) it is built in memory as before.
    """
    from reference_host.engine import host_engine_of

    def build() -> Component:
        return Component(engine, reference_component_bytes())

    host = host_engine_of(engine)
    if host is None or host.cache_dir is None:
        return build()
    return host.cached_component(reference_cache_key(), build)


def _instance_items(ty: Any, engine: Engine) -> dict[str, Any]:
    return {k: v.ty for k, v in ty.exports(engine).items()}


class Reference:
    """Reference interface types of our WIT, for one engine."""

    def __init__(self, engine: Engine) -> None:
        comp = _reference_component(engine)
        ct = comp.type
        self.interfaces: dict[str, dict[str, Any]] = {
            name: _instance_items(ext.ty, engine) for name, ext in ct.imports(engine).items()
        }
        self.interfaces[names.PROCESSOR] = _instance_items(
            ct.exports(engine)[names.PROCESSOR].ty, engine
        )
        self._component = comp  # keeps the type objects' owner alive

    def type_name(self, iface: str, ty: Any) -> str | None:
        """The WIT name of a reference type (``None`` for anonymous types)."""
        for name, item in self.interfaces[iface].items():
            if not isinstance(item, FuncType) and type(item) is type(ty) and item == ty:
                return name
        return None


_REFERENCES: weakref.WeakKeyDictionary[Engine, Reference] = weakref.WeakKeyDictionary()


def reference_for(engine: Engine) -> Reference:
    """The (memoized) reference types for ``engine`` (forgotten when the engine is freed)."""
    ref = _REFERENCES.get(engine)
    if ref is None:
        ref = _REFERENCES[engine] = Reference(engine)
    return ref


# --------------------------------------------------------------------------- comparison


def _kind(ty: Any) -> str:
    return type(ty).__name__.removesuffix("Type").lower() or "?"


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a == b if hasattr(a, "ptr") else True)


def describe_difference(ref: Reference, iface: str, want: Any, got: Any, where: str) -> str | None:
    """Name the first WIT type that differs between ``want`` (ours) and ``got``; None if equal."""
    if _same(want, got):
        return None
    label = ref.type_name(iface, want)
    here = f"{_kind(want)} `{label}`" if label else f"{where} ({_kind(want)})"
    if type(want) is not type(got):
        return f"{here}: expected a {_kind(want)}, the component has a {_kind(got)}"
    if isinstance(want, RecordType | VariantType):
        wf = want.fields if isinstance(want, RecordType) else want.cases
        gf = got.fields if isinstance(got, RecordType) else got.cases
        wn, gn = [n for n, _ in wf], [n for n, _ in gf]
        if wn != gn:
            extra = [n for n in gn if n not in wn]
            missing = [n for n in wn if n not in gn]
            what = "field" if isinstance(want, RecordType) else "case"
            parts = []
            if extra:
                parts.append(f"{what}(s) {', '.join(extra)} not in the WIT")
            if missing:
                parts.append(f"{what}(s) {', '.join(missing)} missing")
            if not parts:
                parts.append(f"{what}s in another order: {', '.join(gn)}")
            return f"{here}: " + "; ".join(parts)
        for (n, wty), (_, gty) in zip(wf, gf, strict=True):
            if wty is None or gty is None:
                if (wty is None) != (gty is None):
                    return f"{here}: case {n} payload differs"
                continue
            sub = describe_difference(ref, iface, wty, gty, f"{label or where}.{n}")
            if sub:
                return sub
        return f"{here}: differs"
    if isinstance(want, EnumType | FlagsType):
        return f"{here}: names {list(got.names)} instead of {list(want.names)}"
    for attr in ("element", "ok", "err"):
        if hasattr(want, attr):
            w, g = getattr(want, attr), getattr(got, attr)
            if (w is None) != (g is None):
                return f"{here}: {attr} side {'missing' if g is None else 'unexpected'}"
            if w is not None:
                sub = describe_difference(ref, iface, w, g, f"{where}<{attr}>")
                if sub:
                    return sub
    if isinstance(want, TupleType):
        if len(want.elements) != len(got.elements):
            return f"{here}: {len(got.elements)} elements instead of {len(want.elements)}"
        for i, (w, g) in enumerate(zip(want.elements, got.elements, strict=True)):
            sub = describe_difference(ref, iface, w, g, f"{where}.{i}")
            if sub:
                return sub
    return f"{here}: differs"


def compare_function(ref: Reference, iface: str, fname: str, got: Any) -> str | None:
    """None when ``got`` (a FuncType) has exactly the WIT's signature, else the difference."""
    want = ref.interfaces[iface].get(fname)
    if want is None:
        return f"{fname} is not a function of {iface}"
    if not isinstance(got, FuncType):
        return f"{fname} is a {_kind(got)}, not a function"
    wp, gp = want.params, got.params
    if [n for n, _ in wp] != [n for n, _ in gp]:
        return (
            f"{fname} takes ({', '.join(n for n, _ in gp)}) instead of "
            f"({', '.join(n for n, _ in wp)})"
        )
    for (pname, wty), (_, gty) in zip(wp, gp, strict=True):
        sub = describe_difference(ref, iface, wty, gty, f"{fname}({pname})")
        if sub:
            return f"{fname} parameter `{pname}`: {sub}"
    wr, gr = want.result, got.result
    if (wr is None) != (gr is None):
        return (
            f"{fname} {'returns a value' if gr is not None else 'returns nothing'}; the WIT's "
            f"{'returns nothing' if wr is None else 'returns a value'}"
        )
    if wr is not None:
        sub = describe_difference(ref, iface, wr, gr, f"{fname} result")
        if sub:
            return f"{fname} result: {sub}"
    return None


def _classify(name: str) -> str:
    if name.startswith("obsrvr:flowctl/"):
        return "flowctl"
    if name.startswith("wasi:"):
        return "wasi"
    return "other"


def inspect_component(engine: Engine, component: Component) -> ComponentReport:
    """Report on ``component`` without instantiating it."""
    ref = reference_for(engine)
    ct = component.type
    imports: list[ImportInfo] = []
    drift: list[str] = []
    for name, ext in ct.imports(engine).items():
        kind = _classify(name)
        problem = None
        if kind == "flowctl":
            if name not in ref.interfaces or name == names.PROCESSOR:
                problem = (
                    f"{name} is not an interface the host provides (known: "
                    + ", ".join(names.CAPABILITIES)
                    + ")"
                )
            else:
                for item, ty in _instance_items(ext.ty, engine).items():
                    if isinstance(ty, FuncType):
                        problem = compare_function(ref, name, item, ty)
                        if problem:
                            break
            if problem:
                drift.append(f"import {name}: {problem}")
        imports.append(ImportInfo(name, kind, problem))
    exports = tuple(ct.exports(engine))
    functions: dict[str, str] = {}
    has_proc = names.PROCESSOR in exports
    if has_proc:
        items = _instance_items(ct.exports(engine)[names.PROCESSOR].ty, engine)
        for fname in names.PROCESSOR_FUNCTIONS:
            if fname not in items:
                functions[fname] = "missing"
                continue
            problem = compare_function(ref, names.PROCESSOR, fname, items[fname])
            functions[fname] = problem or "ok"
            if problem:
                drift.append(f"export {names.PROCESSOR}: {problem}")
    else:
        functions = dict.fromkeys(names.PROCESSOR_FUNCTIONS, "missing")
    ok = has_proc and all(v == "ok" for v in functions.values()) and not drift
    worlds = tuple(
        w
        for w, allowed in names.WORLDS.items()
        if ok and all(i.kind == "flowctl" and i.name in allowed for i in imports)
    )
    return ComponentReport(tuple(imports), exports, has_proc, functions, worlds, tuple(drift))
