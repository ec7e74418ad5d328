"""Python model of every type of the WIT package ``obsrvr:flowctl@1.0.0``.

Mapping rules (the same for every type, so the value layer can be generated from them):

=====================  ===========================================================================
WIT                    Python
=====================  ===========================================================================
record                 a ``@dataclass(slots=True)``; fields in WIT order, ``kebab-case`` →
                       ``snake_case`` (``from`` → ``from_``)
enum                   a :class:`enum.StrEnum` whose values are the WIT case names
variant, no payloads   a :class:`enum.StrEnum` too (``operation-type``)
``event-data``         the payload record itself (:class:`StellarTransaction`, ...) or
                       :class:`Generic` for ``generic(string)``
error variants         one dataclass per variant with ``case`` (WIT case name) and ``value``
                       (the payload or ``None``): :class:`ProcessorError`, :class:`HttpError`, ...
option<T>              ``T | None``
result<T, E>           :class:`Ok` / :class:`Err` (host functions may also return a bare error
                       instance for ``err``)
tuple / list           ``tuple`` / ``list``; string ``str``; integers ``int`` (range-checked);
                       ``f64`` ``float``
=====================  ===========================================================================

The JSON form of these values lives in :mod:`reference_host.jsonform`.

**Why this is one long module**: it is declarations only, one per WIT type in the order of
``wit/flowctl.wit``, under the one set of mapping rules above.  Split, the rules would no longer
sit next to the types they govern, and ``reference_host.types`` (which the host, the suite and the
tests import whole, as ``t``) would become several imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeVar
from typing import Generic as _Generic

T = TypeVar("T")
E = TypeVar("E")

# --------------------------------------------------------------------------- results


@dataclass(slots=True, frozen=True)
class Ok(_Generic[T]):
    """The ``ok`` case of a WIT ``result``."""

    value: T = None  # type: ignore[assignment]


@dataclass(slots=True, frozen=True)
class Err(_Generic[E]):
    """The ``err`` case of a WIT ``result``."""

    error: E


# --------------------------------------------------------------------------- enums


class EventType(StrEnum):
    """WIT ``event-type``."""

    TRANSACTION = "transaction"
    LEDGER = "ledger"
    OPERATION = "operation"
    TOKEN_TRANSFER = "token-transfer"  # noqa: S105 - an event type, not a secret
    ACCOUNT_CREATED = "account-created"
    ACCOUNT_UPDATED = "account-updated"
    TRUSTLINE_CREATED = "trustline-created"
    TRUSTLINE_UPDATED = "trustline-updated"
    OFFER_CREATED = "offer-created"
    OFFER_UPDATED = "offer-updated"
    OFFER_DELETED = "offer-deleted"
    TRADE = "trade"
    CUSTOM = "custom"


class MemoType(StrEnum):
    """WIT ``memo-type``."""

    NONE = "none"
    TEXT = "text"
    ID = "id"
    HASH = "hash"
    RETURN = "return"


class AssetType(StrEnum):
    """WIT ``asset-type``."""

    NATIVE = "native"
    CREDIT_ALPHANUM4 = "credit-alphanum4"
    CREDIT_ALPHANUM12 = "credit-alphanum12"
    LIQUIDITY_POOL_SHARES = "liquidity-pool-shares"


class OperationType(StrEnum):
    """WIT ``operation-type`` (a variant without payloads)."""

    CREATE_ACCOUNT = "create-account"
    PAYMENT = "payment"
    PATH_PAYMENT_STRICT_RECEIVE = "path-payment-strict-receive"
    PATH_PAYMENT_STRICT_SEND = "path-payment-strict-send"
    MANAGE_SELL_OFFER = "manage-sell-offer"
    MANAGE_BUY_OFFER = "manage-buy-offer"
    CREATE_PASSIVE_SELL_OFFER = "create-passive-sell-offer"
    SET_OPTIONS = "set-options"
    CHANGE_TRUST = "change-trust"
    ALLOW_TRUST = "allow-trust"
    ACCOUNT_MERGE = "account-merge"
    INFLATION = "inflation"
    MANAGE_DATA = "manage-data"
    BUMP_SEQUENCE = "bump-sequence"
    CREATE_CLAIMABLE_BALANCE = "create-claimable-balance"
    CLAIM_CLAIMABLE_BALANCE = "claim-claimable-balance"
    BEGIN_SPONSORING_FUTURE_RESERVES = "begin-sponsoring-future-reserves"
    END_SPONSORING_FUTURE_RESERVES = "end-sponsoring-future-reserves"
    REVOKE_SPONSORSHIP = "revoke-sponsorship"
    CLAWBACK = "clawback"
    CLAWBACK_CLAIMABLE_BALANCE = "clawback-claimable-balance"
    SET_TRUST_LINE_FLAGS = "set-trust-line-flags"
    LIQUIDITY_POOL_DEPOSIT = "liquidity-pool-deposit"
    LIQUIDITY_POOL_WITHDRAW = "liquidity-pool-withdraw"
    INVOKE_HOST_FUNCTION = "invoke-host-function"
    RESTORE_FOOTPRINT = "restore-footprint"
    EXTEND_FOOTPRINT_TTL = "extend-footprint-ttl"


class HealthState(StrEnum):
    """WIT ``health-state``."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class LogLevel(StrEnum):
    """WIT ``logging.log-level``."""

    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


# --------------------------------------------------------------------------- stellar records


@dataclass(slots=True)
class TimeBounds:
    """WIT ``time-bounds``."""

    min_time: int
    max_time: int


@dataclass(slots=True)
class Memo:
    """WIT ``memo``."""

    memo_type: MemoType
    memo_value: str


