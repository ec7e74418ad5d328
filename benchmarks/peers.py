"""Peer benchmarks: our value layer vs stock wasmtime-py vs a jco-transpiled component in Node.

    python -m benchmarks.peers [--quick] [--out FILE]      (default FILE: reports/peers.json)

One run measures, side by side and on the same ``.wasm`` files:

conversion / single_call
    ``process-batch`` at batch sizes 1, 10, 100, 1000 (per event) and one ``process-event`` with
    the typed event of :func:`benchmarks.test_conversion.typed_event` (a stellar transaction with
    three payments), for the ``echo`` (returns its input: lower + guest + lift) and ``noop``
    (returns ``ok([])``: lowering dominates) test guests.  Columns: ``ours``
    (:class:`~reference_host.abi.call.GuestFunc`), ``stock`` (wasmtime-py's own
    ``Func.__call__`` with :func:`~reference_host.abi.stock.to_stock` /
    :func:`~reference_host.abi.stock.from_stock`, as in ``test_conversion.py``), ``jco`` (the
    component transpiled by ``jco transpile`` and called from Node, ``benchmarks/jco/run.mjs``)
    and ``floor``: the cheapest call wasmtime's C API allows -- ``wasmtime_component_func_call``
    of noop's ``process-batch`` with a pre-lowered empty list and no Python value work at all --
    shown per event (floor per call / batch size), so a reader sees how much of our per-event
    time is call overhead no Python host can avoid; and ``c_api``: the same C API call with the
    *same* events lowered once beforehand and the result freed unlifted -- wasmtime's own cost
    for those values, so ``ours - c_api`` is what our Python value layer adds.
import_call
    One ``process-event`` (minimal event) whose guest (``benchmarks/guests/call-*.wat``) makes
    exactly ONE guest->host import call: ``logging.log``, ``metrics.record-counter`` or
    ``config.get-string``.  ``ours`` is the real host path (``ProcessorInstance`` with the
    capability objects ``host.py`` links: Python logging, the prometheus metrics registry, the
    config object), ``ours_trivial`` our ``add_host_func`` with a callback doing nothing,
    ``stock`` ``LinkerInstance.add_func`` with a callback doing nothing, ``jco`` JS imports doing
    nothing.  ``import_baseline`` is the same call on ``noop`` (no import call).

The jco column needs Node and npm: ``npm ci`` runs in ``benchmarks/jco`` when ``node_modules``
does not hold the pinned jco; transpiled components are cached under
``$TMPDIR/flowctl-bench-jco/<name>-<wasm sha256>-jco<version>-<flags>``.  Without
Node/npm/jco the jco columns are ``null`` and a note says why.  jco's echo outputs (the
documented JSON form of ``reference_host/jsonform.py``) are compared with ours:
``jco_outputs_equal``.

Every figure is a median over rounds (each round times enough consecutive calls to cover about
100 events), in microseconds.  ``ours`` and ``c_api`` are measured interleaved, round by round,
so their ratio sees one machine state; ``stock`` (seconds per call at batch 1000) is measured
after every other Python column, since its object churn slows whatever follows it in the same
process, and ``jco`` first, in its own Node process.  On a shared machine single figures
move by up to ~2x between runs: read the ratios' magnitude, not their second digit.
``--quick`` runs few rounds (CI smoke, < 60 s).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from wasmtime import Store
from wasmtime.component import Func, Linker

from reference_host import types as t
from reference_host.abi import _wasmtime as wt
from reference_host.abi import native
from reference_host.abi import schema as s
from reference_host.abi.call import GuestFunc, add_host_func
from reference_host.abi.lower import VAL, Arena, encoder, lower_into
from reference_host.abi.stock import from_stock, to_stock
from reference_host.capabilities.base import Capability
from reference_host.capabilities.config import ConfigCapability
from reference_host.capabilities.logging import LoggingCapability
from reference_host.capabilities.metrics import MetricsCapability
from reference_host.engine import HostEngine
from reference_host.jsonform import to_json
from reference_host.processor import ProcessorInstance
from tests.guests.build import (
    CONFIG,
    LOGGING,
    METRICS,
    GuestSpec,
    build_guest,
    build_spec,
    find_wasm_tools,
)

from .test_conversion import typed_event

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
JCO_DIR = HERE / "jco"
GUESTS_DIR = HERE / "guests"
DEFAULT_OUT = REPO / "reports" / "peers.json"
JCO_PACKAGE = "@bytecodealliance/jco"
JCO_CACHE = Path(tempfile.gettempdir()) / "flowctl-bench-jco"
GUEST_CACHE = Path(tempfile.gettempdir()) / "flowctl-bench-guests"
PROCESSOR = "obsrvr:flowctl/processor@1.0.0"
TRANSPILE_FLAGS = ("--instantiation", "sync", "--no-typescript", "-q")

BATCHES = (1, 10, 100, 1000)
CHECK_EVENTS = 100  # events of the jco-vs-ours echo comparison
CONFIG_VALUES = {"mode": "fast"}  # what config.get-string("mode") reads

#: kind -> (guest name, world, imported interface, function)
IMPORT_GUESTS: dict[str, tuple[str, str, str, str]] = {
    "log": ("call-log", "flowctl-processor-basic", LOGGING, "log"),
    "metric": ("call-metric", "flowctl-processor-basic", METRICS, "record-counter"),
    "config": ("call-config", "flowctl-processor-full", CONFIG, "get-string"),
}


@dataclass(frozen=True)
class Rounds:
    """How many timed rounds each column gets, and the time budget of one measurement.

    A measurement stops after ``budget_s`` seconds once it has ``min_rounds`` rounds: stock
    wasmtime-py needs seconds per call at batch 1000, the other columns microseconds.
    """

    ours: int
    stock: int
    jco: int
    budget_s: float
    min_rounds: int

    @classmethod
    def for_mode(cls, *, quick: bool) -> Rounds:
        if quick:
            return cls(ours=7, stock=3, jco=7, budget_s=0.3, min_rounds=1)
        return cls(ours=200, stock=15, jco=200, budget_s=3.0, min_rounds=3)


# --------------------------------------------------------------------------- timing


def inner_for(events: int) -> int:
    """Consecutive calls per timed round: enough to cover about 100 events."""
    return max(1, -(-100 // events))


@contextmanager
def _no_gc() -> Iterator[None]:
    """Keep the cyclic GC out of the timed loops (as pytest-benchmark does not, but timeit does)."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _warm_up(fn: Callable[[], Any], inner: int) -> None:
    t0 = time.perf_counter()
    fn()  # caches, lazily built encoders, first-call paths
    if time.perf_counter() - t0 < 0.02:  # cheap calls get a longer warm-up
        for _ in range(max(2, inner)):
            fn()


