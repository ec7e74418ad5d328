"""The grant models: what the policy's ``capabilities`` block allows a component to import.

A *grant* is the frozen policy block for one capability (:class:`HttpGrant`,
:class:`DatabaseGrant`, :class:`KeyValueGrant`; ``logging``, ``metrics``, ``config`` and ``wasi``
are plain booleans); a *capability* is the host object serving the interface, built from its
grant (``DatabaseCapability.from_policy(DatabaseGrant(...))``, :mod:`reference_host.capabilities`).
Deny by default: a missing block grants nothing.  :class:`~reference_host.policy.Policy` holds
the grants in :attr:`Policy.capabilities <reference_host.policy.Policy.capabilities>`.

Also here: the value types the grants and the policy share -- durations (``"10s"``, ``"100ms"``,
``"1m30s"`` or a number of seconds, held as float seconds; :func:`parse_duration`), positive
integers, and allowlist entries validated by :mod:`reference_host.rules` when the policy is
loaded, not when a guest first calls.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Literal

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
    field_validator,
)

from reference_host import interfaces
from reference_host.rules.kv import check_namespace

__all__ = [
    "INTERFACE_GRANTS",
    "KIB",
    "MIB",
    "Capabilities",
    "DatabaseGrant",
    "Duration",
    "FrozenModel",
    "HttpGrant",
    "KeyValueGrant",
    "PositiveInt",
    "parse_duration",
]

KIB, MIB = 1024, 1024 * 1024
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")

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


# The URL and SQL rules (idna, pglast) are imported when an allowlist entry is validated, not
# when the policy module is: a policy without http/database entries never loads them.


def _parse_domain_entry(entry: str) -> object:
    from reference_host.rules.http import parse_entry

    return parse_entry(entry)


def _parse_table_entry(entry: str) -> object:
    from reference_host.rules.sql import parse_table_entry

    return parse_table_entry(entry)


def _upper_operation(value: str) -> str:
    from reference_host.rules.sql import OPERATIONS

    op = value.strip().upper()
    if op not in OPERATIONS:
        raise ValueError(f"expected one of {', '.join(OPERATIONS)} (case-insensitive)")
    return op


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
DomainEntry = Annotated[StrictStr, AfterValidator(_checked(_parse_domain_entry))]
TableEntry = Annotated[StrictStr, AfterValidator(_checked(_parse_table_entry))]
Operation = Annotated[StrictStr, AfterValidator(_upper_operation)]
Namespace = Annotated[StrictStr, AfterValidator(check_namespace)]


class FrozenModel(BaseModel):
    """A policy block: immutable, and an unknown key is an error (never silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpGrant(FrozenModel):
    """``capabilities.http``: outbound HTTP to ``allowed_domains`` only (see rules.http)."""

    enabled: StrictBool = False
    allowed_domains: tuple[DomainEntry, ...] = ()
    request_timeout: Duration = 30.0
    max_requests: PositiveInt = 100
    rate_limit_window: Duration = 60.0
    max_response_bytes: PositiveInt = MIB
    follow_redirects: StrictBool = False
    max_redirects: Annotated[StrictInt, Field(ge=0, le=20)] = 5


class DatabaseGrant(FrozenModel):
    """``capabilities.database``: PostgreSQL statements checked by rules.sql."""

    enabled: StrictBool = False
    connection_string: SecretStr | None = None
    allowed_tables: tuple[TableEntry, ...] = ()
    allowed_operations: tuple[Operation, ...] = ("SELECT",)
    query_timeout: Duration = 30.0


class KeyValueGrant(FrozenModel):
    """``capabilities.key_value``: keys confined to ``namespace`` (see rules.kv)."""

    enabled: StrictBool = False
    backend: Literal["redis", "memory"] = "redis"
    url: SecretStr | None = None
    namespace: Namespace = "default"
    ttl_max: Duration | None = None
    max_keys: PositiveInt = 10_000
    max_value_bytes: PositiveInt = MIB
    max_key_bytes: PositiveInt = 512


class Capabilities(FrozenModel):
    """``capabilities``: what the component may import; everything defaults to not granted."""

    logging: StrictBool = False
    metrics: StrictBool = False
    config: StrictBool = False
    http: HttpGrant = HttpGrant()
    database: DatabaseGrant = DatabaseGrant()
    key_value: KeyValueGrant = KeyValueGrant()
    wasi: StrictBool = False

    @field_validator("http", "database", "key_value", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        """Accept ``http: false`` / ``http: true`` / an empty block for ``{enabled: ...}``."""
        if value is None:
            return {}
        return {"enabled": value} if isinstance(value, bool) else value
