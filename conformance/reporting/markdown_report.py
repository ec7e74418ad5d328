"""Markdown for a CI step summary or a PR comment (``$GITHUB_STEP_SUMMARY`` ready)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.reporting import repro
from conformance.reporting.writers import Report

ICONS = {"passed": "✅", "failed": "❌", "skipped": "⚠️", "not-applicable": "n/a",
         "waived": "🟡", "not-run": "⛔"}  # fmt: skip


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:300]


def _measurements(report: Report) -> list[str]:
    rows = []
    by_id = {c["id"]: c.get("measurements") or {} for c in report.checks}
    perf1, perf2 = by_id.get("PERF-001", {}), by_id.get("PERF-002", {})
    lim1, lim3 = by_id.get("LIM-001", {}), by_id.get("LIM-003", {})
    for label, value in (
        ("events/s, single calls", perf1.get("events_per_s")),
        ("events/s, batches", perf2.get("events_per_s")),
        ("batch latency p50 / p95 / p99 (ms)",
         " / ".join(str(perf2.get(k)) for k in ("p50_ms", "p95_ms", "p99_ms"))
         if "p99_ms" in perf2 else None),
        ("fuel per event, median / max",
         f"{lim1.get('fuel_per_event_median')} / {lim1.get('fuel_per_event_max')}"
         if lim1.get("fuel_per_event_max") is not None else None),
        ("memory pages needed / limit",
         f"{lim3.get('memory_pages_needed')} / {lim3.get('max_memory_pages')}"
         if "memory_pages_needed" in lim3 else None),
    ):  # fmt: skip
        if value is not None:
            rows.append(f"| {label} | {_cell(value)} |")
    return ["| measurement | value |", "|---|---|", *rows] if rows else []


def markdown(report: Report) -> str:
    """The summary text."""
    data, component = report.data, report.data["component"]
    counts = data.get("counts") or {}
    lines = [
        f"## flowctl conformance: {report.verdict()} — `{component.get('file')}`", "",
        f"sha256 `{component.get('sha256')}` · tier asked `{data.get('tier')}` · "
        + " · ".join(f"{k} {v}" for k, v in counts.items() if v), "",
    ]  # fmt: skip
    if data.get("blocking"):
        lines += [f"**Blocking:** {', '.join(f'`{b}`' for b in data['blocking'])}", ""]
    failures = repro.failures(report)
    if failures:
        lines += ["### What failed, why, and how to reproduce it", ""]
        remedies = {c["id"]: c.get("remedy") for c in report.checks}
        for f in failures:
            lines += [f"<details><summary>❌ <b>{f['id']}</b> {f['title']}</summary>", ""]
            lines += [f"- {_cell(m.splitlines()[0] if m else m)}" for m in f["messages"]]
            lines += [f"- **remedy:** {_cell(remedies.get(f['id']))}", "", "```sh", f["rerun"],
                      "```", "</details>", ""]  # fmt: skip
    lines += ["### Checks", "", "| | id | check | category | mandatory |", "|---|---|---|---|---|"]
    for c in report.checks:
        lines.append(f"| {ICONS.get(c['outcome'], c['outcome'])} | `{c['id']}` | "
                     f"{_cell(c['title'])} | {c['category']} | "
                     f"{'yes' if c['mandatory'] else 'no'} |")  # fmt: skip
    measured = _measurements(report)
    if measured:
        lines += ["", "### Measured", "", *measured]
    return "\n".join(lines) + "\n"


class MarkdownWriter:
    """``<stem>.summary.md``."""

    name = "markdown"
    description = "Markdown summary (GitHub step summary / PR comment)"

    def write(self, report: Report, directory: Path) -> list[Path]:
        """Write the summary."""
        path = directory / f"{report.stem}.summary.md"
        path.write_text(markdown(report), encoding="utf-8")
        return [path]


WRITER = MarkdownWriter()
