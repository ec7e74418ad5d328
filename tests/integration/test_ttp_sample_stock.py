"""The TTP sample component, run on *stock* wasmtime-py, against the committed fixtures.

The expected outputs are the oracle's (``tests/oracles/ttp.py``, a pure-Python reading of the
design document's Rust TTP), committed as ``fixtures/expected/ttp/*.jsonl``; the host is the
stock one of ``tests/stock_host.py`` (``logging``, ``metrics`` and ``config`` defined with
``add_func``, no WASI: the sample is built with ``--stub-wasi``).

The checks: the expected files are the oracle's output; the component's real outputs equal them
for every fixture and both configurations (error *cases* compared, not messages); process-batch
equals the concatenation of process-event outputs; get-info, validate-config, health-check,
metrics, imports.

Tests that build or run the component are marked ``slow`` (the build takes ~15-30 s, compiling
the 18 MB component ~10 s; both happen once per module).  The oracle/fixture checks are fast.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sample_components import build as build_module
from tests import stock_host
from tests.fixture_files import read_jsonl
from tests.oracles.ttp import (
    CONFIG_NAMES,
    DOC_METRICS,
    DOC_SCHEMA,
    EVENT_SETS,
    expected_path,
    load_config,
    load_events,
    oracle_config,
    oracle_expected,
    oracle_process,
    rust_f64,
)
from tests.stock_host import CONFIG, LOGGING, METRICS, PROCESSOR, StockHost, result_of
from tests.stock_json import from_stock

# fixtures (tests/stock_host.py): the sample built and compiled once, fresh instances per test
wasm = stock_host.sample_wasm("ttp_processor")
engine = stock_host.engine
component = stock_host.component
host = stock_host.host


# =============================================================================== fast checks


@pytest.mark.parametrize("config", CONFIG_NAMES)
@pytest.mark.parametrize("events", EVENT_SETS)
def test_expected_files_are_the_oracle_output(events: str, config: str) -> None:
    committed = read_jsonl(expected_path(events, config))
    assert committed == oracle_expected(events, config), (
        "fixtures/expected/ttp is stale: run "
        "`python -m tests.oracles.ttp --write-expected` and review"
    )


def test_fixture_shapes() -> None:
    txs = load_events("ttp_transactions")
    assert len(txs) >= 40
    assert len({e["id"] for s in EVENT_SETS for e in load_events(s)}) == sum(
        len(load_events(s)) for s in EVENT_SETS
    ), "event ids must be unique across fixtures"
    account = re.compile(r"G[A-Z2-7]{55}")
    kinds: Counter[str] = Counter()
    memos: Counter[str] = Counter()
    for e in txs:
        tx = e["data"]["stellar-transaction"]
        assert re.fullmatch(r"[0-9a-f]{64}", tx["hash"])
        assert account.fullmatch(tx["source-account"])
        assert 1 <= len(tx["operations"]) <= 5 or not tx["operations"]
        memos[tx["memo"]["memo-type"] if tx["memo"] else "null"] += 1
        for op in tx["operations"]:
            kinds[op["operation-type"]] += 1
            body = json.loads(op["body"])
            for key in ("destination", "source"):
                if key in body:
                    assert account.fullmatch(body[key])
    assert {
        "payment",
        "path-payment-strict-receive",
        "path-payment-strict-send",
        "claim-claimable-balance",
        "manage-data",
        "change-trust",
    } <= set(kinds)
    assert {"none", "text", "id", "hash", "return", "null"} <= set(memos)
    assert any(e["data"]["stellar-transaction"]["result-code"] == "tx_failed" for e in txs)
    assert all("stellar-transaction" not in e["data"] for e in load_events("non_transaction"))


def test_malformed_fixtures_declare_their_error_case() -> None:
    """Each malformed event names the error case it yields with every extraction enabled."""
    lines = {x["input-id"]: x for x in read_jsonl(expected_path("ttp_malformed", "ttp_all"))}
    for event in load_events("ttp_malformed"):
        declared = dict(map(tuple, event["metadata"]))["fixture.expected-error"]
        assert list(lines[event["id"]]["err"]) == [declared], event["id"]


def test_oracle_on_the_design_documents_example() -> None:
    """The document's `test_payment_extraction`, through the oracle."""
    cfg = {
        "network_passphrase": "Test SDF Network ; September 2015",
        "min_amount": 1.0,
        "extract_path_payments": True,
        "extract_claimable_balances": False,
    }
    tx = {
        "hash": "test-hash",
        "source-account": "GTEST...",
        "sequence-number": 1,
        "fee": 100,
        "time-bounds": None,
        "memo": None,
        "signatures": [],
        "result-code": None,
        "result-meta": None,
        "operations": [
            {
                "operation-type": "payment",
                "source-account": None,
                "result": None,
                "body": '{"destination": "GDEST...", "amount": "10.0",'
                ' "asset": {"type": "native"}}',
            }
        ],
    }
    event = {
        "id": "test-event-1",
        "timestamp": 1234567890,
        "source-component": "stellar-source",
        "event-type": "transaction",
        "data": {"stellar-transaction": tx},
        "metadata": [],
    }
    (out,) = oracle_process(event, cfg)["ok"]
    assert out["event-type"] == "token-transfer"
    transfer = out["data"]["token-transfer"]
    assert (transfer["from"], transfer["to"], transfer["amount"]) == (
        "GTEST...",
        "GDEST...",
        "10.0",
    )
    assert transfer["asset"]["asset-type"] == "native"
    assert rust_f64("1.") == 1.0
    for bad in ("", " 1", "1_0", "0x10", "1e", ".", "1,0"):
        with pytest.raises(ValueError, match="invalid float literal"):
            rust_f64(bad)


