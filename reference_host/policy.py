"""The frozen sandbox policy of one processor: the pipeline YAML's processor ``config:`` block.

Everything the design document's Go ``ComponentConfig`` holds, validated once, deny by default
(a missing capability block grants nothing; the blocks are the grants of
:mod:`reference_host.grants`).  Our extensions to the design document: ``max_wasm_stack`` (bytes
of wasm stack, default 512 KiB), ``unknown_imports`` (``refuse`` the component at load time, or
``trap`` when an unknown import is called), ``capabilities.wasi`` (WASI is linked only when
true), ``http.max_response_bytes`` (1 MiB), ``http.follow_redirects`` (false) and
``http.max_redirects`` (5), ``key_value.url`` (secret), ``key_value.max_keys`` /
``max_value_bytes`` / ``max_key_bytes``.  Durations are strings such as ``"10s"``, ``"100ms"``,
``"1m30s"`` or numbers of seconds, and are held as float seconds.  Connection strings and URLs
are :class:`~pydantic.SecretStr`: never in ``repr``, ``str`` or ``model_dump_json``;
:meth:`Policy.redacted` gives a report-safe dict.  Every validation error is a
:class:`~reference_host.errors.PolicyError` naming the key path and what is expected.

Two ways in: :func:`load_policy` (a file) and :func:`policy_from_mapping` (parsed data); both
accept a pipeline, a processor block or a bare ``config`` mapping (:mod:`reference_host.pipeline`
reads the file and picks the block).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from reference_host.errors import PolicyError
from reference_host.grants import (
    INTERFACE_GRANTS,
    KIB,
    MIB,
    Capabilities,
    Duration,
    FrozenModel,
    PositiveInt,
)
from reference_host.pipeline import (
    expand_variables,
    parse_json_object,
    read_document,
    select_config,
)
from reference_host.rules.kv import KeyRules, check_namespace
from reference_host.rules.rate import RateLimiter

if TYPE_CHECKING:  # imported where used: idna and pglast only when http / database rules are
    from reference_host.rules.http import UrlRules
    from reference_host.rules.sql import SqlRules

__all__ = [
    "Policy",
    "deep_merge",
    "load_policy",
    "policy_from_mapping",
    "redact_secret",
]

_SECRET_KEYS = re.compile(
    r"password|passwd|secret|token|api[_-]?key|credential|private[_-]?key", re.IGNORECASE
)
_SHORT_NAMES = {
    "logging": "logging",
    "metrics": "metrics",
    "config": "config",
    "http": "http",
    "http-client": "http",
    "database": "database",
    "key-value": "key_value",
    "key_value": "key_value",
}


class Policy(FrozenModel):
    """The validated, frozen ``config:`` block of one ``wasm-component`` processor."""

    component_file: Path | None = None
    max_memory_pages: Annotated[StrictInt, Field(ge=1, le=65536)] = 256
    max_fuel: PositiveInt | None = None
    execution_timeout: Duration = 10.0
    batch_size: PositiveInt = 100
    batch_timeout: Duration = 0.1
    max_wasm_stack: Annotated[StrictInt, Field(ge=4 * KIB, le=1024 * MIB)] = 512 * KIB
    capabilities: Capabilities = Capabilities()
    processor_config: str = "{}"
    unknown_imports: Literal["refuse", "trap"] = "refuse"

    @field_validator("component_file", mode="before")
    @classmethod
    def _resolve_component(cls, value: object, info: ValidationInfo) -> object:
        """Resolve a relative path against the policy file's directory (context ``base_dir``)."""
        if value is None or isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value.strip():
            raise ValueError("expected a path to a .wasm component")
        base = (info.context or {}).get("base_dir")
        path = Path(value)
        if path.is_absolute() or base is None:
            return path
        return Path(os.path.normpath(Path(base).absolute() / path))

    @field_validator("processor_config", mode="before")
    @classmethod
    def _normalise_config(cls, value: object) -> str:
        """Accept a JSON object as text or as a mapping; keep text as written."""
        if value is None:
            return "{}"
        if isinstance(value, Mapping):
            try:
                return json.dumps(value, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"the mapping is not JSON-serialisable: {exc}") from exc
        if not isinstance(value, str):
            raise ValueError("expected a JSON object, as a string or a mapping")
        parse_json_object(value)
        return value

    @property
    def processor_config_data(self) -> dict[str, Any]:
        """The parsed ``processor_config`` (a fresh dict on every access)."""
        return parse_json_object(self.processor_config)

    # ------------------------------------------------------------------ grants

    def grants(self, interface_name: str) -> bool:
        """Tell whether the policy grants an imported interface (``wasi:*`` -> ``wasi``)."""
        if interface_name.startswith("wasi:"):
            return self.capabilities.wasi
        grant = INTERFACE_GRANTS.get(interface_name)
        if grant is None:
            return False
        value = getattr(self.capabilities, grant[0])
        return bool(value if isinstance(value, bool) else value.enabled)

    @staticmethod
    def grant_key(interface_name: str) -> str:
        """Return the policy setting that grants an interface, for error messages."""
        if interface_name.startswith("wasi:"):
            return "capabilities.wasi: true"
        if interface_name not in INTERFACE_GRANTS:
            raise ValueError(
                f"{interface_name!r} is not a flowctl capability; known: "
                f"{', '.join(INTERFACE_GRANTS)}"
            )
        return INTERFACE_GRANTS[interface_name][1]

    @classmethod
    def safe_defaults(cls) -> Policy:
        """Return safe limits and no capability at all."""
        return cls()

    @classmethod
    def default_for(cls, capabilities_required: Iterable[str]) -> Policy:
        """Return safe limits plus grants for exactly the named capabilities.

        Names are ``logging``, ``metrics``, ``config``, ``http``/``http-client``, ``database``,
        ``key-value``/``key_value`` or full interface names.  HTTP and database are granted with
        empty allowlists (every URL / table refused) until the operator lists some.
        """
        grants: dict[str, Any] = {}
        for name in capabilities_required:
            full = INTERFACE_GRANTS.get(name)
            field = full[0] if full else _SHORT_NAMES.get(name.strip().lower())
            if field is None:
                raise PolicyError(
                    f"unknown capability {name!r}; expected one of "
                    f"{', '.join(sorted(_SHORT_NAMES))}"
                )
            grants[field] = True if field in {"logging", "metrics", "config"} else {"enabled": True}
        return policy_from_mapping({"capabilities": grants}, source="default_for()")

    # ------------------------------------------------------------------ rules

    def url_rules(self) -> UrlRules:
        """Return the URL rules for ``capabilities.http``."""
        from reference_host.rules.http import UrlRules

        return UrlRules(self.capabilities.http.allowed_domains)

    def rate_limiter(self, clock: Callable[[], float] | None = None) -> RateLimiter:
        """Return a fresh rate limiter for ``capabilities.http``."""
        http = self.capabilities.http
        if clock is None:
            return RateLimiter(http.max_requests, http.rate_limit_window)
        return RateLimiter(http.max_requests, http.rate_limit_window, clock)

    def sql_rules(self) -> SqlRules:
        """Return the SQL rules for ``capabilities.database``."""
        from reference_host.rules.sql import SqlRules

        db = self.capabilities.database
        return SqlRules(db.allowed_tables, db.allowed_operations)

    def key_rules(self) -> KeyRules:
        """Return the key rules for ``capabilities.key_value``."""
        kv = self.capabilities.key_value
        return KeyRules(
            kv.namespace, kv.max_key_bytes, max_value_bytes=kv.max_value_bytes, max_keys=kv.max_keys
        )

    # ------------------------------------------------------------------ reports

    def redacted(self) -> dict[str, Any]:
        """Return a JSON-ready dict for reports, with passwords and secret values masked."""
        data: dict[str, Any] = self.model_dump(mode="json")
        caps = data["capabilities"]
        caps["database"]["connection_string"] = redact_secret(
            self.capabilities.database.connection_string
        )
        caps["key_value"]["url"] = redact_secret(self.capabilities.key_value.url)
        config = self.processor_config_data
        data["processor_config"] = {
            key: "**********" if _SECRET_KEYS.search(key) else value
            for key, value in config.items()
        }
        return data

    def document(self) -> dict[str, Any]:
        """The policy as plain data, secrets in the clear (what ``policy_from_mapping`` reads)."""
        data: dict[str, Any] = _unwrap_secrets(self.model_dump())
        return data

    def updated(self, overrides: Mapping[str, Any]) -> Policy:
        """Return a copy with ``overrides`` (a nested mapping of config keys) merged in."""
        base = self.document()
        return policy_from_mapping(deep_merge(base, overrides), source="Policy.updated()")


