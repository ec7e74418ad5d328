"""Each defective TTP variant (sample_components/ttp_variants) through the reference host.

Every test runs the same input through the unmodified TTP sample and through one variant, and
shows the variant's defect against the sample's behaviour -- so it fails if the defect were
absent (or if the sample acquired it).  Directly with the host library (``ProcessorInstance``)
or the ``flowctl-host run`` command, not through the conformance suite
(``test_suite_ttp_variants.py`` does that).  Slow: builds the sample and the 11 variants once
(cached by their inputs digests) and compiles each (~8 s).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import data
from reference_host import errors
from reference_host import types as t
from reference_host.capabilities.config import ConfigCapability
from reference_host.capabilities.logging import LoggingCapability
from reference_host.capabilities.metrics import MetricsCapability
from reference_host.cli import EXIT_EVENTS_FAILED, EXIT_OK
from reference_host.cli import main as flowctl_host
from reference_host.engine import HostEngine, LoadedComponent
from reference_host.jsonform import event_to_json
from reference_host.limits import ResourceLimits
from reference_host.processor import ProcessorInstance

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures"
TTP_JSON = FIX / "configs" / "ttp.json"
TTP = "ttp"  # the unmodified sample, next to the variants' names
FUEL = 50_000_000


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def wasm() -> dict[str, Path]:
    from sample_components.build import build_sample
    from sample_components.ttp_variants.build import build_variants

    return {TTP: build_sample("ttp_processor").path, **build_variants()}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compile-cache")


@pytest.fixture(scope="module")
def host(cache: Path) -> HostEngine:
    return HostEngine(ResourceLimits(max_fuel=1).engine_config(), cache_dir=cache)


@pytest.fixture(scope="module")
def loaded(host: HostEngine, wasm: dict[str, Path]) -> dict[str, LoadedComponent]:
    """Compiled components by name, compiled on first use."""

    class Lazy(dict[str, LoadedComponent]):
        def __missing__(self, name: str) -> LoadedComponent:
            self[name] = host.load(wasm[name])
            return self[name]

    return Lazy()


class Guest:
    """One instance of the sample or a variant, with the capabilities the TTP imports."""

    def __init__(
        self,
        host: HostEngine,
        component: LoadedComponent,
        config: str,
        *,
        initialize: bool = True,
        **limits: Any,
    ) -> None:
        self.log = LoggingCapability("ttp", forward=False)
        self.metrics = MetricsCapability("ttp")
        self.proc = ProcessorInstance(
            host,
            component,
            limits=ResourceLimits(max_fuel=FUEL, **limits),
            capabilities=[self.log, self.metrics, ConfigCapability.from_json_text(config)],
            component_id="ttp",
        )
        if initialize:
            self.proc.initialize(config)

    def outcome(self, event: t.Event) -> tuple[str, Any]:
        """``("ok", [output json])``, ``("err", case)`` or ``("trap", trap class name)``."""
        try:
            return "ok", [event_to_json(o) for o in self.proc.process_event(event)]
        except errors.ProcessorErrorResult as exc:
            return "err", exc.error.case
        except errors.GuestTrap as exc:
            return "trap", type(exc).__name__


@pytest.fixture
def guest(host: HostEngine, loaded: dict[str, LoadedComponent]) -> Iterator[Any]:
    """``guest(name, config=ttp.json, initialize=True, **limits)``; closed after the test."""
    made: list[Guest] = []

    def make(
        name: str, config: str | None = None, *, initialize: bool = True, **limits: Any
    ) -> Guest:
        g = Guest(
            host,
            loaded[name],
            TTP_JSON.read_text() if config is None else config,
            initialize=initialize,
            **limits,
        )
        made.append(g)
        return g

    yield make
    for g in made:
        g.proc.close()


def load_events(name: str) -> list[t.Event]:
    return data.load_events(FIX / "events" / name)


def load_expected(name: str) -> dict[str, Any]:
    lines = (FIX / "expected" / "ttp" / name).read_text().splitlines()
    return {row["input-id"]: row for row in map(json.loads, filter(str.strip, lines))}


def ids(outputs: list[t.Event]) -> list[str]:
    return [o.id for o in outputs]


def tx(event: t.Event) -> t.StellarTransaction:
    assert isinstance(event.data, t.StellarTransaction)
    return event.data


def memo(event: t.Event) -> t.Memo | None:
    return event.data.memo if isinstance(event.data, t.StellarTransaction) else None


TRANSACTIONS = load_events("ttp_transactions.jsonl")
MALFORMED = load_events("ttp_malformed.jsonl")
NON_TRANSACTION = load_events("non_transaction.jsonl")


# ----------------------------------------------------------------------------- the variants


def test_lenient_malformed_drops_bad_payments_instead_of_failing(guest: Any) -> None:
    ttp, variant = guest(TTP), guest("lenient-malformed")
    expected = load_expected("ttp_malformed__ttp.jsonl")
    changed = {}
    for event in MALFORMED:
        want, got = ttp.outcome(event), variant.outcome(event)
        if "err" in expected[event.id]:
            assert want == ("err", "processing-failed"), event.id
        if got != want:
            changed[event.id] = got
            assert want == ("err", "processing-failed"), event.id
    ops = {e.id: {str(op.operation_type) for op in tx(e).operations} for e in MALFORMED}
    payment_errors = {
        e.id for e in MALFORMED if ops[e.id] == {"payment"} and "err" in expected[e.id]
    }
    # every malformed payment now "succeeds"; path payments still fail as in the sample
    assert set(changed) == payment_errors and len(payment_errors) == 22
    assert changed["malformed-01-not-json"] == ("ok", [])
    # the good payment before the bad one is emitted alone, as if the event were fine
    (first,) = changed["malformed-30-second-op-bad"][1]
    assert first["data"]["token-transfer"]["operation-index"] == 0
    assert variant.outcome(next(e for e in MALFORMED if "path" in e.id)) == (
        "err", "processing-failed"
    )  # fmt: skip


def test_counter_ids_change_when_the_same_events_are_processed_again(guest: Any) -> None:
    def two_passes(name: str) -> tuple[list[str], list[str]]:
        g = guest(name)
        first = [i for ev in TRANSACTIONS for i in ids(g.proc.process_event(ev))]
        second = [i for ev in TRANSACTIONS for i in ids(g.proc.process_event(ev))]
        return first, second

    ttp_first, ttp_second = two_passes(TTP)
    assert ttp_first == ttp_second
    first, second = two_passes("counter-ids")
    assert len(first) == len(ttp_first) == len(set(first))  # still unique, still one per transfer
    assert set(first).isdisjoint(second)  # ...but the same input gives other ids the second time
    assert first != ttp_first and first[-1].endswith(f"-transfer-{len(first) - 1}")
    assert two_passes("counter-ids")[0] == first  # the same sequence on every fresh instance


def test_dedupe_hashes_skip_a_transaction_seen_before(guest: Any) -> None:
    event = next(e for e in TRANSACTIONS if len(e.data.operations) >= 2)  # type: ignore[union-attr]
    ttp, variant = guest(TTP), guest("dedupe-hashes")
    want = ttp.proc.process_event(event)
    assert want and ttp.proc.process_event(event) == want
    assert variant.proc.process_event(event) == want
    assert variant.proc.process_event(event) == []  # "already seen": no transfers the 2nd time
    # a replayed ledger (another event id, same transaction) is skipped as well
    replay = dataclasses.replace(event, id=event.id + "-replayed")
    assert ttp.proc.process_event(replay) and variant.proc.process_event(replay) == []


def test_validate_mutates_the_live_config(guest: Any) -> None:
    ttp_all = (FIX / "configs" / "ttp_all.json").read_text()
    under_ttp = load_expected("ttp_transactions__ttp.jsonl")
    under_all = load_expected("ttp_transactions__ttp_all.jsonl")
    differing = [e for e in TRANSACTIONS if under_ttp[e.id]["ok"] != under_all[e.id]["ok"]]
    assert differing
    for name, expected in ((TTP, under_ttp), ("validate-mutates", under_all)):
        g = guest(name)  # initialized with ttp.json (min_amount 1.0, no claims)
        g.proc.validate_config(ttp_all)  # only validated, never initialized
        for event in differing:
            got = [event_to_json(o) for o in g.proc.process_event(event)]
            assert got == expected[event.id]["ok"], (name, event.id)


def test_logs_secret_writes_the_api_key_into_the_log(guest: Any) -> None:
    secret = "sk_live_4f9a1c0e7b2d"
    config = json.dumps({**json.loads(TTP_JSON.read_text()), "api_key": secret})
    ttp, variant = guest(TTP, config), guest("logs-secret", config)
    schema = json.loads(variant.proc.get_info().configuration_schema or "")
    assert schema["properties"]["api_key"] == {
        "type": "string", "writeOnly": True, "description": schema["properties"]["api_key"]["description"]
    }  # fmt: skip
    assert "api_key" not in json.loads(ttp.proc.get_info().configuration_schema or "")["properties"]

    def leaked(g: Guest) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
        return [
            (r.message, r.fields)
            for r in g.log.records
            if secret in r.message or any(secret in v for _k, v in r.fields)
        ]

    assert leaked(ttp) == []  # the sample ignores the unknown key
    ((message, fields),) = leaked(variant)
    assert message == "TTP Processor initialized" and ("api_key", secret) in fields
    # api_key is validated (a string), and otherwise the variant is the sample
    bad = json.dumps({**json.loads(TTP_JSON.read_text()), "api_key": 5})
    ttp.proc.validate_config(bad)
    with pytest.raises(errors.ProcessorErrorResult, match="api_key"):
        variant.proc.validate_config(bad)
    assert [variant.outcome(e) for e in TRANSACTIONS] == [ttp.outcome(e) for e in TRANSACTIONS]


def _memo_event(size: int) -> t.Event:
    event = TRANSACTIONS[0]
    text = t.Memo(t.MemoType.TEXT, "x" * size)
    return dataclasses.replace(event, data=dataclasses.replace(tx(event), memo=text))


def test_history_leak_keeps_every_event_until_memory_runs_out(guest: Any) -> None:
    event = _memo_event(256 * 1024)  # 256 KiB of memo text: 64 of them are 16 MiB
    calls = 120
    ttp, variant = guest(TTP), guest("history-leak")
    for _ in range(calls):  # the sample frees each event: it never runs out
        assert ttp.proc.process_event(event)
    assert ttp.proc.recycles == 0
    done = 0
    for _ in range(calls):
        try:
            variant.proc.process_event(event)
        except errors.GuestTrap:
            break
        done += 1
    else:
        pytest.fail(f"the variant processed {calls} such events: nothing is kept")
    assert 0 < done < 64  # default 256 pages (16 MiB): a few MiB retained are enough
    assert variant.proc.recycles == 1
    # the recycled instance starts empty again: it is the history, not the event
    assert variant.proc.process_event(event) == ttp.proc.process_event(event)


INVALID_CONFIGS = [
    "{}",
    "not json",
    '{"network_passphrase": 5}',
    '{"network_passphrase": "x", "min_amount": "1"}',
    '{"network_passphrase": "x", "extract_path_payments": "yes"}',
]


@pytest.mark.parametrize("config", INVALID_CONFIGS)
def test_lenient_initialize_accepts_what_validate_config_rejects(guest: Any, config: str) -> None:
    for name in (TTP, "lenient-initialize"):
        g = guest(name, config, initialize=False)
        with pytest.raises(errors.ProcessorErrorResult) as exc:
            g.proc.validate_config(config)
        assert exc.value.error.case == "configuration-error"
        if name == TTP:
            with pytest.raises(errors.ProcessorErrorResult) as exc:
                g.proc.initialize(config)
            assert exc.value.error.case == "configuration-error"
        else:
            g.proc.initialize(config)  # accepted: the bad fields fell back to their defaults
            assert g.proc.health_check().status is not None
            assert g.proc.process_event(TRANSACTIONS[0])  # min_amount 0: the 10 XLM payment


def test_lenient_initialize_runs_on_defaults(guest: Any) -> None:
    # "min_amount": "1" is not a number: the variant runs with min_amount 0 (dust included)
    config = '{"network_passphrase": "Test SDF Network ; September 2015", "min_amount": "1"}'
    variant = guest("lenient-initialize", config)
    strict = guest(TTP, '{"network_passphrase": "Test SDF Network ; September 2015"}')
    assert [variant.outcome(e) for e in TRANSACTIONS] == [strict.outcome(e) for e in TRANSACTIONS]


def test_batch_index_bug_traps_every_batch_while_process_event_is_unchanged(guest: Any) -> None:
    ttp, variant = guest(TTP), guest("batch-index-bug")
    events = TRANSACTIONS[:20]
    singles = [o for ev in events for o in ttp.proc.process_event(ev)]
    assert [o for ev in events for o in variant.proc.process_event(ev)] == singles
    assert ttp.proc.process_batch(events) == singles
    for batch in (events, events[:1], [NON_TRANSACTION[0]]):
        with pytest.raises(errors.GuestTrap, match="unreachable"):
            variant.proc.process_batch(batch)
    assert variant.proc.recycles == 3
    assert variant.proc.process_batch([]) == ttp.proc.process_batch([]) == []


def test_batch_index_bug_is_hidden_by_flowctl_host_run_but_costs_a_recycle(
    wasm: dict[str, Path], cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `run` replays a failed batch event by event: same output, but each batch trapped once
    outputs = {}
    for name in (TTP, "batch-index-bug"):
        out = tmp_path / f"{name}.jsonl"
        code = flowctl_host([
            "run", str(wasm[name]), "--config", str(TTP_JSON), "--cache-dir", str(cache),
            "--max-fuel", str(FUEL), "--batch-size", "10", "--summary",
            "--input", str(FIX / "events" / "ttp_transactions.jsonl"), "--output", str(out),
        ])  # fmt: skip
        assert code == EXIT_OK
        outputs[name] = (out.read_text(), capsys.readouterr().err)
    assert outputs[TTP][0] == outputs["batch-index-bug"][0]
    assert "0 failed, 0 recycles" in outputs[TTP][1]
    assert "0 failed, 6 recycles" in outputs["batch-index-bug"][1]  # 52 events, batches of 10


def test_rare_memo_trap_only_on_an_id_memo_that_is_not_a_number(guest: Any) -> None:
    ttp, variant = guest(TTP), guest("rare-memo-trap")
    # every fixture event is answered exactly as by the sample: the fixtures never trigger it
    for event in [*TRANSACTIONS, *MALFORMED, *NON_TRANSACTION]:
        assert variant.outcome(event) == ttp.outcome(event), event.id
    assert variant.proc.recycles == 0
    id_memo = next(e for e in TRANSACTIONS if (m := memo(e)) and m.memo_type is t.MemoType.ID)
    for value in ("wO", "", "12ab"):  # "wO": an id memo the suite's generator draws
        bad = t.Memo(t.MemoType.ID, value)
        event = dataclasses.replace(id_memo, data=dataclasses.replace(tx(id_memo), memo=bad))
        assert ttp.outcome(event) == ttp.outcome(id_memo) == variant.outcome(id_memo)
        assert variant.outcome(event) == ("trap", "GuestTrap"), value
    assert variant.proc.recycles == 3


def test_rare_memo_trap_is_found_by_the_covering_events(guest: Any) -> None:
    # ERR-001's covering events (conformance.coverage, one change at a time from the workload)
    # hold id memos whose value is not a number -- by construction, not by a generator's luck;
    # the fixtures' id memos are all u64 numbers
    from conformance.coverage import coverage_events

    def non_numeric_id(e: t.Event) -> bool:
        m = memo(e)
        return m is not None and m.memo_type is t.MemoType.ID and not m.memo_value.isdigit()

    assert not [e for e in TRANSACTIONS if non_numeric_id(e)]
    triggers = [e for e in coverage_events([*TRANSACTIONS, *NON_TRANSACTION]) if non_numeric_id(e)]
    assert triggers
    ttp, variant = guest(TTP), guest("rare-memo-trap")
    for event in triggers:
        assert ttp.outcome(event)[0] in ("ok", "err"), event.id
        assert variant.outcome(event) == ("trap", "GuestTrap"), event.id


def test_oom_trap_traps_under_256_pages_and_works_under_2048(
    wasm: dict[str, Path], cache: Path, tmp_path: Path
) -> None:
    large = {e.id for e in TRANSACTIONS if len(tx(e).operations) >= 3}
    assert len(large) == 16

    def run(name: str, pages: int) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        out, err = tmp_path / f"{name}-{pages}.out", tmp_path / f"{name}-{pages}.err"
        code = flowctl_host([
            "run", str(wasm[name]), "--config", str(TTP_JSON), "--cache-dir", str(cache),
            "--max-fuel", str(FUEL), "--max-memory-pages", str(pages),
            "--input", str(FIX / "events" / "ttp_transactions.jsonl"),
            "--output", str(out), "--errors", str(err),
        ])  # fmt: skip
        rows = [[json.loads(x) for x in p.read_text().splitlines()] for p in (out, err)]
        return code, rows[0], rows[1]

    code, ttp_out, ttp_err = run(TTP, 256)
    assert (code, ttp_err) == (EXIT_OK, [])
    code, out, err = run("oom-trap", 256)
    assert code == EXIT_EVENTS_FAILED
    assert {e["input-id"] for e in err} == large  # every large transaction, nothing else
    assert {(e["error"]["kind"], e["error"]["trap"]) for e in err} == {("trap", "GuestTrap")}
    assert out == [o for o in ttp_out if o["metadata"][-1][1] not in large]
    assert run("oom-trap", 2048) == (EXIT_OK, ttp_out, [])


def test_oom_trap_is_a_trap_not_resource_exhausted(guest: Any) -> None:
    event = next(e for e in TRANSACTIONS if len(tx(e).operations) >= 3)
    small = next(e for e in TRANSACTIONS if len(tx(e).operations) == 1)
    ttp, variant = guest(TTP, max_memory_pages=256), guest("oom-trap", max_memory_pages=256)
    assert ttp.outcome(event)[0] == "ok"
    assert variant.outcome(event) == ("trap", "GuestTrap")  # MemoryError escaped: not typed
    assert variant.outcome(small) == ttp.outcome(small)  # recycled, and fine below 3 operations
    roomy = guest("oom-trap", max_memory_pages=2048)
    assert roomy.outcome(event) == ttp.outcome(event)


def test_lenient_before_init_answers_non_transactions_before_initialize(guest: Any) -> None:
    ttp = guest(TTP, initialize=False)
    variant = guest("lenient-before-init", initialize=False)
    other, transaction = NON_TRANSACTION[0], TRANSACTIONS[0]
    refused = t.Err(t.ProcessorError("configuration-error", "not initialized"))
    for g in (ttp, variant):  # the transaction path still checks the config, and so does batch
        assert g.proc.call_unchecked("process-event", transaction) == refused
        assert g.proc.call_unchecked("process-batch", [other]) == refused
    assert ttp.proc.call_unchecked("process-event", other) == refused
    assert variant.proc.call_unchecked("process-event", other) == t.Ok([])
    # after initialize the two agree on every fixture event
    for g in (ttp, variant):
        g.proc.initialize(TTP_JSON.read_text())
    for event in [*TRANSACTIONS, *NON_TRANSACTION]:
        assert variant.outcome(event) == ttp.outcome(event), event.id