def measure_many(
    fns: dict[str, Callable[[], Any]], rounds: int, inner: int, budget: Rounds
) -> dict[str, float]:
    """Medians (us per call of each fn) over up to ``rounds`` rounds, the fns *interleaved*.

    Each round times ``inner`` consecutive calls of every fn in turn, so columns compared with
    each other see the same machine load and the same allocator state (on a shared, noisy
    machine a column measured a few seconds later can be off by 2x).
    """
    for fn in fns.values():
        _warm_up(fn, inner)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    deadline = time.perf_counter() + budget.budget_s * len(fns)
    with _no_gc():
        for r in range(rounds):
            for name, fn in fns.items():
                t0_ns = time.perf_counter_ns()
                for _ in range(inner):
                    fn()
                samples[name].append((time.perf_counter_ns() - t0_ns) / 1e3 / inner)
            if r + 1 >= budget.min_rounds and time.perf_counter() > deadline:
                break
    return {name: statistics.median(xs) for name, xs in samples.items()}


def measure(fn: Callable[[], Any], rounds: int, inner: int, budget: Rounds) -> float:
    """Median over up to ``rounds`` rounds of the time of one call of ``fn``, in microseconds."""
    return measure_many({"fn": fn}, rounds, inner, budget)["fn"]


# --------------------------------------------------------------------------- guests


