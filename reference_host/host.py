"""From a :class:`~reference_host.policy.Policy` to a running :class:`ProcessorInstance`.

The one place where policy becomes enforcement: limits, the capabilities that are linked (only
granted ones), the WASI grant and the unknown-imports mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reference_host import interfaces as names
from reference_host.capabilities.base import Capability
from reference_host.capabilities.config import ConfigCapability
from reference_host.capabilities.logging import LoggingCapability
from reference_host.capabilities.metrics import MetricsCapability
from reference_host.engine import HostEngine
from reference_host.errors import PolicyError, UngrantedImportError
from reference_host.limits import ResourceLimits
from reference_host.policy import Policy
from reference_host.processor import ProcessorInstance

NOT_YET = {
    names.HTTP_CLIENT: "capabilities.http",
    names.DATABASE: "capabilities.database",
    names.KEY_VALUE: "capabilities.key_value",
}
"""Capabilities a policy may grant but this host does not serve yet (see the README)."""


def limits_from_policy(policy: Policy) -> ResourceLimits:
    """The resource limits a policy asks for."""
    return ResourceLimits(
        max_memory_pages=policy.max_memory_pages,
        max_fuel=policy.max_fuel,
        execution_timeout_s=policy.execution_timeout,
        max_wasm_stack=policy.max_wasm_stack,
        batch_size=policy.batch_size,
    )


@dataclass
class GrantedCapabilities:
    """The capability objects made for one instance (kept so callers can read what they saw)."""

    logging: LoggingCapability | None = None
    metrics: MetricsCapability | None = None
    config: ConfigCapability | None = None
    others: list[Capability] = field(default_factory=list)

    def all(self) -> list[Capability]:
        """Every capability object, for linking."""
        caps: list[Capability] = [c for c in (self.logging, self.metrics, self.config) if c]
        return caps + self.others


def capabilities_from_policy(policy: Policy, component_id: str) -> GrantedCapabilities:
    """Make the capability objects for exactly what ``policy`` grants."""
    caps = policy.capabilities
    return GrantedCapabilities(
        logging=LoggingCapability(component_id) if caps.logging else None,
        metrics=MetricsCapability(component_id) if caps.metrics else None,
        config=ConfigCapability.from_json_text(policy.processor_config) if caps.config else None,
    )


def open_processor(
    policy: Policy,
    component: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    component_id: str = "",
    host: HostEngine | None = None,
) -> tuple[ProcessorInstance, GrantedCapabilities]:
    """Load, check, link and instantiate the component ``policy`` describes.

    ``component`` overrides ``policy.component_file``.  Returns the instance (INSTANTIATED, not yet
    initialized) and the capability objects linked into it.
    """
    path = component if component is not None else policy.component_file
    if path is None:
        raise PolicyError(
            "no component given: pass the .wasm path or set component_file in the policy"
        )
    limits = limits_from_policy(policy)
    host = host or HostEngine(limits.engine_config(), cache_dir=cache_dir)
    loaded = host.load(path)
    cid = component_id or Path(path).stem
    granted = capabilities_from_policy(policy, cid)
    from reference_host.inspect import inspect_component

    report = inspect_component(host.engine, loaded.component)
    pending = [n for n in report.flowctl_imports if n in NOT_YET and policy.grants(n)]
    if pending and policy.unknown_imports == "refuse":
        raise UngrantedImportError(
            f"the component imports {', '.join(pending)}; the policy grants "
            f"{', '.join(NOT_YET[n] for n in pending)}, but this version of the reference host "
            "does not serve those capabilities yet. Use unknown_imports: trap to load it anyway "
            "(calls to them then trap)."
        )
    instance = ProcessorInstance(
        host,
        loaded,
        limits=limits,
        capabilities=granted.all(),
        unknown_imports=policy.unknown_imports,
        allow_wasi=policy.capabilities.wasi,
        component_id=cid,
        report=report,
    )
    return instance, granted
