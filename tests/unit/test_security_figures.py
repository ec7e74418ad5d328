"""SECURITY.md's figures are the rendering of the committed run outputs, never typed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.security_figures import BEGIN, END, README, SECURITY, current, render


@pytest.mark.parametrize("path", [SECURITY, README], ids=["SECURITY.md", "README.md"])
def test_the_figures_match_the_reports(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text[text.index(BEGIN) : text.index(END) + len(END)] == current(), (
        "run: python -m benchmarks.security_figures"
    )


def test_missing_reports_say_not_measured() -> None:
    block = render(None, None, None, {"sql": 3})
    assert block.count("not measured") == 4
    assert "3 probes" in block
