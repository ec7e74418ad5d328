"""The TTP rules, without any host call: configuration parsing and token-transfer extraction.

This module follows the Rust TTP of the design document (section "TTP Processor Implementation
Example") rule by rule, including the order in which checks happen, because that order decides
which inputs are errors (a payment below ``min_amount`` is skipped before its asset is parsed, so a
bad asset on it is not an error).  Where the Rust code relies on ``serde_json`` or ``str::parse``
behaviour, the Python equivalent below reproduces that behaviour rather than Python's:

* ``serde_json`` rejects ``NaN``/``Infinity`` literals, lone UTF-16 surrogates and nesting deeper
  than 127 levels; Python's ``json`` accepts the first two and may exhaust the (small) wasm stack
  on the third, so all three are checked explicitly.
* Rust's ``f64::from_str`` accepts ``1``, ``1.``, ``.5``, ``1e5``, ``inf``, ``NaN`` (any case) but
  no surrounding whitespace and no ``_`` separators; Python's ``float`` accepts both, so amounts
  are matched against Rust's grammar first.
* ``serde_json::Value::get`` on a non-object yields nothing, and ``as_str`` on a non-string
  yields nothing: a field of the wrong JSON type is reported as *missing*, as in Rust.

Errors are raised as :class:`RuleError` (mapped by ``app.py`` to ``processing-failed``) and
:class:`ConfigInvalid` (mapped to ``configuration-error``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from wit_world.exports import processor as p


class RuleError(Exception):
    """An operation body the TTP rules cannot process (``processing-failed``)."""


class ConfigInvalid(Exception):
    """A processor configuration the TTP rules reject (``configuration-error``)."""


@dataclass(frozen=True)
class TtpConfig:
    """The parsed processor configuration (the Rust ``Config`` struct)."""

    network_passphrase: str
    min_amount: float = 0.0
    extract_path_payments: bool = False
    extract_claimable_balances: bool = False


# serde_json's recursion limit: 128 nested arrays/objects fail, 127 parse.
_MAX_DEPTH = 128
# Rust's f64 grammar (case-insensitive), see the module docstring.
_RUST_FLOAT = re.compile(
    r"[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)", re.IGNORECASE
)

_NATIVE = p.StellarAsset(asset_type=p.AssetType.NATIVE, asset_code=None, asset_issuer=None)

_PAYMENT = p.OperationType_Payment
_PATH_PAYMENTS = (p.OperationType_PathPaymentStrictReceive, p.OperationType_PathPaymentStrictSend)
_CLAIM = p.OperationType_ClaimClaimableBalance


# ----------------------------------------------------------------------------- JSON helpers


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_depth(text: str) -> None:
    """Reject nesting of ``_MAX_DEPTH`` or more levels, as serde_json does (brackets in strings
    do not count)."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth >= _MAX_DEPTH:
                raise ValueError("recursion limit exceeded")
        elif ch in "]}":
            depth -= 1


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _loads_strict(text: str, **kwargs: Any) -> Any:
    """``json.loads`` with serde_json's limits; raises ``ValueError`` on anything serde rejects."""
    if text.count("[") + text.count("{") >= _MAX_DEPTH:
        _check_depth(text)
    try:
        value = json.loads(text, parse_constant=_reject_constant, **kwargs)
    except RecursionError:
        raise ValueError("recursion limit exceeded") from None
    # Only an escape sequence can produce a lone surrogate (the host hands us valid UTF-8).
    if "\\u" in text and _has_lone_surrogate(value):
        raise ValueError("lone surrogate in string escape")
    return value


def _get_str(obj: Any, key: str) -> str | None:
    """``obj.get(key).and_then(as_str)`` of serde_json."""
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, str):
            return value
    return None


def _parse_amount(text: str) -> float | None:
    """Rust ``text.parse::<f64>()``; ``None`` when Rust would return an error."""
    if _RUST_FLOAT.fullmatch(text) is None:
        return None
    return float(text)


