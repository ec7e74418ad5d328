"""Reference host for flowctl WebAssembly processor components (``obsrvr:flowctl@1.0.0``).

The supported API is what this module exports; everything else is private to the package.

>>> from reference_host import HostEngine, ProcessorInstance, ResourceLimits  # doctest: +SKIP
>>> host = HostEngine(cache_dir=Path("~/.cache/flowctl-conformance").expanduser())
>>> with ProcessorInstance(host, host.load("ttp.wasm"), capabilities=[...]) as proc:
...     proc.initialize(config_json)
...     outputs = proc.process_batch(events)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> module defining it; imported on first use, so `import reference_host.engine` (or the
# CLI) does not pay for pydantic, pglast, ... until they are needed
_EXPORTS: dict[str, str] = {
    "AssetType": "reference_host.types",
    "CallMeasurement": "reference_host.limits",
    "CallTimeoutError": "reference_host.errors",
    "CompileError": "reference_host.errors",
    "ComponentLoadError": "reference_host.errors",
    "ComponentNotFoundError": "reference_host.errors",
    "ComponentReport": "reference_host.inspect",
    "ConfigCapability": "reference_host.capabilities.config",
    "ContractError": "reference_host.errors",
    "CoreModuleError": "reference_host.errors",
    "DbError": "reference_host.types",
    "EngineConfig": "reference_host.engine",
    "Err": "reference_host.types",
    "Event": "reference_host.types",
    "EventType": "reference_host.types",
    "FlowctlHostError": "reference_host.errors",
    "Generic": "reference_host.types",
    "GuestError": "reference_host.errors",
    "GuestTrap": "reference_host.errors",
    "HealthState": "reference_host.types",
    "HealthStatus": "reference_host.types",
    "HostContext": "reference_host.capabilities.base",
    "HostEngine": "reference_host.engine",
    "HttpClientCapability": "reference_host.capabilities.http_client",
    "HttpError": "reference_host.types",
    "KeyValueHostCapability": "reference_host.capabilities.key_value",
    "KvError": "reference_host.types",
    "LifecycleError": "reference_host.errors",
    "LinkError": "reference_host.errors",
    "LoadedComponent": "reference_host.engine",
    "LoggingCapability": "reference_host.capabilities.logging",
    "MemoryLimitError": "reference_host.errors",
    "MetricsCapability": "reference_host.capabilities.metrics",
    "MissingProcessorExportError": "reference_host.errors",
    "NotWasmError": "reference_host.errors",
    "Ok": "reference_host.types",
    "OperationType": "reference_host.types",
    "OutOfFuelError": "reference_host.errors",
    "OutputLimitError": "reference_host.errors",
    "Policy": "reference_host.policy",
    "PolicyError": "reference_host.errors",
    "ProcessorError": "reference_host.types",
    "ProcessorErrorResult": "reference_host.errors",
    "ProcessorInfo": "reference_host.types",
    "ProcessorInstance": "reference_host.processor",
    "ResourceLimits": "reference_host.limits",
    "SqlCapability": "reference_host.capabilities.database",
    "StackExhaustedError": "reference_host.errors",
    "State": "reference_host.processor",
    "StellarAsset": "reference_host.types",
    "StellarLedger": "reference_host.types",
    "StellarOperation": "reference_host.types",
    "StellarTransaction": "reference_host.types",
    "TokenTransfer": "reference_host.types",
    "TruncatedComponentError": "reference_host.errors",
    "UngrantedImportError": "reference_host.errors",
    "UnknownImportError": "reference_host.errors",
    "ValueConversionError": "reference_host.errors",
    "WasiImportError": "reference_host.errors",
    "WitDriftError": "reference_host.errors",
    "default_cache_dir": "reference_host.engine",
    "event_from_json": "reference_host.jsonform",
    "event_schema": "reference_host.jsonform",
    "event_to_json": "reference_host.jsonform",
    "inspect_component": "reference_host.inspect",
    "load_policy": "reference_host.policy",
    "open_processor": "reference_host.host",
}

__all__ = [
    "AssetType",
    "CallMeasurement",
    "CallTimeoutError",
    "CompileError",
    "ComponentLoadError",
    "ComponentNotFoundError",
    "ComponentReport",
    "ConfigCapability",
    "ContractError",
    "CoreModuleError",
    "DbError",
    "EngineConfig",
    "Err",
    "Event",
    "EventType",
    "FlowctlHostError",
    "Generic",
    "GuestError",
    "GuestTrap",
    "HealthState",
    "HealthStatus",
    "HostContext",
    "HostEngine",
    "HttpClientCapability",
    "HttpError",
    "KeyValueHostCapability",
    "KvError",
    "LifecycleError",
    "LinkError",
    "LoadedComponent",
    "LoggingCapability",
    "MemoryLimitError",
    "MetricsCapability",
    "MissingProcessorExportError",
    "NotWasmError",
    "Ok",
    "OperationType",
    "OutOfFuelError",
    "OutputLimitError",
    "Policy",
    "PolicyError",
    "ProcessorError",
    "ProcessorErrorResult",
    "ProcessorInfo",
    "ProcessorInstance",
    "ResourceLimits",
    "SqlCapability",
    "StackExhaustedError",
    "State",
    "StellarAsset",
    "StellarLedger",
    "StellarOperation",
    "StellarTransaction",
    "TokenTransfer",
    "TruncatedComponentError",
    "UngrantedImportError",
    "UnknownImportError",
    "ValueConversionError",
    "WasiImportError",
    "WitDriftError",
    "default_cache_dir",
    "event_from_json",
    "event_schema",
    "event_to_json",
    "inspect_component",
    "load_policy",
    "open_processor",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reference_host' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from reference_host.capabilities.base import HostContext
    from reference_host.capabilities.config import ConfigCapability
    from reference_host.capabilities.database import SqlCapability
    from reference_host.capabilities.http_client import HttpClientCapability
    from reference_host.capabilities.key_value import KeyValueHostCapability
    from reference_host.capabilities.logging import LoggingCapability
    from reference_host.capabilities.metrics import MetricsCapability
    from reference_host.engine import EngineConfig, HostEngine, LoadedComponent, default_cache_dir
    from reference_host.errors import (
        CallTimeoutError,
        CompileError,
        ComponentLoadError,
        ComponentNotFoundError,
        ContractError,
        CoreModuleError,
        FlowctlHostError,
        GuestError,
        GuestTrap,
        LifecycleError,
        LinkError,
        MemoryLimitError,
        MissingProcessorExportError,
        NotWasmError,
        OutOfFuelError,
        OutputLimitError,
        PolicyError,
        ProcessorErrorResult,
        StackExhaustedError,
        TruncatedComponentError,
        UngrantedImportError,
        UnknownImportError,
        ValueConversionError,
        WasiImportError,
        WitDriftError,
    )
    from reference_host.host import open_processor
    from reference_host.inspect import ComponentReport, inspect_component
    from reference_host.jsonform import event_from_json, event_schema, event_to_json
    from reference_host.limits import CallMeasurement, ResourceLimits
    from reference_host.policy import Policy, load_policy
    from reference_host.processor import ProcessorInstance, State
    from reference_host.types import (
        AssetType,
        DbError,
        Err,
        Event,
        EventType,
        Generic,
        HealthState,
        HealthStatus,
        HttpError,
        KvError,
        Ok,
        OperationType,
        ProcessorError,
        ProcessorInfo,
        StellarAsset,
        StellarLedger,
        StellarOperation,
        StellarTransaction,
        TokenTransfer,
    )
