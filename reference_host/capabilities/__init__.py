"""Host capabilities: one module per imported interface, all with the same shape.

Each capability is an object with ``interface`` (the WIT interface name it serves) and
``link(linker_instance, context)``, which defines every function of that interface in the given
linker instance.  Implementations receive and return model values (:mod:`reference_host.types`),
map every backend failure to the interface's error variant at one boundary
(:func:`~reference_host.capabilities.base.map_exceptions` with the module's ``to_*_error``
function), and never raise into the guest: an exception escaping a host function traps it.
"""

from __future__ import annotations

from reference_host.capabilities.base import (
    Boundary,
    Capability,
    HostContext,
    link_interface,
    map_exceptions,
)

__all__ = ["Boundary", "Capability", "HostContext", "link_interface", "map_exceptions"]
