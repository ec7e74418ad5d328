"""The shape every capability shares, and the per-instance context host functions see."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from wasmtime.component import LinkerInstance

from reference_host.abi import schema
from reference_host.abi.call import add_host_func
from reference_host.limits import CallBudget, ResourceLimits


@dataclass
class HostContext:
    """What host functions know about the instance calling them.

    ``budget`` tells how much of the current call's wall-clock budget is left (capabilities bound
    their I/O by it); ``component_id`` tags logs and metrics; ``calls`` counts the guest's calls
    per imported function (``"key-value.get"``), which is how a conformance run tells the
    capabilities a component actually uses from the ones it merely imports.
    """

    component_id: str
    budget: CallBudget = field(default_factory=lambda: CallBudget(ResourceLimits()))
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("flowctl.guest"))
    calls: Counter[str] = field(default_factory=Counter)
    #: Sees every guest call (``"logging.log"``, its arguments) before the capability does, for
    #: conformance checks of what a guest hands the host (e.g. secrets in log records).
    observer: Callable[[str, tuple[Any, ...]], None] | None = None

    def remaining(self) -> float:
        """Seconds left in the current call."""
        return self.budget.remaining()


class Capability(Protocol):
    """A host capability: serves one imported interface."""

    interface: str

    def link(self, linker: LinkerInstance, context: HostContext) -> None:
        """Define every function of ``interface`` in ``linker``."""

    def close(self) -> None:
        """Release backend resources (connections, open transactions).

        A capability may also define ``reset()``: the host calls it whenever it discards the
        guest's instance after a trap (e.g. to roll back transactions the dead instance opened).
        """


def link_interface(
    linker: LinkerInstance,
    interface: str,
    impls: Mapping[str, Callable[..., Any]],
    *,
    context: HostContext | None = None,
) -> None:
    """Define all functions of ``interface`` (full name) from ``impls`` (WIT name → callable).

    Raises ``KeyError`` naming the function when an implementation is missing: a capability must
    serve its whole interface.  With ``context``, every call is counted in ``context.calls``.
    """
    short = interface.split("/")[1].split("@")[0]
    for name, sig in schema.INTERFACES[short].items():
        if name not in impls:
            raise KeyError(f"capability for {interface} does not implement {name}")
        impl = impls[name]
        if context is not None:
            impl = _counted(context, f"{short}.{name}", impl)
        add_host_func(linker, sig, impl, qualname=f"{short}.{name}")


def _counted(context: HostContext, key: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any) -> Any:
        context.calls[key] += 1
        if context.observer is not None:
            context.observer(key, args)
        return impl(*args)

    return counted