# ---------------------------------------------------------------------- helpers


def redact_secret(secret: SecretStr | None) -> str | None:
    """Show a connection URL with its password masked; anything else is fully masked."""
    if secret is None:
        return None
    text = secret.get_secret_value()
    url = re.fullmatch(r"([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@:]*)(:[^/@]*)?@(.*)", text, re.DOTALL)
    if url is not None and "?" not in url.group(4) and "password" not in url.group(4).lower():
        user = url.group(2)
        return f"{url.group(1)}{user}{':***' if url.group(3) else ''}@{url.group(4)}"
    if url is None and re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^@\s?]*", text):
        return text
    return "**********"


def _unwrap_secrets(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {key: _unwrap_secrets(item) for key, item in value.items()}
    return value


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, recursively for mappings (neither is changed)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------------- loading


def load_policy(
    path: str | Path,
    processor_id: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Policy:
    """Load a policy from a pipeline YAML, a processor block, or a bare ``config`` mapping.

    A pipeline (``apiVersion``/``kind``/``spec.processors``) yields the processor with id
    ``processor_id``, or its only ``type: wasm-component`` processor.  A relative
    ``component_file`` is resolved against the file's directory.  ``*.json`` files are read as
    strict JSON (no duplicate keys, no NaN); anything else as YAML (no duplicate keys either).
    With ``environ`` (the CLI passes the process environment; the library never reads it), every
    ``${VAR}`` in the file's values is expanded from it (:func:`~reference_host.pipeline.
    expand_variables`: an unset one is an error naming it and its key path).
    """
    file = Path(path)
    data = read_document(file)
    if environ is not None:
        data = expand_variables(data, environ, str(file))
    return policy_from_mapping(
        data, processor_id=processor_id, base_dir=file.parent, source=str(file)
    )


def policy_from_mapping(
    data: Mapping[str, Any],
    *,
    processor_id: str | None = None,
    base_dir: str | Path | None = None,
    source: str = "<mapping>",
) -> Policy:
    """Validate a pipeline / processor block / ``config`` mapping (see :func:`load_policy`)."""
    config, prefix, pid = select_config(data, processor_id, source)
    config = _default_namespace(config, pid)
    try:
        return Policy.model_validate(config, context={"base_dir": base_dir})
    except ValidationError as exc:
        lines = [_describe(error, prefix) for error in exc.errors(include_url=False)]
        raise PolicyError(f"invalid policy in {source}:\n  " + "\n  ".join(lines)) from None


def _default_namespace(config: Mapping[str, Any], pid: str | None) -> Mapping[str, Any]:
    """Default ``key_value.namespace`` to the processor id, so processors never share keys."""
    caps = config.get("capabilities")
    kv = caps.get("key_value") if isinstance(caps, Mapping) else None
    if pid is None or not isinstance(kv, Mapping) or "namespace" in kv:
        return config
    try:
        check_namespace(pid)
    except ValueError:
        return config
    return deep_merge(dict(config), {"capabilities": {"key_value": {"namespace": pid}}})


def _describe(error: Any, prefix: str) -> str:
    """Render one pydantic error as ``key.path[1]: what is expected (got ...)``."""
    loc = tuple(error["loc"])
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{path}: unknown key{hint} (expected one of: {', '.join(known)})"
    value = error.get("input")
    secret = any(part in {"connection_string", "url"} for part in loc)
    shown = repr(value)
    if not secret and isinstance(value, str | int | float) and len(shown) < 80:
        message += "" if shown in message else f" (got {shown})"
    return f"{path or '<policy>'}: {message}"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Policy
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)
