"""The WIT package as data: one descriptor per type and the signature of every function.

The descriptors say how each WIT type maps onto :mod:`reference_host.types`; the value layer
(:mod:`reference_host.abi.lower`, :mod:`reference_host.abi.lift`) is generated from them, the
drift check compares them with a component's real types, and hypothesis strategies are derived
from them.  ``tests/unit/test_schema.py`` proves they equal the types of ``wit/flowctl.wit``.

**Why this is one long module**: it is declarations only, mirroring ``wit/flowctl.wit`` one for one
(its types, then every interface's functions), so the two can be read side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reference_host import types as t


class Ty:
    """Base of the type descriptors."""

    wit: str


@dataclass(frozen=True)
class Prim(Ty):
    """A primitive: ``string bool u8 u16 u32 u64 s8 s16 s32 s64 f32 f64 char``."""

    wit: str


@dataclass(frozen=True)
class Record(Ty):
    """A record mapped onto a dataclass; ``fields`` are (wit name, attribute, type)."""

    wit: str
    cls: type
    fields: tuple[tuple[str, str, Ty], ...]


@dataclass(frozen=True)
class Enum(Ty):
    """A WIT enum, or a variant without payloads (``as_variant``), mapped onto a StrEnum."""

    wit: str
    cls: type[StrEnum]
    as_variant: bool = False

    @property
    def cases(self) -> tuple[str, ...]:
        """The WIT case names in order."""
        return tuple(m.value for m in self.cls)


@dataclass(frozen=True)
class Tagged(Ty):
    """A variant mapped onto a ``_Tagged`` dataclass (``case`` + ``value``)."""

    wit: str
    cls: type[t._Tagged]
    cases: tuple[tuple[str, Ty | None], ...]


@dataclass(frozen=True)
class ByClass(Ty):
    """A variant whose cases are told apart by the Python class (``event-data``).

    ``cases`` are (wit case, python class, payload type, wrapped): when ``wrapped`` the class
    holds the payload in ``.value``; otherwise the object is the payload.
    """

    wit: str
    cases: tuple[tuple[str, type, Ty, bool], ...]


@dataclass(frozen=True)
class List(Ty):
    """``list<T>``."""

    elem: Ty
    wit: str = "list"


@dataclass(frozen=True)
class Option(Ty):
    """``option<T>``."""

    elem: Ty
    wit: str = "option"


@dataclass(frozen=True)
class Result(Ty):
    """``result<T, E>``; ``None`` for an absent side."""

    ok: Ty | None
    err: Ty | None
    wit: str = "result"


@dataclass(frozen=True)
class Tuple(Ty):
    """``tuple<...>``."""

    elems: tuple[Ty, ...]
    wit: str = "tuple"


@dataclass(frozen=True)
class FuncSig:
    """One WIT function: parameter (name, type) pairs and the result type (or None)."""

    name: str
    params: tuple[tuple[str, Ty], ...]
    result: Ty | None


INT_RANGES: dict[str, tuple[int, int]] = {
    "u8": (0, 2**8 - 1),
    "u16": (0, 2**16 - 1),
    "u32": (0, 2**32 - 1),
    "u64": (0, 2**64 - 1),
    "s8": (-(2**7), 2**7 - 1),
    "s16": (-(2**15), 2**15 - 1),
    "s32": (-(2**31), 2**31 - 1),
    "s64": (-(2**63), 2**63 - 1),
}
"""Inclusive value range of every WIT integer type."""

STRING = Prim("string")
BOOL = Prim("bool")
U32 = Prim("u32")
U64 = Prim("u64")
S64 = Prim("s64")
F64 = Prim("f64")
STRINGS = List(STRING)
PAIRS = List(Tuple((STRING, STRING)))


def _rec(wit: str, cls: type, *fields: tuple[str, Ty]) -> Record:
    out = []
    for name, ty in fields:
        attr = name.replace("-", "_")
        out.append((name, attr + "_" if attr in {"from"} else attr, ty))
    return Record(wit, cls, tuple(out))


def _tagged(wit: str, cls: type[t._Tagged]) -> Tagged:
    prims = {"string": STRING, "u32": U32}
    return Tagged(wit, cls, tuple((c, prims[p] if p else None) for c, p in cls.CASES.items()))


# ------------------------------------------------------------------ processor interface types

EVENT_TYPE = Enum("event-type", t.EventType)
MEMO_TYPE = Enum("memo-type", t.MemoType)
ASSET_TYPE = Enum("asset-type", t.AssetType)
OPERATION_TYPE = Enum("operation-type", t.OperationType, as_variant=True)
HEALTH_STATE = Enum("health-state", t.HealthState)
TIME_BOUNDS = _rec("time-bounds", t.TimeBounds, ("min-time", U64), ("max-time", U64))
MEMO = _rec("memo", t.Memo, ("memo-type", MEMO_TYPE), ("memo-value", STRING))
OPERATION_RESULT = _rec(
    "operation-result", t.OperationResult, ("result-code", STRING), ("result-meta", Option(STRING))
)
STELLAR_OPERATION = _rec(
    "stellar-operation",
    t.StellarOperation,
    ("operation-type", OPERATION_TYPE),
    ("source-account", Option(STRING)),
    ("body", STRING),
    ("result", Option(OPERATION_RESULT)),
)
STELLAR_ASSET = _rec(
    "stellar-asset",
    t.StellarAsset,
    ("asset-type", ASSET_TYPE),
    ("asset-code", Option(STRING)),
    ("asset-issuer", Option(STRING)),
)
TOKEN_TRANSFER = _rec(
    "token-transfer",
    t.TokenTransfer,
    ("from", STRING),
    ("to", STRING),
    ("asset", STELLAR_ASSET),
    ("amount", STRING),
    ("transaction-hash", STRING),
    ("operation-index", U32),
    ("path", Option(List(STELLAR_ASSET))),
)
STELLAR_LEDGER = _rec(
    "stellar-ledger",
    t.StellarLedger,
    ("sequence", U64),
    ("hash", STRING),
    ("previous-hash", STRING),
    ("transaction-count", U32),
    ("operation-count", U32),
    ("closed-at", U64),
    ("total-coins", STRING),
    ("fee-pool", STRING),
    ("base-fee", U32),
    ("base-reserve", STRING),
    ("max-tx-set-size", U32),
)
STELLAR_TRANSACTION = _rec(
    "stellar-transaction",
    t.StellarTransaction,
    ("hash", STRING),
    ("source-account", STRING),
    ("sequence-number", U64),
    ("fee", U64),
    ("time-bounds", Option(TIME_BOUNDS)),
    ("memo", Option(MEMO)),
    ("operations", List(STELLAR_OPERATION)),
    ("signatures", STRINGS),
    ("result-code", Option(STRING)),
    ("result-meta", Option(STRING)),
)
EVENT_DATA = ByClass(
    "event-data",
    (
        ("stellar-transaction", t.StellarTransaction, STELLAR_TRANSACTION, False),
        ("stellar-ledger", t.StellarLedger, STELLAR_LEDGER, False),
        ("stellar-operation", t.StellarOperation, STELLAR_OPERATION, False),
        ("token-transfer", t.TokenTransfer, TOKEN_TRANSFER, False),
        ("generic", t.Generic, STRING, True),
    ),
)
EVENT = _rec(
    "event",
    t.Event,
    ("id", STRING),
    ("timestamp", U64),
    ("source-component", STRING),
    ("event-type", EVENT_TYPE),
    ("data", EVENT_DATA),
    ("metadata", PAIRS),
)
PROCESSOR_ERROR = _tagged("processor-error", t.ProcessorError)
PROCESSOR_INFO = _rec(
    "processor-info",
    t.ProcessorInfo,
    ("name", STRING),
    ("version", STRING),
    ("author", STRING),
    ("description", STRING),
    ("supported-event-types", List(EVENT_TYPE)),
    ("output-event-types", List(EVENT_TYPE)),
    ("capabilities-required", STRINGS),
    ("configuration-schema", Option(STRING)),
)
HEALTH_STATUS = _rec(
    "health-status",
    t.HealthStatus,
    ("status", HEALTH_STATE),
    ("message", Option(STRING)),
    ("details", PAIRS),
    ("timestamp", U64),
)
EVENTS = List(EVENT)
EVENTS_RESULT = Result(EVENTS, PROCESSOR_ERROR)
UNIT_RESULT = Result(None, PROCESSOR_ERROR)

# ------------------------------------------------------------------ capability types

LOG_LEVEL = Enum("log-level", t.LogLevel)
METRIC_TAG = _rec("metric-tag", t.MetricTag, ("key", STRING), ("value", STRING))
HTTP_REQUEST = _rec(
    "http-request",
    t.HttpRequest,
    ("method", STRING),
    ("url", STRING),
    ("headers", PAIRS),
    ("body", Option(STRING)),
    ("timeout-ms", U32),
)
HTTP_RESPONSE = _rec(
    "http-response",
    t.HttpResponse,
    ("status-code", U32),
    ("headers", PAIRS),
    ("body", STRING),
)
HTTP_ERROR = _tagged("http-error", t.HttpError)
QUERY_RESULT = _rec(
    "query-result",
    t.QueryResult,
    ("rows", List(STRINGS)),
    ("columns", STRINGS),
    ("rows-affected", U64),
)
DB_ERROR = _tagged("db-error", t.DbError)
KV_ERROR = _tagged("kv-error", t.KvError)
CONFIG_ERROR = _tagged("config-error", t.ConfigError)


def _sig(name: str, result: Ty | None, *params: tuple[str, Ty]) -> FuncSig:
    return FuncSig(name, tuple(params), result)


PACKAGE = "obsrvr:flowctl@1.0.0"

INTERFACES: dict[str, dict[str, FuncSig]] = {
    "processor": {
        s.name: s
        for s in (
            _sig("process-event", EVENTS_RESULT, ("event", EVENT)),
            _sig("process-batch", EVENTS_RESULT, ("events", EVENTS)),
            _sig("initialize", UNIT_RESULT, ("config", STRING)),
            _sig("validate-config", UNIT_RESULT, ("config", STRING)),
            _sig("shutdown", None),
            _sig("get-info", PROCESSOR_INFO),
            _sig("health-check", Result(HEALTH_STATUS, PROCESSOR_ERROR)),
        )
    },
    "logging": {
        s.name: s
        for s in (
            _sig("log", None, ("level", LOG_LEVEL), ("message", STRING)),
            _sig(
                "log-structured",
                None,
                ("level", LOG_LEVEL),
                ("message", STRING),
                ("fields", PAIRS),
            ),
            _sig("set-log-level", None, ("level", LOG_LEVEL)),
        )
    },
    "metrics": {
        s.name: s
        for s in (
            *(
                _sig(
                    f"record-{k}",
                    None,
                    ("name", STRING),
                    ("value", F64),
                    ("tags", List(METRIC_TAG)),
                )
                for k in ("counter", "gauge", "histogram")
            ),
            _sig(
                "record-timer",
                None,
                ("name", STRING),
                ("duration-ms", U64),
                ("tags", List(METRIC_TAG)),
            ),
        )
    },
    "http-client": {
        s.name: s
        for s in (
            _sig("request", Result(HTTP_RESPONSE, HTTP_ERROR), ("req", HTTP_REQUEST)),
            _sig("is-url-allowed", BOOL, ("url", STRING)),
        )
    },
    "database": {
        s.name: s
        for s in (
            _sig("query", Result(QUERY_RESULT, DB_ERROR), ("sql", STRING), ("params", STRINGS)),
            _sig("execute", Result(QUERY_RESULT, DB_ERROR), ("sql", STRING), ("params", STRINGS)),
            _sig("begin-transaction", Result(STRING, DB_ERROR)),
            _sig("commit-transaction", Result(None, DB_ERROR), ("transaction-id", STRING)),
            _sig("rollback-transaction", Result(None, DB_ERROR), ("transaction-id", STRING)),
            _sig("is-query-allowed", BOOL, ("sql", STRING)),
        )
    },
    "key-value": {
        s.name: s
        for s in (
            _sig("get", Result(Option(STRING), KV_ERROR), ("key", STRING)),
            _sig(
                "set",
                Result(None, KV_ERROR),
                ("key", STRING),
                ("value", STRING),
                ("ttl-seconds", Option(U32)),
            ),
            _sig("delete", Result(None, KV_ERROR), ("key", STRING)),
            _sig("exists", Result(BOOL, KV_ERROR), ("key", STRING)),
            _sig(
                "list-keys",
                Result(STRINGS, KV_ERROR),
                ("prefix", STRING),
                ("limit", Option(U32)),
            ),
            _sig("increment", Result(S64, KV_ERROR), ("key", STRING), ("delta", S64)),
            _sig("expire", Result(None, KV_ERROR), ("key", STRING), ("ttl-seconds", U32)),
        )
    },
    "config": {
        s.name: s
        for s in (
            _sig("get-string", Result(STRING, CONFIG_ERROR), ("key", STRING)),
            _sig("get-int", Result(S64, CONFIG_ERROR), ("key", STRING)),
            _sig("get-float", Result(F64, CONFIG_ERROR), ("key", STRING)),
            _sig("get-bool", Result(BOOL, CONFIG_ERROR), ("key", STRING)),
            _sig("get-json", Result(STRING, CONFIG_ERROR), ("key", STRING)),
            _sig("has-key", BOOL, ("key", STRING)),
            _sig("list-keys", STRINGS),
        )
    },
}

NAMED_TYPES: dict[str, Ty] = {
    d.wit: d
    for d in (
        EVENT,
        EVENT_DATA,
        EVENT_TYPE,
        STELLAR_TRANSACTION,
        STELLAR_LEDGER,
        STELLAR_OPERATION,
        STELLAR_ASSET,
        TOKEN_TRANSFER,
        TIME_BOUNDS,
        MEMO,
        MEMO_TYPE,
        OPERATION_TYPE,
        OPERATION_RESULT,
        ASSET_TYPE,
        PROCESSOR_ERROR,
        PROCESSOR_INFO,
        HEALTH_STATUS,
        HEALTH_STATE,
        LOG_LEVEL,
        METRIC_TAG,
        HTTP_REQUEST,
        HTTP_RESPONSE,
        HTTP_ERROR,
        QUERY_RESULT,
        DB_ERROR,
        KV_ERROR,
        CONFIG_ERROR,
    )
}
NAMED_TYPES["operation-body"] = STRING  # `type operation-body = string;`
"""Every named type of the package by its WIT name."""


def interface_name(short: str) -> str:
    """``processor`` → ``obsrvr:flowctl/processor@1.0.0``."""
    return f"obsrvr:flowctl/{short}@1.0.0"
