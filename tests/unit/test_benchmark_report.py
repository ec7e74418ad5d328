"""The README's performance table is rendered from reports/benchmarks.json, never by hand."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.report import BEGIN, END, README, RESULT, table, targets


def test_the_readme_table_is_the_rendering_of_the_result_file() -> None:
    result = json.loads(RESULT.read_text(encoding="utf-8"))
    text = README.read_text(encoding="utf-8")
    shown = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert shown == table(result), "run: python -m benchmarks.report --readme"


def test_the_file_judges_every_target_from_its_own_figures() -> None:
    result = json.loads(RESULT.read_text(encoding="utf-8"))
    assert result["targets"] == targets(result["parts"])


def test_a_missing_figure_is_not_measured_never_met(tmp_path: Path) -> None:
    rows = targets({"peers": {"error": "node missing"}})
    assert rows and all(r["met"] is None and r["measured"] is None for r in rows)
    assert "not measured" in table({"targets": rows, "parts": {}})
