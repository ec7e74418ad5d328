"""Reference host for flowctl WebAssembly processor components (``obsrvr:flowctl@1.0.0``).

The supported API is what this module exports; everything else is private to the package.

>>> from reference_host import HostEngine, ProcessorInstance, ResourceLimits  # doctest: +SKIP
>>> host = HostEngine(cache_dir=Path("~/.cache/flowctl-conformance").expanduser())
>>> with ProcessorInstance(host, host.load("ttp.wasm"), capabilities=[...]) as proc:
...     proc.initialize(config_json)
...     outputs = proc.process_batch(events)
"""

from __future__ import annotations

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

__all__ = [
    "AssetType",
    "CallMeasurement",
    "CallTimeoutError",
    "CompileError",
    "ComponentLoadError",
    "ComponentNotFoundError",
    "ComponentReport",
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
    "HostEngine",
    "HttpError",
    "KvError",
    "LifecycleError",
    "LinkError",
    "LoadedComponent",
    "MemoryLimitError",
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