def minimal_event() -> t.Event:
    """The event the import-call guests get (they ignore it); also run.mjs's minimalEvent()."""
    return t.Event("e", 0, "s", t.EventType.CUSTOM, t.Generic(""), [])


def import_guest_spec(kind: str) -> GuestSpec:
    """The GuestSpec of an import-call guest (``benchmarks/guests/<name>.wat``)."""
    name, world, interface, function = IMPORT_GUESTS[kind]
    return GuestSpec(
        name=name,
        description=f"process-event calls {interface} {function} once and returns ok([])",
        world=f"obsrvr:flowctl/{world}@1.0.0",
        fragments=("_runtime", "_processor", GUESTS_DIR / f"{name}.wat"),
        imports={interface: frozenset({function})},
    )


def build_import_guest(kind: str) -> Path:
    return build_spec(import_guest_spec(kind), cache_dir=GUEST_CACHE)


def _export(inst: Any, store: Store, name: str) -> Func:
    iface = inst.get_export_index(store, PROCESSOR)
    func = inst.get_func(store, inst.get_export_index(store, name, iface))
    if not isinstance(func, Func):
        raise AssertionError(f"{PROCESSOR}#{name} is not a function")
    return func


class PyGuest:
    """One instance of a processor guest, callable through ours and stock."""

    def __init__(self, host: HostEngine, wasm: Path, linker: Linker | None = None) -> None:
        comp = host.load(wasm).component
        self.store = Store(host.engine)
        self.store.set_epoch_deadline(1 << 40)
        self.ctx = wt.store_context(self.store)
        inst = (linker or Linker(host.engine)).instantiate(self.store, comp)
        self.batch = _export(inst, self.store, "process-batch")
        self.event = _export(inst, self.store, "process-event")
        self.ours_batch = GuestFunc(self.batch, s.INTERFACES["processor"]["process-batch"])
        self.ours_event = GuestFunc(self.event, s.INTERFACES["processor"]["process-event"])
        # the same, kept to the Python value layer (what runs where the native one is not built)
        self.python_batch = GuestFunc(
            self.batch, s.INTERFACES["processor"]["process-batch"], native_layer=False
        )
        self.python_event = GuestFunc(
            self.event, s.INTERFACES["processor"]["process-event"], native_layer=False
        )
        bty = self.batch.type(self.store)
        ety = self.event.type(self.store)
        self.batch_vt, self.result_vt = bty.params[0][1], bty.result
        self.event_vt = ety.params[0][1]

    def stock_batch(self, events: list[t.Event]) -> Any:
        raw = self.batch(self.store, to_stock(s.EVENTS, events, self.batch_vt))
        return from_stock(s.EVENTS_RESULT, raw, self.result_vt)

    def stock_event(self, event: t.Event) -> Any:
        raw = self.event(self.store, to_stock(s.EVENT, event, self.event_vt))
        return from_stock(s.EVENTS_RESULT, raw, self.result_vt)


class RawCall:
    """A call through the C API alone: arguments lowered once, the result freed, never lifted.

    ``wasmtime_component_func_call`` borrows its arguments, so one pre-lowered argument tree
    serves every call; what is timed is wasmtime's own work (copying the value tree into guest
    memory, the guest, lifting the result into ``wasmtime_component_val_t``, post-return,
    freeing it) -- the floor any Python host pays for this call with these values.
    """

    def __init__(self, func: Func, ctx: Any, ty: s.Ty, value: Any) -> None:
        self._enc = [encoder(ty)]  # keeps the static name buffers the tree points at alive
        self._arena = lower_into(Arena(1 << 16), self._enc, (value,))
        self._args = ctypes.cast(self._arena.base, ctypes.POINTER(wt.VAL_T))
        self._fref = ctypes.byref(wt.func_handle(func))
        self._res = wt.VAL_T()
        self._res_ref = ctypes.byref(self._res)
        self._ctx = ctx

    def __call__(self) -> None:
        err = wt.func_call(self._fref, self._ctx, self._args, 1, self._res_ref, 1)
        if err:
            raise wt.error_from_ptr(err)
        wt.val_delete(self._res_ref)
        ctypes.memset(self._res_ref, 0, VAL)


