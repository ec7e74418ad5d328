"""The frozen sandbox policy of one processor: the pipeline YAML's processor ``config:`` block.

Everything the design document's Go ``ComponentConfig`` holds, validated once, deny by default
(a missing capability block grants nothing).  Our extensions to the design document:
``max_wasm_stack`` (bytes of wasm stack, default 512 KiB), ``unknown_imports``
(``refuse`` the component at load time, or ``trap`` when an unknown import is called),
``capabilities.wasi`` (WASI is linked only when true), ``http.max_response_bytes`` (1 MiB),
``http.follow_redirects`` (false) and ``http.max_redirects`` (5), ``key_value.url`` (secret),
``key_value.max_keys`` / ``max_value_bytes`` / ``max_key_bytes``.  Durations are strings such as
``"10s"``, ``"100ms"``, ``"1m30s"`` or numbers of seconds, and are held as float seconds.
Connection strings and URLs are :class:`~pydantic.SecretStr`: never in ``repr``, ``str`` or
``model_dump_json``; :meth:`Policy.redacted` gives a report-safe dict.  Every validation error is
a :class:`~reference_host.errors.PolicyError` naming the key path and what is expected.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from reference_host import interfaces
from reference_host.errors import PolicyError
from reference_host.rules.http import RateLimiter, UrlRules, parse_entry
from reference_host.rules.kv import KeyRules, check_namespace
from reference_host.rules.sql import OPERATIONS, SqlRules, parse_table_entry

__all__ = [
    "INTERFACE_GRANTS",
    "Capabilities",
    "DatabaseCapability",
    "HttpCapability",
    "KeyValueCapability",
    "Policy",
    "deep_merge",
    "load_policy",
    "parse_duration",
    "policy_from_mapping",
    "redact_secret",
]

KIB, MIB = 1024, 1024 * 1024
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_SECRET_KEYS = re.compile(
    r"password|passwd|secret|token|api[_-]?key|credential|private[_-]?key", re.IGNORECASE
)

#: interface -> (capabilities field, policy key that grants it); keys from interfaces.GRANT_KEYS
INTERFACE_GRANTS: dict[str, tuple[str, str]] = {
    iface: (field, interfaces.GRANT_KEYS[iface])
    for iface, field in (
        (interfaces.LOGGING, "logging"),
        (interfaces.METRICS, "metrics"),
        (interfaces.CONFIG, "config"),
        (interfaces.HTTP_CLIENT, "http"),
        (interfaces.DATABASE, "database"),
        (interfaces.KEY_VALUE, "key_value"),
    )
}
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


def parse_duration(value: object) -> float:
    """Return seconds for ``"10s"``, ``"100ms"``, ``"1m30s"``, ``"1h"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '10s', '100ms' or a number of seconds")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite duration in seconds, got {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        parts = list(_DURATION_PART.finditer(text))
        if parts and "".join(p.group(0) for p in parts) == text:
            return sum(float(p.group(1)) * _UNITS[p.group(2)] for p in parts)
    raise ValueError(
        f"expected a duration like '10s', '100ms', '1m30s' or a number of seconds, got {value!r}"
    )


