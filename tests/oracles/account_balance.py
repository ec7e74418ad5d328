"""The account-balance oracle: the sample's SQL contract and the balances transfers lead to.

The contract is ``sample_components/account_balance/README.md``'s: for each transfer the sample
debits ``from`` and credits ``to`` with one parameterised ``UPSERT`` each, reads the new balances
back with ``SELECT``, and names the asset ``native`` or ``<code>:<issuer>``.  Amounts are exact
decimals (PostgreSQL ``NUMERIC``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.fixture_files import CONFIGS_DIR, EVENTS_DIR, read_jsonl

# The SQL contract (sample_components/account_balance/README.md), for the default table.
UPSERT = (
    "INSERT INTO balances AS b (account, asset, amount) VALUES ($1, $2, $3) "
    "ON CONFLICT (account, asset) DO UPDATE SET amount = b.amount + EXCLUDED.amount"
)
SELECT = "SELECT amount::text FROM balances WHERE account = $1 AND asset = $2"
#: The ``source-component`` of the sample's output events.
SOURCE = "account-balance-processor"


def transfers() -> list[dict[str, Any]]:
    """The token-transfer events of ``fixtures/events/token_transfers.jsonl``."""
    return read_jsonl(EVENTS_DIR / "token_transfers.jsonl")


def config_text() -> str:
    """The sample's fixture configuration (``fixtures/configs/account_balance.json``)."""
    return (CONFIGS_DIR / "account_balance.json").read_text(encoding="utf-8")


def asset_key(asset: dict[str, Any]) -> str:
    if asset["asset-type"] == "native":
        return "native"
    return f"{asset['asset-code']}:{asset['asset-issuer']}"


def expected_balances(events: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
    """The oracle: debit ``from``, credit ``to``, exact decimals."""
    bal: dict[tuple[str, str], Decimal] = {}
    for e in events:
        t = e["data"]["token-transfer"]
        key = asset_key(t["asset"])
        amount = Decimal(t["amount"])
        bal[(t["from"], key)] = bal.get((t["from"], key), Decimal(0)) - amount
        bal[(t["to"], key)] = bal.get((t["to"], key), Decimal(0)) + amount
    return bal


def pg_text(d: Decimal) -> str:
    """A NUMERIC's text form, near enough for the fake (no exponent)."""
    return format(d, "f")
