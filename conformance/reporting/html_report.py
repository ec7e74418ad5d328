"""The HTML report: one self-contained page (Jinja2 template, matplotlib charts as inline SVG).

Verdict and tier at the top; per category a table of checks with messages, remedies and the
rerun command of each failure; charts of what was measured -- the batch latency distribution
(PERF-002), throughput against the thresholds (PERF-001/002), fuel per event (PERF-001) and
memory needed against the limit (LIM-003, LIM-006).  Nothing is fetched: no script, no font, no
stylesheet from the network; the charts are SVG written into the page.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from conformance.reporting import repro
from conformance.reporting.writers import Report

TEMPLATE = "report.html.j2"


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.2), dpi=96, layout="constrained")
    return figure, figure.subplots()


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: without the XML prologue


def _latency(m: Mapping[str, Any], thresholds: Mapping[str, Any]) -> str | None:
    samples = m.get("batch_latencies_ms")
    if not samples:
        return None
    figure, ax = _figure()
    ax.hist(samples, bins=min(30, max(5, len(samples) // 3)), color="#1976d2", alpha=0.85)
    for key, style in (("p50_ms", ":"), ("p95_ms", "--"), ("p99_ms", "-")):
        if isinstance(m.get(key), (int, float)):
            ax.axvline(m[key], color="#333", linestyle=style, label=f"{key[:-3]} {m[key]:.1f} ms")
    limit = thresholds.get("batch-p99-ms")
    if isinstance(limit, (int, float)) and limit <= 3 * max(samples):
        ax.axvline(limit, color="#c62828", label=f"p99 threshold {limit:g} ms")
    elif isinstance(limit, (int, float)):
        ax.set_title(f"p99 threshold {limit:g} ms: {limit / max(samples):.0f}x the slowest batch",
                     fontsize="small")  # fmt: skip
    ax.set_xlabel(f"latency of one batch of {m.get('batch_size')} events (ms)")
    ax.set_ylabel("batches")
    ax.legend(fontsize="small")
    return _svg(figure)


def _throughput(single: Mapping[str, Any], batch: Mapping[str, Any],
                thresholds: Mapping[str, Any]) -> str | None:  # fmt: skip
    rows = [(label, m.get("events_per_s"), thresholds.get(key))
            for label, m, key in (("single calls", single, "single-events-per-s"),
                                  ("batches", batch, "batch-events-per-s"))
            if isinstance(m.get("events_per_s"), (int, float))]  # fmt: skip
    if not rows:
        return None
    figure, ax = _figure()
    labels = [r[0] for r in rows]
    ax.barh(labels, [r[1] for r in rows], color="#2e7d32", label="measured")
    for i, (_, _, limit) in enumerate(rows):
        if isinstance(limit, (int, float)):
            ax.plot([limit, limit], [i - 0.4, i + 0.4], color="#c62828", linewidth=2,
                    label="threshold" if i == 0 else None)  # fmt: skip
    ax.set_xlabel("events per second")
    ax.legend(fontsize="small")
    return _svg(figure)


def _fuel(m: Mapping[str, Any], thresholds: Mapping[str, Any]) -> str | None:
    samples = [x for x in m.get("fuel_per_event_sample") or [] if isinstance(x, (int, float))]
    if not samples:
        return None
    figure, ax = _figure()
    ax.hist([x / 1e6 for x in samples], bins=30, color="#6a1b9a", alpha=0.85)
    limit = thresholds.get("fuel-per-event")
    if isinstance(limit, (int, float)) and limit <= 3 * max(samples):
        ax.axvline(limit / 1e6, color="#c62828", label=f"threshold {limit / 1e6:g} M")
        ax.legend(fontsize="small")
    elif isinstance(limit, (int, float)):
        ax.set_title(f"threshold {limit / 1e6:g} M: {limit / max(samples):.0f}x the costliest "
                     "event", fontsize="small")  # fmt: skip
    ax.set_xlabel("fuel (wasm instructions) per event, millions")
    ax.set_ylabel("events")
    return _svg(figure)


def _memory(lim3: Mapping[str, Any], lim6: Mapping[str, Any]) -> str | None:
    needed, limit = lim3.get("memory_pages_needed"), lim3.get("max_memory_pages")
    if not isinstance(needed, int) or not isinstance(limit, int):
        return None
    figure, ax = _figure()
    ax.barh(["needed", "limit"], [needed * 64 / 1024, limit * 64 / 1024],
            color=["#ef6c00", "#90a4ae"])  # fmt: skip
    events, pages = lim6.get("events"), lim6.get("pages")
    if isinstance(events, list) and isinstance(pages, list) and len(events) == len(pages):
        text = ", ".join(f"{p} pages after {e} events" for e, p in zip(events, pages, strict=True))
        ax.set_title(f"long run: {text}", fontsize="small")
    ax.set_xlabel("linear memory (MiB): smallest limit that works vs the policy's")
    return _svg(figure)


def charts(report: Report) -> list[dict[str, str]]:
    """The charts the run's measurements allow (title, svg, what it shows)."""
    by_id = {c["id"]: c.get("measurements") or {} for c in report.checks}
    th = (report.data.get("environment") or {}).get("thresholds") or {}
    made: list[tuple[str, str, Callable[[], str | None]]] = [
        ("Batch latency", "PERF-002: the distribution of one batch's latency",
         lambda: _latency(by_id.get("PERF-002", {}), th)),
        ("Throughput", "PERF-001/002: events per second against the thresholds",
         lambda: _throughput(by_id.get("PERF-001", {}), by_id.get("PERF-002", {}), th)),
        ("Fuel per event", "PERF-001: wasm instructions per event",
         lambda: _fuel(by_id.get("PERF-001", {}), th)),
        ("Memory", "LIM-003 / LIM-006: memory needed against the limit",
         lambda: _memory(by_id.get("LIM-003", {}), by_id.get("LIM-006", {}))),
    ]  # fmt: skip
    out = []
    for title, caption, make in made:
        svg = make()
        if svg is not None:
            out.append({"title": title, "caption": caption, "svg": svg})
    return out


def html(report: Report) -> str:
    """The page."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.reporting", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    categories: dict[str, list[Mapping[str, Any]]] = {}
    for c in report.checks:
        categories.setdefault(str(c["category"]), []).append(c)
    reruns = {f["id"]: f["rerun"] for f in repro.failures(report)}
    return env.get_template(TEMPLATE).render(
        r=report.data, verdict=report.verdict(), categories=categories, reruns=reruns,
        charts=[dict(c, svg=Markup(c["svg"])) for c in charts(report)],  # noqa: S704 - matplotlib's own SVG
        certified=bool(report.data.get("certified")),
    )  # fmt: skip


class HtmlWriter:
    """``<stem>.report.html``."""

    name = "html"
    description = "self-contained HTML page with charts (no network fetches)"

    def write(self, report: Report, directory: Path) -> list[Path]:
        """Write the page."""
        path = directory / f"{report.stem}.report.html"
        path.write_text(html(report), encoding="utf-8")
        return [path]


WRITER = HtmlWriter()
