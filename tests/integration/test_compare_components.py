"""compare on two components: the same workload through both, per-event differences named."""

from __future__ import annotations

import pytest

from conformance.compare import compare_components
from tests.conformance_run import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_variant_that_renames_output_ids_differs_on_the_workload() -> None:
    from sample_components.build import build_sample
    from sample_components.ttp_variants.build import build_variant, load_manifest

    ttp = build_sample("ttp_processor").path
    variant = build_variant(next(v for v in load_manifest() if v.name == "counter-ids")).path
    config = (REPO / "fixtures" / "configs" / "ttp.json").read_text()
    same = compare_components(ttp, ttp, config, None)
    assert same.changes == [] and same.outputs is not None and same.outputs["differing"] == 0
    other = compare_components(ttp, variant, config, None)
    assert other.outputs is not None and other.outputs["differing"] > 0
    example = other.outputs["examples"][0]
    assert example["old"] != example["new"]  # the window shows where they differ
    assert not other.breaking  # same get-info, schema and exports: the difference is behaviour