# --------------------------------------------------------------------------- Python columns


#: A stock measurement to run later: (row, key, fn, calls per round, divisor of the median).
StockJob = tuple[dict[str, Any], str, Callable[[], Any], int, int]


def run_stock_jobs(jobs: list[StockJob], rounds: Rounds) -> None:
    """Run the stock measurements, after every other Python one.

    Stock wasmtime-py spends seconds per call building Python objects; that churn slows what
    runs after it in the same process (measured: wasmtime's own c_api time at noop batch 100
    went from ~6-9 to 22-37 us/event when stock ran in between), so it goes last.
    """
    for row, key, fn, inner, per in jobs:
        row[key] = measure(fn, rounds.stock, inner, rounds) / per


def python_conversion(
    host: HostEngine, rounds: Rounds, events: list[t.Event]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[Any], list[StockJob]]:
    """conversion + single_call (ours, c_api, floors), ours' echo outputs, the stock jobs."""
    conversion: dict[str, Any] = {}
    single: dict[str, Any] = {}
    floor: dict[str, Any] = {}
    echo_json: list[Any] = []
    n1 = inner_for(1)
    noop = PyGuest(host, build_guest("noop"))
    pair = measure_many(
        {
            "c_api": RawCall(noop.batch, noop.ctx, s.EVENTS, []),
            "ours": partial(noop.ours_batch, noop.ctx, []),
        },
        rounds.ours,
        n1,
        rounds,
    )
    floor["c_api_empty_call_us"] = pair["c_api"]
    floor["ours_empty_call_us"] = pair["ours"]
    empty = floor["c_api_empty_call_us"]
    stock_jobs: list[StockJob] = [
        (floor, "stock_empty_call_us", partial(noop.stock_batch, []), n1, 1)
    ]
    for name in ("echo", "noop"):
        g = noop if name == "noop" else PyGuest(host, build_guest(name))
        check = events[:CHECK_EVENTS]
        ours_out, stock_out = g.ours_batch(g.ctx, check), g.stock_batch(check)
        want = t.Ok(check if name == "echo" else [])
        if ours_out != want or stock_out != want:
            raise AssertionError(f"{name}: ours or stock process-batch gave a wrong answer")
        if name == "echo":
            echo_json = to_json(s.EVENTS, ours_out.value)
        conversion[name] = {}
        for b in BATCHES:
            evs = events[:b]
            inner = inner_for(b)
            pair = measure_many(
                {
                    "ours": partial(g.ours_batch, g.ctx, evs),
                    "c_api": RawCall(g.batch, g.ctx, s.EVENTS, evs),
                },
                rounds.ours,
                inner,
                rounds,
            )
            # apart: interleaved, the Python layer's allocations slowed ours by up to 1.7x
            py = measure(partial(g.python_batch, g.ctx, evs), rounds.ours, inner, rounds)
            row = conversion[name][str(b)] = {
                "ours_us": pair["ours"] / b,
                "ours_python_us": py / b,
                "stock_us": None,
                "floor_us": empty / b,
                "c_api_us": pair["c_api"] / b,
            }
            stock_jobs.append((row, "stock_us", partial(g.stock_batch, evs), inner, b))
        ev0 = events[0]
        pair = measure_many(
            {
                "ours": partial(g.ours_event, g.ctx, ev0),
                "c_api": RawCall(g.event, g.ctx, s.EVENT, ev0),
            },
            rounds.ours,
            n1,
            rounds,
        )
        single[name] = {
            "ours_us": pair["ours"],
            "ours_python_us": measure(partial(g.python_event, g.ctx, ev0), rounds.ours, n1, rounds),
            "stock_us": None,
            "floor_us": empty,
            "c_api_us": pair["c_api"],
        }
        stock_jobs.append((single[name], "stock_us", partial(g.stock_event, ev0), n1, 1))
    return conversion, single, floor, echo_json, stock_jobs


def _capability(kind: str) -> Capability:
    if kind == "log":
        return LoggingCapability("bench")
    if kind == "metric":
        return MetricsCapability("bench")
    return ConfigCapability(dict(CONFIG_VALUES))


