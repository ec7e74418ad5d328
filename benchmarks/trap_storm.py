"""Trap storm: a component that traps on every other event, through the host (issue 16).

Run from the repository root::

    python -m benchmarks.trap_storm [--events 10000]

The zoo member ``traps-on-malformed-body`` executes ``unreachable`` whenever an operation body is
not a JSON object.  Events alternate between a fixture transaction it answers and the malformed
``malformed-01-not-json`` (unique ids), so every other call traps.  Two ways through the host:

- **in-process**: one :class:`~reference_host.processor.ProcessorInstance`, ``process-event`` per
  event; each trap discards the store and re-initializes a fresh instance (recycle);
- **serve**: ``flowctl-host serve`` as a subprocess, one ``Process`` stream over real gRPC.

Printed and returned: events in / answered (outputs + error records or error events) / lost,
recycles, the host's RSS before and after, the median wall time of an answered call and of a
trapping call (the recycle cost is their difference), and that the host is still up (it answers
one more event after the storm).  ``tests/integration/test_trap_storm.py`` runs a short storm.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MEMBER = "traps-on-malformed-body"


@dataclass
class Storm:
    """What one storm showed."""

    way: str
    events: int
    answered: int
    traps: int
    recycles: int
    ok_call_ms: float | None  # median wall time of an answered call (in-process)
    trap_call_ms: float | None  # ... and of a trapping call, recycle included
    per_event_ms: float  # the whole storm's wall time per event
    rss_before_mb: float
    rss_after_mb: float
    up_after: bool

    @property
    def lost(self) -> int:
        """Events that got no answer at all."""
        return self.events - self.answered


def _events(n: int) -> list[Any]:
    from reference_host.jsonform import event_from_json

    def first(name: str) -> dict[str, Any]:
        line = (REPO / "fixtures" / "events" / name).read_text(encoding="utf-8").splitlines()[0]
        data: dict[str, Any] = json.loads(line)
        return data

    good, bad = first("ttp_transactions.jsonl"), first("ttp_malformed.jsonl")
    return [event_from_json(dict(bad if i % 2 else good, id=f"storm-{i}")) for i in range(n)]


def _rss_mb(pid: int | None = None) -> float:
    status = Path(f"/proc/{pid or 'self'}/status").read_text(encoding="utf-8")
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return round(kb / 1024, 1)


def in_process(n: int) -> Storm:
    """The storm through one in-process instance."""
    from reference_host import errors
    from reference_host.host import open_processor
    from reference_host.policy import Policy
    from sample_components.zoo.build import build_zoo

    path = build_zoo(names=[MEMBER])[MEMBER]
    instance, _ = open_processor(Policy.safe_defaults(), path)
    instance.initialize("{}")
    events = _events(n)
    ok_ms, trap_ms, answered, traps = [], [], 0, 0
    before = _rss_mb()
    try:
        for event in events:
            started = time.perf_counter()
            try:
                instance.process_event(event)
                ok_ms.append((time.perf_counter() - started) * 1000)
            except errors.GuestTrap:
                traps += 1
                trap_ms.append((time.perf_counter() - started) * 1000)
            answered += 1  # an output list or a typed trap: the event was answered
        took = sum(ok_ms) + sum(trap_ms)
        up = instance.process_event(events[0]) is not None
        return Storm("in-process", n, answered, traps, instance.recycles,
                     round(statistics.median(ok_ms), 3), round(statistics.median(trap_ms), 3),
                     round(took / n, 3), before, _rss_mb(), up)  # fmt: skip
    finally:
        instance.close()


def served(n: int) -> Storm:
    """The storm through ``flowctl-host serve``, one Process stream."""
    import grpc

    from reference_host.rpc import codec
    from reference_host.rpc.gen.flowctl.v1 import processor_pb2_grpc
    from reference_host.rpc.stream import ERROR_TYPE
    from sample_components.zoo.build import build_zoo
    from tests.integration.serve_harness import serve_argv, serving

    path = build_zoo(names=[MEMBER])[MEMBER]
    argv = serve_argv("--component", str(path), pipeline=None, processor=None, health_port=None)
    wire = [codec.encode(e) for e in _events(n)]
    with serving(argv) as server, grpc.insecure_channel(server.target) as channel:
        stub = processor_pb2_grpc.ProcessorServiceStub(channel)  # type: ignore[no-untyped-call]
        before = _rss_mb(server.pid)
        started = time.perf_counter()
        answers = list(stub.Process(iter(wire), timeout=600))
        took = time.perf_counter() - started
        errors_seen = sum(a.type == ERROR_TYPE for a in answers)
        answered_ids = {a.metadata.get("flowctl.input_id", a.id) for a in answers}
        after = _rss_mb(server.pid)
        up = len(list(stub.Process(iter(wire[:1]), timeout=60))) == 1
    # every trap is answered by an error event; the host recycles the stream's instance for each
    return Storm("serve", n, len(answered_ids & {e.id for e in wire}), errors_seen, errors_seen,
                 None, None, round(took * 1000 / n, 3), before, after, up)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run both storms; exit 1 if an event was lost or the host went down."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    storms = [in_process(args.events), served(args.events)]
    for s in storms:
        sys.stdout.write(
            f"{s.way:10} {s.events} events, {s.answered} answered, {s.lost} lost, {s.traps} "
            f"traps, {s.recycles} recycles; {s.per_event_ms} ms per event"
            + (
                f" (median answered call {s.ok_call_ms} ms, trapping call {s.trap_call_ms} ms)"
                if s.ok_call_ms is not None
                else ""
            )
            + f"; RSS {s.rss_before_mb} -> {s.rss_after_mb} MB; host up after: {s.up_after}\n"
        )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(s) for s in storms], indent=2) + "\n")
    return 0 if all(s.lost == 0 and s.up_after for s in storms) else 1


if __name__ == "__main__":
    sys.exit(main())