def _initialized(host: Any, config: str) -> StockHost:
    text = load_config(config)
    h: StockHost = host(text)
    assert h.initialize(text) == ("ok", None)
    return h


# =============================================================================== component checks


@pytest.mark.slow
def test_imports_only_logging_metrics_config(engine: Any, component: Any) -> None:
    imports = set(component.type.imports(engine))
    assert imports == {LOGGING, METRICS, CONFIG}
    assert not [name for name in imports if name.startswith("wasi:")]
    assert PROCESSOR in set(component.type.exports(engine))


@pytest.mark.slow
def test_build_is_skipped_when_inputs_are_unchanged(wasm: Path) -> None:
    again = build_module.build_sample("ttp_processor")
    assert not again.built
    assert Path(again.path) == wasm
    stamp = wasm.with_name(wasm.name + ".inputs.sha256").read_text().strip()
    assert stamp == build_module.inputs_digest("ttp_processor")


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="componentize-py 0.25.1 is not byte-reproducible: WASI stub modules come in "
    "HashMap order and the pre-initialised heap holds build-time randomness, clocks and "
    "temp-file inode metadata (bytecodealliance/componentize-py#247)",
)
def test_rebuild_is_byte_identical(wasm: Path, tmp_path: Path) -> None:
    import hashlib

    rebuilt = build_module.build_sample("ttp_processor", tmp_path, force=True)
    # compare digests, not the 18 MB bytes: pytest's diff of two large byte strings never ends
    assert rebuilt.sha256 == hashlib.sha256(wasm.read_bytes()).hexdigest()


@pytest.mark.slow
def test_get_info(host: Any) -> None:
    info = from_stock(host().call("get-info"))
    schema = json.loads(info.pop("configuration-schema"))
    assert info == {
        "name": "Token Transfer Pattern Processor",
        "version": "1.0.0",
        "author": "Obsrvr Team",
        "description": "Extracts token transfer patterns from Stellar transactions",
        "supported-event-types": ["transaction"],
        "output-event-types": ["token-transfer"],
        "capabilities-required": ["logging", "metrics", "config"],
    }
    # two deliberate deviations from the design document's schema: `network_passphrase` has
    # minLength 1, because initialize refuses "" (the conformance suite's LIFE-002 found the
    # published schema accepting a config the component rejects), and `examples` holds the
    # fixtures' config, so `pytest --component ttp_processor.wasm` needs no --component-config
    fixed = json.loads(json.dumps(DOC_SCHEMA))
    fixed["properties"]["network_passphrase"]["minLength"] = 1
    fixed["examples"] = [json.loads(load_config("ttp"))]
    assert schema == fixed