def _trivial_stock(kind: str) -> Callable[..., Any]:
    if kind == "config":
        return lambda _store, _key: CONFIG_VALUES["mode"]
    if kind == "metric":
        return lambda _store, _name, _value, _tags: None
    return lambda _store, _level, _message: None


def _trivial_ours(kind: str) -> Callable[..., Any]:
    if kind == "config":
        return lambda _key: t.Ok(CONFIG_VALUES["mode"])
    if kind == "metric":
        return lambda _name, _value, _tags: None
    return lambda _level, _message: None


def _counting(impl: Callable[..., Any], calls: list[int]) -> Callable[..., Any]:
    def counted(*args: Any) -> Any:
        calls[0] += 1
        return impl(*args)

    return counted


def _host_path(
    host: HostEngine, wasm: Path, caps: list[Capability], key: str | None, rounds: Rounds
) -> tuple[float, int]:
    """process-event through ProcessorInstance (the real host path); (us, import calls seen)."""
    ev = minimal_event()
    inst = ProcessorInstance(host, host.load(wasm), capabilities=caps, component_id="bench")
    try:
        inst.initialize("{}")
        before = inst.context.calls[key] if key else 0
        if inst.process_event(ev) != []:
            raise AssertionError(f"{wasm.name}: process-event did not return ok([])")
        seen = inst.context.calls[key] - before if key else 0
        return measure(lambda: inst.process_event(ev), rounds.ours, inner_for(1), rounds), seen
    finally:
        inst.close()


def python_import_calls(
    host: HostEngine, rounds: Rounds, wasm: dict[str, Path]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, int]], list[StockJob]]:
    """import_call (ours, ours_trivial), the noop baseline, import calls per event, stock jobs."""
    ev = minimal_event()
    n = inner_for(1)
    result: dict[str, Any] = {}
    seen: dict[str, dict[str, int]] = {}
    noop = PyGuest(host, build_guest("noop"))
    baseline: dict[str, Any] = {
        "ours_us": _host_path(host, wasm["noop"], [], None, rounds)[0],
        "ours_trivial_us": measure(partial(noop.ours_event, noop.ctx, ev), rounds.ours, n, rounds),
        "stock_us": None,
    }
    jobs: list[StockJob] = [(baseline, "stock_us", partial(noop.stock_event, ev), n, 1)]
    for kind, (_name, _world, interface, function) in IMPORT_GUESTS.items():
        short = interface.split("/")[1].split("@")[0]
        sig = s.INTERFACES[short][function]
        counts: dict[str, int] = {}
        # ours: the real host path (ProcessorInstance + the capability object host.py links)
        ours, counts["ours"] = _host_path(
            host, wasm[kind], [_capability(kind)], f"{short}.{function}", rounds
        )

        # ours_trivial: our add_host_func with a callback doing nothing, called via GuestFunc
        calls = [0]
        linker = Linker(host.engine)
        with linker.root() as root, root.add_instance(interface) as li:
            add_host_func(li, sig, _counting(_trivial_ours(kind), calls))
        g = PyGuest(host, wasm[kind], linker)
        g.ours_event(g.ctx, ev)
        counts["ours_trivial"] = calls[0]
        trivial = measure(partial(g.ours_event, g.ctx, ev), rounds.ours, n, rounds)

        # stock: LinkerInstance.add_func with a callback doing nothing, stock Func.__call__
        scalls = [0]
        slinker = Linker(host.engine)
        with slinker.root() as root, root.add_instance(interface) as li:
            li.add_func(function, _counting(_trivial_stock(kind), scalls))
        sg = PyGuest(host, wasm[kind], slinker)
        sg.stock_event(ev)
        counts["stock"] = scalls[0]
        result[kind] = {"ours_us": ours, "ours_trivial_us": trivial, "stock_us": None}
        jobs.append((result[kind], "stock_us", partial(sg.stock_event, ev), n, 1))
        seen[kind] = counts
    return result, baseline, seen, jobs


# --------------------------------------------------------------------------- jco column


class JcoUnavailable(RuntimeError):
    """Node, npm or jco is missing or failed; the message is the note to record."""


