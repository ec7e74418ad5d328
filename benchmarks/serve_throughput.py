"""Throughput of ``flowctl-host serve`` with the TTP sample (a script, not a pytest benchmark).

Run from the repository root::

    python -m benchmarks.serve_throughput [--events 20000] [--repeat 1]

For each mode (one ``process-event`` call per event, the default; ``--process-batch``: one
``process-batch`` call per batch) it starts ``serve`` as a subprocess registered with an in-process
fake flowctl control plane (``FLOWCTL_HEARTBEAT_INTERVAL=10s``, what flowctl injects), warms up
with one short stream, then streams ``--events`` events (the 52 fixture transactions cycled, unique
ids) through ONE ``Process`` stream, then through 2 concurrent streams of ``--events``/2 each, the
way flowctl's orchestrator drives a processor (CloseSend at EOF, every answer read).

Printed per run:

- ``events/s``: events sent / wall time from opening the stream(s) to the last answer (client
  side; client and server share the machine);
- ``batch p50/p99``: the per-batch latency **from the host's ``flowctl_host_batch_seconds``
  histogram** (``/metrics``, delta over the run; Prometheus-style linear interpolation inside the
  buckets 1, 5, 10, 25, 50, 100, 250 ms..., so coarse) and the exact mean (``_sum``/``_count``);
- ``rtt p50/p99``: client-side time from handing an event to gRPC to receiving its first answer
  (queueing included: the stream is flooded, so this is latency under saturation);
- per serve start: spawn -> ``listening`` line and spawn -> first HEALTHY heartbeat the fake
  control plane received.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from reference_host.rpc.gen.flowctl.v1 import common_pb2
from tests.flowctl_control_plane import ControlPlane
from tests.integration.serve_harness import (
    REPO,
    TTP_PROCESSOR_ID,
    Orchestrator,
    ServeProcess,
    TimedControlPlaneService,
    fixture_events,
    renamed,
    scrape,
    serve_argv,
    serve_env,
    start_serve,
)
from tests.waiting import wait_until

HISTOGRAM = "flowctl_host_batch_seconds"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def workload(count: int, prefix: str) -> list[common_pb2.Event]:
    base = fixture_events(REPO / "fixtures" / "events" / "ttp_transactions.jsonl")
    picks = [base[n % len(base)] for n in range(count)]
    return [renamed(event, f"{prefix}{n:06d}-{event.id}") for n, event in enumerate(picks)]


def buckets(samples: Samples) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) of the batch histogram."""
    out = [
        (float(dict(labels)["le"]), value)
        for (name, labels), value in samples.items()
        if name == f"{HISTOGRAM}_bucket"
    ]
    return sorted(out)


