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
from reference_host.errors import PolicyError
from reference_host.inspect import inspect_component
from reference_host.limits import ResourceLimits
from reference_host.policy import Policy
from reference_host.processor import ProcessorInstance


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

    def refusals(self) -> int:
        """Calls the capabilities refused plus permission questions they answered no."""
        denied = sum(len(getattr(c, "denials", ())) for c in self.others)
        return denied + sum(getattr(c, "refused_questions", 0) for c in self.others)


def capabilities_from_policy(
    policy: Policy, component_id: str, imported: frozenset[str] | None = None
) -> GrantedCapabilities:
    """Make the capability objects for what ``policy`` grants (and, if given, is ``imported``).

    Backends (HTTP client, PostgreSQL connection, Redis client) are only made for capabilities
    the component imports: a grant the component does not use costs nothing.
    """
    caps = policy.capabilities

    def wanted(interface: str) -> bool:
        return policy.grants(interface) and (imported is None or interface in imported)

    granted = GrantedCapabilities(
        logging=LoggingCapability(component_id) if wanted(names.LOGGING) else None,
        metrics=MetricsCapability(component_id) if wanted(names.METRICS) else None,
        config=(
            ConfigCapability.from_json_text(policy.processor_config)
            if wanted(names.CONFIG)
            else None
        ),
    )
    if wanted(names.HTTP_CLIENT):
        from reference_host.capabilities.http_client import HttpClientCapability

        granted.others.append(
            HttpClientCapability.from_policy(caps.http, component_id=component_id)
        )
    if wanted(names.DATABASE):
        from reference_host.capabilities.database import DatabaseCapability

        granted.others.append(
            DatabaseCapability.from_policy(caps.database, component_id=component_id)
        )
    if wanted(names.KEY_VALUE):
        from reference_host.capabilities.key_value import KeyValueCapability

        granted.others.append(
            KeyValueCapability.from_policy(caps.key_value, component_id=component_id)
        )
    return granted


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
    report = inspect_component(host.engine, loaded.component)
    granted = capabilities_from_policy(policy, cid, frozenset(report.flowctl_imports))
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