# ----------------------------------------------------------------------------- configuration


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its list of (key, value) pairs, to see duplicate keys."""


_BOOL_FIELDS = ("extract_path_payments", "extract_claimable_balances")
_KNOWN_FIELDS = frozenset(("network_passphrase", "min_amount", *_BOOL_FIELDS))


def parse_config(text: str) -> TtpConfig:
    """Parse and validate the processor configuration JSON.

    Mirrors ``serde_json::from_str::<Config>`` plus the empty-passphrase check of ``initialize``:
    unknown keys are ignored, a known key given twice is an error, ``min_amount`` accepts any JSON
    number (not ``null``, not a boolean), the two flags accept only ``true``/``false``.
    """
    try:
        doc = _loads_strict(text, object_pairs_hook=_Pairs)
    except ValueError as exc:
        raise ConfigInvalid(f"Invalid config: {exc}") from None
    if not isinstance(doc, _Pairs):
        raise ConfigInvalid("Invalid config: expected a JSON object")
    fields: dict[str, Any] = {}
    for key, value in doc:
        if key in _KNOWN_FIELDS:
            if key in fields:
                raise ConfigInvalid(f"Invalid config: duplicate field `{key}`")
            fields[key] = value
    if "network_passphrase" not in fields:
        raise ConfigInvalid("Invalid config: missing field `network_passphrase`")
    passphrase = fields["network_passphrase"]
    if not isinstance(passphrase, str):
        raise ConfigInvalid("Invalid config: `network_passphrase` must be a string")
    min_amount = fields.get("min_amount", 0.0)
    if isinstance(min_amount, bool) or not isinstance(min_amount, (int, float)):
        raise ConfigInvalid("Invalid config: `min_amount` must be a number")
    try:
        min_amount = float(min_amount)
    except OverflowError:
        raise ConfigInvalid("Invalid config: `min_amount` is out of range") from None
    flags = {}
    for key in _BOOL_FIELDS:
        value = fields.get(key, False)
        if not isinstance(value, bool):
            raise ConfigInvalid(f"Invalid config: `{key}` must be a boolean")
        flags[key] = value
    if not passphrase:
        raise ConfigInvalid("network_passphrase is required")
    return TtpConfig(passphrase, min_amount, **flags)


# ----------------------------------------------------------------------------- extraction


def _parse_body(body: str) -> Any:
    try:
        return _loads_strict(body)
    except ValueError as exc:
        raise RuleError(f"Failed to parse operation body: {exc}") from None


def parse_asset(data: Any) -> p.StellarAsset:
    """The Rust ``parse_asset``: ``{"type": ..., "code": ..., "issuer": ...}``."""
    kind = _get_str(data, "type")
    if kind is None:
        raise RuleError("Missing asset type")
    if kind == "native":
        return _NATIVE
    if kind in ("credit_alphanum4", "credit_alphanum12"):
        code = _get_str(data, "code")
        if code is None:
            raise RuleError("Missing asset code")
        issuer = _get_str(data, "issuer")
        if issuer is None:
            raise RuleError("Missing asset issuer")
        asset_type = (
            p.AssetType.CREDIT_ALPHANUM4
            if kind == "credit_alphanum4"
            else p.AssetType.CREDIT_ALPHANUM12
        )
        return p.StellarAsset(asset_type=asset_type, asset_code=code, asset_issuer=issuer)
    if kind == "liquidity_pool_shares":
        return p.StellarAsset(
            asset_type=p.AssetType.LIQUIDITY_POOL_SHARES, asset_code=None, asset_issuer=None
        )
    raise RuleError(f"Unknown asset type: {kind}")


def _payment(
    tx: p.StellarTransaction, op: p.StellarOperation, index: int, cfg: TtpConfig
) -> p.TokenTransfer | None:
    body = _parse_body(op.body)
    destination = _get_str(body, "destination")
    if destination is None:
        raise RuleError("Missing destination in payment")
    amount_text = _get_str(body, "amount")
    if amount_text is None:
        raise RuleError("Missing amount in payment")
    amount = _parse_amount(amount_text)
    if amount is None:
        raise RuleError("Invalid amount: invalid float literal")
    if amount < cfg.min_amount:
        return None
    asset = parse_asset(body["asset"]) if "asset" in body else _NATIVE
    return p.TokenTransfer(
        from_=op.source_account if op.source_account is not None else tx.source_account,
        to=destination,
        asset=asset,
        amount=amount_text,
        transaction_hash=tx.hash,
        operation_index=index,
        path=None,
    )


def _path_payment(
    tx: p.StellarTransaction, op: p.StellarOperation, index: int, cfg: TtpConfig
) -> p.TokenTransfer | None:
    body = _parse_body(op.body)
    destination = _get_str(body, "destination")
    if destination is None:
        raise RuleError("Missing destination in path payment")
    amount_text = _get_str(body, "destAmount")
    if amount_text is None:
        raise RuleError("Missing destAmount in path payment")
    amount = _parse_amount(amount_text)
    if amount is None:
        raise RuleError("Invalid destAmount: invalid float literal")
    if amount < cfg.min_amount:
        return None
    if "destAsset" not in body:
        raise RuleError("Missing destAsset in path payment")
    dest_asset = parse_asset(body["destAsset"])
    raw_path = body.get("path")
    path = [parse_asset(a) for a in raw_path] if isinstance(raw_path, list) else None
    return p.TokenTransfer(
        from_=op.source_account if op.source_account is not None else tx.source_account,
        to=destination,
        asset=dest_asset,
        amount=amount_text,
        transaction_hash=tx.hash,
        operation_index=index,
        path=path,
    )


def _claim(tx: p.StellarTransaction, op: p.StellarOperation, index: int) -> p.TokenTransfer:
    body = _parse_body(op.body)
    if _get_str(body, "balanceID") is None:
        raise RuleError("Missing balanceID in claim claimable balance")
    # As in the design document: the balance's asset and amount would need a network lookup, so
    # the transfer is a placeholder (native asset, amount "0") from "claimable_balance".
    return p.TokenTransfer(
        from_="claimable_balance",
        to=op.source_account if op.source_account is not None else tx.source_account,
        asset=_NATIVE,
        amount="0",
        transaction_hash=tx.hash,
        operation_index=index,
        path=None,
    )


def extract_token_transfers(tx: p.StellarTransaction, cfg: TtpConfig) -> list[p.TokenTransfer]:
    """One transfer per qualifying operation, in operation order (Rust ``extract_token_transfers``).

    Operations of other types, and path payments / claims when their flag is off, are skipped
    without reading their body.
    """
    transfers = []
    for index, op in enumerate(tx.operations):
        kind = type(op.operation_type)
        if kind is _PAYMENT:
            transfer = _payment(tx, op, index, cfg)
        elif kind in _PATH_PAYMENTS:
            if not cfg.extract_path_payments:
                continue
            transfer = _path_payment(tx, op, index, cfg)
        elif kind is _CLAIM:
            if not cfg.extract_claimable_balances:
                continue
            transfer = _claim(tx, op, index)
        else:
            continue
        if transfer is not None:
            transfers.append(transfer)
    return transfers