PASS = "Test SDF Network ; September 2015"
CONFIG_CASES = [
    # (id, config text, accepted?)
    ("doc-config", load_config("ttp"), True),
    ("all-config", load_config("ttp_all"), True),
    ("passphrase-only", json.dumps({"network_passphrase": PASS}), True),
    ("min-amount-int", json.dumps({"network_passphrase": PASS, "min_amount": 5}), True),
    ("unknown-keys-ignored", json.dumps({"network_passphrase": PASS, "extra": [1, 2]}), True),
    ("whitespace-passphrase", json.dumps({"network_passphrase": " "}), True),
    ("not-json", "{network_passphrase: x}", False),
    ("empty-text", "", False),
    ("json-array", json.dumps([PASS, 1.0, True, False]), False),
    ("json-string", json.dumps(PASS), False),
    ("missing-passphrase", json.dumps({"min_amount": 1.0}), False),
    ("empty-passphrase", json.dumps({"network_passphrase": ""}), False),
    ("passphrase-number", json.dumps({"network_passphrase": 42}), False),
    ("passphrase-null", json.dumps({"network_passphrase": None}), False),
    ("min-amount-string", json.dumps({"network_passphrase": PASS, "min_amount": "1.0"}), False),
    ("min-amount-null", json.dumps({"network_passphrase": PASS, "min_amount": None}), False),
    ("min-amount-bool", json.dumps({"network_passphrase": PASS, "min_amount": True}), False),
    ("min-amount-nan", '{"network_passphrase": "x", "min_amount": NaN}', False),
    (
        "flag-string",
        json.dumps({"network_passphrase": PASS, "extract_path_payments": "true"}),
        False,
    ),
    ("flag-int", json.dumps({"network_passphrase": PASS, "extract_claimable_balances": 1}), False),
    ("duplicate-key", '{"network_passphrase": "a", "network_passphrase": "b"}', False),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "accepted"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_validate_config_and_initialize(host: Any, text: str, accepted: bool) -> None:
    h = host()
    validated = result_of(h.call("validate-config", text))
    initialized = h.initialize(text)
    if accepted:
        assert validated == ("ok", None)
        assert initialized == ("ok", None)
    else:
        assert validated[0] == "err"
        assert list(validated[1]) == ["configuration-error"]
        assert initialized[0] == "err"
        assert list(initialized[1]) == ["configuration-error"]
        # still not initialized: processing refuses rather than trapping
        event = load_events("ttp_transactions")[0]
        assert h.process_event(event) == ("err", {"configuration-error": "not initialized"})


@pytest.mark.slow
def test_processing_before_initialize_is_a_configuration_error(host: Any) -> None:
    h = host()
    events = load_events("ttp_transactions")[:3]
    assert h.process_event(events[0]) == ("err", {"configuration-error": "not initialized"})
    assert h.process_batch(events) == ("err", {"configuration-error": "not initialized"})
    assert h.metrics == []


def _compare(
    events: list[dict[str, Any]], got: list[tuple[str, Any]], expected: list[dict[str, Any]]
) -> None:
    assert len(got) == len(expected) == len(events)
    for event, (kind, value), want in zip(events, got, expected, strict=True):
        assert want["input-id"] == event["id"]
        if "ok" in want:
            assert (kind, value) == ("ok", want["ok"]), event["id"]
        else:
            assert kind == "err", (event["id"], value)
            assert list(value) == list(want["err"]), (event["id"], value, want["err"])


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIG_NAMES)
@pytest.mark.parametrize("events", EVENT_SETS)
def test_process_event_matches_expected(host: Any, events: str, config: str) -> None:
    h = _initialized(host, config)
    inputs = load_events(events)
    got = [h.process_event(e) for e in inputs]
    _compare(inputs, got, read_jsonl(expected_path(events, config)))


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIG_NAMES)
def test_process_batch_is_the_concatenation_of_process_event(host: Any, config: str) -> None:
    inputs = [e for name in EVENT_SETS for e in load_events(name)]
    expected = [x for name in EVENT_SETS for x in read_jsonl(expected_path(name, config))]
    h = _initialized(host, config)
    kind, outputs = h.process_batch(inputs)
    assert kind == "ok"
    assert outputs == [o for x in expected if "ok" in x for o in x["ok"]]
    errors = sum("err" in x for x in expected)
    (batch,) = [m for m in h.metrics if m[1] == "batch_processed"]
    assert batch[3] == {
        "batch_size": str(len(inputs)),
        "success_count": str(len(inputs) - errors),
        "error_count": str(errors),
    }
    failed_logs = [entry for entry in h.logs if entry[1] == "Failed to process event in batch"]
    assert len(failed_logs) == errors
    assert all(level == "error" for level, _, _ in failed_logs)


