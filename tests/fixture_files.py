"""The committed fixture files (``fixtures/``): where they are and how to read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
EVENTS_DIR = FIXTURES / "events"
CONFIGS_DIR = FIXTURES / "configs"
EXPECTED_DIR = FIXTURES / "expected"


def read_jsonl(path: Path) -> list[Any]:
    """One JSON value per non-blank line."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
