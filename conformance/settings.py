"""What a conformance run was asked to do, resolved once into frozen values.

The plugin resolves command line > ini > default into :class:`SuiteSettings` (never
``getoption(x) or getini(x)``: that drops ``0`` and ``""``) and keeps it in ``config.stash``
under :data:`SETTINGS_KEY`; everything downstream reads only these objects.  The parsers here
parse one value of an option each (the plugin's ``type=`` callables, and its ini twins): a bad
value is a :class:`SettingsError` that names the option and the fix, which the plugin turns into
a usage error before anything runs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance.checks import BY_ID, Tier
from conformance.services import ServiceMode


class SettingsError(ValueError):
    """A conformance option has a value that cannot be used (message names option and fix)."""


@dataclass(frozen=True)
class Thresholds:
    """Throughput thresholds of PERF-001/PERF-002 (documented defaults; override per key).

    The defaults are far below what the TTP sample reaches and far above what the zoo's
    ``burns-cpu`` (50 M fuel per event) costs; the measured figures, and the commands that
    produce them, are in ``conformance/README.md``.  Fuel is the machine-independent figure; the
    rates guard against host-side slowness.
    """

    single_events_per_s: float = 100.0
    batch_events_per_s: float = 500.0
    batch_p99_ms: float = 1000.0
    fuel_per_event: int = 10_000_000
    batch_size: int = 50
    rounds: int = 100

    KEYS = (
        "single-events-per-s", "batch-events-per-s", "batch-p99-ms", "fuel-per-event",
        "batch-size", "rounds",
    )  # fmt: skip

    def with_overrides(self, pairs: Iterable[tuple[str, str]]) -> Thresholds:
        """Return a copy with ``key=value`` overrides applied (keys as in :attr:`KEYS`)."""
        changes: dict[str, float | int] = {}
        for key, raw in pairs:
            if key not in self.KEYS:
                raise SettingsError(
                    f"--conformance-threshold: unknown key {key!r}; known: {', '.join(self.KEYS)}"
                )
            attr = key.replace("-", "_")
            kind = type(getattr(self, attr))
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(
                    f"--conformance-threshold {key}={raw!r}: expected a {kind.__name__}"
                ) from None
            if value <= 0:
                raise SettingsError(f"--conformance-threshold {key}={raw!r}: must be positive")
            changes[attr] = value
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PolicySource:
    """A policy file (pipeline YAML, processor block, JSON) and the processor id in it."""

    path: Path
    processor_id: str | None = None

    def __str__(self) -> str:
        return f"{self.path}#{self.processor_id}" if self.processor_id else str(self.path)


@dataclass(frozen=True)
class SuiteSettings:
    """Everything a conformance run needs to know, resolved once."""

    component: Path
    component_config: PolicySource | None = None
    policy: PolicySource | None = None
    level: Tier = Tier.STANDARD
    report_dir: Path = Path("reports")
    services: ServiceMode = ServiceMode.AUTO
    golden: tuple[tuple[Path, Path], ...] = ()
    examples: int = 50
    thresholds: Thresholds = Thresholds()
    waivers: Mapping[str, str] = field(default_factory=dict)
    events: tuple[Path, ...] = ()
    db_setup: Path | None = None
    http_fixture: Path | None = None
    launch: str | None = None
    processor_endpoint: str | None = None
    launch_timeout: float = 60.0
    remote_contract: str = "extension"  # or "flowctl.v1" (conformance.remote.CONTRACTS)
    report_formats: tuple[str, ...] | None = None  # None: every format

    @property
    def remote(self) -> bool:
        """The checks run against a host under test over gRPC (``conformance.remote``)."""
        return self.launch is not None or self.processor_endpoint is not None


#: Where the plugin keeps the run's :class:`SuiteSettings` (``config.stash``; absent without
#: ``--component``).
SETTINGS_KEY = pytest.StashKey[SuiteSettings]()


# ---------------------------------------------------------------------- option parsers


def existing_file(option: str, raw: str, base: Path | None = None) -> Path:
    """``raw`` as a path to an existing file (relative to ``base``), else :class:`SettingsError`."""
    path = Path(raw).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        why = "is a directory" if path.is_dir() else "does not exist"
        raise SettingsError(f"{option} {raw}: {path} {why}; give the path of a file")
    return path


def policy_source(option: str, raw: str, base: Path | None = None) -> PolicySource:
    """``FILE`` or ``FILE#PROCESSOR_ID``."""
    file, _, pid = raw.partition("#")
    return PolicySource(existing_file(option, file, base), pid or None)


def report_format(raw: str) -> str:
    """A ``--conformance-report`` value: a format name (checked against the registry later)."""
    name = raw.strip().lower()
    if not name or not name.replace("-", "").isalnum():
        raise SettingsError(
            f"--conformance-report {raw!r}: expected a format name (json, junit, html, "
            "markdown, badge, repro, or one a plugin adds)"
        )
    return name


