"""The check registry: stable, well-formed ids; tiers are cumulative."""

from __future__ import annotations

import re

from conformance.checks import BY_ID, CHECKS, Tier


def test_ids_are_unique_and_well_formed() -> None:
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids)) == len(BY_ID)
    assert all(re.fullmatch(r"[A-Z]{3,4}-\d{3}", i) for i in ids)


def test_every_check_says_why_and_how_to_fix() -> None:
    for c in CHECKS:
        assert c.title and c.rationale and c.remedy, c.id


def test_tiers_are_cumulative() -> None:
    life = BY_ID["LIFE-003"]
    assert all(life.mandatory_for(t) for t in Tier)
    perf = BY_ID["PERF-001"]
    assert [perf.mandatory_for(t) for t in Tier] == [False, False, True]
    assert not any(BY_ID["SBX-005"].mandatory_for(t) for t in Tier)


def test_checks_page_is_current() -> None:
    from pathlib import Path

    from conformance.checks import markdown

    page = Path(__file__).resolve().parents[2] / "conformance" / "CHECKS.md"
    assert page.read_text() == markdown(), (
        "regenerate: python -m conformance.checks > conformance/CHECKS.md"
    )
