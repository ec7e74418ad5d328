"""All performance figures in one run, one file, one chart, and the README's table from them.

Run from the repository root::

    python -m benchmarks.report            # everything (~6 min on 2 cores), then the README
    python -m benchmarks.report --quick    # the short versions (CI smoke, ~2-3 min)
    python -m benchmarks.report --readme   # only regenerate the README table from the file

Each part is its own script, run as a fresh subprocess so one part's memory and warm caches do
not colour the next: ``benchmarks.peers`` (typed-event conversion and guest->host import calls:
ours vs stock wasmtime-py vs the jco-transpiled component in Node, with wasmtime's C-API floor),
``benchmarks.ttp_profile`` (the TTP sample in-process: events/s, batch latency, fuel, host
share), ``benchmarks.startup`` (fresh process -> first event, RSS per instance) and
``benchmarks.serve_throughput`` (end to end through ``flowctl-host serve`` over real gRPC).  Their
JSON goes into ``reports/benchmarks.json`` with every target of the performance issue judged
against the measured figure, ``reports/benchmarks.svg`` charts the side-by-side conversion, and
the README's table between ``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->`` is
rendered from the file -- never typed by hand (``tests/unit/test_benchmark_report.py`` checks the
README matches the file).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "reports" / "benchmarks.json"
CHART = REPO / "reports" / "benchmarks.svg"
README = REPO / "README.md"
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"

#: (part, module, quick args, full args)
PARTS = (
    ("peers", "benchmarks.peers", ["--quick"], []),
    ("ttp", "benchmarks.ttp_profile", ["--quick"], []),
    ("startup", "benchmarks.startup", ["--quick"], []),
    ("serve", "benchmarks.serve_throughput", ["--events", "3000"], ["--events", "20000"]),
)


def run_parts(*, quick: bool, only: list[str] | None = None) -> dict[str, Any]:
    """Run every part (a fresh process each); their JSON by part name, or the error."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="flowctl-bench-") as tmp:
        for name, module, quick_args, full_args in PARTS:
            if only and name not in only:
                continue
            dest = Path(tmp) / f"{name}.json"
            argv = [sys.executable, "-m", module, *(quick_args if quick else full_args),
                    "--out", str(dest)]  # fmt: skip
            started = time.monotonic()
            done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
            print(f"{name}: exit {done.returncode} in {time.monotonic() - started:.0f} s",
                  flush=True)  # fmt: skip
            if done.returncode != 0 or not dest.exists():
                out[name] = {"error": (done.stdout + done.stderr)[-3000:]}
            else:
                out[name] = json.loads(dest.read_text(encoding="utf-8"))
    return out


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def targets(parts: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the performance issue, judged against this run's figures.

    ``met`` is ``None`` when the figure is missing (a part failed): never counted as met.
    """
    peers, ttp, startup, serve = (parts.get(k, {}) for k in ("peers", "ttp", "startup", "serve"))
    log, base = (
        _get(peers, "import_call", "log", "ours_us"),
        _get(peers, "import_baseline", "ours_us"),
    )
    rows = [
        ("typed-event conversion, echo, per event at batch 100", "us", 26.0, "<=",
         _get(peers, "conversion", "echo", "100", "ours_us"),
         _get(peers, "conversion", "echo", "100", "jco_us")),
        ("typed-event conversion, no-op, per event at batch 100", "us", 10.0, "<=",
         _get(peers, "conversion", "noop", "100", "ours_us"),
         _get(peers, "conversion", "noop", "100", "jco_us")),
        ("single typed call (process-event, echo)", "us", 25.0, "<=",
         _get(peers, "single_call", "echo", "ours_us"),
         _get(peers, "single_call", "echo", "jco_us")),
        ("one guest->host import call (logging.log), beyond a call without it", "us", 10.0, "<=",
         None if log is None or base is None else log - base,
         None if _get(peers, "import_call", "log", "jco_us") is None
         else peers["import_call"]["log"]["jco_us"] - peers["import_baseline"]["jco_us"]),
        ("fresh process -> first event processed, warm cache", "ms", 100.0, "<",
         _get(startup, "startup", "warm_cache_first_output_ms"), None),
        ("RSS added per further TTP instance", "MB", 30.0, "<",
         _get(startup, "rss", "per_further_instance_median_mb"), None),
        ("TTP end to end through serve, events/s (best configuration)", "ev/s", 10_000.0, ">=",
         _get(serve, "best", "events_per_s"), None),
        ("host share of the TTP batch time (profiled, an upper bound)", "share", 0.25, "<",
         _get(ttp, "host_share_profiled"), None),
    ]  # fmt: skip
    out = []
    for name, unit, target, op, measured, peer in rows:
        met = None
        if isinstance(measured, int | float):
            met = {"<=": measured <= target, "<": measured < target, ">=": measured >= target}[op]
        out.append({
            "target": name, "unit": unit, "bound": f"{op} {target:g}",
            "measured": None if measured is None else round(float(measured), 3),
            "jco_node": None if peer is None else round(float(peer), 3), "met": met,
        })  # fmt: skip
    return out


def chart(result: dict[str, Any], dest: Path) -> None:
    """Per-event conversion at each batch size: ours, stock, jco, wasmtime's C-API floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conversion = _get(result, "parts", "peers", "conversion") or {}
    fig, axes = plt.subplots(1, max(1, len(conversion)), figsize=(10, 4), squeeze=False)
    for ax, (guest, batches) in zip(axes[0], sorted(conversion.items()), strict=False):
        sizes = sorted(batches, key=int)
        for key, label in (
            ("stock_us", "stock wasmtime-py"),
            ("ours_us", "ours"),
            ("ours_python_us", "ours, Python value layer only"),
            ("jco_us", "jco / Node"),
            ("c_api_us", "wasmtime C API floor"),
        ):
            values = [batches[b].get(key) for b in sizes]
            if all(isinstance(v, int | float) for v in values):
                ax.plot([int(b) for b in sizes], values, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("µs per typed event")
        ax.set_title(f"process-batch, {guest} guest")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("typed-event conversion, one run, side by side (lower is better)")
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, format="svg", metadata={"Date": None})
    plt.close(fig)


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "share":
        return f"{value:.0%}"
    if unit == "ev/s":
        return f"{value:,.0f}"
    return f"{value:,.1f} {'µs' if unit == 'us' else unit}"


def table(result: dict[str, Any]) -> str:
    """The README's table (Markdown), from the result file only."""
    env = _get(result, "parts", "peers", "environment") or {}
    lines = [
        BEGIN,
        f"Generated by `python -m benchmarks.report` from `reports/benchmarks.json` "
        f"({result.get('mode', '?')} run, {result.get('generated', '?')}, {env.get('cpus', '?')} "
        f"cores, wasmtime-py {env.get('wasmtime_py', '?')}, jco {env.get('jco', '—')}, Node "
        f"{env.get('node', '—')}). Medians of one run; compare the ratios, the machine is shared.",
        "",
        "| target | bound | ours | jco / Node, same run | met |",
        "|---|---|---|---|---|",
    ]
    for row in result.get("targets", []):
        met = {True: "yes", False: "**no**", None: "not measured"}[row["met"]]
        lines.append(
            f"| {row['target']} | {row['bound']} {'' if row['unit'] == 'share' else row['unit']} "
            f"| {_fmt(row['measured'], row['unit'])} | {_fmt(row['jco_node'], row['unit'])} "
            f"| {met} |"
        )
    peers = _get(result, "parts", "peers") or {}
    conv = _get(peers, "conversion", "echo", "100") or {}
    if conv.get("stock_us") and conv.get("ours_us"):
        ratio = conv["stock_us"] / conv["ours_us"]
        lines += ["", f"Stock wasmtime-py, same run, echo at batch 100: "
                  f"{conv['stock_us']:,.0f} µs per event ({ratio:.0f}x ours); wasmtime's own "
                  f"C-API work for the same values: {conv.get('c_api_us', 0):,.1f} µs. jco's "
                  f"outputs equal ours: {peers.get('jco_outputs_equal')}. Chart: "
                  "`reports/benchmarks.svg`."]  # fmt: skip
    noop = _get(peers, "conversion", "noop", "100") or {}
    single = _get(peers, "single_call", "echo") or {}
    if conv.get("ours_python_us") and noop.get("ours_python_us") and single.get("ours_python_us"):
        layer = str(_get(peers, "environment", "value_layer") or "?").split(" (")[0]
        py_echo, py_noop = conv["ours_python_us"], noop["ours_python_us"]
        lines += [
            "",
            f"Value layer measured: {layer}. The Python value layer alone (what runs without a "
            f"C compiler), same run: echo {py_echo:,.1f} µs, no-op {py_noop:,.1f} µs per event "
            f"at batch 100, single call {single['ours_python_us']:,.1f} µs.",
        ]
    lines.append(END)
    return "\n".join(lines)


def write_readme(result: dict[str, Any], readme: Path = README) -> bool:
    """Put the table between the markers; whether the README changed."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: no {BEGIN} ... {END} markers for the benchmark table")
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    new = head + table(result) + tail
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short versions (CI smoke)")
    parser.add_argument("--readme", action="store_true",
                        help="only regenerate the README table from --out")  # fmt: skip
    parser.add_argument("--only", action="append", choices=[p[0] for p in PARTS],
                        help="run only this part (repeatable)")  # fmt: skip
    parser.add_argument("--out", default=str(RESULT), help="the result file")
    parser.add_argument("--no-readme", action="store_true", help="do not touch README.md")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.readme:
        changed = write_readme(json.loads(out.read_text(encoding="utf-8")))
        print(f"README.md {'updated' if changed else 'already matches'} {out}")
        return 0
    parts = run_parts(quick=args.quick, only=args.only)
    result = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "mode": "quick" if args.quick else "full", "command": " ".join(["python", "-m",
        "benchmarks.report", *(argv if argv is not None else sys.argv[1:])]),
        "loadavg": list(os.getloadavg()), "parts": parts, "targets": targets(parts),
    }  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    chart(result, out.with_suffix(".svg"))
    for row in result["targets"]:
        print(f"{'met ' if row['met'] else 'MISS' if row['met'] is False else 'n/a '} "
              f"{row['target']}: {row['measured']} ({row['bound']} {row['unit']})")  # fmt: skip
    if not args.no_readme and out.resolve() == RESULT:
        write_readme(result)
    failed = [name for name, part in parts.items() if "error" in part]
    if failed:
        print(f"parts that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