def launch_template(raw: str) -> str:
    """A ``--launch`` command template: it must name ``{port}``, the rest is the host's."""
    import shlex

    try:
        parts = shlex.split(raw)
    except ValueError as exc:
        raise SettingsError(f"--launch {raw!r}: {exc}") from None
    if not parts:
        raise SettingsError(
            "--launch: empty command; e.g. --launch 'flowctl-host serve "
            "--pipeline {policy} --component {component} --port {port}'"
        )
    if "{port}" not in raw:
        raise SettingsError(
            f"--launch {raw!r}: the command must contain {{port}} (the port the "
            "suite gives each launched host)"
        )
    return raw


def remote_contract(raw: str) -> str:
    """A ``--remote-contract`` value: ``extension`` or ``flowctl.v1``."""
    name = raw.strip().lower()
    if name not in ("extension", "flowctl.v1"):
        raise SettingsError(
            f"--remote-contract {raw!r}: expected 'extension' (flowctl.v1 plus the "
            "flowctl_host.v1 extension service, the default) or 'flowctl.v1' (a host that "
            "serves only flowctl.v1: only the checks its Process stream can decide run)"
        )
    return name


def endpoint(raw: str) -> str:
    """``HOST:PORT`` of a running processor."""
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(
            f"--processor-endpoint {raw!r}: expected HOST:PORT, e.g. 127.0.0.1:50051"
        )
    return raw


def seconds(option: str, raw: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SettingsError(f"{option} {raw!r}: expected a positive number of seconds")
    return value


def tier(raw: str) -> Tier:
    """A certification tier name."""
    try:
        return Tier(raw.strip().lower())
    except ValueError:
        raise SettingsError(
            f"--conformance-level {raw!r}: choose one of {', '.join(t.value for t in Tier)}"
        ) from None


def service_mode(raw: str) -> ServiceMode:
    """A services mode (auto, env, docker, embedded)."""
    try:
        return ServiceMode(raw.strip().lower())
    except ValueError:
        raise SettingsError(
            f"--conformance-services {raw!r}: choose one of {', '.join(ServiceMode)}"
        ) from None


def positive_int(option: str, raw: str) -> int:
    """A positive integer."""
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{option} {raw!r}: expected a positive integer") from None
    if value < 1:
        raise SettingsError(f"{option} {raw!r}: expected a positive integer")
    return value


def golden_pair(raw: str, base: Path | None = None) -> tuple[Path, Path]:
    """``INPUT:EXPECTED`` (two JSONL files)."""
    left, sep, right = raw.rpartition(":")
    if not sep or not left or not right:
        raise SettingsError(
            f"--conformance-golden {raw!r}: expected INPUT:EXPECTED (two JSONL files)"
        )
    return (
        existing_file("--conformance-golden", left, base),
        existing_file("--conformance-golden", right, base),
    )


def key_value(option: str, raw: str, sep: str = "=", form: str = "KEY=VALUE") -> tuple[str, str]:
    """``KEY=VALUE`` (or another ``sep``; ``form`` names the expected shape in the error)."""
    key, found, value = raw.partition(sep)
    if not found or not key.strip() or not value.strip():
        raise SettingsError(f"{option} {raw!r}: expected {form}")
    return key.strip(), value.strip()


def threshold(raw: str) -> tuple[str, str]:
    """``KEY=VALUE`` of a known threshold with a value of its type (see :class:`Thresholds`)."""
    pair = key_value("--conformance-threshold", raw)
    Thresholds().with_overrides([pair])
    return pair


def waiver(raw: str) -> tuple[str, str]:
    """``CHECK-ID:reason``: a waiver must name a real check and give a reason."""
    check, reason = key_value("--conformance-waive", raw, sep=":", form="CHECK:REASON")
    check = check.upper()
    if check not in BY_ID:
        raise SettingsError(
            f"--conformance-waive {raw!r}: no check {check!r} (see conformance/CHECKS.md)"
        )
    return check, reason


def waivers(pairs: Iterable[str]) -> dict[str, str]:
    """``CHECK-ID:reason`` entries (:func:`waiver`), by check id."""
    return dict(waiver(raw) for raw in pairs)


def http_fixture(raw: str, base: Path | None = None) -> Path:
    """A JSON file of fixture HTTP responses (a JSON object)."""
    path = existing_file("--conformance-http-fixture", raw, base)
    load_json_object("--conformance-http-fixture", path)
    return path


def load_json_object(option: str, path: Path) -> dict[str, object]:
    """A JSON object from ``path`` (for fixture files)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{option} {path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{option} {path}: expected a JSON object")
    return data
