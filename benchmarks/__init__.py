"""The benchmarks and reliability runs (scripts: ``python -m benchmarks.<name>``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_result(path: str | Path, data: Any) -> Path:
    """Write a run's figures as indented JSON (parent directories made); the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return out
