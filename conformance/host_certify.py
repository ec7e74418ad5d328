"""The zoo as a host's exam: ``flowctl-conformance host-certify --launch '...'``.

Every zoo member (``sample_components/zoo``) and the samples are certified through the host
under test (the suite's remote mode, :mod:`conformance.remote`).  A correct host makes each
member fail the checks its manifest names -- for the manifest's reason, the message fragment --
and certifies the controls and the samples.  A host that stops enforcing something shows as
members whose check *passed* (the defect went unseen: the host let it through) or failed for
another reason (the host answered something else: a hang instead of a typed timeout, a dropped
connection instead of a typed trap).  Manifest checks that do not run remotely
(:data:`conformance.remote.LOCAL_ONLY`, or a reason that is a fuel count) are listed, never
counted as held.  The host's sandbox is examined by the controls and samples: their SBX-004 runs
the probe corpus through the sandbox probe guests on the host (:mod:`conformance.wire_probes`).

``--remote-contract flowctl.v1`` examines a host that speaks flowctl.v1 alone: only the checks
its ``Process`` streams can decide (:data:`conformance.remote.FLOWCTL_V1_CHECKS`) run; the
members whose manifest names none of them are listed as not examinable and not run; a control or
sample holds when every check of that subset passed (it cannot certify: the other checks are not
assessed).

The report (``host-report.json``) gives per member what was expected and what happened, and per
enforcement class (resource limits, typed errors and traps, the lifecycle, the output contract,
capability sandboxing) whether the host held it.  Exit 0 only when every examined expectation
held.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.remote import FLOWCTL_V1_CHECKS, RemoteTarget

#: What a check's failure says the host enforces.
CLASSES = {
    "LIM": "resource limits", "ERR": "typed errors and traps", "LIFE": "the lifecycle",
    "OUT": "the output contract", "DET": "the output contract", "HIST": "the output contract",
    "PERF": "throughput", "GOLD": "the output contract", "SEC": "secrets",
    "SBX": "capability sandboxing",
}  # fmt: skip
#: Why LIFE-008 cannot be examined over the wire for a component keeping state in a store.
SHARED_STORE = (
    "LIFE-008 discards an initialized instance without shutdown and initializes another on the "
    "same store; over the wire a fresh instance is the extension's Reset, which shuts the "
    "previous one down, and a served host's own flowctl.v1 instance shares the store"
)
#: The host's own exam in the suite (the probe corpus through the sandbox probe guests): run by
#: the controls and samples, not again for every member.
HOST_ONLY = ("SBX-004",)
#: Members that never return (or take seconds per call): the zoo test's short timeout.
SPINNING = {"infinite-loop", "slow-finite-loop"}
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Expectation:
    """One manifest check of one member, as the host under test made it come out."""

    check: str
    fragment: str
    outcome: str  # the check's outcome in the run (failed / passed / not run ...)
    held: bool
    messages: list[str] = field(default_factory=list)


@dataclass
class MemberResult:
    """What one component's run through the host under test showed."""

    name: str
    kind: str  # "member" | "control" | "sample"
    expectations: list[Expectation] = field(default_factory=list)
    not_examinable: dict[str, str] = field(default_factory=dict)
    unexpected_failures: dict[str, list[str]] = field(default_factory=dict)
    certified: bool | None = None
    blocking: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    error: str | None = None
    subset_only: bool = False  # flowctl.v1 alone: a control cannot certify, its subset must pass

    @property
    def examined(self) -> bool:
        """Something of this component was examined.

        A member whose every manifest check is not examinable remotely is listed, never
        counted as held.
        """
        return self.kind != "member" or bool(self.expectations) or self.error is not None

    @property
    def held(self) -> bool:
        """Every examined expectation held (a control: certified, nothing failed)."""
        if self.error is not None:
            return False
        if self.kind != "member":
            if self.subset_only:
                return bool(self.passed) and not self.blocking and not self.unexpected_failures
            return bool(self.certified) and not self.blocking and not self.unexpected_failures
        return all(e.held for e in self.expectations)


def _run(
    component: Path,
    target: RemoteTarget,
    out: Path,
    args: list[str],
    env: dict[str, str],
    timeout: float,
) -> dict[str, Any] | str:
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--noconftest", "-q",
        "--component", str(component), "--launch", target.launch or "",
        "--remote-contract", target.contract,
        "--conformance-report-dir", str(out), "--conformance-report", "json", *args,
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, cwd=out, env=env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"the suite did not finish within {timeout:.0f} s"
    results = sorted(out.glob("*.conformance.json"))
    if not results:
        return f"no result file (exit {done.returncode}): {done.stdout[-1500:]}{done.stderr[-800:]}"
    data: dict[str, Any] = json.loads(results[0].read_text(encoding="utf-8"))
    return data


