"""Proof the suite refuses hidden defects: the packaged suite against every defective TTP variant.

Each variant of ``sample_components/ttp_variants/variants.yaml`` (the TTP sample with one small,
realistic defect) is run through ``pytest --component`` in its own subprocess at the marketplace
tier with the TTP's certification config, as a user would run it.  It must not be certified, the
run must exit non-zero, and every check its manifest entry names in ``fails`` must have failed.
The control -- the unmodified TTP sample under the same command -- is certified.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_components.ttp_variants.build import load_manifest
from tests.conformance_run import REPO, SuiteRun, run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VARIANTS = {v.name: v for v in load_manifest()}
ARGS = (
    "--component-config", str(REPO / "fixtures" / "configs" / "ttp.json"),
    "--conformance-level", "marketplace",
)  # fmt: skip


@pytest.fixture(scope="module")
def variant_paths() -> dict[str, Path]:
    from sample_components.ttp_variants.build import build_variants

    return build_variants()


def _outcomes(run: SuiteRun) -> dict[str, str]:
    assert run.result is not None, run.output[-4000:]
    return {c["id"]: c["outcome"] for c in run.result["checks"]}


def test_the_unmodified_ttp_sample_is_certified(tmp_path: Path) -> None:
    from sample_components.build import build_sample

    run = run_suite(build_sample("ttp_processor").path, tmp_path, *ARGS)
    assert run.returncode == 0, run.output[-4000:]
    assert run.result is not None and run.result["certified"], run.result
    assert run.result["blocking"] == []


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_is_refused(name: str, variant_paths: dict[str, Path], tmp_path: Path) -> None:
    variant = VARIANTS[name]
    run = run_suite(variant_paths[name], tmp_path, *ARGS)
    outcomes = _outcomes(run)
    assert run.result is not None
    assert not run.result["certified"], f"{name} was certified\n{run.output[-3000:]}"
    assert run.returncode != 0, run.output[-3000:]
    not_failed = {check: outcomes.get(check, "absent") for check in variant.fails}
    not_failed = {c: o for c, o in not_failed.items() if o != "failed"}
    failed = sorted(c for c, o in outcomes.items() if o == "failed")
    assert not not_failed, (
        f"{name} ({variant.description}) should fail {list(variant.fails)}; "
        f"got {not_failed}; the checks that failed: {failed}\n{run.output[-3000:]}"
    )
