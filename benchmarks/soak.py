"""Soak: many events through ``flowctl-host serve`` with the TTP sample, memory and accounting.

Run from the repository root::

    python -m benchmarks.soak [--events 1000000] [--streams 4] [--out reports/soak.json]

One ``serve`` process (``--process-batch``) on 127.0.0.1; ``--streams`` concurrent ``Process``
streams share the events (the 52 fixture transactions cycled with unique ids, generated lazily:
the client holds no list of a million events).  The run is bounded (it ends when every stream
has sent its share and read every answer) and checks:

- **accounting**: for every stream the host's trailers say it read exactly what was sent, and the
  error events the client counted equal the host's failed count -- ``received = ok + failed``,
  ``lost = sent - received`` must be 0;
- **memory**: the server's RSS (``/proc/<pid>/status``) is sampled every second while the
  streams run; the median over the last 10 % of the events may exceed the median over the 10 %
  after the warm-up (events 10-20 %) by less than 5 % (:func:`growth`; the RSS once the streams
  have closed, and the peak, are recorded too);
- **backpressure**: first, one stream floods 20,000 events without reading any answer for 3 s:
  the host reads only what its bounded queue and gRPC's flow-control window hold (the events the
  host has read by then, from ``flowctl_host_events_received`` on ``/metrics``, and the RSS
  growth during the flood are recorded), then the answers are drained.

Exit 1 when an event was lost, the memory grew 5 % or more, or the flood was not held back.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import write_result

REPO = Path(__file__).resolve().parents[1]
GROWTH_BOUND_PCT = 5.0
FLOOD_EVENTS = 20_000


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kb / 1024


def _events(prefix: str, n: int) -> Iterator[Any]:
    from tests.integration.serve_harness import fixture_events, renamed

    base = fixture_events(REPO / "fixtures" / "events" / "ttp_transactions.jsonl")
    for i in range(n):
        yield renamed(base[i % len(base)], f"{prefix}{i:07d}")


def _stream(channel: Any, prefix: str, n: int, counts: dict[str, Any], sent: list[int]) -> None:
    from reference_host.rpc.gen.flowctl.v1 import processor_pb2_grpc
    from reference_host.rpc.stream import ERROR_TYPE

    stub = processor_pb2_grpc.ProcessorServiceStub(channel)  # type: ignore[no-untyped-call]

    def feed() -> Iterator[Any]:
        for event in _events(prefix, n):
            sent[0] += 1
            yield event

    call = stub.Process(feed(), timeout=7200)
    outputs = errors = 0
    for answer in call:
        if answer.type == ERROR_TYPE:
            errors += 1
        else:
            outputs += 1
    trailers = dict(call.trailing_metadata() or ())
    counts[prefix] = {
        "sent": n, "received": int(trailers.get("flowctl-host-received", -1)),
        "failed": int(trailers.get("flowctl-host-failed", -1)), "error_events": errors,
        "outputs": outputs, "code": call.code().name,
    }  # fmt: skip


def _received(health_url: str) -> float:
    from tests.integration.serve_harness import scrape

    samples = scrape(health_url + "/metrics")
    return sum(
        v for (name, _l), v in samples.items() if name == "flowctl_host_events_received_total"
    )


def flood(process: Any) -> dict[str, Any]:
    """One stream sends FLOOD_EVENTS without reading for 3 s; what the host took meanwhile."""
    from reference_host.rpc.gen.flowctl.v1 import processor_pb2_grpc

    stub = processor_pb2_grpc.ProcessorServiceStub(process.channel())  # type: ignore[no-untyped-call]
    sent = [0]

    def feed() -> Iterator[Any]:
        for event in _events("flood-", FLOOD_EVENTS):
            sent[0] += 1
            yield event

    before_rss, before = _rss_mb(process.pid), _received(process.health_url)
    call = stub.Process(feed(), timeout=3600)
    time.sleep(3.0)  # the client reads nothing: only flow control holds the sender back
    taken = _received(process.health_url) - before
    sent_by_then, rss = sent[0], _rss_mb(process.pid)
    answers = sum(1 for _ in call)
    return {
        "events": FLOOD_EVENTS, "sent_while_not_reading": sent_by_then,
        "host_processed_while_not_reading": int(taken), "answers_after_drain": answers,
        "rss_before_mb": round(before_rss, 1), "rss_during_mb": round(rss, 1),
        "held_back": sent_by_then < FLOOD_EVENTS and rss - before_rss < 200,
        "code": call.code().name,
    }  # fmt: skip


def growth(samples: list[tuple[int, float]], events: int) -> tuple[float, float, float]:
    """(median RSS after warm-up, median RSS at the end of the run, growth in %) from samples.

    Samples are ``(events sent so far, RSS MB)``; "after warm-up" is events 10-20 %, "the end"
    the last 10 % while still streaming.  Too few samples in a window: the nearest ones.
    """
    import statistics

    def window(lo: float, hi: float) -> list[float]:
        picked = [r for n, r in samples if lo * events <= n < hi * events]
        return picked or [r for _n, r in samples[-1:]]

    warm = statistics.median(window(0.1, 0.2))
    end = statistics.median(window(0.9, 1.0))
    return warm, end, 100 * (end - warm) / warm


def soak(events: int, streams: int) -> dict[str, Any]:
    """The whole run (see the module docstring)."""
    from tests.integration.serve_harness import serve_argv, serving

    with serving(serve_argv("--process-batch")) as process:
        flooded = flood(process)
        counts: dict[str, Any] = {}
        sent = [0]
        channel = process.channel()
        share = [events // streams + (1 if i < events % streams else 0) for i in range(streams)]
        threads = [
            threading.Thread(target=_stream, args=(channel, f"s{i}-", share[i], counts, sent))
            for i in range(streams)
        ]
        samples: list[tuple[int, float]] = []
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            samples.append((sent[0], _rss_mb(process.pid)))
            time.sleep(1.0)
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        rss_end = _rss_mb(process.pid)
    rss_warm, rss_late, grew = growth(samples, events)
    received = sum(c["received"] for c in counts.values())
    failed = sum(c["failed"] for c in counts.values())
    result = {
        "events": events, "streams": streams, "seconds": round(seconds, 1),
        "events_per_s": round(events / seconds), "received": received, "failed": failed,
        "ok": received - failed, "lost": events - received,
        "error_events_match_failed": all(
            c["error_events"] == c["failed"] for c in counts.values()
        ),
        "outputs": sum(c["outputs"] for c in counts.values()),
        "all_streams_ok": len(counts) == streams and all(
            c["code"] == "OK" for c in counts.values()
        ),
        "rss_after_warmup_mb": round(rss_warm, 1), "rss_end_mb": round(rss_late, 1),
        "rss_after_close_mb": round(rss_end, 1),
        "rss_peak_mb": round(max((r for _n, r in samples), default=rss_end), 1),
        "rss_growth_pct": round(grew, 2), "rss_samples": [(n, round(r, 1)) for n, r in samples],
        "flood": flooded, "per_stream": counts,
    }  # fmt: skip
    result["held"] = bool(
        result["lost"] == 0 and result["error_events_match_failed"] and result["all_streams_ok"]
        and grew < GROWTH_BOUND_PCT and flooded["held_back"]
        and flooded["answers_after_drain"] > 0 and flooded["code"] == "OK"
    )  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--out", default="reports/soak.json")
    args = parser.parse_args(argv)
    result = soak(args.events, args.streams)
    f = result["flood"]
    print(f"soak: {result['events']:,} events on {result['streams']} streams in "
          f"{result['seconds']:,.0f} s ({result['events_per_s']:,} ev/s); received "
          f"{result['received']:,} = ok {result['ok']:,} + failed {result['failed']:,}; lost "
          f"{result['lost']}; RSS {result['rss_after_warmup_mb']} -> {result['rss_end_mb']} MB "
          f"({result['rss_growth_pct']:+.2f} %); flood: {f['sent_while_not_reading']:,} of "
          f"{f['events']:,} sent and {f['host_processed_while_not_reading']:,} processed while "
          f"the client did not read, RSS {f['rss_before_mb']} -> {f['rss_during_mb']} MB; "
          f"{'HELD' if result['held'] else 'BROKEN'}")  # fmt: skip
    write_result(args.out, result)
    return 0 if result["held"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
