"""The public API of ``reference_host``: the one list of what the package exports.

One ``from <defining module> import <name> as <name>`` line per supported name, and nothing
else.  Type checkers read this stub as the package's interface; at run time ``__init__.py`` reads
the same lines (:mod:`reference_host._facade`) for ``__all__`` and lazy imports.  To export a
name, add its line here; ``tests/unit/test_exports.py`` checks that every name resolves to the
object its module defines.
"""

from reference_host.capabilities.base import HostContext as HostContext
from reference_host.capabilities.config import ConfigCapability as ConfigCapability
from reference_host.capabilities.database import DatabaseCapability as DatabaseCapability
from reference_host.capabilities.http_client import HttpClientCapability as HttpClientCapability
from reference_host.capabilities.key_value import KeyValueCapability as KeyValueCapability
from reference_host.capabilities.logging import LoggingCapability as LoggingCapability
from reference_host.capabilities.metrics import MetricsCapability as MetricsCapability
from reference_host.engine import EngineConfig as EngineConfig
from reference_host.engine import HostEngine as HostEngine
from reference_host.engine import LoadedComponent as LoadedComponent
from reference_host.engine import default_cache_dir as default_cache_dir
from reference_host.errors import CallTimeoutError as CallTimeoutError
from reference_host.errors import CompileError as CompileError
from reference_host.errors import ComponentLoadError as ComponentLoadError
from reference_host.errors import ComponentNotFoundError as ComponentNotFoundError
from reference_host.errors import ContractError as ContractError
from reference_host.errors import CoreModuleError as CoreModuleError
from reference_host.errors import FlowctlHostError as FlowctlHostError
from reference_host.errors import GuestError as GuestError
from reference_host.errors import GuestTrap as GuestTrap
from reference_host.errors import LifecycleError as LifecycleError
from reference_host.errors import LinkError as LinkError
from reference_host.errors import MemoryLimitError as MemoryLimitError
from reference_host.errors import MissingProcessorExportError as MissingProcessorExportError
from reference_host.errors import NotWasmError as NotWasmError
from reference_host.errors import OutOfFuelError as OutOfFuelError
from reference_host.errors import OutputLimitError as OutputLimitError
from reference_host.errors import PolicyError as PolicyError
from reference_host.errors import ProcessorErrorResult as ProcessorErrorResult
from reference_host.errors import StackExhaustedError as StackExhaustedError
from reference_host.errors import TruncatedComponentError as TruncatedComponentError
from reference_host.errors import UngrantedImportError as UngrantedImportError
from reference_host.errors import UnknownImportError as UnknownImportError
from reference_host.errors import ValueConversionError as ValueConversionError
from reference_host.errors import WasiImportError as WasiImportError
from reference_host.errors import WitDriftError as WitDriftError
from reference_host.host import open_processor as open_processor
from reference_host.inspect import ComponentReport as ComponentReport
from reference_host.inspect import inspect_component as inspect_component
from reference_host.jsonform import event_from_json as event_from_json
from reference_host.jsonform import event_schema as event_schema
from reference_host.jsonform import event_to_json as event_to_json
from reference_host.limits import CallMeasurement as CallMeasurement
from reference_host.limits import ResourceLimits as ResourceLimits
from reference_host.policy import Policy as Policy
from reference_host.policy import load_policy as load_policy
from reference_host.processor import ProcessorInstance as ProcessorInstance
from reference_host.processor import State as State
from reference_host.types import AssetType as AssetType
from reference_host.types import DbError as DbError
from reference_host.types import Err as Err
from reference_host.types import Event as Event
from reference_host.types import EventType as EventType
from reference_host.types import Generic as Generic
from reference_host.types import HealthState as HealthState
from reference_host.types import HealthStatus as HealthStatus
from reference_host.types import HttpError as HttpError
from reference_host.types import KvError as KvError
from reference_host.types import Ok as Ok
from reference_host.types import OperationType as OperationType
from reference_host.types import ProcessorError as ProcessorError
from reference_host.types import ProcessorInfo as ProcessorInfo
from reference_host.types import StellarAsset as StellarAsset
from reference_host.types import StellarLedger as StellarLedger
from reference_host.types import StellarOperation as StellarOperation
from reference_host.types import StellarTransaction as StellarTransaction
from reference_host.types import TokenTransfer as TokenTransfer
