"""Value conversion: our layer vs stock wasmtime-py, side by side, batch of 100 typed events.

Typed event = a stellar-transaction with 3 payment operations (the shape of the notes'
measurements).  `echo` returns the batch (lower + guest + lift of 100 events); `noop` returns an
empty list (lowering dominates).  `host-only` is our lower + lift without entering the guest.
Target (issue #3): host conversion (lower + lift) <= 100 us per typed event in a batch of 100.

Run: python -m pytest benchmarks -p no:xdist --benchmark-only
"""

from __future__ import annotations

from typing import Any

import pytest
from wasmtime import Store
from wasmtime.component import Linker

from reference_host import types as t
from reference_host.abi import schema as s
from reference_host.abi.call import GuestFunc
from reference_host.abi.lift import decoder
from reference_host.abi.lower import Arena, encoder, lower_into
from reference_host.abi.stock import from_stock, to_stock
from reference_host.engine import HostEngine
from tests.guests.build import build_guest

BATCH = 100


def typed_event(i: int) -> t.Event:
    ops = [
        t.StellarOperation(
            t.OperationType.PAYMENT,
            None,
            f'{{"destination":"GDEST{k}","amount":"{i}.5","asset":{{"type":"native"}}}}',
            t.OperationResult("op_success"),
        )
        for k in range(3)
    ]
    tx = t.StellarTransaction(
        hash="a" * 64,
        source_account="G" + "A" * 55,
        sequence_number=1000 + i,
        fee=100,
        time_bounds=t.TimeBounds(0, 2**32),
        memo=t.Memo(t.MemoType.TEXT, "m"),
        operations=ops,
        signatures=["sig-" + "b" * 60],
        result_code="tx_success",
    )
    metadata = [("ledger", str(i)), ("network", "testnet")]
    return t.Event(
        f"ev-{i}", 1_700_000_000 + i, "stellar-source", t.EventType.TRANSACTION, tx, metadata
    )


EVENTS = [typed_event(i) for i in range(BATCH)]


class Guest:
    def __init__(self, name: str) -> None:
        self.host = HostEngine()
        comp = self.host.load(build_guest(name)).component
        self.store = Store(self.host.engine)
        self.store.set_epoch_deadline(1 << 40)
        inst = Linker(self.host.engine).instantiate(self.store, comp)
        iface = inst.get_export_index(self.store, "obsrvr:flowctl/processor@1.0.0")
        idx = inst.get_export_index(self.store, "process-batch", iface)
        self.stock = inst.get_func(self.store, idx)
        self.ours = GuestFunc(self.stock, s.INTERFACES["processor"]["process-batch"])
        fty = self.stock.type(self.store)
        self.param_vt = fty.params[0][1]
        self.result_vt = fty.result

    def call_ours(self) -> Any:
        return self.ours(self.store._context(), EVENTS)

    def call_stock(self) -> Any:
        raw = self.stock(self.store, to_stock(s.EVENTS, EVENTS, self.param_vt))
        return from_stock(s.EVENTS_RESULT, raw, self.result_vt)


@pytest.fixture(scope="module", params=["echo", "noop"])
def guest(request: pytest.FixtureRequest) -> Guest:
    return Guest(request.param)


@pytest.mark.parametrize("variant", ["ours", "stock"])
def test_process_batch_100_typed_events(
    benchmark: Any, guest: Guest, variant: str, record_median: Any, request: pytest.FixtureRequest
) -> None:
    fn = guest.call_ours if variant == "ours" else guest.call_stock
    out = fn()
    expected = EVENTS if "echo" in request.node.callspec.id else []
    assert out == t.Ok(expected)  # both paths give the same, correct answer
    benchmark.group = f"process-batch x100 ({request.node.callspec.id.split('-')[0]})"
    benchmark.pedantic(fn, rounds=15 if variant == "stock" else 60, iterations=1, warmup_rounds=2)
    record_median(f"{benchmark.group}", variant, benchmark.stats.stats.median, BATCH)


def test_host_only_lower_plus_lift(benchmark: Any, record_median: Any) -> None:
    enc = [encoder(s.EVENTS)]
    dec = decoder(s.EVENTS)
    arena = Arena(1 << 20)

    def roundtrip() -> Any:
        a = lower_into(arena, enc, (EVENTS,))
        return dec(a.base)

    assert roundtrip() == EVENTS
    benchmark.group = "host-only lower+lift x100"
    benchmark.pedantic(roundtrip, rounds=60, iterations=1, warmup_rounds=2)
    record_median(benchmark.group, "ours", benchmark.stats.stats.median, BATCH)