@pytest.mark.slow
def test_metrics_names_and_totals(host: Any) -> None:
    config = "ttp_all"
    inputs = [e for name in EVENT_SETS for e in load_events(name)]
    expected = [x for name in EVENT_SETS for x in read_jsonl(expected_path(name, config))]
    transactions_ok = sum(
        1
        for e, x in zip(inputs, expected, strict=True)
        if "ok" in x and "stellar-transaction" in e["data"]
    )
    skipped = sum("stellar-transaction" not in e["data"] for e in inputs)
    transfers = sum(len(x.get("ok", [])) for x in expected)

    per_event = _initialized(host, config)
    for e in inputs:
        per_event.process_event(e)
    batch = _initialized(host, config)
    batch.process_batch(inputs)
    for h in (per_event, batch):
        assert h.counter_total("events_processed") == transactions_ok
        assert h.counter_total("token_transfers_extracted") == transfers
        assert h.counter_total("events_skipped") == skipped
        assert {tags.get("reason") for _, n, _, tags in h.metrics if n == "events_skipped"} == {
            "not_transaction"
        }
    # one histogram per processed event, one (aggregated) per batch
    assert sum(n == "processing_time_ms" for _, n, _, _ in per_event.metrics) == transactions_ok
    assert sum(n == "processing_time_ms" for _, n, _, _ in batch.metrics) == 1
    # at most a handful of host calls for a whole batch
    assert len(batch.metrics) == 6
    assert len([m for m in batch.logs if m[0] != "error"]) == 3  # 2 from initialize + 1 summary
    batch.call("shutdown")
    names = {n for h in (per_event, batch) for _, n, _, _ in h.metrics}
    assert names == DOC_METRICS
    assert batch.counter_total("processor_shutdown") == 1
    # no per-event logging at info level
    assert [
        m
        for m in per_event.logs
        if m[1] not in ("TTP Processor initializing", "TTP Processor initialized")
    ] == []


@pytest.mark.slow
def test_health_check(host: Any) -> None:
    text = load_config("ttp")
    h = host(text)
    status = from_stock(h.call("health-check"))
    assert (status["status"], status["message"]) == ("unknown", "not initialized")
    assert h.initialize(text) == ("ok", None)
    event = load_events("ttp_transactions")[0]
    h.process_event(event)
    status = from_stock(h.call("health-check"))
    assert status == {
        "status": "healthy",
        "message": None,
        "timestamp": event["timestamp"],
        "details": [["status", "healthy"], ["config_accessible", "true"]],
    }
    h.config.pop("network_passphrase")  # the host's config capability no longer has the key
    status = from_stock(h.call("health-check"))
    assert status["status"] == "degraded"
    assert status["details"] == [["status", "degraded"], ["config_accessible", "false"]]
    h.call("shutdown")
    assert from_stock(h.call("health-check"))["status"] == "unknown"
    assert h.process_event(event) == ("err", {"configuration-error": "not initialized"})


def _odd_events() -> list[dict[str, Any]]:
    base = load_events("ttp_transactions")[10]
    tx = base["data"]["stellar-transaction"]
    many = dict(
        tx,
        operations=[
            dict(
                tx["operations"][0], body=json.dumps({"destination": "G" * 56, "amount": f"{i}.5"})
            )
            for i in range(300)
        ],
    )
    weird_body = dict(
        tx,
        operations=[
            dict(
                tx["operations"][0],
                body=json.dumps(
                    {
                        "destination": "🚀\u0000\U0010ffff",
                        "amount": "1e308",
                        "asset": {"type": "native"},
                    }
                ),
            )
        ],
    )
    huge = dict(
        tx,
        operations=[
            dict(
                tx["operations"][0],
                body=json.dumps({"destination": "G" + "x" * 200_000, "amount": "3"}),
            )
        ],
    )
    empty = {
        "hash": "",
        "source-account": "",
        "sequence-number": 2**64 - 1,
        "fee": 0,
        "time-bounds": {"min-time": 2**64 - 1, "max-time": 0},
        "memo": None,
        "operations": [],
        "signatures": [],
        "result-code": None,
        "result-meta": None,
    }
    return [
        dict(base, id="odd-300-ops", data={"stellar-transaction": many}),
        dict(
            base,
            id="odd-unicode",
            data={"stellar-transaction": weird_body},
            metadata=[["k" * 1000, "\u2603"]] * 50,
        ),
        dict(base, id="odd-200k-destination", data={"stellar-transaction": huge}),
        dict(
            base,
            id="",
            timestamp=2**64 - 1,
            **{"source-component": ""},
            data={"stellar-transaction": empty},
            metadata=[],
        ),
        dict(base, id="odd-generic", data={"generic": "x" * 100_000}),
    ]


@pytest.mark.slow
def test_well_typed_odd_inputs_never_trap(host: Any) -> None:
    h = _initialized(host, "ttp_all")
    cfg = oracle_config(load_config("ttp_all"))
    for event in _odd_events():
        kind, value = h.process_event(event)  # a trap would raise here
        want = oracle_process(event, cfg)
        if "ok" in want:
            assert (kind, value) == ("ok", want["ok"]), event["id"]
        else:
            assert kind == "err"
            assert list(value) == list(want["err"])
    assert h.process_batch(_odd_events())[0] == "ok"
