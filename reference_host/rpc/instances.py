"""The instances ``flowctl-host serve`` runs: one compiled component, a fresh instance per need.

The component is loaded and inspected once; every Process stream gets an instance of its own
(initialized with the policy's config, shut down when the stream ends), so concurrent streams
never share state; the service's own instance answers GetInfo and HealthCheck.  All instances
report into one metrics capability, so ``/metrics`` shows the component's metrics across streams.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from reference_host.capabilities.metrics import MetricsCapability
from reference_host.engine import HostEngine, LoadedComponent
from reference_host.host import GrantedCapabilities, capabilities_from_policy, limits_from_policy
from reference_host.inspect import ComponentReport, inspect_component
from reference_host.policy import Policy
from reference_host.processor import ProcessorInstance


@dataclass
class InstanceFactory:
    """Makes instances of one loaded component under one policy."""

    policy: Policy
    component: Path
    component_id: str
    cache_dir: Path | None = None
    host: HostEngine = field(init=False)
    loaded: LoadedComponent = field(init=False)
    report: ComponentReport = field(init=False)
    metrics: MetricsCapability = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        limits = limits_from_policy(self.policy)
        self.host = HostEngine(limits.engine_config(), cache_dir=self.cache_dir)
        self.loaded = self.host.load(self.component)
        self.report = inspect_component(self.host.engine, self.loaded.component)
        self.metrics = MetricsCapability(self.component_id)

    def new(self, *, initialize: bool = True) -> tuple[ProcessorInstance, GrantedCapabilities]:
        """A fresh instance (initialized with the policy's config unless asked not to).

        Raises the host's typed errors: a link refusal, a config the component refuses
        (:class:`~reference_host.errors.ProcessorErrorResult`), a trap.
        """
        imported = frozenset(self.report.flowctl_imports)
        granted = capabilities_from_policy(self.policy, self.component_id, imported)
        if granted.metrics is not None:
            granted.metrics = self.metrics
        if granted.logging is not None:  # a long stream must not keep every record it logged
            granted.logging.max_kept = 1000
        instance = ProcessorInstance(
            self.host,
            self.loaded,
            limits=limits_from_policy(self.policy),
            capabilities=granted.all(),
            unknown_imports=self.policy.unknown_imports,
            allow_wasi=self.policy.capabilities.wasi,
            component_id=self.component_id,
            report=self.report,
        )
        if initialize:
            try:
                instance.initialize(self.policy.processor_config)
            except BaseException:
                instance.close()
                raise
        return instance, granted