def _pinned_jco() -> str:
    lock = json.loads((JCO_DIR / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{JCO_PACKAGE}"]["version"])


def _installed_jco() -> str | None:
    try:
        pkg = JCO_DIR / "node_modules" / JCO_PACKAGE / "package.json"
        return str(json.loads(pkg.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def _run(cmd: list[str], cwd: Path, what: str, timeout: float = 600) -> str:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JcoUnavailable(f"{what} failed: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise JcoUnavailable(
            f"{what} failed (exit {proc.returncode}): $ {' '.join(cmd)}\n" + "\n".join(tail)
        )
    return proc.stdout


def ensure_jco(notes: list[str]) -> tuple[str, str, str]:
    """(node, npx, jco version); runs ``npm ci`` when node_modules lacks the pinned jco."""
    node, npm, npx = shutil.which("node"), shutil.which("npm"), shutil.which("npx")
    if node is None or npm is None or npx is None:
        raise JcoUnavailable("node, npm or npx is not on PATH")
    pinned = _pinned_jco()
    # stale: another jco than the lock pins, or not installed by npm from a lock file at all
    if (
        _installed_jco() != pinned
        or not (JCO_DIR / "node_modules" / ".package-lock.json").is_file()
    ):
        start = time.perf_counter()
        _run([npm, "ci", "--no-audit", "--no-fund"], JCO_DIR, "npm ci in benchmarks/jco")
        notes.append(f"ran npm ci in benchmarks/jco ({time.perf_counter() - start:.1f} s)")
        if _installed_jco() != pinned:
            raise JcoUnavailable(f"npm ci did not install {JCO_PACKAGE} {pinned}")
    return node, npx, pinned


def transpile(npx: str, jco_version: str, name: str, wasm: Path) -> Path:
    """``jco transpile`` ``wasm`` (cached by its sha256, the jco version and the flags).

    Returns the entry module ``<cache>/<name>-<sha256>-jco<version>-<flags>/<name>.js``.
    """
    digest = hashlib.sha256(wasm.read_bytes()).hexdigest()[:16]
    flags = hashlib.sha256(" ".join(TRANSPILE_FLAGS).encode()).hexdigest()[:6]
    target = JCO_CACHE / f"{name}-{digest}-jco{jco_version}-{flags}"
    entry = target / f"{name}.js"
    if entry.is_file():
        return entry
    JCO_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=JCO_CACHE, prefix=f".{name}-"))
    try:
        cmd = [npx, "--no", "jco", "transpile", str(wasm), "-o", str(tmp), "--name", name]
        _run([*cmd, *TRANSPILE_FLAGS], JCO_DIR, "jco transpile")
        try:
            os.replace(tmp, target)
        except OSError:  # another run got there first
            if not entry.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def run_jco(rounds: Rounds, wasm: dict[str, Path], notes: list[str]) -> dict[str, Any]:
    """Transpile the guests and run run.mjs; its parsed JSON output."""
    node, npx, version = ensure_jco(notes)
    entries = {name: transpile(npx, version, name, path) for name, path in wasm.items()}
    cmd = [node, str(JCO_DIR / "run.mjs"), "--rounds", str(rounds.jco)]
    cmd += ["--batches", ",".join(map(str, BATCHES)), "--check", str(CHECK_EVENTS)]
    cmd += [f"{name}={entry}" for name, entry in entries.items()]
    out = _run(cmd, JCO_DIR, "node run.mjs")
    try:
        data: dict[str, Any] = json.loads(out)
    except ValueError as exc:
        raise JcoUnavailable(f"run.mjs printed no JSON: {exc}: {out[:200]!r}") from None
    return data


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two JSON values first differ (None when equal)."""
    if type(a) is not type(b):
        return f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: present only in {'ours' if k in a else 'jco'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items (ours) != {len(b)} (jco)"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} (ours) != {b!r} (jco)"


# --------------------------------------------------------------------------- the run


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    wasm_tools = None
    try:
        exe = find_wasm_tools()
        wasm_tools = subprocess.run(
            [str(exe), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except Exception:  # informational only
        wasm_tools = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "wasmtime_py": _version("wasmtime"),
        "value_layer": native.status(),
        "wasm_tools": wasm_tools,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "node": None,
        "v8": None,
        "jco": None,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def run(*, quick: bool) -> dict[str, Any]:
    rounds = Rounds.for_mode(quick=quick)
    notes: list[str] = [
        "all figures are medians in microseconds: conversion per event, single_call and "
        "import_call per process-event call",
        "floor_us = the cheapest call wasmtime's C API allows (wasmtime_component_func_call of "
        "noop process-batch with a pre-lowered empty list, no Python value work), per call in "
        "single_call and floor, divided by the batch size in conversion",
        "c_api_us = the same call with the same events lowered once beforehand and the result "
        "freed unlifted: wasmtime's own cost for these values; ours - c_api = our value "
        "layer's work",
        "ours = the value layer as it runs (environment.value_layer: native where "
        "reference_host/abi/_native.c is built); ours_python_us = the same calls kept to the "
        "Python value layer (GuestFunc(native_layer=False)), measured right after ours",
        "import_call: one process-event (minimal generic event) whose guest makes exactly one "
        "import call; ours = ProcessorInstance with the real capability (Python logging, "
        "prometheus metrics, config object), ours_trivial = GuestFunc + add_host_func, "
        "stock = Func.__call__ + LinkerInstance.add_func, jco = JS imports; the last three with "
        "callbacks doing nothing; import_baseline = the same paths on noop (no import call)",
        "ours and c_api are measured interleaved round by round; stock after every other Python "
        "measurement (its object churn slows what follows it); jco first, in Node; "
        "the machine may be shared (see environment.loadavg_*): expect up to ~2x between runs",
        f"rounds (at most): ours {rounds.ours}, stock {rounds.stock}, jco {rounds.jco}; a "
        f"measurement stops after {rounds.budget_s} s once it has {rounds.min_rounds} round(s)"
        + (" (--quick)" if quick else ""),
    ]
    env = environment()
    host = HostEngine()
    events = [typed_event(i) for i in range(max(BATCHES))]
    wasm = {"echo": build_guest("echo"), "noop": build_guest("noop")}
    wasm.update({kind: build_import_guest(kind) for kind in IMPORT_GUESTS})

    # jco first: Node runs alone, then the Python columns (keeps the two from competing)
    jco: dict[str, Any] | None = None
    try:
        jco = run_jco(rounds, wasm, notes)
        notes.append(
            f"jco: `jco transpile <wasm> --name <name> {' '.join(TRANSPILE_FLAGS)}` (default "
            "bindings, no optimisation), called from Node with trivial JS imports"
        )
    except JcoUnavailable as exc:
        notes.append(f"jco columns are null: {exc}")
    conversion, single, floor, ours_echo, jobs = python_conversion(host, rounds, events)
    imports, baseline, seen, import_jobs = python_import_calls(host, rounds, wasm)
    run_stock_jobs(jobs + import_jobs, rounds)

    jco_equal: bool | None = None
    jco_diff: str | None = None
    if jco is not None:
        env.update(node=jco.get("node"), v8=jco.get("v8"), jco=jco.get("jco"))
        for name, per_batch in conversion.items():
            for b, row in per_batch.items():
                row["jco_us"] = jco["conversion"].get(name, {}).get(b)
            single[name]["jco_us"] = jco["single_call"].get(name)
        for kind, row in imports.items():
            row["jco_us"] = jco["import_call"].get(kind)
            seen[kind]["jco"] = jco["import_calls_per_event"].get(kind, 0)
        baseline["jco_us"] = jco.get("import_baseline_us")
        ours_inputs = to_json(s.EVENTS, events[:CHECK_EVENTS])
        echo = jco.get("echo") or {}
        jco_diff = (
            first_difference(ours_inputs, echo.get("inputs"), "inputs")
            or first_difference(ours_echo, echo.get("process_batch"), "process_batch")
            or first_difference(ours_echo[:1], echo.get("process_event"), "process_event")
        )
        jco_equal = jco_diff is None
    else:
        for per_batch in conversion.values():
            for row in per_batch.values():
                row["jco_us"] = None
        for row in single.values():
            row["jco_us"] = None
        for row in imports.values():
            row["jco_us"] = None
        baseline["jco_us"] = None
    bad = {k: v for k, v in seen.items() if any(n != 1 for n in v.values())}
    if bad:
        notes.append(f"WARNING: import calls per process-event are not all 1: {bad}")
    return {
        "environment": env,
        "conversion": conversion,
        "single_call": single,
        "import_call": imports,
        "import_baseline": baseline,
        "import_calls_per_event": seen,
        "floor": floor,
        "jco_outputs_equal": jco_equal,
        "jco_first_difference": jco_diff,
        "notes": notes,
    }


# --------------------------------------------------------------------------- output


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:,.2f}"


def _fmt_ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def table(report: dict[str, Any]) -> str:
    """The report as a readable text table."""
    env = report["environment"]
    lines = [
        f"flowctl peer benchmarks  (wasmtime-py {env['wasmtime_py']}, Python {env['python']}, "
        f"Node {env['node'] or '-'}, jco {env['jco'] or '-'}; medians, us)",
        f"{env['cpus']} CPUs, load average at start {env['loadavg_start']}",
        "",
        f"value layer: {env.get('value_layer', '-')}",
        "",
        f"{'per event':22} {'ours':>8} {'python':>8} {'stock':>9} {'jco':>8} {'c-api':>8}"
        f" {'floor':>7}"
        f" {'stock/ours':>10} {'ours/jco':>8} {'ours/c-api':>10}",
    ]

    def row(label: str, r: dict[str, Any]) -> str:
        return (
            f"{label:22} {_fmt(r['ours_us']):>8} {_fmt(r.get('ours_python_us')):>8} "
            f"{_fmt(r['stock_us']):>9} "
            f"{_fmt(r.get('jco_us')):>8} {_fmt(r.get('c_api_us')):>8} "
            f"{_fmt(r.get('floor_us')):>7} "
            f"{_fmt_ratio(_ratio(r['stock_us'], r['ours_us'])):>10} "
            f"{_fmt_ratio(_ratio(r['ours_us'], r.get('jco_us'))):>8} "
            f"{_fmt_ratio(_ratio(r['ours_us'], r.get('c_api_us'))):>10}"
        )

    for guest, per_batch in report["conversion"].items():
        for b, r in per_batch.items():
            lines.append(row(f"  {guest} batch {b}", r))
    lines += ["", "process-event, 1 typed event (per call)"]
    for guest, r in report["single_call"].items():
        lines.append(row(f"  {guest}", r))
    lines += [
        "",
        f"{'1 import call/event':22} {'ours':>8} {'trivial':>9} {'stock':>8} {'jco':>8}"
        f" {'stock/ours':>10} {'ours/jco':>8}",
    ]
    base = report["import_baseline"]
    rows = [("baseline (noop)", base), *report["import_call"].items()]
    for kind, r in rows:
        lines.append(
            f"{'  ' + kind:22} {_fmt(r['ours_us']):>8} {_fmt(r['ours_trivial_us']):>9} "
            f"{_fmt(r['stock_us']):>8} {_fmt(r.get('jco_us')):>8} "
            f"{_fmt_ratio(_ratio(r['stock_us'], r['ours_us'])):>10} "
            f"{_fmt_ratio(_ratio(r['ours_us'], r.get('jco_us'))):>8}"
        )
    fl = report["floor"]
    diff = report["jco_first_difference"]
    lines += [
        "",
        f"empty call, noop process-batch([]): C API {_fmt(fl['c_api_empty_call_us'])}, ours "
        f"{_fmt(fl['ours_empty_call_us'])}, stock {_fmt(fl['stock_empty_call_us'])} us/call",
        f"jco outputs equal ours: {report['jco_outputs_equal']}"
        + (f" (first difference: {diff})" if diff else ""),
    ]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds (CI smoke, < 60 s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report path")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = run(quick=args.quick)
    report["environment"]["seconds"] = round(time.perf_counter() - start, 1)
    report["environment"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))
    print(f"\nwrote {args.out} ({report['environment']['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