def _messages(result: dict[str, Any], check: str) -> list[str]:
    row = next((c for c in result["checks"] if c["id"] == check), None)
    if row is None:
        return []
    return [str(m) for m in row.get("messages") or []]


def _examine(
    name: str,
    kind: str,
    path: Path,
    target: RemoteTarget,
    env: dict[str, str],
    timeout: float,
    *,
    args: Sequence[str] = (),
    policy: dict[str, Any] | None = None,
    because: Mapping[str, str] | None = None,
    may_also_fail: Iterable[str] = (),
    not_examinable: Mapping[str, str] | None = None,
) -> MemberResult:
    """Certify one component through the host (standard tier, the remote cap) and judge it."""
    found = MemberResult(name, kind, subset_only=target.flowctl_v1_only)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"host-certify-{name}-") as tmp:
        out = Path(tmp)
        extra = [*args, "--conformance-level", "standard"]  # a remote run's cap
        if policy is not None:
            (out / "policy.json").write_text(json.dumps(policy), encoding="utf-8")
            extra += ["--conformance-policy", str(out / "policy.json")]
        result = _run(path, target, out, extra, env, timeout)
    found.wall_s = round(time.monotonic() - started, 1)
    if isinstance(result, str):
        found.error = result
    else:
        _judge(found, result, dict(because or {}), set(may_also_fail), target,
               dict(not_examinable or {}))  # fmt: skip
    return found


@functools.cache
def _decided_by() -> dict[str, list[str]]:
    from conformance.deciders import deciding_tests

    return deciding_tests()  # reads the suite's sources: once per exam, not once per member


def _tests(checks: Iterable[str]) -> list[str]:
    decided_by = _decided_by()
    return sorted({t.split("::")[-1] for c in checks for t in decided_by.get(c, [])})


def _selection(member: Any, target: RemoteTarget) -> list[str]:
    """``-k`` for a member's run.

    A spinning member runs only its manifest's checks (every other call would wait out the
    host's timeout -- or, on a host without one, the suite's deadline); over flowctl.v1 alone a
    member runs only its manifest's checks of the subset (each fresh instance is a new
    process); every other member runs all checks but the host's own exam.
    """
    if target.flowctl_v1_only:
        return ["-k", " or ".join(_tests(set(member.because) & FLOWCTL_V1_CHECKS))]
    if member.name in SPINNING:
        return ["-k", " or ".join(_tests(member.because))]
    return ["-k", " and ".join(f"not {t}" for t in _tests(HOST_ONLY))]


def _subset(target: RemoteTarget) -> list[str]:
    """``-k`` for a control's or sample's run: everything, or the flowctl.v1 subset."""
    return ["-k", " or ".join(_tests(FLOWCTL_V1_CHECKS))] if target.flowctl_v1_only else []


def examine_member(
    member: Any, path: Path, kind: str, target: RemoteTarget, env: dict[str, str], timeout: float
) -> MemberResult:
    """A zoo member / control under its manifest policy, compared with its manifest."""
    from sample_components.zoo.build import member_policy

    overrides = {"execution_timeout": "0.5s"} if member.name in SPINNING else {}
    stateful = {"obsrvr:flowctl/key-value@1.0.0", "obsrvr:flowctl/database@1.0.0"}
    shared = {"LIFE-008": SHARED_STORE} if stateful & set(member.imports) else {}
    if (
        kind == "member"
        and target.flowctl_v1_only
        and not (set(member.because) & FLOWCTL_V1_CHECKS)
    ):
        found = MemberResult(member.name, kind, subset_only=True)
        found.not_examinable = {c: target.not_assessed(c) or "" for c in member.because}
        return found
    args = _subset(target) if kind == "control" else _selection(member, target)
    return _examine(
        member.name, kind, path, target, env, timeout, args=args,
        policy=member_policy(member, overrides), because=member.because,
        may_also_fail=member.may_also_fail, not_examinable=shared,
    )  # fmt: skip


def examine_sample(
    name: str,
    path: Path,
    args: list[str],
    target: RemoteTarget,
    env: dict[str, str],
    timeout: float,
) -> MemberResult:
    """A sample: it must certify (over flowctl.v1 alone: pass the subset)."""
    return _examine(name, "sample", path, target, env, timeout, args=[*args, *_subset(target)])


