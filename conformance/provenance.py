"""What a certificate was earned under, and which settings keep it below ``marketplace``.

:func:`earned_under` records every input that decides a run -- the policy (redacted, with its
sha256), the component configuration (its sha256 only: configs carry secrets), the workload,
the database setup, the HTTP fixture, golden files, thresholds, examples, waivers, the suite's
version -- so a reviewer can tell two certificates of one component apart.  :func:`caps` lists
the settings weaker than the certification defaults; at ``marketplace`` any of them caps the
tier at ``standard`` (the result names each).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conformance.checks import BY_ID, Tier
from conformance.settings import SuiteSettings, Thresholds
from reference_host.policy import Policy

SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|private|auth", re.I)
REDACTED = "***"


def sha256_text(text: str | bytes) -> str:
    """The sha256 of text (UTF-8) or bytes."""
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _file(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    return {"path": str(path), "sha256": sha256_text(path.read_bytes())}


def _redact_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{host}{port}"))


def redact(value: Any, key: str = "") -> Any:
    """``value`` with secrets replaced: URL passwords, and values under secret-looking keys."""
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if value and SECRET_KEY.search(key):
            return REDACTED
        return _redact_url(value) if "://" in value else value
    return value


def policy_record(
    settings: SuiteSettings, policy: Policy | None, http_origin: str | None = None
) -> dict[str, Any]:
    """The policy: where it came from, its sha256, and its effective grants and limits (redacted).

    ``http_origin`` (this run's fixture server) is recorded as ``${CONFORMANCE_HTTP}``, so the
    same policy has the same digest on every run.
    """
    record: dict[str, Any] = {
        "source": str(settings.policy) if settings.policy else "default: what get-info declares",
        "file": _file(settings.policy.path) if settings.policy else None,
    }
    if policy is not None:
        text = json.dumps(policy.model_dump(mode="json"))
        if http_origin:
            text = text.replace(http_origin, "${CONFORMANCE_HTTP}")
        data = json.loads(text)
        data["processor_config"] = {"sha256": sha256_text(data["processor_config"])}
        record["effective"] = redact(data)
        record["effective_sha256"] = sha256_text(json.dumps(data, sort_keys=True))
    return record


def earned_under(
    settings: SuiteSettings,
    *,
    policy: Policy | None,
    config_text: str | None,
    config_source: str | None,
    workload: Iterable[str] = (),
    suite_version: str | None,
    http_origin: str | None = None,
) -> dict[str, Any]:
    """Everything that decided this run, secrets redacted (see the module docstring)."""
    lines = list(workload)
    th = settings.thresholds
    return {
        "suite_version": suite_version,
        "level": settings.level.value,
        "policy": policy_record(settings, policy, http_origin),
        "component_config": {
            "source": config_source,
            "sha256": sha256_text(config_text) if config_text is not None else None,
        },
        "workload": {
            "source": "--conformance-events" if settings.events else "packaged fixtures",
            "files": [_file(p) for p in settings.events],
            "events": len(lines),
            "sha256": sha256_text("\n".join(lines)) if lines else None,
        },
        "db_setup": _file(settings.db_setup),
        "http_fixture": _file(settings.http_fixture),
        "golden": [{"input": _file(i), "expected": _file(e)} for i, e in settings.golden],
        "thresholds": {k: getattr(th, k.replace("-", "_")) for k in th.KEYS},
        "examples": settings.examples,
        "waivers": dict(settings.waivers),
        "services": settings.services.value,
    }


@dataclass(frozen=True)
class Cap:
    """A setting weaker than the certification default."""

    setting: str
    value: Any
    default: Any
    why: str

    def __str__(self) -> str:
        return f"{self.setting} = {self.value} (default {self.default}): {self.why}"

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        return {"setting": self.setting, "value": self.value, "default": self.default,
                "why": self.why}  # fmt: skip


#: Threshold keys where a higher value is stricter (rates, rounds); the others: lower is stricter.
_HIGHER_IS_STRICTER = {"single-events-per-s", "batch-events-per-s", "rounds"}


def caps(settings: SuiteSettings, policy: Policy | None, certification_fuel: int) -> list[Cap]:
    """The settings of this run that are weaker than the certification defaults."""
    out: list[Cap] = []
    defaults = SuiteSettings(component=settings.component)
    if settings.examples < defaults.examples:
        out.append(Cap("--conformance-examples", settings.examples, defaults.examples,
                       "fewer generated inputs per property check"))  # fmt: skip
    if settings.events:
        out.append(Cap("--conformance-events", [str(p) for p in settings.events],
                       "packaged fixtures", "the workload was replaced"))  # fmt: skip
    base = Thresholds()
    for key in base.KEYS:
        attr = key.replace("-", "_")
        value, default = getattr(settings.thresholds, attr), getattr(base, attr)
        if key == "batch-size":
            weaker = value != default
        elif key in _HIGHER_IS_STRICTER:
            weaker = value < default
        else:
            weaker = value > default
        if weaker:
            out.append(Cap(f"--conformance-threshold {key}", value, default,
                           "a threshold weaker than the certification default"))  # fmt: skip
    for check, reason in sorted(settings.waivers.items()):
        if BY_ID[check].mandatory_for(Tier.MARKETPLACE):
            out.append(Cap(f"--conformance-waive {check}", reason, None,
                           "a mandatory check was waived"))  # fmt: skip
    if policy is not None:
        ref = Policy()
        looser = [
            ("max_memory_pages", policy.max_memory_pages, ref.max_memory_pages),
            ("execution_timeout", policy.execution_timeout, ref.execution_timeout),
            ("max_wasm_stack", policy.max_wasm_stack, ref.max_wasm_stack),
            ("max_fuel", policy.max_fuel or certification_fuel, certification_fuel),
        ]
        for key, value, default in looser:
            if value > default:
                why = "a resource limit looser than the certification default"
                out.append(Cap(f"policy {key}", value, default, why))
    return out
