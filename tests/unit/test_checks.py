"""The check registry: stable, well-formed ids; tiers are cumulative."""

from __future__ import annotations

import re
from pathlib import Path

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
    from conformance.checks import markdown

    page = Path(__file__).resolve().parents[2] / "conformance" / "CHECKS.md"
    assert page.read_text() == markdown(), (
        "regenerate: python -m conformance.checks > conformance/CHECKS.md"
    )


def test_checks_page_names_the_test_that_decides_each_check() -> None:
    from conformance.checks import markdown
    from conformance.deciders import deciding_tests

    page = markdown()
    decided_by = deciding_tests()
    for c in CHECKS:
        (row,) = [line for line in page.splitlines() if line.startswith(f"| `{c.id}` |")]
        assert row.endswith(" |") and decided_by[c.id], c.id
        for test in decided_by[c.id]:
            assert f"`{test}`" in row.rsplit(" | ", 1)[1], (c.id, test)
    assert "`test_lifecycle.py::test_get_info_is_well_formed`" in page


def test_deciding_tests_reads_the_marks_and_refuses_a_test_without_one(tmp_path: Path) -> None:
    import pytest

    from conformance.deciders import deciding_tests

    (tmp_path / "test_a.py").write_text(
        "import pytest\n\ncheck = pytest.mark.conformance_check\n\n\n"
        '@check("WIT-001")\ndef test_one(): ...\n\n\n'
        '@pytest.mark.parametrize("x", [1])\n@pytest.mark.conformance_check("WIT-001")\n'
        "def test_two(x): ...\n\n\ndef helper(): ...\n"
    )
    assert deciding_tests(tmp_path) == {"WIT-001": ["test_a.py::test_one", "test_a.py::test_two"]}
    (tmp_path / "test_b.py").write_text(
        "import pytest\n\n\n@pytest.mark.slow\ndef test_none(): ...\n"
    )
    with pytest.raises(ValueError, match=r"test_b.py::test_none must name exactly one check"):
        deciding_tests(tmp_path)
