"""The shape every capability shares: the context host functions see, and the error boundary.

:func:`map_exceptions` is the one place where a capability's exceptions become its WIT error
variant; :func:`link_interface` defines an interface's functions in a linker instance.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from wasmtime.component import LinkerInstance

from reference_host.abi import schema
from reference_host.abi.call import add_host_func
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.types import Err

__all__ = ["Boundary", "Capability", "HostContext", "link_interface", "map_exceptions"]

E = TypeVar("E")


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


# ---------------------------------------------------------------------- the error boundary


@dataclass
class Boundary(Generic[E]):
    """What :func:`map_exceptions` caught: ``error`` is the WIT error an exception became."""

    error: E | None = None

    def result(self) -> Err[E]:
        """``Err(error)``: for the line after the ``with`` block, reached only when it raised."""
        assert self.error is not None, "the with block neither returned nor raised"
        return Err(self.error)


@contextmanager
def map_exceptions(to_error: Callable[[Exception], E]) -> Iterator[Boundary[E]]:
    """Map any ``Exception`` raised in the ``with`` block to a WIT error, and suppress it.

    The shape of httpx's ``map_httpcore_exceptions`` with one difference: the error is not
    re-raised but kept in the yielded :class:`Boundary` for the caller to *return*, because an
    exception escaping a host function is a guest trap, not an error.  Each capability passes
    its own mapping function (which exception is which case, and logging the unexpected ones)::

        with map_exceptions(to_http_error) as boundary:
            return Ok(self._request(req))  # the block returns on success
        return boundary.result()  # Err(http-error)

    ``KeyboardInterrupt``, ``SystemExit`` and other non-``Exception`` errors pass through.
    """
    boundary: Boundary[E] = Boundary()
    try:
        yield boundary
    except Exception as exc:
        boundary.error = to_error(exc)
