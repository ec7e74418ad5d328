"""Calling guest exports and serving host imports with the fast value layer.

:class:`GuestFunc` calls one exported component function: arguments are lowered into a
Python-owned arena (see :mod:`reference_host.abi.lower`) that wasmtime borrows, the result is
lifted and then freed with one ``wasmtime_component_val_delete``.  The function type is read
once, not on every call as ``wasmtime.component.Func.__call__`` does.

:func:`add_host_func` defines an import with our own C callback: arguments are lifted with the
same decoders, the Python implementation's return value is lowered into an arena and handed to
wasmtime with one ``wasmtime_component_val_clone`` (wasmtime takes ownership of results).  This is
also what lets a host function return ``err`` for ``result<option<T>, E>``, which stock
wasmtime-py cannot express.  An exception escaping an implementation becomes a guest trap, and the
exception is kept so the caller can report it.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections.abc import Callable
from typing import Any

from wasmtime.component import Func, LinkerInstance

from reference_host.abi import _wasmtime as wt
from reference_host.abi import native
from reference_host.abi import schema as s
from reference_host.abi.lift import decoder, lift_slots, python_decoder
from reference_host.abi.lower import VAL, Arena, encoder, lower_into, python_encoder
from reference_host.errors import ValueConversionError

_VAL_PTR = ctypes.POINTER(wt.VAL_T)
_func_call = wt.func_call
_val_delete = wt.val_delete
_val_clone = wt.val_clone
_CALL = wt.FUNC_CALL_ADDR
_DELETE = wt.VAL_DELETE_ADDR


class _HostState(threading.local):
    exception: BaseException | None = None
    function: str = ""


HOST_STATE = _HostState()
"""Per-thread record of the last exception raised by a host function (cleared on read)."""


def take_host_exception() -> tuple[str, BaseException] | None:
    """The (function, exception) a host implementation raised during the last call, if any."""
    exc = HOST_STATE.exception
    if exc is None:
        return None
    HOST_STATE.exception = None
    return HOST_STATE.function, exc


class GuestFunc:
    """A guest export bound to its :class:`~reference_host.abi.schema.FuncSig`."""

    __slots__ = (
        "_arena",
        "_args",
        "_ctx",
        "_ctx_addr",
        "_dec",
        "_descs",
        "_encs",
        "_faddr",
        "_fref",
        "_func",
        "_invoke",
        "_rdesc",
        "_res",
        "_res_addr",
        "_res_ref",
        "sig",
    )

    def __init__(self, func: Func, sig: s.FuncSig, *, native_layer: bool = True) -> None:
        """``native_layer=False`` keeps to the Python value layer where the native one is built."""
        self._func = func
        self._fref = ctypes.byref(wt.func_handle(func))
        self.sig = sig
        enc, dec = (encoder, decoder) if native_layer else (python_encoder, python_decoder)
        self._encs = [enc(ty) for _n, ty in sig.params]
        self._dec = dec(sig.result) if sig.result is not None else None
        self._arena = Arena(1 << 15)
        self._args = ctypes.cast(self._arena.base, _VAL_PTR)
        self._res = wt.VAL_T()
        self._res_ref = ctypes.byref(self._res)
        self._res_addr = ctypes.addressof(self._res)
        # the native layer's one-call path: lower, call (GIL released), lift, free -- in C
        mod = native.module() if native_layer else None
        self._invoke = mod.invoke if mod is not None else None
        self._faddr = ctypes.addressof(wt.func_handle(func))
        self._descs = tuple(native.descriptor(ty) for _n, ty in sig.params) if mod else ()
        self._rdesc = native.descriptor(sig.result) if mod and sig.result is not None else None
        self._ctx: Any = None
        self._ctx_addr = 0

    def __call__(self, context: Any, *args: Any) -> Any:
        """Call the export in the store with this context (``_wasmtime.store_context(store)``).

        Raises :class:`ValueConversionError` before entering the guest when an argument does not
        fit its WIT type, and ``wasmtime.WasmtimeError`` when the call traps.
        """
        n = len(self._encs)
        if len(args) != n:
            raise ValueConversionError(f"{self.sig.name} takes {n} argument(s), {len(args)} given")
        if self._invoke is not None:
            if context is not self._ctx:
                self._ctx_addr = ctypes.cast(context, ctypes.c_void_p).value or 0
                self._ctx = context
            a = self._arena
            code, out = self._invoke(
                _CALL,
                _DELETE,
                self._faddr,
                self._ctx_addr,
                self._descs,
                args,
                a.base,
                a.limit,
                self._res_addr,
                self._rdesc,
            )
            if code == 0:
                return out
            if code == 3:
                raise wt.error_from_ptr(ctypes.cast(out, wt.ERROR_PTR))
            # 1 (the arena is too small) or 2 (a value does not fit): the path below grows the
            # arena, or the Python encoder names the problem
        arena = lower_into(self._arena, self._encs, args)
        if arena is not self._arena:
            self._arena = arena
            self._args = ctypes.cast(arena.base, _VAL_PTR)
        has_result = self._dec is not None
        err = _func_call(self._fref, context, self._args, n, self._res_ref, 1 if has_result else 0)
        if err:
            raise wt.error_from_ptr(err)
        if self._dec is None:
            return None
        try:
            return self._dec(self._res_addr)
        finally:
            # wasmtime assigns into the result slot (dropping what it holds): leave Bool(false)
            _val_delete(self._res_ref)
            ctypes.memset(self._res_ref, 0, VAL)


# --------------------------------------------------------------------------- host imports

_HANDLERS: dict[int, _HostFunc] = {}
_IDS = itertools.count(1)
_LOCK = threading.RLock()
"""Re-entrant: garbage collection can drop a Linker (whose finalizers take this lock) while the
same thread holds it."""


class _HostFunc:
    __slots__ = ("arena", "decs", "enc", "impl", "name")

    def __init__(self, name: str, sig: s.FuncSig, impl: Callable[..., Any]) -> None:
        self.name = name
        self.impl = impl
        self.decs = [decoder(ty) for _n, ty in sig.params]
        self.enc = encoder(sig.result) if sig.result is not None else None
        self.arena = Arena(1 << 12)

    def invoke(self, args: int, results: int) -> None:
        out = self.impl(*lift_slots(args, self.decs))
        if self.enc is None:
            return
        arena = self.arena = lower_into(self.arena, [self.enc], (out,))
        _val_clone(ctypes.cast(arena.base, _VAL_PTR), ctypes.cast(results, _VAL_PTR))


_CALLBACK_T = ctypes.CFUNCTYPE(
    ctypes.c_size_t,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_void_p,
    ctypes.c_size_t,
)


def _trampoline(
    data: int | None,
    _ctx: int | None,
    _ty: int | None,
    args: int | None,
    _nargs: int,
    results: int | None,
    _nresults: int,
) -> int:
    handler = _HANDLERS[data or 0]
    try:
        handler.invoke(args or 0, results or 0)
    except BaseException as exc:
        HOST_STATE.exception = exc
        HOST_STATE.function = handler.name
        msg = f"host function {handler.name} raised {type(exc).__name__}: {exc}"
        err = wt.error_new(msg.encode("utf-8", "replace"))
        return ctypes.cast(err, ctypes.c_void_p).value or 0
    return 0


def _finalize(data: int | None) -> None:
    with _LOCK:
        _HANDLERS.pop(data or 0, None)


_FINALIZE_T = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_TRAMPOLINE = _CALLBACK_T(_trampoline)
_TRAMPOLINE_PTR = ctypes.cast(_TRAMPOLINE, wt.FUNC_CALLBACK_T)
_FINALIZE_PTR = _FINALIZE_T(_finalize)


def add_host_func(
    instance: LinkerInstance, sig: s.FuncSig, impl: Callable[..., Any], *, qualname: str = ""
) -> None:
    """Define ``sig.name`` in a linker instance, served by ``impl(*args)``.

    ``impl`` receives model values and returns a model value (``Ok``/``Err`` or a bare error
    instance for results).  It should never raise: an exception traps the guest.
    """
    handler = _HostFunc(qualname or sig.name, sig, impl)  # allocates: may run GC finalizers
    with _LOCK:
        idx = next(_IDS)
        _HANDLERS[idx] = handler
    raw = sig.name.encode()
    err = wt.linker_instance_add_func(
        instance.ptr(),
        ctypes.create_string_buffer(raw),
        len(raw),
        _TRAMPOLINE_PTR,
        idx,
        _FINALIZE_PTR,
    )
    if err:
        with _LOCK:
            _HANDLERS.pop(idx, None)
        raise wt.error_from_ptr(err)
