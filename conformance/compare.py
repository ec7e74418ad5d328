"""``flowctl-conformance compare OLD NEW``: what changed between two versions of a component.

OLD and NEW are two result files (``<component>.conformance.json``) or two components (``.wasm``).
Reported:

- **checks that flipped** (passed -> failed is a *regression*, failed -> passed a fix);
- **measurement deltas**: events/s single and batched, batch p99, fuel per event (median, max),
  memory pages needed;
- **contract changes**, each classified *breaking* or *compatible*: get-info's supported event
  types (one removed: breaking -- a pipeline sending it now fails), output event types (one
  removed: breaking for consumers), capabilities required (one added: breaking -- operators must
  grant it), the configuration schema (a newly required field, a removed property, a property
  whose type changed: breaking; a new optional property: compatible), the exported processor
  functions (one missing or changed: breaking);
- with two components: **per-event output differences** on the same workload (the packaged
  fixture events or ``--events``), each run on a fresh instance of the reference host.

Output: Markdown (stdout or ``--markdown``) and JSON (``--json``).  Exit 1 when something is
breaking (unless ``--allow-breaking``) or a check regressed (unless ``--allow-regressions``).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MEASURES = (
    ("PERF-001", "events_per_s", "events/s, single calls", +1),
    ("PERF-002", "events_per_s", "events/s, batches", +1),
    ("PERF-002", "p99_ms", "batch p99 (ms)", -1),
    ("LIM-001", "fuel_per_event_median", "fuel per event, median", -1),
    ("LIM-001", "fuel_per_event_max", "fuel per event, max", -1),
    ("LIM-003", "memory_pages_needed", "memory pages needed", -1),
)


@dataclass
class Change:
    """One contract change."""

    what: str
    detail: str
    breaking: bool


@dataclass
class Comparison:
    """The whole comparison."""

    old: str
    new: str
    flipped: list[dict[str, str]] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    outputs: dict[str, Any] | None = None

    @property
    def breaking(self) -> list[Change]:
        """The breaking changes."""
        return [c for c in self.changes if c.breaking]

    @property
    def regressions(self) -> list[dict[str, str]]:
        """Checks that passed before and fail now."""
        return [f for f in self.flipped if f["old"] == "passed" and f["new"] == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        return {
            "old": self.old, "new": self.new, "flipped": self.flipped,
            "regressions": [f["id"] for f in self.regressions],
            "measurements": self.measurements,
            "changes": [asdict(c) for c in self.changes],
            "breaking": [asdict(c) for c in self.breaking], "outputs": self.outputs,
        }  # fmt: skip


# --------------------------------------------------------------------------- the contract


def _schema(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def schema_changes(old: str | None, new: str | None) -> list[Change]:
    """Changes of a configuration schema (top-level object properties)."""
    a, b = _schema(old), _schema(new)
    out: list[Change] = []
    props_a, props_b = a.get("properties") or {}, b.get("properties") or {}
    req_a, req_b = set(a.get("required") or []), set(b.get("required") or [])
    for name in sorted(req_b - req_a):
        out.append(Change("configuration-schema", f"{name!r} is now required", True))
    for name in sorted(req_a - req_b):
        out.append(Change("configuration-schema", f"{name!r} is no longer required", False))
    for name in sorted(set(props_a) - set(props_b)):
        out.append(Change("configuration-schema", f"property {name!r} was removed (configs "
                          "setting it are refused or ignored)", True))  # fmt: skip
    for name in sorted(set(props_b) - set(props_a)):
        if name not in req_b:
            out.append(Change("configuration-schema", f"optional property {name!r} added", False))
    for name in sorted(set(props_a) & set(props_b)):
        ta, tb = (props_a[name] or {}).get("type"), (props_b[name] or {}).get("type")
        if ta != tb:
            out.append(Change("configuration-schema", f"{name!r} changed type {ta} -> {tb}", True))
    if (old is None) != (new is None):
        out.append(Change("configuration-schema", "the schema was "
                          + ("removed" if new is None else "added"), new is None))  # fmt: skip
    return out


def contract_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Changes between two components' facts (``component`` of a result: info, functions)."""
    out: list[Change] = []
    oi, ni = old.get("info") or {}, new.get("info") or {}
    for key, removed_breaks, added_breaks, why in (
        ("supported_event_types", True, False, "a pipeline sending it now fails"),
        ("output_event_types", True, False, "consumers of it get nothing"),
        ("capabilities_required", False, True, "operators must grant it"),
    ):
        a, b = set(oi.get(key) or []), set(ni.get(key) or [])
        for item in sorted(a - b):
            out.append(Change(key, f"{item!r} removed" + (f" ({why})" if removed_breaks else ""),
                              removed_breaks))  # fmt: skip
        for item in sorted(b - a):
            out.append(Change(key, f"{item!r} added" + (f" ({why})" if added_breaks else ""),
                              added_breaks))  # fmt: skip
    out += schema_changes(oi.get("configuration_schema"), ni.get("configuration_schema"))
    fa, fb = old.get("functions") or {}, new.get("functions") or {}
    for name in sorted(set(fa) | set(fb)):
        was, now = fa.get(name, "missing"), fb.get(name, "missing")
        if was != now and now != "ok":
            out.append(Change("exported WIT", f"processor.{name}: {now}", True))
        elif was != now:
            out.append(Change("exported WIT", f"processor.{name}: now matches the WIT", False))
    if oi.get("version") and oi.get("version") == ni.get("version") and out:
        out.append(Change("get-info version", f"still {ni.get('version')} although the contract "
                          "changed", False))  # fmt: skip
    return out


