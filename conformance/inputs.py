"""The events and configs the checks feed a component.

The workload is every packaged fixture event of a type the component says it supports (or the
author's ``--conformance-events`` files), plus one generic ``custom`` event when ``custom`` is
supported.  Unsupported-type events come from the fixtures and, for every remaining event type,
a generic event.  Malformed operation bodies come from ``fixtures/events/ttp_malformed.jsonl``.
Configs for the lifecycle checks come from the component's own ``configuration-schema``
(hypothesis-jsonschema for valid ones; invalid ones are filtered through the schema).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.data import fixtures_dir, load_events
from reference_host import types as t

WORKLOAD_FILES = ("ttp_transactions.jsonl", "token_transfers.jsonl", "non_transaction.jsonl")
MALFORMED_FILE = "ttp_malformed.jsonl"
#: The same events with every operation body repaired (same ids, same metadata): ERR-002 compares.
TWINS_FILE = "ttp_malformed_twins.jsonl"
#: Events per workload (the fixtures hold ~130; the checks run the workload several times).
MAX_WORKLOAD = 80


@dataclass(frozen=True)
class Inputs:
    """The events of a run, chosen for the component's declared event types."""

    workload: tuple[t.Event, ...]
    unsupported: tuple[t.Event, ...]
    malformed: tuple[t.Event, ...]
    twins: tuple[t.Event, ...] = ()

    def twin_of(self, event: t.Event) -> t.Event | None:
        """The repaired twin of a malformed event (same id), if there is one."""
        return next((e for e in self.twins if e.id == event.id), None)

    def spread(self, n: int) -> tuple[t.Event, ...]:
        """Up to ``n`` workload and unsupported events: one of each event type first."""
        types: set[t.EventType] = set()
        chosen: dict[str, t.Event] = {}
        for event in (*self.workload, *self.unsupported):
            if event.event_type not in types:
                types.add(event.event_type)
                chosen.setdefault(event.id, event)
        for event in self.sample(n):
            chosen.setdefault(event.id, event)
        return tuple(chosen.values())[:n]

    def sample(self, n: int) -> tuple[t.Event, ...]:
        """Up to ``n`` workload events, spread over the workload."""
        if len(self.workload) <= n:
            return self.workload
        step = len(self.workload) / n
        return tuple(self.workload[int(i * step)] for i in range(n))


def _generic(event_type: t.EventType, n: int) -> t.Event:
    return t.Event(
        f"conformance-{event_type}-{n}",
        1_717_000_000 + n,
        "flowctl-conformance",
        event_type,
        t.Generic(json.dumps({"conformance": n, "values": [1, 2, 3]})),
        [("origin", "flowctl-conformance")],
    )


def inputs_for(info: t.ProcessorInfo, event_files: Sequence[Path] = ()) -> Inputs:
    """Choose the run's events for a component with ``info``."""
    supported = set(info.supported_event_types)
    events_dir = fixtures_dir() / "events"
    fixtures = [e for name in WORKLOAD_FILES for e in load_events(events_dir / name)]
    if event_files:
        pool = [e for path in event_files for e in load_events(path)]
    else:
        pool = [*fixtures, _generic(t.EventType.CUSTOM, 0)]
    unique: dict[str, t.Event] = {}
    for event in pool:  # the fixture files share a few events: the first of each id wins
        unique.setdefault(event.id, event)
    workload = [e for e in unique.values() if e.event_type in supported][:MAX_WORKLOAD]
    seen: set[t.EventType] = set()
    unsupported = []
    for event in fixtures:
        if event.event_type not in supported and event.event_type not in seen:
            seen.add(event.event_type)
            unsupported.append(event)
    unsupported += [
        _generic(et, i) for i, et in enumerate(t.EventType) if et not in supported | seen
    ]
    transactions = t.EventType.TRANSACTION in supported
    malformed = load_events(events_dir / MALFORMED_FILE) if transactions else []
    twins = load_events(events_dir / TWINS_FILE) if transactions else []
    return Inputs(tuple(workload), tuple(unsupported), tuple(malformed), tuple(twins))


def parse_schema(text: str | None) -> dict[str, Any] | None:
    """A configuration-schema as a dict (None when absent or not a JSON object)."""
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
