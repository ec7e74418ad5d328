"""Pair benchmarks run side by side and print their ratios (ours vs stock) at the end."""

from __future__ import annotations

from typing import Any

import pytest

RESULTS: dict[str, dict[str, float]] = {}


def record(group: str, variant: str, median_s: float, per: int) -> None:
    """Keep the median time per item of one variant of a benchmark group."""
    RESULTS.setdefault(group, {})[variant] = median_s / per


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("flowctl benchmarks: medians per event and ratios (same process, same run)")
    for group, variants in sorted(RESULTS.items()):
        line = ", ".join(f"{v} {t * 1e6:,.1f} us" for v, t in sorted(variants.items()))
        ratio = ""
        if "stock" in variants and "ours" in variants and variants["ours"] > 0:
            ratio = f"  -> stock/ours = {variants['stock'] / variants['ours']:.1f}x"
        tr.write_line(f"{group:32} {line}{ratio}")


@pytest.fixture
def record_median() -> Any:
    return record
