"""The soak (``python -m benchmarks.soak``), short: accounting and backpressure through serve.

The long run (1,000,000 events, the memory bound of < 5 % growth after warm-up) is its own
command; this one checks what a short run can: every event read and answered exactly as the host
counted, on concurrent streams, and a client that floods without reading is held back by flow
control instead of filling the host's memory.
"""

from __future__ import annotations

import pytest

from benchmarks.soak import FLOOD_EVENTS, soak

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_short_soak_loses_nothing_and_a_flood_is_held_back() -> None:
    result = soak(6000, 3)
    assert result["lost"] == 0, result["per_stream"]
    assert result["received"] == result["ok"] + result["failed"] == 6000
    assert result["error_events_match_failed"] and result["all_streams_ok"], result["per_stream"]
    assert result["outputs"] > 0
    flood = result["flood"]
    assert flood["held_back"], flood
    assert flood["sent_while_not_reading"] < FLOOD_EVENTS
    assert flood["answers_after_drain"] > 0 and flood["code"] == "OK"
