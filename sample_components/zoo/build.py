"""Build the broken-component zoo: processor components each made to fail named conformance checks.

    python sample_components/zoo/build.py [--out DIR] [--only NAME ...] [--list] [--refresh-drift]

The members are listed in ``zoo.yaml`` (the manifest: member -> the check ids of
``conformance/checks.py`` it must fail).  Each is hand-written WAT spliced from the kit of
``tests/guests/build.py`` (``_runtime.wat``, ``_processor.wat``), the zoo's well-behaved base
``wat/_base.wat`` and the member's own fragment, turned into a component by that kit
(``wasm-tools component embed`` + ``component new``, milliseconds per member).  Output goes to
``dist/<name>.wasm`` (default ``sample_components/zoo/dist``, git-ignored) with a
``<name>.wasm.sha256`` stamp of the build inputs, so an unchanged member is not rebuilt.

WIT-drift members are built from a modified copy of ``wit/flowctl.wit`` kept in
``wit/drift/<member>/``; the manifest states the one change (``wit_patch``) and
``--refresh-drift`` rewrites the copies from the current ``wit/flowctl.wit``.  A stale copy is a
build error.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if __package__ in (None, ""):  # run as a script: the kit is imported from the repository root
    sys.path.insert(0, str(REPO))

from conformance.checks import BY_ID, Category  # noqa: E402
from reference_host import interfaces  # noqa: E402
from reference_host.policy import deep_merge  # noqa: E402
from tests.guests.build import GuestBuildError, GuestSpec, build_spec  # noqa: E402

__all__ = [
    "CACHE_DIR",
    "DEFAULT_OUT",
    "MANIFEST",
    "ManifestError",
    "Member",
    "WitPatch",
    "Zoo",
    "build_member",
    "build_zoo",
    "drift_wit_text",
    "load_manifest",
    "member_policy",
    "refresh_drift",
    "stale_drift",
]

MANIFEST = HERE / "zoo.yaml"
DEFAULT_OUT = HERE / "dist"
FLOWCTL_WIT = REPO / "wit" / "flowctl.wit"
WIT_DEPS = HERE / "wit" / "deps"
#: Where ``build_member`` caches components when no ``out_dir`` is given.
CACHE_DIR = Path(tempfile.gettempdir()) / "flowctl-zoo"

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_MEMBER_KEYS = {
    "name",
    "description",
    "world",
    "sources",
    "imports",
    "fails",
    "may_also_fail",
    "scenario",
    "flowctl_wit",
    "wit_patch",
}
_REQUIRED_KEYS = {"name", "description", "world", "sources", "imports", "fails"}


class ManifestError(ValueError):
    """``zoo.yaml`` is invalid; the message names the member and the key."""


@dataclass(frozen=True)
class WitPatch:
    """The one change of a drift member's copy of ``wit/flowctl.wit``: ``find`` -> ``replace``."""

    find: str
    replace: str


@dataclass(frozen=True)
class Member:
    """One component of the zoo (a broken member, or a control that must pass every check)."""

    name: str
    description: str
    world: str
    sources: tuple[Path, ...]
    common_sources: tuple[Path, ...]
    package_wit: Path
    imports: tuple[str, ...]
    fails: tuple[str, ...]
    may_also_fail: tuple[str, ...] = ()
    #: per check of ``fails``: a fragment of the message its failure must carry (the *why*)
    because: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    scenario: str = ""
    policy: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    flowctl_wit: Path | None = None
    wit_patch: WitPatch | None = None
    control: bool = False

    @property
    def categories(self) -> frozenset[Category]:
        """The categories of the checks the member fails."""
        return frozenset(BY_ID[check].category for check in self.fails)

    def wat_files(self) -> tuple[Path, ...]:
        """Every WAT fragment, in splicing order."""
        return (*self.common_sources, *self.sources)

    def spec(self) -> GuestSpec:
        """The kit's description of this member (``tests/guests/build.py``)."""
        return GuestSpec(
            name=self.name,
            description=self.description,
            world=self.world,
            fragments=self.wat_files(),
            flowctl_wit=self.flowctl_wit if self.flowctl_wit is not None else "flowctl",
            package_wit=self.package_wit,
            wit_deps={d.name: d for d in sorted(WIT_DEPS.iterdir()) if d.is_dir()},
        )