# --------------------------------------------------------------------------- results


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def compare_results(old: Mapping[str, Any], new: Mapping[str, Any], names: tuple[str, str]
                    ) -> Comparison:  # fmt: skip
    """Two result files' data."""
    out = Comparison(*names)
    ao = {c["id"]: c for c in old.get("checks") or []}
    an = {c["id"]: c for c in new.get("checks") or []}
    for check in sorted(set(ao) | set(an)):
        was = ao.get(check, {}).get("outcome", "absent")
        now = an.get(check, {}).get("outcome", "absent")
        if was != now:
            msgs = an.get(check, {}).get("messages") or []
            out.flipped.append({"id": check, "old": was, "new": now,
                                "message": str(msgs[0])[:300] if msgs else ""})  # fmt: skip
    for check, key, label, better in MEASURES:
        a = _number((ao.get(check, {}).get("measurements") or {}).get(key))
        b = _number((an.get(check, {}).get("measurements") or {}).get(key))
        if a is None and b is None:
            continue
        delta = None if not a or b is None else round(100 * (b - a) / a, 1)
        worse = delta is not None and delta * better < -10
        out.measurements.append({"measure": label, "check": check, "old": a, "new": b,
                                 "delta_percent": delta, "worse": worse})  # fmt: skip
    out.changes = contract_changes(old.get("component") or {}, new.get("component") or {})
    return out


# --------------------------------------------------------------------------- components


def _host() -> Any:
    """One engine for a comparison, with the CLI's compile cache."""
    import os

    from reference_host.engine import HostEngine, default_cache_dir
    from reference_host.limits import ResourceLimits

    return HostEngine(ResourceLimits().engine_config(), cache_dir=default_cache_dir(os.environ))


def _facts(host: Any, path: Path) -> dict[str, Any]:
    """What a component exports (inspection) and declares (get-info)."""
    from reference_host.host import open_processor
    from reference_host.inspect import inspect_component
    from reference_host.policy import Policy

    report = inspect_component(host.engine, host.load(path).component)
    basics = {"capabilities": {"logging": True, "metrics": True, "config": True}}
    probe, _ = open_processor(Policy.safe_defaults().updated(basics), path, host=host)
    try:
        info = probe.get_info()
    finally:
        probe.close()
    return {
        "functions": dict(report.functions),
        "info": {
            "version": info.version,
            "supported_event_types": [str(x) for x in info.supported_event_types],
            "output_event_types": [str(x) for x in info.output_event_types],
            "capabilities_required": list(info.capabilities_required),
            "configuration_schema": info.configuration_schema,
        },
    }


def _outputs(host: Any, path: Path, facts: Mapping[str, Any], config: str,
             events: list[Any]) -> list[str]:  # fmt: skip
    """Each event's answer (JSON text, or the error), in order, on one initialized instance."""
    from conformance.outcomes import outcome
    from reference_host.host import open_processor
    from reference_host.jsonform import event_to_json
    from reference_host.policy import Policy

    basic = [c for c in facts["info"]["capabilities_required"]
             if c in ("logging", "metrics", "config")]  # fmt: skip
    policy = Policy.default_for(basic).updated({"processor_config": config})
    instance, _ = open_processor(policy, path, host=host)
    answers = []
    try:
        got = outcome(lambda: instance.initialize(config))
        if got.kind != "ok":
            return [f"initialize: {got}"] * len(events)
        for event in events:
            got = outcome(functools.partial(instance.process_event, event))
            answers.append(json.dumps([event_to_json(e) for e in got.value], sort_keys=True)
                           if got.kind == "ok" else str(got))  # fmt: skip
    finally:
        instance.close()
    return answers


