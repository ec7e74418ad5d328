"""The TTP oracle: a pure-Python reading of the design document's Rust TTP processor.

The design document's "TTP Processor Implementation Example", written against the JSON form of
the WIT values and independent of the sample's code.  It generated ``fixtures/expected/ttp/*.jsonl``
(``tests/integration/test_ttp_sample_stock.py::test_expected_files_are_the_oracle_output`` keeps
the files and the oracle in step).  Regenerate after a rule change, then review the diff::

    python -m tests.oracles.ttp --write-expected

JSON form (shared with the fixtures and the stock host): records are objects keyed by WIT field
names (``from``/``result`` without ``%``), variants with a payload ``{"case": payload}``,
payload-less variant cases and enums the case name, ``option`` none ``null``, tuples and lists
arrays.  serde_json and Rust ``str::parse::<f64>`` behaviour is spelled out where it differs from
Python's.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from tests.fixture_files import CONFIGS_DIR, EVENTS_DIR, EXPECTED_DIR, REPO, read_jsonl

TTP_EXPECTED_DIR = EXPECTED_DIR / "ttp"
EVENT_SETS = ("ttp_transactions", "ttp_malformed", "non_transaction")
CONFIG_NAMES = ("ttp", "ttp_all")

NAME = "ttp-processor"
VERSION = "1.0.0"

#: The configuration schema the design document publishes for the TTP processor.
DOC_SCHEMA = {
    "type": "object",
    "properties": {
        "network_passphrase": {"type": "string", "description": "Stellar network passphrase"},
        "min_amount": {
            "type": "number",
            "description": "Minimum amount to extract",
            "default": 0.0,
        },
        "extract_path_payments": {
            "type": "boolean",
            "description": "Extract path payment operations",
            "default": False,
        },
        "extract_claimable_balances": {
            "type": "boolean",
            "description": "Extract claimable balance operations",
            "default": False,
        },
    },
    "required": ["network_passphrase"],
}
#: The metric names the design document's TTP processor records.
DOC_METRICS = {
    "events_processed",
    "token_transfers_extracted",
    "processing_time_ms",
    "events_skipped",
    "batch_processed",
    "batch_processing_time_ms",
    "processor_shutdown",
}


# =============================================================================== fixtures


def load_events(name: str) -> list[dict[str, Any]]:
    return read_jsonl(EVENTS_DIR / f"{name}.jsonl")


def load_config(name: str) -> str:
    return (CONFIGS_DIR / f"{name}.json").read_text(encoding="utf-8")


def expected_path(events: str, config: str) -> Path:
    return TTP_EXPECTED_DIR / f"{events}__{config}.jsonl"


# =============================================================================== the rules


class OracleFailure(Exception):
    """The Rust code would return ``ProcessorError::ProcessingFailed(message)``."""


_SERDE_MAX_DEPTH = 127  # serde_json fails at the 128th nested array/object
_RUST_F64 = re.compile(
    r"[+-]?(?:inf|infinity|nan|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)", re.IGNORECASE
)


def _nesting(text: str) -> int:
    deepest = depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _surrogate_free(value: Any) -> bool:
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(_surrogate_free(v) for v in value)
    if isinstance(value, dict):
        return all(_surrogate_free(k) and _surrogate_free(v) for k, v in value.items())
    return True


def serde_value(text: str) -> Any:
    """``serde_json::from_str::<Value>``: ``OracleFailure`` where serde returns an error."""

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    if _nesting(text) > _SERDE_MAX_DEPTH:
        raise OracleFailure("Failed to parse operation body: recursion limit exceeded")
    try:
        value = json.loads(text, parse_constant=no_constants)
    except ValueError as exc:
        raise OracleFailure(f"Failed to parse operation body: {exc}") from None
    if not _surrogate_free(value):
        raise OracleFailure("Failed to parse operation body: lone surrogate")
    return value


def rust_f64(text: str) -> float:
    if not _RUST_F64.fullmatch(text):
        raise ValueError(f"invalid float literal: {text!r}")
    return float(text)


def _str_field(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


NATIVE_ASSET = {"asset-type": "native", "asset-code": None, "asset-issuer": None}


def oracle_asset(data: Any) -> dict[str, Any]:
    kind = _str_field(data, "type")
    if kind is None:
        raise OracleFailure("Missing asset type")
    if kind == "native":
        return dict(NATIVE_ASSET)
    if kind == "liquidity_pool_shares":
        return {"asset-type": "liquidity-pool-shares", "asset-code": None, "asset-issuer": None}
    if kind not in ("credit_alphanum4", "credit_alphanum12"):
        raise OracleFailure(f"Unknown asset type: {kind}")
    code = _str_field(data, "code")
    if code is None:
        raise OracleFailure("Missing asset code")
    issuer = _str_field(data, "issuer")
    if issuer is None:
        raise OracleFailure("Missing asset issuer")
    return {"asset-type": kind.replace("_", "-"), "asset-code": code, "asset-issuer": issuer}


def _transfer(
    tx: dict[str, Any],
    op: dict[str, Any],
    index: int,
    *,
    to: str,
    amount: str,
    asset: dict[str, Any],
    path: list[Any] | None,
    sender: str | None = None,
) -> dict[str, Any]:
    source = op["source-account"] if op["source-account"] is not None else tx["source-account"]
    return {
        "from": sender if sender is not None else source,
        "to": to,
        "asset": asset,
        "amount": amount,
        "transaction-hash": tx["hash"],
        "operation-index": index,
        "path": path,
    }


def oracle_transfers(tx: dict[str, Any], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, op in enumerate(tx["operations"]):
        kind = op["operation-type"]
        if kind == "payment":
            body = serde_value(op["body"])
            dest = _str_field(body, "destination")
            if dest is None:
                raise OracleFailure("Missing destination in payment")
            amount = _str_field(body, "amount")
            if amount is None:
                raise OracleFailure("Missing amount in payment")
            try:
                value = rust_f64(amount)
            except ValueError:
                raise OracleFailure("Invalid amount") from None
            if value < cfg["min_amount"]:
                continue
            asset = oracle_asset(body["asset"]) if "asset" in body else dict(NATIVE_ASSET)
            out.append(_transfer(tx, op, index, to=dest, amount=amount, asset=asset, path=None))
        elif kind in ("path-payment-strict-receive", "path-payment-strict-send"):
            if not cfg["extract_path_payments"]:
                continue
            body = serde_value(op["body"])
            dest = _str_field(body, "destination")
            if dest is None:
                raise OracleFailure("Missing destination in path payment")
            amount = _str_field(body, "destAmount")
            if amount is None:
                raise OracleFailure("Missing destAmount in path payment")
            try:
                value = rust_f64(amount)
            except ValueError:
                raise OracleFailure("Invalid destAmount") from None
            if value < cfg["min_amount"]:
                continue
            if "destAsset" not in body:
                raise OracleFailure("Missing destAsset in path payment")
            asset = oracle_asset(body["destAsset"])
            raw_path = body.get("path")
            path = [oracle_asset(a) for a in raw_path] if isinstance(raw_path, list) else None
            out.append(_transfer(tx, op, index, to=dest, amount=amount, asset=asset, path=path))
        elif kind == "claim-claimable-balance":
            if not cfg["extract_claimable_balances"]:
                continue
            body = serde_value(op["body"])
            if _str_field(body, "balanceID") is None:
                raise OracleFailure("Missing balanceID in claim claimable balance")
            claimer = (
                op["source-account"] if op["source-account"] is not None else tx["source-account"]
            )
            out.append(
                _transfer(
                    tx,
                    op,
                    index,
                    to=claimer,
                    amount="0",
                    asset=dict(NATIVE_ASSET),
                    path=None,
                    sender="claimable_balance",
                )
            )
    return out


def oracle_config(text: str) -> dict[str, Any]:
    """The parsed config, with the Rust struct's defaults (the fixtures' configs are valid)."""
    raw = json.loads(text)
    return {
        "network_passphrase": raw["network_passphrase"],
        "min_amount": float(raw.get("min_amount", 0.0)),
        "extract_path_payments": raw.get("extract_path_payments", False),
        "extract_claimable_balances": raw.get("extract_claimable_balances", False),
    }


def oracle_process(event: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """One expected line: ``{"input-id", "ok": [events]}`` or ``{"input-id", "err": {case: msg}}``."""
    line: dict[str, Any] = {"input-id": event["id"]}
    tx = event["data"].get("stellar-transaction")
    if tx is None:
        line["ok"] = []
        return line
    try:
        transfers = oracle_transfers(tx, cfg)
    except OracleFailure as exc:
        line["err"] = {"processing-failed": str(exc)}
        return line
    extra = [
        ["processor", NAME],
        ["processor_version", VERSION],
        ["original_event_id", event["id"]],
    ]
    line["ok"] = [
        {
            "id": f"{event['id']}-transfer-{i}",
            "timestamp": event["timestamp"],
            "source-component": NAME,
            "event-type": "token-transfer",
            "data": {"token-transfer": t},
            "metadata": [*event["metadata"], *extra],
        }
        for i, t in enumerate(transfers)
    ]
    return line


def oracle_expected(events: str, config: str) -> list[dict[str, Any]]:
    cfg = oracle_config(load_config(config))
    return [oracle_process(e, cfg) for e in load_events(events)]


def write_expected() -> None:
    TTP_EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    for events in EVENT_SETS:
        for config in CONFIG_NAMES:
            lines = oracle_expected(events, config)
            with expected_path(events, config).open("w", encoding="utf-8") as f:
                for line in lines:
                    f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            print(f"{expected_path(events, config).relative_to(REPO)}: {len(lines)} lines")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-expected"]:
        write_expected()
    else:
        sys.exit("usage: python -m tests.oracles.ttp --write-expected")
