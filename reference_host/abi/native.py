"""The native value layer: ``_native.c``, built on demand, behind the Python one.

:mod:`reference_host.abi.lower` and :mod:`reference_host.abi.lift` describe every WIT type once
more as a *descriptor* (nested tuples, :func:`descriptor`), and when the C module is available
their encoders and decoders run it instead of the Python code: the same layout, the same checks,
2.5-4x faster per typed event (the ``ours`` and ``python`` columns of ``python -m
benchmarks.peers``).  A value the C code does not accept is handed back to the Python encoder,
which names the problem, so every error reads the same in both layers and a value the two judge
differently is decided by the Python one.

Building: ``python -m reference_host.abi.native build`` compiles ``_native.c`` with the C
compiler CPython was built with (``gcc`` on Linux) against this interpreter's headers, into
``reference_host/abi/_build/`` (or, when the package directory is read-only, the user cache).
The first import builds it when it is missing (under a second, once).  The file name carries the
source's hash and the interpreter's ABI tag, so a changed source or another Python never loads a
stale build.  Without a compiler, headers or a writable directory the Python layer runs alone and
:func:`status` says why; ``python -m reference_host.abi.native status`` prints it.

Before it is used, the loaded module is checked against the Python layer on a sample of every
kind of value (:func:`_self_check`): a build that disagrees is never used.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

SOURCE = Path(__file__).with_name("_native.c")

D_STRING, D_BOOL, D_INT, D_F32, D_F64, D_CHAR, D_LIST, D_RECORD, D_TUPLE = range(9)
D_OPTION, D_ENUM, D_TAGGED, D_BYCLASS, D_RESULT = range(9, 14)

_state: dict[str, Any] = {"module": None, "reason": "not loaded yet", "loaded": False}
_LOCK = threading.Lock()


def _tag() -> str:
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    return f"_native-{digest}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


def _dirs() -> list[Path]:
    from reference_host.engine import default_cache_dir

    return [Path(__file__).with_name("_build"), default_cache_dir().parent / "native"]


def build(out_dir: Path | None = None) -> Path:
    """The current build of ``_native.c`` (in any of the directories), compiled if there is none.

    Raises ``RuntimeError`` naming the compiler's complaint, or ``OSError``.
    """
    import subprocess
    import sysconfig
    import tempfile

    name = _tag()
    dirs = [out_dir] if out_dir else _dirs()
    found = next((d / name for d in dirs if (d / name).exists()), None)
    if found is not None:
        return found
    errors: list[str] = []
    for d in dirs:
        target = d / name
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".build-", suffix=".so")
            os.close(fd)
        except OSError as exc:
            errors.append(f"{d}: {exc}")
            continue
        cc = (sysconfig.get_config_var("CC") or "cc").split()
        cmd = [
            *cc,
            "-O2",
            "-shared",
            "-fPIC",
            "-Wall",
            f"-I{sysconfig.get_paths()['include']}",
            str(SOURCE),
            "-o",
            tmp,
        ]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            os.unlink(tmp)
            raise RuntimeError(f"cannot run the C compiler {cc[0]!r}: {exc}") from exc
        if run.returncode != 0:
            os.unlink(tmp)
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{run.stderr.strip()[-2000:]}")
        os.replace(tmp, target)  # atomic: a concurrent build of the same source is identical
        for stale in d.glob("_native-*"):  # builds of earlier sources (a loaded one stays mapped)
            if stale != target:
                stale.unlink(missing_ok=True)
        return target
    raise OSError("no writable directory for the native value layer: " + "; ".join(errors))


def _load_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_host.abi._native", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def module() -> ModuleType | None:
    """The checked native module, or None (then :func:`status` says why)."""
    if not _state["loaded"]:
        with _LOCK:
            if not _state["loaded"]:
                _state["module"], _state["reason"] = _load_checked()
                _state["loaded"] = True
    mod: ModuleType | None = _state["module"]
    return mod


def _load_checked() -> tuple[ModuleType | None, str]:
    try:
        mod = _load_file(build())
    except (OSError, RuntimeError, ImportError) as exc:
        return None, f"not built ({exc}); the Python value layer runs alone"
    try:
        problem = _self_check(mod)
    except Exception as exc:  # any failure of the check disables the module
        problem = f"the self-check raised {type(exc).__name__}: {exc}"
    if problem:
        return None, f"disabled, the Python value layer runs alone: {problem}"
    return mod, f"native ({mod.__file__})"


def status() -> str:
    """Which value layer runs, and why (``native (<file>)`` or the reason it does not)."""
    module()
    reason: str = _state["reason"]
    return reason


def descriptor(ty: Any) -> tuple[Any, ...]:
    """The descriptor of a :mod:`~reference_host.abi.schema` type (memoized by the type)."""
    hit = _DESC.get(ty)
    if hit is None:
        hit = _DESC[ty] = _describe(ty)
    return hit


_DESC: dict[Any, tuple[Any, ...]] = {}
_WIDTH = {"8": 1, "16": 2, "32": 4, "64": 8}


def _describe(ty: Any) -> tuple[Any, ...]:  # one case per WIT kind
    from reference_host.abi import lower as lo
    from reference_host.abi import schema as s
    from reference_host.types import Err, Ok

    def opt(t: Any) -> Any:
        return descriptor(t) if t is not None else None

    if isinstance(ty, s.Prim):
        wit = ty.wit
        if wit in s.INT_RANGES:
            low, high = s.INT_RANGES[wit]
            kind = lo._RANGES[wit][3]
            return (D_INT, kind, _WIDTH[wit[1:]], int(wit[0] == "s"), low, high)
        simple = {"string": D_STRING, "bool": D_BOOL, "f32": D_F32, "f64": D_F64, "char": D_CHAR}
        return (simple[wit],)
    if isinstance(ty, s.List):
        return (D_LIST, descriptor(ty.elem))
    if isinstance(ty, s.Option):
        return (D_OPTION, descriptor(ty.elem))
    if isinstance(ty, s.Tuple):
        return (D_TUPLE, tuple(descriptor(e) for e in ty.elems))
    if isinstance(ty, s.Record):
        template = bytearray(len(ty.fields) * lo.ENTRY)
        for i, (name, _attr, _fty) in enumerate(ty.fields):
            lo._P_NAME(template, i * lo.ENTRY, *lo.static_name(name))
        attrs = tuple(sys.intern(attr) for _n, attr, _t in ty.fields)
        fields = tuple(descriptor(fty) for _n, _a, fty in ty.fields)
        names = tuple(sys.intern(name) for name, _a, _t in ty.fields)
        return (D_RECORD, ty.cls, attrs, bytes(template), fields, names)
    if isinstance(ty, s.Enum):
        lower_table = {case: lo.static_name(case) for case in ty.cases}
        lift_table = {m.value.encode(): m for m in ty.cls}
        json_table = {m.value: m for m in ty.cls}
        return (D_ENUM, lower_table, lift_table, int(ty.as_variant), json_table)
    if isinstance(ty, s.Tagged):
        return (
            D_TAGGED,
            ty.cls,
            {case: (lo.static_name(case), opt(pty)) for case, pty in ty.cases},
            {case.encode(): (case, opt(pty)) for case, pty in ty.cases},
            {case: opt(pty) for case, pty in ty.cases},
        )
    if isinstance(ty, s.ByClass):
        return (
            D_BYCLASS,
            {
                cls: (lo.static_name(case), descriptor(pty), wrapped)
                for case, cls, pty, wrapped in ty.cases
            },
            {
                case.encode(): (descriptor(pty), cls if wrapped else None)
                for case, cls, pty, wrapped in ty.cases
            },
            {
                case: (descriptor(pty), cls if wrapped else None)
                for case, cls, pty, wrapped in ty.cases
            },
            {cls: case for case, cls, _pty, _wrapped in ty.cases},
        )
    if isinstance(ty, s.Result):
        err_cls = ty.err.cls if isinstance(ty.err, s.Tagged) else None
        return (D_RESULT, opt(ty.ok), opt(ty.err), err_cls, Ok, Err)
    raise TypeError(f"no descriptor for {ty!r}")


def _self_check(mod: ModuleType) -> str | None:
    """A sample of every kind of value through both layers both ways; the first difference."""
    from reference_host import jsonform
    from reference_host.abi import lift, lower

    for ty, value in _samples():
        d = descriptor(ty)
        for write, read in (("native", "python"), ("python", "native")):
            arena = lower.Arena(1 << 14)
            arena.top = lower.VAL
            if write == "native":
                top = mod.lower(d, value, arena.base, arena.limit, arena.top, 0)
                if top < 0:
                    return f"the native layer refused {ty.wit} {value!r} ({top})"
                arena.top = top
            else:
                lower.python_encoder(ty)(value, arena, 0)
            got = (
                mod.lift(d, arena.base) if read == "native" else lift.python_decoder(ty)(arena.base)
            )
            if got != value:
                return f"{ty.wit} {value!r}: {write} lowering, {read} lifting gave {got!r}"
        form = jsonform._to_json_py(ty, value)
        if mod.to_json(d, value) != form:
            return f"{ty.wit} {value!r}: the JSON forms differ"
        if mod.from_json(d, form) != value:
            return f"{ty.wit} {value!r}: the JSON form does not parse back"
    return None


def _samples() -> list[tuple[Any, Any]]:
    """(type, value) covering every kind of WIT type, extremes of every integer type included."""
    from reference_host import types as t
    from reference_host.abi import schema as s

    op = t.StellarOperation(t.OperationType.PAYMENT, None, "{}", t.OperationResult("ok", "m"))
    tx = t.StellarTransaction(
        "h", "G", 2**64 - 1, 0, t.TimeBounds(0, 1), t.Memo(t.MemoType.TEXT, "mémo ✓"), [op], ["s"]
    )
    ledger = t.StellarLedger(1, "a", "b", 2, 3, 4, "c", "d", 5, "e", 6)
    asset = t.StellarAsset(t.AssetType.CREDIT_ALPHANUM4, "USD", None)
    transfer = t.TokenTransfer("f", "t", t.StellarAsset(t.AssetType.NATIVE), "1", "h", 7, [asset])
    data: tuple[t.EventData, ...] = (tx, ledger, op, transfer, t.Generic(""))
    events = [
        t.Event(f"e{i}", i, "src", t.EventType.TRANSACTION, d, [("k", "v"), ("", "")])
        for i, d in enumerate(data)
    ]
    prims: list[tuple[Any, Any]] = [
        (s.Prim(wit), value) for wit, (low, high) in s.INT_RANGES.items() for value in (low, high)
    ]
    return [
        *prims,
        (s.Prim("f32"), 1.5),
        (s.Prim("f64"), -0.25),
        (s.Prim("char"), "ж"),
        (s.BOOL, True),
        (s.Tuple((s.U32, s.S64, s.STRING)), (1, -1, "x")),
        (s.EVENTS_RESULT, t.Ok(events)),
        (s.EVENTS_RESULT, t.Err(t.ProcessorError("invalid-event", "bad"))),
        (s.EVENTS_RESULT, t.Err(t.ProcessorError("timeout"))),
        (s.UNIT_RESULT, t.Ok(None)),
        (s.Option(s.List(s.OPERATION_TYPE)), [t.OperationType.PAYMENT]),
        (s.Option(s.STRING), None),
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m reference_host.abi.native [build|status]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m reference_host.abi.native",
        description="Build the native value layer, or say which value layer runs and why.",
    )
    parser.add_argument("command", choices=["build", "status"], nargs="?", default="status")
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            sys.stdout.write(f"{build()}\n")
        except (OSError, RuntimeError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
    text = status()
    sys.stdout.write(text + "\n")
    return 0 if text.startswith("native") or args.command == "status" else 1


if __name__ == "__main__":
    raise SystemExit(main())
