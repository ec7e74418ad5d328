"""The one exception tree of the reference host.

Every failure the host can report is an instance of :class:`FlowctlHostError`; each message names
the problem *and* the remedy.  The tree::

    FlowctlHostError
    ├── ComponentLoadError                 the .wasm cannot be used at all
    │   ├── ComponentNotFoundError         no such file
    │   ├── NotWasmError                   not a WebAssembly binary (bad magic)
    │   ├── TruncatedComponentError        the binary ends early / does not validate
    │   ├── CoreModuleError                a core module where a component is required
    │   ├── CompileError                   wasmtime refused to compile it
    │   └── ContractError                  it does not implement obsrvr:flowctl@1.0.0
    │       ├── MissingProcessorExportError   no obsrvr:flowctl/processor@1.0.0 export
    │       └── WitDriftError                 an export or import has other types than our WIT
    ├── LinkError                          imports the policy does not satisfy
    │   ├── UngrantedImportError           flowctl capability not granted (names the policy key)
    │   ├── WasiImportError                WASI imported but not granted
    │   └── UnknownImportError             imports nothing the host knows how to provide
    ├── PolicyError                        the policy / pipeline YAML is invalid (names key paths)
    ├── ValueConversionError               a value does not fit its WIT type (before the call)
    ├── LifecycleError                     call refused in this state, without entering the guest
    └── GuestError                         the call entered the guest and failed
        ├── GuestTrap                      the guest trapped (unreachable, bad memory access, ...)
        │   ├── OutOfFuelError             fuel per call exhausted
        │   ├── CallTimeoutError           wall-clock budget per call exhausted (epoch)
        │   ├── MemoryLimitError           the guest hit the memory limit and trapped
        │   └── StackExhaustedError        call stack exhausted
        ├── ProcessorErrorResult           the guest returned `err(processor-error)`
        └── OutputLimitError               the guest's output exceeds the host's limits

`GuestTrap` subclasses carry ``recycled``: the host discarded the store and made a fresh instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reference_host.types import ProcessorError


class FlowctlHostError(Exception):
    """Base of every error the reference host raises on purpose."""


# --------------------------------------------------------------------------- loading


class ComponentLoadError(FlowctlHostError):
    """The file cannot be used as a flowctl processor component."""


class ComponentNotFoundError(ComponentLoadError):
    """The component file does not exist."""


class NotWasmError(ComponentLoadError):
    """The file is not a WebAssembly binary at all."""


class TruncatedComponentError(ComponentLoadError):
    """The file starts like WebAssembly but is incomplete or fails validation."""


class CoreModuleError(ComponentLoadError):
    """The file is a core WebAssembly module, not a component."""


class CompileError(ComponentLoadError):
    """Wasmtime refused to compile the component."""


class ContractError(ComponentLoadError):
    """The component does not implement the obsrvr:flowctl@1.0.0 processor contract."""


class MissingProcessorExportError(ContractError):
    """The component has no ``obsrvr:flowctl/processor@1.0.0`` export (or misses functions)."""


class WitDriftError(ContractError):
    """An interface the component uses has other types than ``wit/flowctl.wit``."""


# --------------------------------------------------------------------------- linking


class LinkError(FlowctlHostError):
    """The component imports something the policy does not provide."""


class UngrantedImportError(LinkError):
    """The component imports flowctl capabilities that the policy does not grant."""


class WasiImportError(LinkError):
    """The component imports WASI interfaces, which the policy does not grant."""


class UnknownImportError(LinkError):
    """The component imports interfaces the host does not know."""


# --------------------------------------------------------------------------- configuration


class PolicyError(FlowctlHostError):
    """The policy (pipeline YAML processor block or standalone file) is invalid."""


class ValueConversionError(FlowctlHostError, ValueError):
    """A Python value does not fit the WIT type; raised before entering the guest."""


class LifecycleError(FlowctlHostError):
    """A call was refused because the instance is not in a state that allows it."""


# --------------------------------------------------------------------------- guest calls


class GuestError(FlowctlHostError):
    """A call entered the guest and did not return a usable result.

    For ``process_batch`` the error also tells what was done before the failing chunk:
    ``processed`` (outputs of the chunks that succeeded), ``failed_offset`` (index of the failing
    chunk's first event) and ``failed_count`` (its size).
    """

    function: str
    processed: list[Any]
    failed_offset: int | None
    failed_count: int

    def __init__(self, message: str, *, function: str = "") -> None:
        super().__init__(message)
        self.function = function
        self.processed = []
        self.failed_offset = None
        self.failed_count = 0


class GuestTrap(GuestError):
    """The guest trapped; the host recycled the instance.

    ``trap_message`` is wasmtime's message; ``recycled`` tells whether a fresh instance was made
    (and re-initialized with the same config) after the trap.
    """

    trap_message: str
    recycled: bool

    def __init__(
        self, message: str, *, function: str = "", trap_message: str = "", recycled: bool = False
    ) -> None:
        super().__init__(message, function=function)
        self.trap_message = trap_message
        self.recycled = recycled


class OutOfFuelError(GuestTrap):
    """The call used all the fuel the policy allows per call (``max_fuel``)."""


class CallTimeoutError(GuestTrap):
    """The call exceeded the wall-clock budget per call (``execution_timeout``)."""


class MemoryLimitError(GuestTrap):
    """The guest reached ``max_memory_pages`` and trapped."""


class StackExhaustedError(GuestTrap):
    """The guest exhausted its call stack (unbounded recursion)."""


class ProcessorErrorResult(GuestError):
    """The guest returned ``err(processor-error)``; ``error`` holds the typed value."""

    error: ProcessorError

    def __init__(self, error: ProcessorError, *, function: str = "") -> None:
        super().__init__(f"{function or 'guest'} returned err({error})", function=function)
        self.error = error


class OutputLimitError(GuestError):
    """The guest produced more output than the host accepts."""