def _checked(check: Callable[[str], object]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        check(value)
        return value

    return validate


def _upper_operation(value: str) -> str:
    op = value.strip().upper()
    if op not in OPERATIONS:
        raise ValueError(f"expected one of {', '.join(OPERATIONS)} (case-insensitive)")
    return op


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
DomainEntry = Annotated[StrictStr, AfterValidator(_checked(parse_entry))]
TableEntry = Annotated[StrictStr, AfterValidator(_checked(parse_table_entry))]
Operation = Annotated[StrictStr, AfterValidator(_upper_operation)]
Namespace = Annotated[StrictStr, AfterValidator(check_namespace)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpCapability(_Frozen):
    """``capabilities.http``: outbound HTTP to ``allowed_domains`` only (see rules.http)."""

    enabled: StrictBool = False
    allowed_domains: tuple[DomainEntry, ...] = ()
    request_timeout: Duration = 30.0
    max_requests: PositiveInt = 100
    rate_limit_window: Duration = 60.0
    max_response_bytes: PositiveInt = MIB
    follow_redirects: StrictBool = False
    max_redirects: Annotated[StrictInt, Field(ge=0, le=20)] = 5


class DatabaseCapability(_Frozen):
    """``capabilities.database``: PostgreSQL statements checked by rules.sql."""

    enabled: StrictBool = False
    connection_string: SecretStr | None = None
    allowed_tables: tuple[TableEntry, ...] = ()
    allowed_operations: tuple[Operation, ...] = ("SELECT",)
    query_timeout: Duration = 30.0


class KeyValueCapability(_Frozen):
    """``capabilities.key_value``: keys confined to ``namespace`` (see rules.kv)."""

    enabled: StrictBool = False
    backend: Literal["redis", "memory"] = "redis"
    url: SecretStr | None = None
    namespace: Namespace = "default"
    ttl_max: Duration | None = None
    max_keys: PositiveInt = 10_000
    max_value_bytes: PositiveInt = MIB
    max_key_bytes: PositiveInt = 512


class Capabilities(_Frozen):
    """``capabilities``: what the component may import; everything defaults to not granted."""

    logging: StrictBool = False
    metrics: StrictBool = False
    config: StrictBool = False
    http: HttpCapability = HttpCapability()
    database: DatabaseCapability = DatabaseCapability()
    key_value: KeyValueCapability = KeyValueCapability()
    wasi: StrictBool = False

    @field_validator("http", "database", "key_value", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        """Accept ``http: false`` / ``http: true`` / an empty block for ``{enabled: ...}``."""
        if value is None:
            return {}
        return {"enabled": value} if isinstance(value, bool) else value


class Policy(_Frozen):
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
        _parse_json_object(value)
        return value

    @property
    def processor_config_data(self) -> dict[str, Any]:
        """The parsed ``processor_config`` (a fresh dict on every access)."""
        return _parse_json_object(self.processor_config)

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
        return UrlRules(self.capabilities.http.allowed_domains)

    def rate_limiter(self, clock: Callable[[], float] | None = None) -> RateLimiter:
        """Return a fresh rate limiter for ``capabilities.http``."""
        http = self.capabilities.http
        if clock is None:
            return RateLimiter(http.max_requests, http.rate_limit_window)
        return RateLimiter(http.max_requests, http.rate_limit_window, clock)

    def sql_rules(self) -> SqlRules:
        """Return the SQL rules for ``capabilities.database``."""
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

    def updated(self, overrides: Mapping[str, Any]) -> Policy:
        """Return a copy with ``overrides`` (a nested mapping of config keys) merged in."""
        base = _unwrap_secrets(self.model_dump())
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


def _parse_json_object(text: str) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        dupes = sorted({key for key in keys if keys.count(key) > 1})
        if dupes:
            raise ValueError(f"duplicate JSON keys {dupes}")
        return dict(pairs)

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not valid JSON")

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise ValueError(f"expected a JSON object: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


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


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate mapping keys (the last one would win silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r}; each key may appear once",
                key_node.start_mark,
            )
        seen.add(key)
    return dict(loader.construct_mapping(node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_policy(path: str | Path, processor_id: str | None = None) -> Policy:
    """Load a policy from a pipeline YAML, a processor block, or a bare ``config`` mapping.

    A pipeline (``apiVersion``/``kind``/``spec.processors``) yields the processor with id
    ``processor_id``, or its only ``type: wasm-component`` processor.  A relative
    ``component_file`` is resolved against the file's directory.  ``*.json`` files are read as
    strict JSON (no duplicate keys, no NaN); anything else as YAML (no duplicate keys either).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            f"cannot read policy file {file}: {exc}; pass an existing UTF-8 YAML or JSON file"
        ) from exc
    try:
        if file.suffix.lower() == ".json":
            data: object = _parse_json_object(text)
        else:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as exc:
        raise PolicyError(f"{file} is not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PolicyError(f"{file}: expected a mapping at the top level, got {type(data).__name__}")
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
    config, prefix, pid = _select_config(data, processor_id, source)
    config = _default_namespace(config, pid)
    try:
        return Policy.model_validate(config, context={"base_dir": base_dir})
    except ValidationError as exc:
        lines = [_describe(error, prefix) for error in exc.errors(include_url=False)]
        raise PolicyError(f"invalid policy in {source}:\n  " + "\n  ".join(lines)) from None


def _select_config(
    data: Mapping[str, Any], processor_id: str | None, source: str
) -> tuple[Mapping[str, Any], str, str | None]:
    """Return (config mapping, key-path prefix, processor id) for the three accepted shapes."""
    if "spec" in data or "apiVersion" in data or "kind" in data:
        spec = data.get("spec")
        processors = spec.get("processors") if isinstance(spec, Mapping) else None
        if not isinstance(processors, list) or not processors:
            raise PolicyError(f"{source}: spec.processors: expected a non-empty list")
        ids = [p.get("id") if isinstance(p, Mapping) else None for p in processors]
        if processor_id is not None:
            matches = [i for i, pid in enumerate(ids) if pid == processor_id]
            if not matches:
                raise PolicyError(
                    f"{source}: no processor with id {processor_id!r} in "
                    f"spec.processors; ids: {ids}"
                )
            index = matches[0]
        else:
            wasm = [
                i
                for i, p in enumerate(processors)
                if isinstance(p, Mapping) and p.get("type") == "wasm-component"
            ]
            if len(wasm) != 1:
                raise PolicyError(
                    f"{source}: {len(wasm)} processors of type wasm-component; "
                    f"pass a processor id, one of {ids}"
                )
            index = wasm[0]
        return _from_block(processors[index], f"spec.processors[{index}]", source)
    if "config" in data and ("id" in data or "type" in data):
        config, prefix, pid = _from_block(data, "", source)
        if processor_id is not None and pid != processor_id:
            raise PolicyError(f"{source}: the processor block has id {pid!r}, not {processor_id!r}")
        return config, prefix, pid
    return data, "", processor_id


def _from_block(block: object, path: str, source: str) -> tuple[Mapping[str, Any], str, str | None]:
    where = f"{path}." if path else ""
    if not isinstance(block, Mapping):
        raise PolicyError(f"{source}: {path or 'processor'}: expected a mapping")
    if block.get("type", "wasm-component") != "wasm-component":
        raise PolicyError(
            f"{source}: {where}type: expected 'wasm-component', got {block.get('type')!r}"
        )
    config = block.get("config")
    if not isinstance(config, Mapping):
        raise PolicyError(f"{source}: {where}config: expected the processor's config mapping")
    pid = block.get("id")
    return config, f"{where}config", pid if isinstance(pid, str) else None


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