def _judge(
    found: MemberResult,
    result: dict[str, Any],
    because: dict[str, str],
    may_also_fail: set[str],
    target: RemoteTarget,
    not_examinable: dict[str, str],
) -> None:
    outcomes = {c["id"]: c["outcome"] for c in result["checks"]}
    if target.flowctl_v1_only:  # what flowctl.v1 cannot carry is not the host's failure
        outcomes = {c: got for c, got in outcomes.items() if target.not_assessed(c) is None}
    found.certified = bool(result.get("certified"))
    found.blocking = [c for c in result.get("blocking") or [] if c in outcomes]
    found.passed = sorted(c for c, got in outcomes.items() if got == "passed")
    for check, fragment in because.items():
        why = target.not_applicable(check) or target.not_assessed(check)
        why = why or not_examinable.get(check)
        if why is None and "fuel" in fragment:
            why = "the manifest's reason is a fuel count, which is not observable over the wire"
        if why is not None:
            found.not_examinable[check] = why
            continue
        messages = _messages(result, check)
        got = outcomes.get(check, "absent")
        held = got == "failed" and any(fragment in m for m in messages)
        found.expectations.append(Expectation(check, fragment, got, held, messages[:2]))
    for check, got in outcomes.items():
        if got == "failed" and check not in because:
            messages = _messages(result, check)
            consequence = check in may_also_fail and all(
                "not assessed" in m or "stopped by a resource limit" in m for m in messages
            )
            if not consequence:
                found.unexpected_failures[check] = messages[:2]


@dataclass
class HostReport:
    """The exam's result."""

    launch: str
    members: list[MemberResult]
    wall_s: float
    contract: str = "extension"

    def classes(self) -> dict[str, dict[str, list[str]]]:
        """Per enforcement class: the members whose expectation held / broke."""
        out: dict[str, dict[str, list[str]]] = {}
        for m in self.members:
            for e in m.expectations:
                cls = CLASSES.get(e.check.split("-")[0], e.check)
                entry = out.setdefault(cls, {"held": [], "broken": []})
                entry["held" if e.held else "broken"].append(f"{m.name}:{e.check}")
            if m.kind != "member":
                entry = out.setdefault("runs correct components", {"held": [], "broken": []})
                entry["held" if m.held else "broken"].append(m.name)
                for state, checks in (("held", m.passed), ("broken", m.unexpected_failures)):
                    for check in checks:
                        cls = CLASSES.get(check.split("-")[0], check)
                        entry = out.setdefault(cls, {"held": [], "broken": []})
                        entry[state].append(f"{m.name}:{check}")
        return out

    @property
    def passed(self) -> bool:
        """Every examined member held, and something was examined."""
        examined = [m for m in self.members if m.examined]
        return bool(examined) and all(m.held for m in examined)

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        return {
            "launch": self.launch, "contract": self.contract, "passed": self.passed,
            "wall_s": self.wall_s,
            "classes": self.classes(),
            "members": [
                {**asdict(m), "examined": m.examined, "held": m.held and m.examined}
                for m in self.members
            ],
        }  # fmt: skip


def host_certify(
    launch: str,
    *,
    only: list[str] | None = None,
    samples: bool = True,
    jobs: int = 1,
    timeout: float = 900.0,
    env: dict[str, str] | None = None,
    contract: str = "extension",
) -> HostReport:
    """Run the exam (see the module docstring); ``only`` limits it to these zoo names."""
    from sample_components.zoo.build import build_zoo, load_manifest

    zoo = load_manifest()
    chosen = [m for m in zoo.all() if only is None or m.name in only]
    unknown = set(only or ()) - {m.name for m in zoo.all()} - {"ttp_processor"}
    if unknown:
        raise SystemExit(f"host-certify: no zoo member named {sorted(unknown)}")
    paths = build_zoo(zoo=zoo) if chosen else {}
    controls = {c.name for c in zoo.controls}
    run_env = dict(os.environ if env is None else env)
    target = RemoteTarget(launch=launch, contract=contract)
    # parsed here, before the threads: CPython 3.11's ast.parse is not safe to run in two threads
    # at once ("SystemError: AST constructor recursion depth mismatch", python/cpython#106905)
    _decided_by()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [
            pool.submit(examine_member, m, paths[m.name],
                        "control" if m.name in controls else "member", target, run_env, timeout)
            for m in chosen
        ]  # fmt: skip
        if samples and (only is None or "ttp_processor" in only):
            from sample_components.build import build_sample

            ttp = build_sample("ttp_processor").path
            config = REPO / "fixtures" / "configs" / "ttp.json"
            futures.append(pool.submit(examine_sample, "ttp_processor", ttp,
                                       ["--component-config", str(config)], target, run_env,
                                       timeout))  # fmt: skip
        results = [f.result() for f in futures]
    return HostReport(launch, results, round(time.monotonic() - started, 1), contract)


