"""The machine-readable result file: ``<report-dir>/<component>.conformance.json``.

Its shape is ``result.schema.json`` next to this module (JSON Schema 2020-12); :func:`to_dict`
output validates against it (tested).  ``format_version`` changes when a field changes meaning.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from conformance.results import RunResult

FORMAT_VERSION = 2
SCHEMA_PATH = Path(__file__).with_name("result.schema.json")


def schema() -> dict[str, Any]:
    """The JSON Schema of the result file."""
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


def to_dict(result: RunResult) -> dict[str, Any]:
    """The result as plain JSON data."""
    return {
        "format": "flowctl-conformance-result",
        "format_version": FORMAT_VERSION,
        "component": result.component,
        "tier": result.tier.value,
        "certified": result.certified,
        "certified_tier": result.certified_tier.value if result.certified_tier else None,
        "caps": result.caps,
        "violations": result.violations,
        "start_error": result.start_error,
        "earned_under": result.earned_under,
        "integrity": result.integrity,
        "started": result.started,
        "finished": result.finished,
        "environment": result.environment,
        "counts": {
            outcome: sum(r.outcome == outcome for r in result.checks)
            for outcome in ("passed", "failed", "skipped", "not-applicable", "waived", "not-run")
        },
        "blocking": [r.check.id for r in result.checks if r.blocks],
        "other_failures": result.other_failures,
        "checks": [
            {
                "id": r.check.id,
                "title": r.check.title,
                "category": r.check.category.value,
                "mandatory": r.mandatory,
                "mandatory_from": r.check.mandatory_from.value if r.check.mandatory_from else None,
                "outcome": r.outcome.value,
                "messages": r.messages,
                "remedy": r.check.remedy,
                "waiver": r.waiver,
                "tests": r.tests,
                "duration_s": r.duration_s,
                "measurements": r.measurements,
            }
            for r in result.checks
        ],
    }


def file_name(result: RunResult) -> str:
    """``<component stem>.conformance.json``."""
    stem = Path(str(result.component.get("file", "component"))).stem or "component"
    return f"{stem}.conformance.json"


def write(result: RunResult, report_dir: Path) -> Path:
    """Write the result file atomically; return its path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / file_name(result)
    text = json.dumps(to_dict(result), indent=2, sort_keys=False, default=str) + "\n"
    fd, tmp = tempfile.mkstemp(dir=report_dir, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
