"""Passes over events on one instance, compared event by event (HIST-001, LIFE-008, LIFE-009).

An answer is what one ``process-event`` call gave, in a canonical text: the output events'
JSON form, or the error case with its message, or the trap.  Two passes over the same events
agree when every event got the same answer.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from typing import Any

from conformance.outcomes import CallOutcome, NotAssessable, outcome
from reference_host import types as t
from reference_host.jsonform import event_to_json


def answer(got: CallOutcome) -> str:
    """The canonical text of one answer."""
    if got.kind == "ok":
        return json.dumps([event_to_json(e) for e in got.value], sort_keys=True)
    if got.kind == "err":
        return f"err({got.case}: {got.value!r})"
    return str(got)


def run_pass(instance: Any, events: Iterable[t.Event]) -> dict[str, str]:
    """``process-event`` over ``events`` on ``instance``: answer text by event id.

    A stop by a resource limit ends the pass: the check cannot compare what it did not see
    (:class:`NotAssessable`; the limit checks say why).
    """
    out = {}
    for event in events:
        got = outcome(functools.partial(instance.process_event, event))
        if got.kind == "limit":
            raise NotAssessable(f"{event.id} was stopped by a resource limit: {got}")
        out[event.id] = answer(got)
    return out


def differences(
    first: dict[str, str], second: dict[str, str], order: Sequence[str] | None = None
) -> list[tuple[str, str, str]]:
    """``(event id, first answer, second answer)`` where two passes disagree."""
    ids = order if order is not None else list(first)
    return [(i, first.get(i, "(none)"), second.get(i, "(none)")) for i in ids
            if first.get(i) != second.get(i)]  # fmt: skip


def shown(text: str, limit: int = 160) -> str:
    """An answer, shortened for a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reproducible(component: Any, events: Sequence[t.Event]) -> bool:
    """Whether two fresh instances (each on fresh external state) answer ``events`` alike.

    A comparison that found a difference asks this first: a component whose answers differ
    between fresh instances (DET-001) cannot be judged on history or side effects.
    """
    answers = []
    for _ in range(2):
        with component.running() as run:
            answers.append(run_pass(run.instance, events))
    return answers[0] == answers[1]
