"""The TTP sample in-process: events/s, batch latency, fuel per event, and the host's share.

Run from the repository root::

    python -m benchmarks.ttp_profile [--quick] [--out reports/ttp_profile.json]

One instance of ``sample_components/dist/ttp_processor.wasm`` under the design document's
pipeline policy (``fixtures/pipelines/stellar-ttp-pipeline.yaml``), the 52 fixture transactions
cycled with unique ids:

- ``process-event``: events/s over single calls, p50/p99 per call;
- ``process-batch`` of 100: events/s, p50/p95/p99 batch latency;
- fuel per event (the host meters every call): median and max;
- **the host's share of the time**, from a profile (``cProfile``) of batch calls: the time spent
  inside wasmtime (the guest running, wasmtime's own value work) is the self time of the native
  layer's ``invoke`` (lowering, the call and lifting in one C call) less the host's own lowering
  and lifting of the same batch timed without the profiler -- or, on the Python value layer,
  the self time of the one Python frame that calls into wasmtime's C API
  (``reference_host.abi.call.GuestFunc.__call__``); capability callbacks run in Python frames of
  their own, so they are not in that self time; the host's share is the rest.  The
  profiler slows Python code more than C code, so the profiled share is an upper bound; the
  unprofiled figure beside it times the host's lower + lift of the same batch directly.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks import write_result
from reference_host import types as t

REPO = Path(__file__).resolve().parents[1]


def _events(n: int) -> list[t.Event]:
    from reference_host.jsonform import event_from_json

    lines = (REPO / "fixtures/events/ttp_transactions.jsonl").read_text().splitlines()
    base = [event_from_json(json.loads(line)) for line in lines if line.strip()]
    out = []
    for i in range(n):
        e = base[i % len(base)]
        out.append(t.Event(f"{e.id}-{i}", e.timestamp, e.source_component, e.event_type, e.data,
                           e.metadata))  # fmt: skip
    return out


def _answer(call: Any, event: t.Event) -> bool:
    """Whether the call answered ok (a typed error is an answer too: it is timed the same)."""
    from reference_host.errors import ProcessorErrorResult

    try:
        call(event)
    except ProcessorErrorResult:
        return False
    return True


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(*, quick: bool = False) -> dict[str, Any]:
    """Every figure of the module docstring, from one instance."""
    from reference_host.abi import schema as s
    from reference_host.abi.lift import decoder
    from reference_host.abi.lower import Arena, encoder, lower_into
    from reference_host.host import open_processor
    from reference_host.policy import load_policy
    from sample_components.build import build_sample

    wasm = build_sample("ttp_processor").path
    policy = load_policy(REPO / "fixtures/pipelines/stellar-ttp-pipeline.yaml", "ttp-processor")
    policy = policy.updated({"max_fuel": 20_000_000_000})  # metered, never the limit here
    inst, _granted = open_processor(policy, wasm)
    singles_n, batches_n = (300, 10) if quick else (2000, 60)
    events = _events(max(singles_n, 100 * batches_n))
    try:
        inst.initialize(policy.processor_config)
        for e in events[:50]:
            _answer(inst.process_event, e)
        inst.process_batch(events[:100])
        call_s: list[float] = []
        fuel: list[int] = []
        errors = 0
        for e in events[:singles_n]:
            started = time.perf_counter()
            errors += not _answer(inst.process_event, e)
            call_s.append(time.perf_counter() - started)
            used = inst.measurements[-1].fuel_used
            if used is not None:
                fuel.append(used)
        batch_s: list[float] = []
        outputs = 0
        for b in range(batches_n):
            chunk = events[b * 100 : (b + 1) * 100]
            started = time.perf_counter()
            outputs += len(inst.process_batch(chunk))
            batch_s.append(time.perf_counter() - started)
        chunk = events[:100]
        enc, dec, arena = [encoder(s.EVENTS)], decoder(s.EVENTS), Arena(1 << 22)
        conv: list[float] = []
        for _ in range(5 if quick else 20):
            started = time.perf_counter()
            dec(lower_into(arena, enc, (chunk,)).base)
            conv.append(time.perf_counter() - started)
        profile = cProfile.Profile()
        profile.enable()
        profiled = min(10, batches_n)
        for b in range(profiled):
            inst.process_batch(events[b * 100 : (b + 1) * 100])
        profile.disable()
        stats = pstats.Stats(profile)
        table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
        total = sum(row[2] for row in table.values())  # self times add up to the whole
        # the native layer: lowering, the wasmtime call and lifting are one C call (its self
        # time minus the host's conversion, timed above, is wasmtime); else the Python frame
        # that calls wasmtime's C API
        native_call = sum(
            row[2] for (_file, _line, name), row in table.items()
            if name.endswith("_native.invoke>")
        )  # fmt: skip
        python_call = sum(
            row[2] for (file, _line, name), row in table.items()
            if file.endswith("reference_host/abi/call.py") and name == "__call__"
        )  # fmt: skip
        if native_call:
            inside = max(0.0, native_call - profiled * statistics.median(conv))
        else:
            inside = python_call
    finally:
        inst.close()
    batch_median = statistics.median(batch_s)
    return {
        "events_per_s_process_event": round(len(call_s) / sum(call_s)),
        "process_event_errors": errors,
        "call_p50_ms": round(_q(call_s, 0.5) * 1e3, 3),
        "call_p99_ms": round(_q(call_s, 0.99) * 1e3, 3),
        "events_per_s_process_batch": round(100 * len(batch_s) / sum(batch_s)),
        "batch_size": 100,
        "batch_p50_ms": round(_q(batch_s, 0.5) * 1e3, 2),
        "batch_p95_ms": round(_q(batch_s, 0.95) * 1e3, 2),
        "batch_p99_ms": round(_q(batch_s, 0.99) * 1e3, 2),
        "outputs_per_batch": round(outputs / batches_n, 1),
        "fuel_per_event_median": statistics.median(fuel) if fuel else None,
        "fuel_per_event_max": max(fuel) if fuel else None,
        "host_share_profiled": round(1 - inside / total, 3) if total else None,
        "host_share_conversion": round(statistics.median(conv) / batch_median, 3),
        "host_conversion_ms_per_batch": round(statistics.median(conv) * 1e3, 2),
        "notes": [
            "host_share_profiled: 1 - (time inside wasmtime) / (all self time), under cProfile "
            "(an upper bound: the profiler slows Python more than C); time inside wasmtime = "
            "the self time of the native layer's invoke (lower + call + lift in one C call) "
            "minus the host's lower + lift timed without the profiler, or, on the Python value "
            "layer, the self time of the frame calling wasmtime's C API",
            "host_share_conversion: the host's own lower + lift of the same 100-event batch, "
            "timed without a profiler, over the median batch latency",
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (CI smoke)")
    parser.add_argument("--out", default="reports/ttp_profile.json", help="where the JSON goes")
    args = parser.parse_args(argv)
    result = measure(quick=args.quick)
    for key, value in result.items():
        if key != "notes":
            print(f"{key:32} {value}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
