"""The result of a conformance run, and the pure function that decides certification.

Separate from how results are written (:mod:`conformance.reporting`).  The rules
(:func:`decide`): a check's tests give it an outcome; a check mandatory for the tier asked for
must *pass* (or be not applicable to the component, or waived with a recorded reason); a
mandatory check that failed, was skipped or did not run at all fails certification -- running a
subset (``-k``) can never certify.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.checks import CHECKS, Check, Tier


class Outcome(enum.StrEnum):
    """A check's outcome in a run."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_APPLICABLE = "not-applicable"
    WAIVED = "waived"
    NOT_RUN = "not-run"


#: Outcomes that do not hold certification back.
ACCEPTED = frozenset({Outcome.PASSED, Outcome.NOT_APPLICABLE, Outcome.WAIVED})
NOT_APPLICABLE_PREFIX = "not applicable: "


@dataclass
class TestRecord:
    """One test (phase) result for a check, as the recorder saw it."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: Outcome
    message: str = ""
    duration_s: float = 0.0


@dataclass
class CheckResult:
    """A check's outcome, whether it was mandatory, and what its tests said and measured."""

    check: Check
    outcome: Outcome
    mandatory: bool
    messages: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    measurements: dict[str, Any] = field(default_factory=dict)
    waiver: str | None = None

    @property
    def blocks(self) -> bool:
        """Whether this result fails certification."""
        return self.mandatory and self.outcome not in ACCEPTED


def combine(records: Iterable[TestRecord]) -> Outcome:
    """One outcome from a check's test records: any failure fails; all skipped skip."""
    outcomes = [r.outcome for r in records]
    if not outcomes:
        return Outcome.NOT_RUN
    if Outcome.FAILED in outcomes:
        return Outcome.FAILED
    if Outcome.PASSED in outcomes:
        return Outcome.PASSED
    if all(o is Outcome.NOT_APPLICABLE for o in outcomes):
        return Outcome.NOT_APPLICABLE
    return Outcome.SKIPPED


def decide(
    tier: Tier,
    records: Mapping[str, list[TestRecord]],
    measurements: Mapping[str, Mapping[str, Any]] | None = None,
    waivers: Mapping[str, str] | None = None,
    checks: Iterable[Check] = CHECKS,
) -> list[CheckResult]:
    """Every registered check's result at ``tier`` (pure: no I/O, no pytest)."""
    measurements, waivers = measurements or {}, waivers or {}
    out = []
    for check in checks:
        recs = records.get(check.id, [])
        outcome = combine(recs)
        waiver = waivers.get(check.id)
        if waiver is not None and outcome not in (Outcome.PASSED, Outcome.NOT_APPLICABLE):
            outcome = Outcome.WAIVED
        out.append(
            CheckResult(
                check=check,
                outcome=outcome,
                mandatory=check.mandatory_for(tier),
                messages=[r.message for r in recs if r.message],
                tests=sorted({r.nodeid for r in recs}),
                duration_s=round(sum(r.duration_s for r in recs), 6),
                measurements=dict(measurements.get(check.id, {})),
                waiver=waiver,
            )
        )
    return out


def granted_tier(
    checks: Iterable[CheckResult],
    asked: Tier = Tier.MARKETPLACE,
    *,
    capped: bool = False,
    void: bool = False,
) -> Tier | None:
    """The highest tier up to ``asked`` whose mandatory checks all passed.

    Passed, or not applicable, or waived.

    ``capped``: settings weaker than the defaults keep it below ``marketplace``; ``void``: the
    run's integrity is broken (or it could not start), no tier at all.
    """
    if void:
        return None
    results = list(checks)
    best = None
    for tier in Tier:
        if tier.rank > asked.rank or (tier is Tier.MARKETPLACE and capped):
            break
        if any(r.check.mandatory_for(tier) and r.outcome not in ACCEPTED for r in results):
            break
        best = tier
    return best


@dataclass
class RunResult:
    """A whole conformance run: the component, the tier, every check, the verdict.

    ``caps`` are the settings weaker than the certification defaults (they keep the tier below
    ``marketplace``); ``violations`` what broke the run's integrity (a plugin or conftest that
    could change outcomes, a replaced fixture or function) -- with any, nothing is certified;
    ``start_error`` why the checks never ran (e.g. no configuration initialize accepts).
    """

    component: dict[str, Any]
    tier: Tier
    checks: list[CheckResult]
    environment: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    other_failures: list[str] = field(default_factory=list)
    earned_under: dict[str, Any] = field(default_factory=dict)
    caps: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    integrity: dict[str, Any] = field(default_factory=dict)
    start_error: str | None = None

    @property
    def certified_tier(self) -> Tier | None:
        """The highest tier up to the one asked for that this run earned (None: not ``basic``)."""
        return granted_tier(
            self.checks,
            self.tier,
            capped=bool(self.caps),
            void=bool(self.violations) or self.start_error is not None,
        )

    @property
    def certified(self) -> bool:
        """The tier asked for was earned.

        Its mandatory checks passed (or are not applicable, or waived), no setting capped it,
        the run's integrity held.
        """
        got = self.certified_tier
        return got is not None and got.rank >= self.tier.rank and not self.other_failures

    def count(self, *outcomes: Outcome) -> int:
        """How many checks ended with one of ``outcomes``."""
        return sum(r.outcome in outcomes for r in self.checks)

    def summary(self, report_path: str = "") -> str:
        """The one summary line of a run."""
        verdict = "CERTIFIED" if self.certified else "NOT CERTIFIED"
        blocking = [r.check.id for r in self.checks if r.blocks]
        parts = [
            f"flowctl-conformance: {self.component.get('file', '?')} "
            f"sha256:{str(self.component.get('sha256', ''))[:12]} tier={self.tier.value} "
            f"{verdict}",
            f"{self.count(Outcome.PASSED)} passed, "
            f"{self.count(Outcome.FAILED, Outcome.SKIPPED)} failed, "
            f"{self.count(Outcome.NOT_RUN)} not run, "
            f"{self.count(Outcome.WAIVED)} waived, "
            f"{self.count(Outcome.NOT_APPLICABLE)} not applicable",
        ]
        if blocking:
            parts.append(f"blocking: {' '.join(blocking)}")
        got = self.certified_tier
        if not self.certified and got is not None:
            parts.append(f"earned: {got.value}")
        if self.caps and self.tier is Tier.MARKETPLACE:
            parts.append(f"capped at standard by {', '.join(c['setting'] for c in self.caps)}")
        if self.violations:
            parts.append(f"integrity: {len(self.violations)} violation(s), nothing certified")
        if self.start_error:
            parts.append("the checks did not run")
        if report_path:
            parts.append(f"report: {report_path}")
        return "; ".join(parts)
