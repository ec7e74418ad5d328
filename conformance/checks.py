"""The conformance check registry: stable ids, what each check demands, why, and the remedy.

Data only.  Ids never change meaning and are never reused (``LIFE-003`` is always "rejects an
invalid config").  Tiers are cumulative: a check mandatory for ``basic`` is mandatory for
``standard`` and ``marketplace`` too.  The suite that runs the checks comes with the conformance
suite; the broken-component zoo (``sample_components/zoo``) names these ids in its manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Tier(StrEnum):
    """Certification tiers, weakest first."""

    BASIC = "basic"
    STANDARD = "standard"
    MARKETPLACE = "marketplace"

    @property
    def rank(self) -> int:
        """0 for basic, 1 for standard, 2 for marketplace."""
        return list(Tier).index(self)


class Category(StrEnum):
    """What a check is about."""

    CONTRACT = "contract"
    LIFECYCLE = "lifecycle"
    ERRORS = "typed-errors"
    SANDBOX = "capability-sandboxing"
    LIMITS = "resource-limits"
    OUTPUT = "output-contract"
    DETERMINISM = "determinism"
    THROUGHPUT = "throughput"
    GOLDEN = "golden"
    SECRETS = "secret-hygiene"


@dataclass(frozen=True)
class Check:
    """One conformance check."""

    id: str
    title: str
    category: Category
    mandatory_from: Tier | None  # None: informational, never mandatory
    rationale: str
    remedy: str

    def mandatory_for(self, tier: Tier) -> bool:
        """Whether failing (or skipping) this check fails certification at ``tier``."""
        return self.mandatory_from is not None and self.mandatory_from.rank <= tier.rank


B, S, M = Tier.BASIC, Tier.STANDARD, Tier.MARKETPLACE
C = Category

CHECKS: tuple[Check, ...] = (
    Check("WIT-001", "exports obsrvr:flowctl/processor@1.0.0 with exactly the WIT's types",
          C.CONTRACT, B, "a host lowers values by the WIT; drifted types corrupt or trap",
          "rebuild against this project's wit/flowctl.wit"),
    Check("WIT-002", "imports only obsrvr:flowctl/* interfaces of the package, with its types",
          C.CONTRACT, B, "a host can only link the six capabilities it knows",
          "drop other imports; build with --stub-wasi / componentize-js -d ..."),
    Check("LIFE-001", "get-info is well formed", C.LIFECYCLE, B,
          "the marketplace and pipelines read name, semver version, event types, capabilities",
          "return non-empty fields, a semver version, known capability names, valid JSON Schema"),
    Check("LIFE-002", "validate-config accepts configs valid under configuration-schema",
          C.LIFECYCLE, B, "operators rely on the published schema",
          "make validate-config agree with configuration-schema"),
    Check("LIFE-003", "validate-config rejects invalid configs with configuration-error",
          C.LIFECYCLE, B, "a bad config must be caught before the pipeline starts",
          "validate every field; return err(configuration-error(...))"),
    Check("LIFE-004", "initialize succeeds for valid configs and fails typed for invalid ones",
          C.LIFECYCLE, B, "initialize is where a processor commits to its config",
          "return ok(()) or err(configuration-error(...)); never trap"),
    Check("LIFE-005", "health-check answers after initialize", C.LIFECYCLE, B,
          "orchestrators poll health", "return ok(health-status) with a valid state"),
    Check("LIFE-006", "process calls before initialize are refused with a typed error",
          C.LIFECYCLE, B, "a processor must not work on events without its config",
          "return err(configuration-error(\"not initialized\")) until initialize succeeded"),
    Check("LIFE-007", "validate-config, shutdown and calls after shutdown never trap",
          C.LIFECYCLE, B,
          "a trap in shutdown loses the chance to flush; in validate-config it hides the reason",
          "catch everything and return typed errors (also for calls after shutdown)"),
    Check("LIFE-008", "a fresh instance can be initialized again with the same config",
          C.LIFECYCLE, S, "hosts recycle instances after traps and re-initialize them",
          "keep no state outside the instance; make initialize idempotent"),
    Check("LIFE-009", "validate-config, get-info and health-check change no later answer",
          C.LIFECYCLE, S, "hosts validate configs and poll health between events",
          "keep lifecycle calls free of side effects: validate into a local, never into the "
          "live config"),
    Check("ERR-001", "no well-typed input makes the component trap", C.ERRORS, B,
          "a trap costs the host an instance and the event a typed answer",
          "catch every failure and map it to a processor-error case"),
    Check("ERR-002", "malformed operation bodies give processing-failed or invalid-event",
          C.ERRORS, B, "callers route errors by case", "return the case that names the cause"),
    Check("ERR-003", "unsupported event types are skipped or refused with invalid-event",
          C.ERRORS, B, "pipelines carry many event types", "return ok([]) or err(invalid-event)"),
    Check("SBX-001", "imports only capabilities it declares in capabilities-required",
          C.SANDBOX, B, "operators grant capabilities from the declaration",
          "declare every imported capability (or stop importing it)"),
    Check("SBX-002", "imports no WASI (filesystem, sockets, clocks, random)", C.SANDBOX, B,
          "flowctl processors reach the world only through granted capabilities",
          "build with componentize-py --stub-wasi or componentize-js -d stdio random clocks http"),
    Check("SBX-003", "denied capability calls are handled without trapping", C.SANDBOX, S,
          "a denial is an answer, not a crash", "handle http/db/kv errors as values"),
    Check("SBX-004", "the host blocks the sandbox-escape probe corpus", C.SANDBOX, S,
          "host regression: every probe in fixtures/probes must be refused",
          "fix the host's rules (reference_host/rules)"),
    Check("SBX-005", "granted capabilities are used", C.SANDBOX, None,
          "unused grants widen the attack surface", "drop grants the component never uses"),
    Check("LIM-001", "the fixture workload completes within the certification limits",
          C.LIMITS, B, "pipelines run with fuel, memory and timeout limits",
          "reduce work per event or memory use"),
    Check("LIM-002", "no event loops forever or past the per-call timeout", C.LIMITS, B,
          "a spinning processor stalls the pipeline", "bound every loop"),
    Check("LIM-003", "memory stays within max_memory_pages", C.LIMITS, B,
          "hosts pack many instances per machine", "free memory; bound caches"),
    Check("LIM-004", "no unbounded recursion", C.LIMITS, B,
          "stack exhaustion is a trap", "make recursion iterative or bounded"),
    Check("LIM-005", "the host enforces every limit on this component", C.LIMITS, S,
          "host regression: limits hold on every call", "fix the host"),
    Check("LIM-006", "memory does not grow with the number of events processed", C.LIMITS, S,
          "pipelines run for weeks on one instance", "free what each event allocates; bound "
          "every cache, history and seen-set"),
    Check("OUT-001", "output event types are among the declared output-event-types",
          C.OUTPUT, B, "routing uses the declared types", "declare or stop emitting the type"),
    Check("OUT-002", "output event ids are unique", C.OUTPUT, B,
          "downstream deduplicates by id", "derive ids from input id + index"),
    Check("OUT-003", "process-batch equals the concatenation of process-event", C.OUTPUT, S,
          "hosts batch or not at will", "make process-batch call the same logic per event"),
    Check("OUT-004", "output size stays bounded per input event", C.OUTPUT, S,
          "a flood of outputs exhausts the host", "bound the number and size of outputs"),
    Check("DET-001", "two fresh instances give identical output for the same input",
          C.DETERMINISM, S, "replays and certification need reproducible output",
          "do not depend on time, randomness or instance history"),
    Check("HIST-001", "an event's answer does not depend on what the instance processed before",
          C.DETERMINISM, S, "hosts recycle, reorder and replay; one instance serves many events",
          "derive outputs from the event and the config only; keep state in granted "
          "capabilities (database, key-value), not in module globals"),
    Check("PERF-001", "throughput of single calls meets the threshold", C.THROUGHPUT, M,
          "marketplace listings promise a rate", "profile and reduce work per event"),
    Check("PERF-002", "throughput and p99 latency of batch calls meet the thresholds",
          C.THROUGHPUT, M, "pipelines batch by default", "profile and reduce work per event"),
    Check("GOLD-001", "author-supplied golden input produces the expected output", C.GOLDEN,
          None, "authors pin their behaviour", "update the golden files or fix the component"),
    Check("SEC-001", "config values the schema marks secret never appear in logs, metrics, "
          "outputs or errors", C.SECRETS, S,
          "logs and metrics are shipped to places secrets must not go",
          "never log or emit a writeOnly / format: password config value, not even encoded"),
    Check("SEC-002", "config fields with secret-looking names are marked secret", C.SECRETS,
          None, "hosts and reviewers treat only marked fields as secrets",
          'mark them "writeOnly": true (or "format": "password") in configuration-schema'),
)  # fmt: skip

BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}
"""Checks by id."""


def markdown() -> str:
    """The checks page (``conformance/CHECKS.md``), generated from :data:`CHECKS`.

    Its last column names the suite tests that decide each check (:mod:`conformance.deciders`).
    """
    from conformance.deciders import deciding_tests

    decided_by = deciding_tests()
    lines = [
        "# Conformance checks",
        "",
        "Generated from `conformance/checks.py` by `python -m conformance.checks > "
        "conformance/CHECKS.md`; a test keeps it current. Tiers are cumulative "
        "(basic < standard < marketplace); *informational* checks never fail certification. "
        "*Decided by* names the test of the packaged suite (`conformance/suite/`) whose outcome "
        "is the check's.",
        "",
    ]
    for category in Category:
        rows = [c for c in CHECKS if c.category is category]
        if not rows:
            continue
        lines += [
            f"## {category.value}",
            "",
            "| id | check | mandatory from | why | remedy | decided by |",
            "|---|---|---|---|---|---|",
        ]
        for c in rows:
            tier = c.mandatory_from.value if c.mandatory_from else "informational"
            tests = "<br>".join(f"`{t}`" for t in decided_by.get(c.id, [])) or "(none)"
            lines.append(
                f"| `{c.id}` | {c.title} | {tier} | {c.rationale} | {c.remedy} | {tests} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown())