@dataclass(slots=True)
class OperationResult:
    """WIT ``operation-result``."""

    result_code: str
    result_meta: str | None = None


@dataclass(slots=True)
class StellarOperation:
    """WIT ``stellar-operation``; ``body`` is the operation's JSON text."""

    operation_type: OperationType
    source_account: str | None
    body: str
    result: OperationResult | None = None


@dataclass(slots=True)
class StellarAsset:
    """WIT ``stellar-asset``."""

    asset_type: AssetType
    asset_code: str | None = None
    asset_issuer: str | None = None


@dataclass(slots=True)
class TokenTransfer:
    """WIT ``token-transfer`` (``from`` is ``from_`` in Python)."""

    from_: str
    to: str
    asset: StellarAsset
    amount: str
    transaction_hash: str
    operation_index: int
    path: list[StellarAsset] | None = None


@dataclass(slots=True)
class StellarLedger:
    """WIT ``stellar-ledger``."""

    sequence: int
    hash: str
    previous_hash: str
    transaction_count: int
    operation_count: int
    closed_at: int
    total_coins: str
    fee_pool: str
    base_fee: int
    base_reserve: str
    max_tx_set_size: int


@dataclass(slots=True)
class StellarTransaction:
    """WIT ``stellar-transaction``."""

    hash: str
    source_account: str
    sequence_number: int
    fee: int
    time_bounds: TimeBounds | None = None
    memo: Memo | None = None
    operations: list[StellarOperation] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    result_code: str | None = None
    result_meta: str | None = None


@dataclass(slots=True)
class Generic:
    """The ``generic(string)`` case of WIT ``event-data``."""

    value: str


EventData = StellarTransaction | StellarLedger | StellarOperation | TokenTransfer | Generic
"""WIT ``event-data``: the payload record of the case, or :class:`Generic`."""


@dataclass(slots=True)
class Event:
    """WIT ``event``."""

    id: str
    timestamp: int
    source_component: str
    event_type: EventType
    data: EventData
    metadata: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- processor records


@dataclass(slots=True)
class ProcessorInfo:
    """WIT ``processor-info``."""

    name: str
    version: str
    author: str
    description: str
    supported_event_types: list[EventType]
    output_event_types: list[EventType]
    capabilities_required: list[str]
    configuration_schema: str | None = None


@dataclass(slots=True)
class HealthStatus:
    """WIT ``health-status``."""

    status: HealthState
    message: str | None
    details: list[tuple[str, str]]
    timestamp: int


# --------------------------------------------------------------------------- error variants


@dataclass(slots=True, frozen=True)
class _Tagged:
    """Base of the error variants: ``case`` is the WIT case name, ``value`` its payload."""

    case: str
    value: Any = None
    CASES: ClassVar[dict[str, str | None]] = {}

    def __post_init__(self) -> None:
        if self.case not in self.CASES:
            raise ValueError(
                f"{type(self).__name__}: unknown case {self.case!r}; expected one of "
                f"{', '.join(self.CASES)}"
            )

    def __str__(self) -> str:
        return self.case if self.value is None else f"{self.case}({self.value})"


@dataclass(slots=True, frozen=True)
class ProcessorError(_Tagged):
    """WIT ``processor-error``."""

    CASES: ClassVar[dict[str, str | None]] = {
        "invalid-event": "string",
        "processing-failed": "string",
        "timeout": None,
        "resource-exhausted": None,
        "permission-denied": "string",
        "configuration-error": "string",
        "dependency-error": "string",
        "unknown-error": "string",
    }


@dataclass(slots=True, frozen=True)
class HttpError(_Tagged):
    """WIT ``http-client.http-error``."""

    CASES: ClassVar[dict[str, str | None]] = {
        "network-error": "string",
        "timeout": None,
        "invalid-url": "string",
        "forbidden": "string",
        "server-error": "u32",
        "client-error": "u32",
        "too-many-requests": None,
        "unknown-error": "string",
    }


@dataclass(slots=True, frozen=True)
class DbError(_Tagged):
    """WIT ``database.db-error``."""

    CASES: ClassVar[dict[str, str | None]] = {
        "connection-failed": "string",
        "query-failed": "string",
        "permission-denied": "string",
        "timeout": None,
        "invalid-query": "string",
        "constraint-violation": "string",
        "unknown-error": "string",
    }


@dataclass(slots=True, frozen=True)
class KvError(_Tagged):
    """WIT ``key-value.kv-error``."""

    CASES: ClassVar[dict[str, str | None]] = {
        "key-not-found": "string",
        "permission-denied": "string",
        "timeout": None,
        "storage-full": None,
        "invalid-key": "string",
        "unknown-error": "string",
    }


@dataclass(slots=True, frozen=True)
class ConfigError(_Tagged):
    """WIT ``config.config-error``."""

    CASES: ClassVar[dict[str, str | None]] = {
        "key-not-found": "string",
        "invalid-type": "string",
        "unknown-error": "string",
    }


# --------------------------------------------------------------------------- capability records


@dataclass(slots=True)
class MetricTag:
    """WIT ``metrics.metric-tag``."""

    key: str
    value: str


@dataclass(slots=True)
class HttpRequest:
    """WIT ``http-client.http-request``."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str | None
    timeout_ms: int


@dataclass(slots=True)
class HttpResponse:
    """WIT ``http-client.http-response``."""

    status_code: int
    headers: list[tuple[str, str]]
    body: str


@dataclass(slots=True)
class QueryResult:
    """WIT ``database.query-result``."""

    rows: list[list[str]]
    columns: list[str]
    rows_affected: int
