"""The JavaScript account-balance sample through the reference host, on real services.

Every capability is real: PostgreSQL (embedded, a fresh schema and a role that may only touch
`balances`: defence in depth), Redis (embedded, its own DB index), an HTTP price server on
127.0.0.1, plus logging, metrics and config.  The balances the guest leaves in PostgreSQL are
checked against an independent Decimal computation over the input transfers.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from benchmarks.fault_matrix import balances
from conformance.services import start_postgres, start_redis
from reference_host import types as t
from reference_host.capabilities.key_value import KeyValueCapability
from reference_host.host import open_processor
from reference_host.jsonform import event_from_json
from reference_host.policy import policy_from_mapping

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = [
    event_from_json(json.loads(line))
    for line in (ROOT / "fixtures" / "events" / "token_transfers.jsonl").read_text().splitlines()
    if line.strip()
]


class PriceHandler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = b'{"XLM": "0.12"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def wasm() -> Path:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node/npm not installed: the JavaScript sample cannot be built")
    from sample_components.build_js import build_js_sample

    return Path(build_js_sample("account_balance").path)


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[Any, Any]]:
    with start_postgres("embedded") as pg, start_redis("embedded") as rd:
        yield pg, rd


@pytest.fixture(scope="module")
def price_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PriceHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def deployed(
    services: tuple[Any, Any], price_server: str, wasm: Path, tmp_path: Path
) -> Iterator[Any]:
    pg, rd = services
    with pg.isolated_schema("acct") as schema, rd.isolated_namespace("acct") as ns:
        pg.execute(
            f'CREATE TABLE "{schema.name}".balances (account TEXT, asset TEXT, '
            "amount NUMERIC NOT NULL, PRIMARY KEY (account, asset))"
        )
        role, password = schema.create_restricted_role(["balances"], ("SELECT", "INSERT", "UPDATE"))
        db_url = schema.role_endpoint(role, password).url
        config = {
            "table": "balances",
            "cache_ttl_seconds": 60,
            "price_url": f"http://{price_server}/price",
        }
        policy = policy_from_mapping(
            {
                "max_memory_pages": 1024,
                "execution_timeout": "30s",
                "batch_size": 25,
                "capabilities": {
                    "logging": True,
                    "metrics": True,
                    "config": True,
                    "http": {"enabled": True, "allowed_domains": [price_server]},
                    "database": {
                        "enabled": True,
                        "connection_string": db_url,
                        "allowed_tables": ["balances"],
                        "allowed_operations": ["SELECT", "INSERT", "UPDATE"],
                    },
                    "key_value": {
                        "enabled": True,
                        "backend": "redis",
                        "url": ns.url,
                        "namespace": "acct",
                    },
                },
                "processor_config": config,
            }
        )
        inst, granted = open_processor(policy, wasm, cache_dir=tmp_path.parent / "cache")
        try:
            inst.initialize(policy.processor_config)
            yield inst, granted, pg, schema, ns
        finally:
            inst.close()


def expected_balances() -> dict[tuple[str, str], Decimal]:
    return balances(EVENTS)


def test_balances_cache_and_prices_on_real_services(deployed: Any) -> None:
    inst, granted, _pg, schema, ns = deployed
    outputs = inst.process_batch(EVENTS)
    assert len(outputs) == len(EVENTS)
    assert all(o.event_type is t.EventType.ACCOUNT_UPDATED for o in outputs)
    assert {o.id for o in outputs} == {f"{e.id}-balances" for e in EVENTS}
    # PostgreSQL holds exactly the independently computed balances
    with schema.endpoint.connect() as conn:
        rows = conn.execute(
            f'SELECT account, asset, amount FROM "{schema.name}".balances'
        ).fetchall()
    assert {(a, s): Decimal(v) for a, s, v in rows} == expected_balances()
    # Redis caches the same values, under the policy's namespace, with a TTL
    client = ns.endpoint.client()
    keys = sorted(k.decode() for k in client.scan_iter(match="acct:balance:*"))
    assert len(keys) == len(rows)
    some = keys[0]
    account, asset = some.removeprefix("acct:balance:").split(":", 1)
    assert Decimal(client.get(some).decode()) == expected_balances()[(account, asset)]
    assert 0 < client.ttl(some) <= 60
    # the HTTP price was fetched from the allowed server and shows in the outputs' metadata
    assert PriceHandler.hits
    assert any(k == "price" for k, _v in outputs[0].metadata)
    http = next(c for c in granted.others if type(c).__name__ == "HttpClientCapability")
    assert http.denied_count == 0
    assert granted.metrics.series > 0
    assert inst.recycles == 0


def test_batch_equals_single_calls_on_real_services(deployed: Any) -> None:
    inst, *_ = deployed
    singles = [o for ev in EVENTS[:10] for o in inst.process_event(ev)]
    batch_ids = [o.id for o in inst.process_batch(EVENTS[:10])]
    assert [o.id for o in singles] == batch_ids


def test_the_restricted_role_is_the_last_line_of_defence(deployed: Any) -> None:
    _inst, granted, pg, schema, _ns = deployed
    sql = next(c for c in granted.others if type(c).__name__ == "DatabaseCapability")
    # a table the rules would allow but the role may not touch: the server refuses it
    pg.execute(f'CREATE TABLE "{schema.name}".secrets (v TEXT)')
    widened = type(sql.rules)(["balances", "secrets"], ["SELECT"])
    sql.rules = widened
    out = sql.query("SELECT v FROM secrets", [])
    assert isinstance(out, t.Err)
    assert out.error.case == "permission-denied"


def test_kv_capability_is_namespaced(deployed: Any) -> None:
    _inst, granted, *_ = deployed
    kv = next(c for c in granted.others if isinstance(c, KeyValueCapability))
    assert kv.rules.full_key("x") == "acct:x"