@dataclass(frozen=True)
class Zoo:
    """The manifest: broken members and controls, by name."""

    members: tuple[Member, ...]
    controls: tuple[Member, ...]

    def all(self) -> tuple[Member, ...]:
        """Controls first, then the members."""
        return (*self.controls, *self.members)

    def __getitem__(self, name: str) -> Member:
        for member in self.all():
            if member.name == name:
                return member
        raise KeyError(f"no zoo member {name!r}; known: {', '.join(m.name for m in self.all())}")


# --------------------------------------------------------------------------------------------
# the manifest


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _file(base: Path, relative: str, where: str) -> Path:
    path = (base / relative).resolve()
    if not path.exists():
        raise ManifestError(f"{where}: {relative} does not exist (paths are relative to zoo.yaml)")
    return path


def _member(
    data: Any, index: int, *, base: Path, common: tuple[Path, ...], package: Path, control: bool
) -> Member:
    where = f"{'controls' if control else 'members'}[{index}]"
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a mapping")
    name = data.get("name")
    if isinstance(name, str):
        where = f"{where} ({name})"
    unknown = set(data) - _MEMBER_KEYS
    missing = _REQUIRED_KEYS - set(data)
    if unknown or missing:
        raise ManifestError(
            f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
        )
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ManifestError(f"{where}: name must be kebab-case, got {name!r}")
    for key in ("description", "world"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise ManifestError(f"{where}: {key} must be a non-empty string")
    raw_fails = data["fails"]
    if control or not isinstance(raw_fails, dict):
        fails, because = _strings(raw_fails, f"{where}.fails"), {}
    else:
        because = {str(k): v for k, v in raw_fails.items()}
        bad = [k for k, v in because.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            raise ManifestError(f"{where}.fails: {bad} need a message fragment (non-empty string)")
        fails = tuple(because)
    if not control and not because:
        raise ManifestError(
            f"{where}.fails: map each check to a fragment of the message it fails with"
        )
    may = _strings(data.get("may_also_fail", []), f"{where}.may_also_fail")
    unknown_ids = [check for check in (*fails, *may) if check not in BY_ID]
    if unknown_ids:
        raise ManifestError(f"{where}: unknown check ids {unknown_ids} (see conformance/checks.py)")
    if control and fails:
        raise ManifestError(f"{where}: a control fails nothing")
    if not control and not fails:
        raise ManifestError(f"{where}: a member names the checks it fails")
    if set(fails) & set(may):
        raise ManifestError(f"{where}: {sorted(set(fails) & set(may))} in fails and may_also_fail")
    scenario = data.get("scenario", "")
    policy = None
    if isinstance(scenario, dict):
        if set(scenario) - {"note", "policy"} or not isinstance(scenario.get("note"), str):
            raise ManifestError(f"{where}.scenario: expected a string or {{note, policy}}")
        policy = scenario.get("policy")
        if policy is not None and not isinstance(policy, dict):
            raise ManifestError(f"{where}.scenario.policy: expected a mapping")
        scenario = scenario["note"]
    if not isinstance(scenario, str):
        raise ManifestError(f"{where}.scenario: expected a string or {{note, policy}}")
    flowctl_wit = data.get("flowctl_wit")
    patch = data.get("wit_patch")
    if (flowctl_wit is None) != (patch is None):
        raise ManifestError(f"{where}: flowctl_wit and wit_patch go together")
    wit_patch = None
    if patch is not None:
        if not isinstance(patch, dict) or set(patch) != {"find", "replace"}:
            raise ManifestError(f"{where}.wit_patch: expected {{find, replace}}")
        wit_patch = WitPatch(str(patch["find"]), str(patch["replace"]))
    sources = tuple(
        _file(base, source, f"{where}.sources")
        for source in _strings(data["sources"], f"{where}.sources")
    )
    return Member(
        name=name,
        description=data["description"].strip(),
        world=data["world"],
        sources=sources,
        common_sources=common,
        package_wit=package,
        imports=_strings(data["imports"], f"{where}.imports"),
        fails=fails,
        may_also_fail=may,
        because=because,
        scenario=scenario.strip(),
        policy=policy,
        flowctl_wit=(base / flowctl_wit).resolve() if isinstance(flowctl_wit, str) else None,
        wit_patch=wit_patch,
        control=control,
    )


def load_manifest(path: Path = MANIFEST, *, base_dir: Path | None = None) -> Zoo:
    """Read and check ``zoo.yaml``; raise :class:`ManifestError` naming what is wrong.

    Paths in it are relative to ``base_dir`` (default: the manifest's directory).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) != {
        "common_sources",
        "package_wit",
        "controls",
        "members",
    }:
        raise ManifestError(
            f"{path}: expected the keys common_sources, package_wit, controls, members"
        )
    base = (base_dir or path.parent).resolve()
    common = tuple(
        _file(base, source, "common_sources")
        for source in _strings(data["common_sources"], "common_sources")
    )
    package = _file(base, str(data["package_wit"]), "package_wit")
    groups = []
    for key, control in (("controls", True), ("members", False)):
        if not isinstance(data[key], list):
            raise ManifestError(f"{key}: expected a list")
        groups.append(
            tuple(
                _member(item, i, base=base, common=common, package=package, control=control)
                for i, item in enumerate(data[key])
            )
        )
    zoo = Zoo(members=groups[1], controls=groups[0])
    names = [member.name for member in zoo.all()]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ManifestError(f"duplicate names {duplicates}")
    return zoo


# --------------------------------------------------------------------------------------------
# drift copies of wit/flowctl.wit


#: The grant a member is run under for each flowctl capability it imports: deny-by-default rules
#: (only api.example.com, only table events, only namespace zoo).  A conformance run rewires the
#: database and key-value grants to its own real services.
CAPABILITY_GRANTS: dict[str, dict[str, Any]] = {
    interfaces.LOGGING: {"logging": True},
    interfaces.METRICS: {"metrics": True},
    interfaces.CONFIG: {"config": True},
    interfaces.HTTP_CLIENT: {"http": {"enabled": True, "allowed_domains": ["api.example.com"]}},
    interfaces.DATABASE: {
        "database": {
            "enabled": True,
            "connection_string": "postgresql://zoo@127.0.0.1:9/zoo",
            "allowed_tables": ["events"],
        }
    },
    interfaces.KEY_VALUE: {"key_value": {"enabled": True, "backend": "memory", "namespace": "zoo"}},
}


def member_policy(member: Member, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The processor ``config:`` block a member is run under.

    Grants for the flowctl capabilities it imports, WASI when it imports WASI, ``unknown_imports:
    trap`` when it imports something no host provides, then its scenario ``policy``, then
    ``overrides``.
    """
    other = [i for i in member.imports if not i.startswith(("obsrvr:flowctl/", "wasi:"))]
    data: dict[str, Any] = {"unknown_imports": "trap" if other else "refuse", "capabilities": {}}
    for name in member.imports:
        if name in CAPABILITY_GRANTS:
            data = deep_merge(data, {"capabilities": CAPABILITY_GRANTS[name]})
        elif name.startswith("wasi:"):
            data = deep_merge(data, {"capabilities": {"wasi": True}})
    return deep_merge(deep_merge(data, member.policy or {}), overrides or {})


def drift_wit_text(member: Member, original: str | None = None) -> str:
    """The text ``member``'s copy of the flowctl WIT must have: a header + the one change."""
    if member.wit_patch is None or member.flowctl_wit is None:
        raise ValueError(f"{member.name} is not built from a modified WIT")
    text = FLOWCTL_WIT.read_text(encoding="utf-8") if original is None else original
    found = text.count(member.wit_patch.find)
    if found != 1:
        raise ManifestError(
            f"{member.name}: wit_patch.find occurs {found} times in wit/flowctl.wit (expected "
            "once); update the patch in zoo.yaml to the current WIT"
        )
    where = member.flowctl_wit.relative_to(REPO).as_posix()
    header = (
        f"// DRIFT: {where}/flowctl.wit is wit/flowctl.wit with ONE change, for the zoo\n"
        f"// DRIFT: member {member.name}: {member.description}\n"
        "// DRIFT: Package name and version are unchanged (obsrvr:flowctl@1.0.0).  Generated: run\n"
        "// DRIFT: `python sample_components/zoo/build.py --refresh-drift` after editing either.\n"
    )
    return header + text.replace(member.wit_patch.find, member.wit_patch.replace)


def _drift_file(member: Member) -> Path:
    assert member.flowctl_wit is not None
    return member.flowctl_wit / "flowctl.wit"


def stale_drift(zoo: Zoo) -> list[str]:
    """Names of drift members whose WIT copy is missing or not what ``drift_wit_text`` says."""
    stale = []
    for member in zoo.all():
        if member.wit_patch is None:
            continue
        path = _drift_file(member)
        if not path.is_file() or path.read_text(encoding="utf-8") != drift_wit_text(member):
            stale.append(member.name)
    return stale


def refresh_drift(zoo: Zoo) -> list[Path]:
    """Rewrite the stale drift copies from the current ``wit/flowctl.wit``; return them."""
    written = []
    for name in stale_drift(zoo):
        member = zoo[name]
        path = _drift_file(member)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(drift_wit_text(member), encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# building


def build_member(
    member: Member, out_dir: Path | None = None, *, cache_dir: Path | None = None
) -> Path:
    """Build one member: ``out_dir/<name>.wasm``, or cached by input hash under ``cache_dir``."""
    if member.wit_patch is not None and stale_drift(Zoo((member,), ())):
        raise GuestBuildError(
            f"zoo member {member.name!r}: {_drift_file(member)} is stale or missing; run "
            "`python sample_components/zoo/build.py --refresh-drift`"
        )
    return build_spec(member.spec(), out_dir, cache_dir=cache_dir or CACHE_DIR)


def build_zoo(
    names: Iterable[str] | None = None,
    out_dir: Path | None = None,
    *,
    zoo: Zoo | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Path]:
    """Build the named members (default: controls and members); return their paths by name."""
    zoo = zoo or load_manifest()
    chosen = [zoo[name] for name in names] if names is not None else list(zoo.all())
    return {m.name: build_member(m, out_dir, cache_dir=cache_dir) for m in chosen}


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write <name>.wasm")
    parser.add_argument("--only", action="append", metavar="NAME", help="build only NAME")
    parser.add_argument("--list", action="store_true", help="list the members and exit")
    parser.add_argument(
        "--refresh-drift", action="store_true", help="rewrite the drift WIT copies and exit"
    )
    args = parser.parse_args(argv)
    try:
        zoo = load_manifest()
        if args.refresh_drift:
            for path in refresh_drift(zoo):
                print(f"wrote {path.relative_to(REPO)}")
            return 0
        if args.list:
            for member in zoo.all():
                print(f"{member.name:36} {', '.join(member.fails) or '(control)'}")
            return 0
        start = time.perf_counter()
        paths = build_zoo(args.only, args.out, zoo=zoo)
        elapsed = time.perf_counter() - start
    except (ManifestError, GuestBuildError, KeyError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name:36} {path}")
    print(f"{len(paths)} components in {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
