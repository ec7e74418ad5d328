"""Two components in one host process (``python -m benchmarks.isolation``): nothing shared, and a
trap storm, a fuel burner and an output flood next door leave the TTP sample's answers unchanged and its rate
above the stated bound: a share of its rate beside a well-behaved neighbour equally busy (measured side
by side in the same run)."""

from __future__ import annotations

import pytest

from benchmarks.isolation import MIN_SHARE, measure

pytestmark = [pytest.mark.slow]


def test_a_storm_next_door_changes_no_answer_and_keeps_the_rate_bounded() -> None:
    result = measure(seconds=1.5)
    assert result["a_answers_equal_during_storm"] and result["a_answers_equal_after_storm"]
    assert result["a_recycles"] == 0 and result["b_recycles"] > 0
    assert result["burner_limit_stops"] > 0  # B ran out of fuel; A's fuel is its own
    assert result["flood_limit_stops"] > 0  # a neighbour's output flood was stopped at its limit
    assert result["a_log_component_ids"] == ["comp-a"]
    assert result["a_metric_component_labels"] == ["comp-a"]
    assert result["separate_compile_cache_entries"]
    assert result["share_kept"] >= MIN_SHARE, result
