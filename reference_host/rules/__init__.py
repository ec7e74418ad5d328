"""Pure decision logic of the host's sandbox: no wasmtime, no network, no servers.

Each capability module asks one rules object and turns a refusal into the WIT error case given
by :func:`expected_error_case` -- the one place where decision codes meet WIT error cases::

    http-client  UrlRules.check      -> http-error  invalid-url | forbidden
    database     SqlRules.check      -> db-error    invalid-query | permission-denied
    key-value    KeyRules.check ...  -> kv-error    invalid-key | permission-denied |
                                                    storage-full | unknown-error
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reference_host.rules.kv import KeyDecision, KeyRules, KvCode
from reference_host.rules.rate import RateLimiter, effective_timeout

if TYPE_CHECKING:
    from reference_host.rules.http import HttpCode, UrlDecision, UrlRules
    from reference_host.rules.sql import SqlCode, SqlDecision, SqlRules, kind_for_function

__all__ = [
    "HttpCode",
    "KeyDecision",
    "KeyRules",
    "KvCode",
    "RateLimiter",
    "SqlCode",
    "SqlDecision",
    "SqlRules",
    "UrlDecision",
    "UrlRules",
    "effective_timeout",
    "expected_error_case",
    "kind_for_function",
]

# The URL rules (idna) and the SQL rules (pglast) are imported on first use of one of their
# names: ``reference_host.rules.names`` (metrics, logging) must not pay for a SQL parser.
_LAZY = {
    "HttpCode": "http",
    "UrlDecision": "http",
    "UrlRules": "http",
    "SqlCode": "sql",
    "SqlDecision": "sql",
    "SqlRules": "sql",
    "kind_for_function": "sql",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # resolved once
    return value


_KV_CASES = {
    KvCode.NAMESPACE_ESCAPE: "permission-denied",
    KvCode.VALUE_TOO_LARGE: "storage-full",
    KvCode.STORAGE_FULL: "storage-full",
    KvCode.OVERFLOW: "unknown-error",
}
_SQL_INVALID_NAMES = frozenset(
    {"PARSE_ERROR", "EMPTY", "MULTIPLE_STATEMENTS", "WRONG_FUNCTION", "PARAM_MISMATCH"}
)


def expected_error_case(decision: UrlDecision | SqlDecision | KeyDecision) -> str | None:
    """Return the WIT error case (e.g. ``"forbidden"``) for a refusal, or None if allowed.

    * http: malformed URLs and unsupported schemes are ``invalid-url``; everything else refused
      (userinfo, unlisted hosts/IPs/ports, zone ids, loopback names, downgrades) is ``forbidden``.
    * database: statements that are not one parseable statement for this function with matching
      parameters are ``invalid-query``; everything the policy refuses is ``permission-denied``.
    * key-value: attempts to leave the namespace are ``permission-denied``; other bad keys are
      ``invalid-key``; size and count limits are ``storage-full``; s64 overflow is
      ``unknown-error`` (WIT has no closer case).
    """
    if decision.allowed:
        return None
    if isinstance(decision, KeyDecision):
        return _KV_CASES.get(decision.code, "invalid-key")
    from reference_host.rules.http import HttpCode, UrlDecision

    if isinstance(decision, UrlDecision):
        return "invalid-url" if decision.code == HttpCode.MALFORMED else "forbidden"
    from reference_host.rules.sql import SqlCode, SqlDecision

    if isinstance(decision, SqlDecision):
        invalid = {SqlCode[n] for n in _SQL_INVALID_NAMES}
        return "invalid-query" if decision.code in invalid else "permission-denied"
    return _KV_CASES.get(decision.code, "invalid-key")
