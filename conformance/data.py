"""The packaged fixture data the suite feeds components (events, probes), and reading it."""

from __future__ import annotations

import json
from pathlib import Path

from reference_host import errors
from reference_host import types as t
from reference_host.jsonform import event_from_json


def fixtures_dir() -> Path:
    """The packaged fixture data (wheel: ``conformance/_fixtures``; checkout: ``fixtures/``)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_fixtures", here.parent / "fixtures"):
        if (candidate / "events").is_dir():
            return candidate
    raise FileNotFoundError("conformance fixtures are missing; reinstall flowctl-conformance")


def load_events(path: Path) -> list[t.Event]:
    """Events of a JSONL file; a bad line is an error naming file, line and problem."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(event_from_json(json.loads(line)))
        except (ValueError, errors.FlowctlHostError) as exc:
            raise ValueError(f"{path}:{number}: not a flowctl event in JSON form: {exc}") from exc
    return out
