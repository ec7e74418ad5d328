"""The one door to wasmtime-py's private internals (pinned in pyproject: ``wasmtime>=50.0.1,<51``).

Stock wasmtime-py converts every component value through Python objects on each call, re-reads
the function type every time, and cannot let a host function return ``err`` for
``result<option<T>, E>``; the value layer of :mod:`reference_host.abi` therefore talks to the C
API directly.  Everything it needs that wasmtime-py does not export is named here, and nowhere
else in the package:

``wasmtime._bindings`` (wasmtime-py's ctypes declarations of the C API)
    ``wasmtime_component_val_t`` (the value slots :mod:`~reference_host.abi.lower` writes and
    :mod:`~reference_host.abi.lift` reads), ``wasmtime_component_func_call`` (a call with our
    own argument and result arrays), ``wasmtime_component_val_delete`` / ``_clone`` (freeing a
    result; handing a host function's result to wasmtime, which takes ownership),
    ``wasmtime_component_linker_instance_add_func`` with ``wasmtime_component_func_callback_t``
    (a host function served by our own C callback) and ``wasmtime_error_new`` (the error a
    failing host function returns; wasmtime turns it into a guest trap).
``WasmtimeError._from_ptr``
    wraps a ``wasmtime_error_t *`` returned by the C API in the exception wasmtime-py raises.
``Func._func``
    the ``wasmtime_component_func_t`` behind a :class:`wasmtime.component.Func`.
``Store._context()``
    the ``wasmtime_context_t *`` every C call into a store takes.
``VariantLikeType._tagged()`` (only :mod:`reference_host.abi.stock`, for differential tests)
    stock wasmtime-py's rule for when a variant value is written ``Variant(tag, payload)``.

The component *types* (``FuncType``, ``RecordType``, ...) are public -- ``wasmtime.component``
exports them -- so :mod:`reference_host.inspect` imports them from there, not from
``wasmtime.component._types``.  Moving to a new wasmtime line starts with this module.
"""

from __future__ import annotations

import ctypes
from typing import Any

from wasmtime import Store, WasmtimeError
from wasmtime import _bindings as _ffi
from wasmtime.component import Func

__all__ = [
    "ERROR_PTR",
    "FUNC_CALLBACK_T",
    "FUNC_CALL_ADDR",
    "VAL_DELETE_ADDR",
    "VAL_T",
    "error_from_ptr",
    "error_new",
    "func_call",
    "func_handle",
    "is_tagged",
    "linker_instance_add_func",
    "store_context",
    "val_clone",
    "val_delete",
]

VAL_T = _ffi.wasmtime_component_val_t
FUNC_CALLBACK_T = _ffi.wasmtime_component_func_callback_t
# the raw ctypes functions (no Python wrapper in between: these are on every call's path)
func_call = _ffi._wasmtime_component_func_call
val_delete = _ffi._wasmtime_component_val_delete
val_clone = _ffi._wasmtime_component_val_clone
error_new = _ffi.wasmtime_error_new
ERROR_PTR = ctypes.POINTER(_ffi.wasmtime_error_t)
# the same two functions as plain addresses, for the native value layer's one-call path
FUNC_CALL_ADDR: int = ctypes.cast(func_call, ctypes.c_void_p).value or 0
VAL_DELETE_ADDR: int = ctypes.cast(val_delete, ctypes.c_void_p).value or 0
linker_instance_add_func = _ffi.wasmtime_component_linker_instance_add_func


def error_from_ptr(ptr: Any) -> WasmtimeError:
    """The ``WasmtimeError`` for a ``wasmtime_error_t *`` the C API returned (takes ownership)."""
    return WasmtimeError._from_ptr(ptr)


def func_handle(func: Func) -> Any:
    """The ``wasmtime_component_func_t`` behind a component function."""
    return func._func


def store_context(store: Store) -> Any:
    """The ``wasmtime_context_t *`` of a store, which every call into it takes."""
    return store._context()


def is_tagged(variant_type: Any) -> bool:
    """Whether stock wasmtime-py writes values of this variant-like type as ``Variant(...)``."""
    return bool(variant_type._tagged())