def quantile(q: float, before: Samples, after: Samples) -> float:
    """Prometheus ``histogram_quantile`` over the delta ``after - before``."""
    old = dict(buckets(before))
    delta = [(le, count - old.get(le, 0.0)) for le, count in buckets(after)]
    total = delta[-1][1] if delta else 0.0
    if total <= 0:
        return float("nan")
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for le, count in delta:
        if count >= rank:
            if le == float("inf"):
                return lower_bound
            return lower_bound + (le - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = le, count
    return float("nan")


def value(samples: Samples, name: str) -> float:
    return sum(v for (n, _labels), v in samples.items() if n == name)


@dataclass
class Run:
    label: str
    events: int
    seconds: float
    rtts: list[float]
    batches: int
    batch_mean: float
    batch_p50: float
    batch_p99: float

    def line(self) -> str:
        rtt = sorted(self.rtts)
        p50 = rtt[len(rtt) // 2] if rtt else float("nan")
        p99 = rtt[min(len(rtt) - 1, int(len(rtt) * 0.99))] if rtt else float("nan")
        return (
            f"{self.label:34} {self.events / self.seconds:9,.0f} ev/s  {self.seconds:6.2f} s  "
            f"batches {self.batches:4d}  batch mean {self.batch_mean * 1e3:6.1f} ms  "
            f"p50 {self.batch_p50 * 1e3:6.1f} ms  p99 {self.batch_p99 * 1e3:6.1f} ms  "
            f"rtt p50 {p50 * 1e3:7.1f} ms  p99 {p99 * 1e3:7.1f} ms"
        )


def stream(process: ServeProcess, events: list[common_pb2.Event]) -> tuple[float, list[float]]:
    """One stream; (seconds to the last answer, per-event round trips)."""
    sent_at: dict[str, float] = {}

    def feed() -> Iterator[common_pb2.Event]:
        for event in events:
            sent_at[event.id] = time.monotonic()
            yield event

    rtts: list[float] = []
    answered: set[str] = set()

    def on_answer(answer: common_pb2.Event, _count: int) -> None:
        owner = answer.id.split("/error")[0].rsplit("-transfer-", 1)[0]
        if owner not in answered and owner in sent_at:
            answered.add(owner)
            rtts.append(time.monotonic() - sent_at[owner])

    started = time.monotonic()
    result = Orchestrator(process.channel()).run(feed(), on_answer=on_answer, timeout=600)
    if result.code != grpc.StatusCode.OK:
        raise RuntimeError(f"stream ended with {result.code}: {result.details}")
    if result.trailing.get("flowctl-host-received") != str(len(events)):
        raise RuntimeError(f"host read {result.trailing} of {len(events)} events")
    return time.monotonic() - started, rtts


def concurrently(
    processes: list[ServeProcess], parts: list[list[common_pb2.Event]]
) -> tuple[float, list[tuple[float, list[float]]]]:
    """One stream per part at once (part i to processes[i]); wall seconds and each outcome."""
    outcomes: list[Any] = [None] * len(parts)

    def one(i: int) -> None:
        try:
            outcomes[i] = stream(processes[i], parts[i])
        except Exception as exc:
            outcomes[i] = exc

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(parts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return seconds, outcomes


def measure(process: ServeProcess, label: str, parts: list[list[common_pb2.Event]]) -> Run:
    url = process.health_url + "/metrics"
    before = scrape(url)
    seconds, outcomes = concurrently([process] * len(parts), parts)
    after = scrape(url)
    count = value(after, f"{HISTOGRAM}_count") - value(before, f"{HISTOGRAM}_count")
    total = value(after, f"{HISTOGRAM}_sum") - value(before, f"{HISTOGRAM}_sum")
    return Run(
        label, sum(len(p) for p in parts), seconds, [r for _s, rtts in outcomes for r in rtts],
        int(count), total / count if count else float("nan"),
        quantile(0.5, before, after), quantile(0.99, before, after),
    )  # fmt: skip


def across_processes(processes: list[ServeProcess], events: int) -> dict[str, Any]:
    """One stream per serve process at once (the output order is each stream's own): events/s."""
    parts = [workload(events // len(processes), f"p{i}-") for i in range(len(processes))]
    seconds, _outcomes = concurrently(processes, parts)
    sent = sum(len(p) for p in parts)
    return {"label": f"process-batch, {len(processes)} serve processes, 1 stream each",
            "events": sent, "seconds": round(seconds, 3),
            "events_per_s": round(sent / seconds)}  # fmt: skip


def start(mode_flags: list[str]) -> tuple[ServeProcess, ControlPlane, float, float]:
    plane = ControlPlane(servicer_class=TimedControlPlaneService)
    env = serve_env({
        "ENABLE_FLOWCTL": "true", "FLOWCTL_ENDPOINT": plane.endpoint,
        "FLOWCTL_COMPONENT_ID": TTP_PROCESSOR_ID, "FLOWCTL_HEARTBEAT_INTERVAL": "10s",
    })  # fmt: skip
    try:
        process = start_serve(serve_argv(*mode_flags), env)
    except BaseException:
        plane.stop()
        raise
    try:
        servicer = plane.servicer
        assert isinstance(servicer, TimedControlPlaneService)
        first = wait_until(
            lambda: servicer.first_healthy_heartbeat(TTP_PROCESSOR_ID), 60, "a HEALTHY heartbeat"
        )
    except BaseException:
        process.stop()
        plane.stop()
        raise
    assert process.listening_at is not None
    return process, plane, process.listening_at - process.spawned_at, first - process.spawned_at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per measurement")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per configuration")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="serve processes for the multi-process run (0: skip it)",
    )
    parser.add_argument("--out", help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    runs: list[dict[str, Any]] = []
    one = workload(args.events, "one-")
    two = [workload(args.events // 2, "a-"), workload(args.events - args.events // 2, "b-")]
    print(f"flowctl-host serve, TTP sample, {args.events} events per run "
          f"(python {sys.version.split()[0]})")  # fmt: skip
    starts: list[tuple[str, float, float]] = []
    for mode, flags in (("process-event", []), ("process-batch", ["--process-batch"])):
        process, plane, listening, healthy = start(flags)
        starts.append((mode, listening, healthy))
        try:
            stream(process, workload(200, f"warm-{mode}-"))
            for n in range(args.repeat):
                suffix = f" #{n + 1}" if args.repeat > 1 else ""
                for label, parts in (("1 stream", [one]), ("2 streams", two)):
                    run = measure(process, f"{mode}, {label}{suffix}", parts)
                    print(run.line(), flush=True)
                    runs.append({"label": run.label, "events": run.events,
                                 "seconds": round(run.seconds, 3),
                                 "events_per_s": round(run.events / run.seconds),
                                 "batch_p50_ms": round(run.batch_p50 * 1e3, 2),
                                 "batch_p99_ms": round(run.batch_p99 * 1e3, 2)})  # fmt: skip
        finally:
            code = process.stop()
            plane.stop()
            if code != 0:
                print(process.output(), file=sys.stderr)
    if args.processes > 0:
        started = [start(["--process-batch"]) for _ in range(args.processes)]
        try:
            for process, *_ in started:
                stream(process, workload(200, "warm-multi-"))
            multi = across_processes([p for p, *_ in started], args.events)
            print(f"{multi['label']:34} {multi['events_per_s']:9,} ev/s  "
                  f"{multi['seconds']:6.2f} s", flush=True)  # fmt: skip
            runs.append(multi)
        finally:
            for process, plane, *_ in started:
                process.stop()
                plane.stop()
    if args.out:
        from pathlib import Path

        best = max(runs, key=lambda r: r["events_per_s"]) if runs else None
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"runs": runs, "best": best,
                                              "starts": [{"mode": m, "listening_s": round(a, 3),
                                                          "healthy_s": round(b, 3)}
                                                         for m, a, b in starts]},
                                             indent=2) + "\n", encoding="utf-8")  # fmt: skip
    for mode, listening, healthy in starts:
        print(f"start ({mode}): spawn -> listening {listening:.3f} s, "
              f"spawn -> first HEALTHY heartbeat {healthy:.3f} s")  # fmt: skip
    if len(starts) > 1:
        print(f"median spawn -> first HEALTHY heartbeat: "
              f"{statistics.median(h for _m, _l, h in starts):.3f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