def _difference(old: str, new: str, context: int = 60) -> dict[str, Any]:
    """Where two answers first differ, with a window of text around it from each."""
    at = next((i for i, (x, y) in enumerate(zip(old, new, strict=False)) if x != y),
              min(len(old), len(new)))  # fmt: skip
    start = max(0, at - context // 3)
    return {"at": at, "old": old[start : start + context], "new": new[start : start + context]}


def compare_components(old: Path, new: Path, config: str, events_file: Path | None) -> Comparison:
    """Two components: contract from inspection and get-info, outputs on the same workload."""
    from conformance.data import fixtures_dir
    from reference_host.jsonform import event_from_json

    host = _host()
    facts = [_facts(host, path) for path in (old, new)]
    out = Comparison(str(old), str(new))
    out.changes = contract_changes(facts[0], facts[1])
    source = events_file or fixtures_dir() / "events" / "ttp_transactions.jsonl"
    lines = source.read_text(encoding="utf-8").splitlines()
    events = [event_from_json(json.loads(line)) for line in lines if line.strip()]
    a = _outputs(host, old, facts[0], config, events)
    b = _outputs(host, new, facts[1], config, events)
    differing = [
        {"event": events[i].id, **_difference(a[i], b[i])}
        for i in range(len(events)) if a[i] != b[i]
    ]  # fmt: skip
    out.outputs = {"workload": str(source), "events": len(events), "differing": len(differing),
                   "examples": differing[:10]}  # fmt: skip
    return out


# --------------------------------------------------------------------------- output


def markdown(c: Comparison) -> str:
    """The comparison as Markdown (a PR comment)."""
    lines = [f"## flowctl conformance: `{Path(c.old).name}` → `{Path(c.new).name}`", ""]
    verdict = ("❌ breaking" if c.breaking else "✅ compatible") + (
        f", {len(c.regressions)} check(s) regressed" if c.regressions else ""
    )
    lines += [f"**{verdict}**", ""]
    if c.changes:
        lines += ["### Contract", "", "| | what | change |", "|---|---|---|"]
        lines += [f"| {'breaking' if ch.breaking else 'compatible'} | {ch.what} | {ch.detail} |"
                  for ch in c.changes]  # fmt: skip
        lines.append("")
    if c.flipped:
        lines += [
            "### Checks that flipped",
            "",
            "| id | old | new | message |",
            "|---|---|---|---|",
        ]
        lines += [f"| `{f['id']}` | {f['old']} | {f['new']} | {f['message'][:150]} |"
                  for f in c.flipped]  # fmt: skip
        lines.append("")
    if c.measurements:
        lines += ["### Measurements", "", "| measure | old | new | delta |", "|---|---|---|---|"]
        for m in c.measurements:
            delta = "" if m["delta_percent"] is None else f"{m['delta_percent']:+.1f}%"
            lines.append(f"| {m['measure']} | {m['old']} | {m['new']} | {delta}"
                         f"{' ⚠️' if m['worse'] else ''} |")  # fmt: skip
        lines.append("")
    if c.outputs is not None:
        o = c.outputs
        lines += ["### Outputs on the same workload", "",
                  f"{o['differing']} of {o['events']} events answered differently "
                  f"(workload `{o['workload']}`).", ""]  # fmt: skip
        for ex in o["examples"][:5]:
            lines += [
                f"- `{ex['event']}` (from character {ex['at']}): `{ex['old']}` → `{ex['new']}`"
            ]
    return "\n".join(lines) + "\n"


def cmd_compare(args: argparse.Namespace) -> int:
    """``flowctl-conformance compare``."""
    old, new = Path(args.old), Path(args.new)
    for p in (old, new):
        if not p.is_file():
            sys.stderr.write(f"flowctl-conformance compare: no such file {p}\n")
            return 2
    try:
        if old.suffix == ".wasm" and new.suffix == ".wasm":
            config = Path(args.config).read_text(encoding="utf-8") if args.config else "{}"
            result = compare_components(old, new, config,
                                        Path(args.events) if args.events else None)  # fmt: skip
        elif old.suffix == ".json" and new.suffix == ".json":
            data = [json.loads(p.read_text(encoding="utf-8")) for p in (old, new)]
            result = compare_results(data[0], data[1], (str(old), str(new)))
        else:
            sys.stderr.write("flowctl-conformance compare: give two result files (.json) or two "
                             "components (.wasm)\n")  # fmt: skip
            return 2
    except Exception as exc:  # one clear line for any unreadable input
        sys.stderr.write(f"flowctl-conformance compare: {type(exc).__name__}: {exc}\n")
        return 2
    text = markdown(result)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2) + "\n", "utf-8")
    sys.stdout.write(text)
    if result.breaking and not args.allow_breaking:
        return 1
    return 1 if result.regressions and not args.allow_regressions else 0


def add_parser(sub: Any) -> None:
    """Register ``compare``."""
    p = sub.add_parser(
        "compare", help="compare two versions of a component (a PR gate)",
        description="OLD and NEW: two result files (.json) or two components (.wasm). Reports "
        "flipped checks, measurement deltas, contract changes classified breaking/compatible and "
        "(for components) per-event output differences on the same workload. Exit 1 on a "
        "breaking change or a regressed check unless allowed.",
    )  # fmt: skip
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--config", help="processor config JSON for both components (default {})")
    p.add_argument("--events", help="workload JSONL for both components (default: the fixtures)")
    p.add_argument("--markdown", help="also write the Markdown here")
    p.add_argument("--json", help="write the comparison as JSON here")
    p.add_argument("--allow-breaking", action="store_true", help="exit 0 despite breaking changes")
    p.add_argument("--allow-regressions", action="store_true",
                   help="exit 0 despite checks that regressed")  # fmt: skip
    p.set_defaults(func=cmd_compare)
