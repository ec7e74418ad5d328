"""Before instantiation: does the component fit the host, and the linker that serves its imports.

:func:`check_contract` refuses a component that does not export our processor interface with our
types.  :func:`build_linker` decides every import against the policy's grants and links it:

* a granted ``obsrvr:flowctl/*`` import is served by its capability object;
* with ``unknown_imports="refuse"`` (the default) an ungranted flowctl capability, ungranted
  WASI, or an import no flowctl host provides refuses the component, naming what to grant or
  remove (:class:`~reference_host.errors.LinkError` subclasses);
* with ``unknown_imports="trap"`` they are linked as functions that trap when called (an
  ungranted flowctl function names the policy key that grants it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wasmtime import Engine
from wasmtime.component import Component, Linker, LinkerInstance

from reference_host import interfaces as names
from reference_host.abi import schema
from reference_host.abi.call import add_host_func
from reference_host.capabilities.base import Capability, HostContext
from reference_host.errors import (
    MissingProcessorExportError,
    UngrantedImportError,
    UnknownImportError,
    WasiImportError,
    WitDriftError,
)
from reference_host.inspect import ComponentReport

__all__ = ["build_linker", "check_contract"]


def check_contract(report: ComponentReport) -> None:
    """Raise when the component does not export our processor interface with our types."""
    if not report.processor_export:
        raise MissingProcessorExportError(
            f"the component does not export {names.PROCESSOR} (it exports: "
            f"{', '.join(report.exports) or 'nothing'}); build it for one of the worlds "
            f"{', '.join(names.WORLDS)} of wit/flowctl.wit"
        )
    missing = [f for f, v in report.functions.items() if v == "missing"]
    if missing:
        raise MissingProcessorExportError(
            f"{names.PROCESSOR} lacks {', '.join(missing)}; implement every processor function"
        )
    if report.drift:
        raise WitDriftError(
            "the component was built from a WIT that differs from obsrvr:flowctl@1.0.0: "
            + "; ".join(report.drift)
            + ". Rebuild it against this project's wit/flowctl.wit."
        )


def _link_refusals(linker: LinkerInstance, interface: str) -> None:
    """Define every function of an ungranted capability as a trap naming the grant to add."""
    short = names.short(interface)
    key = names.GRANT_KEYS[interface]

    def refuse(*_args: Any) -> Any:
        raise PermissionError(f"{interface} is not granted ({key} grants it)")

    for sig in schema.INTERFACES[short].values():
        add_host_func(linker, sig, refuse, qualname=f"{short}.{sig.name}")


def build_linker(
    engine: Engine,
    component: Component,
    report: ComponentReport,
    capabilities: Mapping[str, Capability],
    context: HostContext,
    *,
    unknown_imports: str,
    allow_wasi: bool,
) -> Linker:
    """The linker for ``component``: ``capabilities`` (by interface) serve what is granted.

    Raises ``ValueError`` for an ``unknown_imports`` other than ``"refuse"`` / ``"trap"``, and a
    :class:`~reference_host.errors.LinkError` when refusing (see the module docstring).
    """
    if unknown_imports not in ("refuse", "trap"):
        raise ValueError("unknown_imports must be 'refuse' or 'trap'")
    ungranted = [n for n in report.flowctl_imports if n not in capabilities]
    wasi = [] if allow_wasi else list(report.wasi_imports)
    other = list(report.other_imports)
    if unknown_imports == "refuse":
        listing = ", ".join(i.name for i in report.imports) or "nothing"
        if ungranted:
            grants = "; ".join(f"{n} ← {names.GRANT_KEYS[n]}" for n in ungranted)
            raise UngrantedImportError(
                f"the component imports {listing}; the policy does not grant: {grants}. "
                "Grant them in the policy, or load with unknown_imports='trap' to make "
                "ungranted imports trap when called."
            )
        if wasi:
            raise WasiImportError(
                f"the component imports WASI ({', '.join(wasi)}), which the policy does not "
                "grant (capabilities.wasi: true). Sandboxed processors should not need WASI: "
                "build with `componentize-py --stub-wasi` or `jco componentize -d ...`."
            )
        if other:
            raise UnknownImportError(
                f"the component imports {', '.join(other)}, which no flowctl host provides; "
                "remove those imports (the processor may import only obsrvr:flowctl/*)."
            )
    linker = Linker(engine)
    if allow_wasi and report.wasi_imports:
        linker.add_wasip2()
    with linker.root() as root:
        for name in report.flowctl_imports:
            cap = capabilities.get(name)
            if cap is not None:
                with root.add_instance(name) as li:
                    cap.link(li, context)
            elif unknown_imports == "trap":
                with root.add_instance(name) as li:
                    _link_refusals(li, name)
    if unknown_imports == "trap" and (other or wasi):
        # wasmtime matches names exactly here, so this would also shadow a semver-compatible
        # granted WASI with traps; it is only needed for imports no one provides
        linker.define_unknown_imports_as_traps(component)
    return linker
