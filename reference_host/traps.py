"""What kind of trap a wasmtime error is, its cause line, and the remedy to print with it.

**Trap codes.**  wasmtime-py 50.0.1 has them only for core-module calls: ``wasmtime.Func``
raises :class:`wasmtime.Trap`, whose ``trap_code`` is a :class:`wasmtime.TrapCode`.  Component
calls and instantiation -- everything the host runs -- raise a plain ``WasmtimeError``, because
the C API's ``wasmtime_component_func_call`` and ``wasmtime_component_linker_instantiate``
return a ``wasmtime_error_t *``, and the C API reads a code only from a ``wasm_trap_t *``
(``wasmtime_trap_code``); it has no function that reads one from a ``wasmtime_error_t``.  So:

* a :class:`wasmtime.Trap` with a code is classified **by its code**
  (``OUT_OF_FUEL``, ``INTERRUPT``, ``STACK_OVERFLOW``; any other code is a plain trap);
* every other error -- each trap of a component call, so each one the host sees today -- is
  classified **by its message** (``"wasm trap: all fuel consumed by WebAssembly"``,
  ``"wasm trap: interrupt"``, ``"wasm trap: call stack exhausted"``, memory-limit wording).

``tests/unit/test_processor.py`` checks both halves, including that a component trap still
arrives without a code (when it stops doing so, the message fallback can shrink).
"""

from __future__ import annotations

from wasmtime import Trap, TrapCode

from reference_host.errors import (
    CallTimeoutError,
    GuestTrap,
    MemoryLimitError,
    OutOfFuelError,
    StackExhaustedError,
)

__all__ = ["REMEDIES", "classify_trap", "trap_reason"]

_BY_CODE: dict[TrapCode, type[GuestTrap]] = {
    TrapCode.OUT_OF_FUEL: OutOfFuelError,
    TrapCode.INTERRUPT: CallTimeoutError,
    TrapCode.STACK_OVERFLOW: StackExhaustedError,
}


def trap_reason(message: str) -> str:
    """The cause line of a wasmtime error ("wasm trap: all fuel consumed ..."), else line one."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if "Caused by:" in lines:
        after = lines[lines.index("Caused by:") + 1 :]
        if after:
            return after[-1]
    return lines[0] if lines else "trap"


def classify_trap(error: BaseException | str) -> type[GuestTrap]:
    """The :class:`GuestTrap` subclass for a wasmtime error (or its message).

    By trap code where wasmtime gives one (a :class:`wasmtime.Trap`), else by message.
    """
    if isinstance(error, Trap):
        code = error.trap_code
        if code is not None:
            return _BY_CODE.get(code, GuestTrap)
    low = str(error).lower()
    if "all fuel consumed" in low or "out of fuel" in low:
        return OutOfFuelError
    if "interrupt" in low or "epoch deadline" in low:
        return CallTimeoutError
    if "call stack exhausted" in low or "stack overflow" in low:
        return StackExhaustedError
    if "memory" in low and ("limit" in low or "exceeds" in low or "grow" in low):
        return MemoryLimitError
    return GuestTrap


REMEDIES: dict[type[GuestTrap], str] = {
    OutOfFuelError: "the call needed more fuel than max_fuel allows; raise max_fuel or do less "
    "work per call (smaller batch_size)",
    CallTimeoutError: "the call ran longer than execution_timeout; raise execution_timeout, lower "
    "batch_size, or fix a loop that never ends",
    StackExhaustedError: "the guest recursed too deeply; fix unbounded recursion or raise "
    "max_wasm_stack",
    MemoryLimitError: "the guest needs more linear memory than max_memory_pages allows; raise "
    "max_memory_pages or reduce the guest's memory use",
    GuestTrap: "the guest trapped (a bug in the component); a well-behaved component returns "
    "processor-error instead",
}
"""What to do about each kind of trap (the end of every :class:`GuestTrap` message)."""