def summary(report: HostReport) -> str:
    """The lines the command prints."""
    lines = []
    for m in report.members:
        mark = "n/a   " if not m.examined else "held  " if m.held else "BROKEN"
        shown = [
            f"{e.check} failed as expected" if e.held
            else f"{e.check} {e.outcome} (expected to fail: {e.fragment!r})"
            for e in m.expectations
        ]  # fmt: skip
        detail = m.error or "; ".join(shown) or (
            "not examined" if not m.examined
            else "certified" if m.certified
            else f"passed {', '.join(m.passed)}" if m.subset_only and m.passed
            else "not certified"
        )  # fmt: skip
        if m.unexpected_failures:
            detail += f"; also failed: {', '.join(sorted(m.unexpected_failures))}"
        if m.not_examinable:
            detail += f"; not examinable remotely: {', '.join(sorted(m.not_examinable))}"
        lines.append(f"{mark} {m.kind:7} {m.name} ({m.wall_s:.0f} s): {detail}")
    for cls, entry in sorted(report.classes().items()):
        state = "held" if not entry["broken"] else f"BROKEN by {', '.join(entry['broken'][:6])}"
        lines.append(f"class {cls}: {state} ({len(entry['held'])} held)")
    verdict = "PASSED" if report.passed else "FAILED"
    lines.append(f"host-certify: {verdict} in {report.wall_s:.0f} s ({report.launch}; contract "
                 f"{report.contract})")  # fmt: skip
    return "\n".join(lines)


def cmd_host_certify(args: argparse.Namespace) -> int:
    """``flowctl-conformance host-certify``."""
    from conformance.settings import SettingsError, launch_template

    try:
        launch = launch_template(args.launch)
    except SettingsError as exc:
        sys.stderr.write(f"flowctl-conformance host-certify: {exc}\n")
        return 4
    report = host_certify(launch, only=args.only or None, samples=not args.no_samples,
                          jobs=args.jobs, timeout=args.timeout,
                          contract=args.remote_contract)  # fmt: skip
    out = Path(args.report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"{summary(report)}\nhost report: {out}\n")
    return 0 if report.passed else 1


def add_parser(sub: Any) -> None:
    """Register ``host-certify``."""
    p = sub.add_parser(
        "host-certify",
        help="examine a flowctl host with the zoo and the samples (host regression testing)",
        description=(
            "Runs every zoo member and the TTP sample through the host under test (started by "
            "--launch for each fresh instance). A correct host makes every member fail its "
            "manifest's checks for the manifest's reasons and certifies the controls and "
            "samples; what it let through is reported per enforcement class. PostgreSQL and "
            "Redis: as for the suite (FLOWCTL_CONFORMANCE_POSTGRES_URL / _REDIS_URL, else "
            "Docker, else embedded)."
        ),
    )
    p.add_argument("--launch", required=True,
                   help="command template starting the host: {component} {policy} {config} "
                   "{port}, e.g. 'flowctl-host serve --pipeline {policy} --component "
                   "{component} --port {port} --allow-refused-config'")  # fmt: skip
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="examine only this zoo member (or ttp_processor); repeatable",
    )
    p.add_argument("--no-samples", action="store_true", help="skip the TTP sample")
    p.add_argument(
        "--remote-contract",
        choices=("extension", "flowctl.v1"),
        default="extension",
        help="what the host speaks: flowctl.v1 plus the flowctl_host.v1 extension (default), "
        "or flowctl.v1 alone (only the checks its Process streams decide; members whose "
        "manifest names none are not examinable)",
    )
    p.add_argument("--jobs", type=int, default=1, help="members examined at once (default 1)")
    p.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds one member's run may take (default 900)",
    )
    p.add_argument(
        "--report",
        default="reports/host-report.json",
        help="where the host report goes (default reports/host-report.json)",
    )
    p.set_defaults(func=cmd_host_certify)
