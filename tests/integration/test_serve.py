"""``flowctl-host serve`` end to end: a real subprocess, driven the way flowctl drives a processor.

One serve process is shared by the tests that do not stop it (``served``); the tests that send
SIGTERM, need other flags or another environment start their own.  Every process is stopped by
PID in a finalizer (``serve_harness``); every wait polls with a timeout.

The oracles: ``flowctl-host run`` (a subprocess) on the same events under the same pipeline
policy for the outputs, and the host library calling ``process-event`` per event for which inputs
fail (``run`` batches with ``process-batch``, and the TTP's ``process-batch`` logs a failing event
and goes on, so ``run`` reports no error for it; ``serve`` calls ``process-event`` per event by
default and answers an error event).  ``run`` does not expand ``${VAR}`` in a pipeline, so it gets
``--config fixtures/configs/ttp.json`` (the same config, spelled out).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from reference_host.jsonform import event_to_json
from reference_host.rpc import codec
from reference_host.rpc.gen.flowctl.v1 import common_pb2, control_plane_pb2, processor_pb2_grpc
from reference_host.rpc.gen.flowctl.v1 import control_plane_pb2_grpc as cp_grpc
from tests.flowctl_control_plane import ControlPlane
from tests.integration.serve_harness import (
    PASSPHRASE,
    REPO,
    TTP_PIPELINE,
    TTP_PROCESSOR_ID,
    Orchestrator,
    ServeProcess,
    ServeStartError,
    StreamResult,
    TestConsumer,
    TimedControlPlaneService,
    fixture_events,
    get_info,
    renamed,
    run_serve,
    scrape,
    serve_argv,
    serve_env,
    start_serve,
    ttp_component,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

EVENTS = REPO / "fixtures" / "events"
ERROR_TYPE = "flowctl.error.v1"
TRANSFER_TYPE = "stellar.token.transfer.v1"
TX_TYPE = "stellar.transaction.v1"
DRAIN_TIMEOUT_S = 20.0


# --------------------------------------------------------------------------- helpers


def attribute(answer_id: str, input_ids: Sequence[str]) -> str | None:
    """The input an answer concerns: the longest input id the answer id is derived from."""
    best = None
    for input_id in input_ids:
        derived = answer_id == f"{input_id}/error" or answer_id.startswith(f"{input_id}-")
        if derived and (best is None or len(input_id) > len(best)):
            best = input_id
    return best


def normalized(data: dict[str, Any]) -> dict[str, Any]:
    """An event's JSON form with its metadata as a sorted map (the wire has a map)."""
    return {**data, "metadata": sorted(dict(map(tuple, data["metadata"])).items())}


def decoded_json(answer: common_pb2.Event) -> dict[str, Any]:
    """An output event back in the fixtures' JSON form (``codec.decode``), normalized."""
    return normalized(json.loads(json.dumps(event_to_json(codec.decode(answer)))))


def wire(events: Sequence[common_pb2.Event]) -> list[bytes]:
    return [e.SerializeToString(deterministic=True) for e in events]


def undecodable() -> list[common_pb2.Event]:
    """Events the codec cannot turn into WIT events (each answered by a decode error event)."""

    def event(eid: str, payload: bytes, content_type: str) -> common_pb2.Event:
        e = common_pb2.Event(
            id=eid, type=TX_TYPE, payload=payload, content_type=content_type,
            source_component_id="stellar-source", metadata={"ledger_sequence": "7", "k": "v"},
        )  # fmt: skip
        e.timestamp.seconds = 1_717_000_000
        e.stellar_cursor.ledger_sequence = 7
        return e

    return [
        event("undecodable-bad-json", b'{"hash": "abc", ', codec.JSON),
        event("undecodable-protobuf", b"\x08\x07\x12\x03xdr", "application/protobuf"),
        event("undecodable-not-utf8", b"\xff\xfe\xfd", codec.JSON),
        event("undecodable-wrong-shape", b'{"hash": 1}', codec.JSON),
    ]


def drive(
    served: ServeProcess,
    events: Sequence[common_pb2.Event],
    consumer: TestConsumer | None = None,
    **kwargs: Any,
) -> StreamResult:
    sink = None if consumer is None else grpc.insecure_channel(consumer.target)
    try:
        return Orchestrator(served.channel(), sink).run(events, **kwargs)
    finally:
        if sink is not None:
            sink.close()


def flowctl_host_run(tmp: Path, events_file: Path) -> tuple[list[dict[str, Any]], list[Any], int]:
    """``flowctl-host run`` on ``events_file``: (output events, error records, exit status)."""
    script = Path(sys.executable).with_name("flowctl-host")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "reference_host.cli"]
    out, errs = tmp / "run-out.jsonl", tmp / "run-errors.jsonl"
    proc = subprocess.run(
        [
            *launcher, "run", str(ttp_component()), "--policy", str(TTP_PIPELINE),
            "--processor-id", TTP_PROCESSOR_ID,
            "--input", str(events_file), "--output", str(out), "--errors", str(errs),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "TTP_NETWORK_PASSPHRASE": PASSPHRASE},  # `run` expands ${VAR} too
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return read_jsonl(out), read_jsonl(errs), proc.returncode


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def served() -> Iterator[ServeProcess]:
    """The shared serve (TTP pipeline, process-event per event), stopped by PID at the end."""
    process = start_serve()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()


@pytest.fixture(scope="module")
def consumer() -> Iterator[TestConsumer]:
    with TestConsumer() as sink:
        yield sink


@pytest.fixture(autouse=True)
def _fresh_consumer(request: pytest.FixtureRequest) -> None:
    if "consumer" in request.fixturenames:
        request.getfixturevalue("consumer").reset()


@pytest.fixture(scope="module")
def transactions() -> list[common_pb2.Event]:
    return fixture_events(EVENTS / "ttp_transactions.jsonl")


@pytest.fixture(scope="module")
def malformed() -> list[common_pb2.Event]:
    return fixture_events(EVENTS / "ttp_malformed.jsonl")


@pytest.fixture(scope="module")
def e2e_inputs(
    transactions: list[common_pb2.Event], malformed: list[common_pb2.Event]
) -> list[common_pb2.Event]:
    """Transactions, malformed transactions and undecodable events, interleaved."""
    bad = undecodable()
    return [
        bad[0], *transactions[:26], bad[1], *malformed[:15], bad[2], *transactions[26:],
        *malformed[15:], bad[3],
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run_oracle(tmp_path_factory, transactions, malformed):
    """``flowctl-host run`` on the decodable inputs: (outputs by input id, error records, rc)."""
    tmp = tmp_path_factory.mktemp("run")
    events_file = tmp / "events.jsonl"
    lines = [*(EVENTS / "ttp_transactions.jsonl").read_text("utf-8").splitlines(),
             *(EVENTS / "ttp_malformed.jsonl").read_text("utf-8").splitlines()]  # fmt: skip
    events_file.write_text("\n".join(x for x in lines if x.strip()) + "\n", "utf-8")
    outputs, errors, code = flowctl_host_run(tmp, events_file)
    ids = [e.id for e in (*transactions, *malformed)]
    by_input: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for out in outputs:
        owner = attribute(out["id"], ids)
        assert owner is not None, f"run output {out['id']} derives from no input id"
        by_input[owner].append(normalized(out))
    return by_input, errors, code


@pytest.fixture(scope="module")
def per_event_oracle(
    transactions: list[common_pb2.Event], malformed: list[common_pb2.Event]
) -> dict[str, str | None]:
    """Input id -> None (ok) or the WIT error case process-event answers, via the host library."""
    from reference_host.errors import ProcessorErrorResult
    from reference_host.host import open_processor
    from reference_host.policy import load_policy

    policy = load_policy(
        TTP_PIPELINE, TTP_PROCESSOR_ID, environ={"TTP_NETWORK_PASSPHRASE": PASSPHRASE}
    )
    instance, _ = open_processor(policy, ttp_component(), component_id=TTP_PROCESSOR_ID)
    try:
        instance.initialize(policy.processor_config)
        verdicts: dict[str, str | None] = {}
        for message in (*transactions, *malformed):
            try:
                instance.process_event(codec.decode(message))
            except ProcessorErrorResult as exc:
                verdicts[message.id] = str(exc.error.case)
            else:
                verdicts[message.id] = None
        return verdicts
    finally:
        instance.close()


@pytest.fixture(scope="module")
def batch_served() -> Iterator[ServeProcess]:
    """A serve with ``--process-batch`` (the component's batch semantics, like ``run``)."""
    process = start_serve(serve_argv("--process-batch"))
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()


# --------------------------------------------------------------------------- the harness


def test_harness_reports_a_start_that_fails_and_leaves_no_process():
    with pytest.raises(ServeStartError, match=r"TTP_NETWORK_PASSPHRASE") as exited:
        start_serve(env=serve_env({"TTP_NETWORK_PASSPHRASE": None}), timeout=30)
    assert exited.value.process.popen.returncode == 2
    script = "import sys, time; print('warming up', file=sys.stderr, flush=True); time.sleep(60)"
    with pytest.raises(ServeStartError, match=r"(?s)within 1\.0 s.*warming up") as silent:
        start_serve([sys.executable, "-c", script], timeout=1.0)
    assert silent.value.process.popen.returncode == -signal.SIGTERM  # stopped by PID


# --------------------------------------------------------------------------- 1. end to end


def check_error_event(
    answer: common_pb2.Event, message: common_pb2.Event, stage: str
) -> dict[str, Any]:
    """The documented shape of the error event answering ``message``; returns its payload."""
    assert answer.id == f"{message.id}/error"
    assert answer.type == ERROR_TYPE
    assert answer.content_type == "application/json"
    assert answer.source_component_id == TTP_PROCESSOR_ID
    body: dict[str, Any] = json.loads(answer.payload)
    assert set(body) == {"input_id", "input_type", "stage", "error"}
    assert body["input_id"] == message.id
    assert body["input_type"] == message.type
    assert body["stage"] == stage
    assert {"kind", "message"} <= set(body["error"])
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert answer.metadata["flowctl.input_id"] == message.id
    assert answer.metadata["flowctl.error.kind"] == body["error"]["kind"]
    for key, value in message.metadata.items():
        assert answer.metadata[key] == value
    assert answer.timestamp == message.timestamp
    assert answer.HasField("stellar_cursor") == message.HasField("stellar_cursor")
    if message.HasField("stellar_cursor"):
        assert answer.stellar_cursor == message.stellar_cursor
    return body


def test_every_input_is_accounted_for_in_order_and_outputs_equal_run(
    served, consumer, e2e_inputs, run_oracle, per_event_oracle
):
    outputs_of, run_errors, _code = run_oracle
    result = drive(served, e2e_inputs, consumer)

    assert result.code == grpc.StatusCode.OK, result.details
    assert result.trailing["flowctl-host-received"] == str(len(e2e_inputs))
    errors = [a for a in result.answers if a.type == ERROR_TYPE]
    assert result.trailing["flowctl-host-failed"] == str(len(errors))
    # the sink got exactly the stream's answers, in order, over its own Consume stream
    assert wire(consumer.events) == wire(result.answers)
    assert len(consumer.streams) == 1
    assert result.consumed is not None and result.consumed.events_consumed == len(result.answers)

    # per input, in input order: its outputs (as run gives them) or its error event
    decode_failures = {m.id for m in undecodable()}
    expected: list[str] = []
    for message in e2e_inputs:
        if message.id in decode_failures or per_event_oracle[message.id] is not None:
            expected.append(f"{message.id}/error")
        else:
            expected += [o["id"] for o in outputs_of[message.id]]
    assert [a.id for a in result.answers] == expected

    by_id = {m.id: m for m in e2e_inputs}
    for answer in result.answers:
        owner = attribute(answer.id, list(by_id))
        assert owner is not None, answer.id
        if answer.type == ERROR_TYPE:
            stage = "decode" if owner in decode_failures else "process"
            body = check_error_event(answer, by_id[owner], stage)
            if stage == "decode":
                assert body["error"]["kind"] == "decode"
            else:
                assert body["error"]["kind"] == "processor-error"
                assert body["error"]["case"] == per_event_oracle[owner]
        else:
            assert answer.type == TRANSFER_TYPE

    # the outputs, decoded, equal run's on the same events under the same policy
    outputs = [decoded_json(a) for a in result.answers if a.type != ERROR_TYPE]
    assert outputs == [o for m in e2e_inputs for o in outputs_of.get(m.id, [])]
    # inputs that failed process-event: error events; what run says about them (see the docstring)
    failing = {i for i, case in per_event_oracle.items() if case is not None}
    assert {attribute(a.id, list(by_id)) for a in errors} - decode_failures == failing
    assert failing, "the malformed fixture makes process-event fail"
    assert all(not outputs_of[i] for i in failing)
    assert {r.get("input-id") for r in run_errors} <= failing


def test_process_batch_mode_errors_are_exactly_runs_and_outputs_equal_run(
    batch_served, consumer, e2e_inputs, run_oracle
):
    outputs_of, run_errors, _code = run_oracle
    result = drive(batch_served, e2e_inputs, consumer)
    assert result.code == grpc.StatusCode.OK, result.details
    assert result.trailing["flowctl-host-received"] == str(len(e2e_inputs))
    ids = [m.id for m in e2e_inputs]
    errored = {attribute(a.id, ids) for a in result.answers if a.type == ERROR_TYPE}
    decode_failures = {m.id for m in undecodable()}
    assert errored - decode_failures == {r["input-id"] for r in run_errors}
    assert decode_failures <= errored
    outputs = [decoded_json(a) for a in result.answers if a.type != ERROR_TYPE]
    assert outputs == [o for i in ids for o in outputs_of.get(i, [])]
    assert wire(consumer.events) == wire(result.answers)


# --------------------------------------------------------------------------- 2. SIGTERM


def one_output_inputs(
    transactions: list[common_pb2.Event], run_oracle: Any, count: int, prefix: str
) -> list[common_pb2.Event]:
    """``count`` inputs, each answered by exactly one output (the transactions cycled)."""
    outputs_of = run_oracle[0]
    single = [m for m in transactions if len(outputs_of[m.id]) == 1]
    return [renamed(single[n % len(single)], f"{prefix}{n:04d}") for n in range(count)]


def test_sigterm_mid_stream_answers_everything_read_exactly_once(transactions, run_oracle):
    inputs = one_output_inputs(transactions, run_oracle, 200, "drain-")
    ids = [m.id for m in inputs]
    process = start_serve(serve_argv("--drain-timeout", str(DRAIN_TIMEOUT_S)))
    try:
        terminated: list[float] = []

        def on_answer(_answer: common_pb2.Event, count: int) -> None:
            if count == 50:
                terminated.append(time.monotonic())
                process.signal(signal.SIGTERM)

        result = Orchestrator(process.channel()).run(inputs, interval_s=0.02, on_answer=on_answer)
        assert terminated, f"fewer than 50 answers: {result.code} {result.details}"
        assert result.code == grpc.StatusCode.UNAVAILABLE, (result.code, result.details)
        assert "draining" in result.details
        owners = [attribute(a.id, ids) for a in result.answers]
        assert None not in owners
        last_owner = owners[-1]
        assert last_owner is not None
        last = ids.index(last_owner)
        # every input up to the last one answered: answered exactly once, in order; then nothing
        assert [a.id for a in result.answers] == [f"{i}-transfer-0" for i in ids[: last + 1]]
        assert 50 <= last + 1 < len(inputs), "SIGTERM came mid-stream"
        # the host read exactly what it answered
        assert result.trailing.get("flowctl-host-received") == str(last + 1)
        code = process.wait(DRAIN_TIMEOUT_S + 10)
        assert code == 0, process.output()
        assert "Traceback" not in process.stderr, process.stderr
    finally:
        process.stop()


def test_sigterm_after_the_client_closed_and_everything_was_read_ends_ok(transactions, run_oracle):
    """SIGTERM while the host still answers a stream whose client already sent CloseSend.

    Every event was read (the trailing count says so) and every one is answered: nothing is
    left to "send elsewhere", so the stream should end with OK, as flowctl's orchestrator needs
    (it closes the sinks only on io.EOF) -- draining only matters for events not read.
    """
    inputs = one_output_inputs(transactions, run_oracle, 300, "closed-")
    process = start_serve(serve_argv("--drain-timeout", str(DRAIN_TIMEOUT_S)))
    try:
        fed = threading.Event()
        terminated: list[int] = []

        def events() -> Iterator[common_pb2.Event]:
            yield from inputs
            fed.set()  # the generator is exhausted: gRPC sends the half-close (CloseSend)

        def on_answer(_answer: common_pb2.Event, count: int) -> None:
            if count >= 20 and fed.is_set() and not terminated:
                terminated.append(count)
                process.signal(signal.SIGTERM)

        result = Orchestrator(process.channel()).run(events(), on_answer=on_answer)
        assert terminated, "SIGTERM was not sent while the stream was answered"
        assert terminated[0] < len(inputs)
        # the precondition: the host read every event before the drain began
        assert result.trailing.get("flowctl-host-received") == str(len(inputs))
        assert [a.id for a in result.answers] == [f"{m.id}-transfer-0" for m in inputs]
        assert result.code == grpc.StatusCode.OK, (result.code, result.details)
        assert process.wait(DRAIN_TIMEOUT_S + 10) == 0, process.output()
    finally:
        process.stop()


def test_sigterm_ends_an_idle_open_stream_promptly(transactions, run_oracle):
    """A stream with nothing in flight (the source is between ledgers) ends at SIGTERM.

    The client sent 3 events, got their answers and keeps the stream open (a live source waits
    for the next ledger).  Drain has nothing left to do: the stream should end at once with
    UNAVAILABLE "draining" and the trailing counts, and the process exit -- not wait out the
    drain timeout and then be cut by the server's stop ("Cancelling all calls").
    """
    inputs = one_output_inputs(transactions, run_oracle, 3, "idle-")
    drain_timeout = 8.0
    process = start_serve(serve_argv("--drain-timeout", str(drain_timeout)))
    try:
        release = threading.Event()
        ended = threading.Event()
        answers: list[common_pb2.Event] = []

        def requests() -> Iterator[common_pb2.Event]:
            yield from inputs
            release.wait(60)  # the source has nothing more for now; the stream stays open

        stub = processor_pb2_grpc.ProcessorServiceStub(process.channel())  # type: ignore[no-untyped-call]
        call = stub.Process(requests(), timeout=60)

        def read() -> None:
            try:
                for answer in call:
                    answers.append(answer)
            except grpc.RpcError:
                pass
            ended.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        wait_until(lambda: len(answers) == 3, 30, "the 3 answers")
        process.signal(signal.SIGTERM)
        try:
            assert ended.wait(drain_timeout / 2), (
                "the idle stream was still open half the drain timeout after SIGTERM"
            )
            assert call.code() == grpc.StatusCode.UNAVAILABLE
            assert "draining" in (call.details() or ""), call.details()
            trailing = {m.key: m.value for m in call.trailing_metadata() or ()}
            assert trailing.get("flowctl-host-received") == "3"
        finally:
            release.set()
        assert process.wait(drain_timeout + 10) == 0, process.output()
    finally:
        process.stop()


# --------------------------------------------------------------------------- 3. concurrency


def test_two_concurrent_streams_do_not_mix(served, transactions, malformed):
    streams = {
        "a": [renamed(m, f"A-{m.id}") for m in (*transactions, *malformed[:10])],
        "b": [renamed(m, f"B-{m.id}") for m in (*malformed[10:], *reversed(transactions))],
    }
    alone = {k: drive(served, v) for k, v in streams.items()}
    for res in alone.values():
        assert res.code == grpc.StatusCode.OK, res.details
    together: dict[str, StreamResult] = {}
    start = threading.Barrier(2)

    def one(key: str) -> None:
        start.wait(10)
        together[key] = drive(served, streams[key], interval_s=0.002)

    threads = [threading.Thread(target=one, args=(k,)) for k in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert set(together) == {"a", "b"}
    for key, inputs in streams.items():
        res = together[key]
        assert res.code == grpc.StatusCode.OK, res.details
        ids = [m.id for m in inputs]
        assert all(attribute(a.id, ids) is not None for a in res.answers)
        assert all(a.id.startswith(f"{key.upper()}-") for a in res.answers)
        assert wire(res.answers) == wire(alone[key].answers)
        assert res.trailing["flowctl-host-received"] == str(len(inputs))
    # they did overlap in time
    a, b = together["a"], together["b"]
    assert a.answer_times[0] < b.answer_times[-1] and b.answer_times[0] < a.answer_times[-1]


# --------------------------------------------------------------------------- 4. generated client

PROCESSOR_CLIENT = r"""
import json, sys
import grpc
from google.protobuf import empty_pb2
from flowctl.v1 import common_pb2, processor_pb2_grpc

SRC = "GDDBO66TZIRL5WSXOK5JDPF7XGBBXBZFK32JP4IMTSZNAIDABMSKK73Y"
DST = "GADXRCDOFEMIPRIVHCKAJKOWTAIECSJOGVT3OOB2I7R4SYHMZUMZXYCP"

def transaction(n, amount):
    body = {"destination": DST, "amount": amount, "asset": {"type": "native"}}
    return {
        "hash": "%064x" % n, "source-account": SRC, "sequence-number": 1000 + n, "fee": 100,
        "time-bounds": None, "memo": {"memo-type": "text", "memo-value": "hand-made"},
        "operations": [{"operation-type": "payment", "source-account": None,
                        "body": json.dumps(body),
                        "result": {"result-code": "op_success", "result-meta": None}}],
        "signatures": [], "result-code": "tx_success", "result-meta": None,
    }

def events():
    for n, amount in enumerate(["10.0", "2.5", "100"]):
        event = common_pb2.Event(
            id="hand-%d" % n, type="stellar.transaction.v1", content_type="application/json",
            payload=json.dumps(transaction(n, amount)).encode(), source_component_id="hand",
            metadata={"ledger_sequence": str(100 + n)},
        )
        event.timestamp.seconds = 1717243205 + n
        yield event

channel = grpc.insecure_channel(sys.argv[1])
stub = processor_pb2_grpc.ProcessorServiceStub(channel)
info = stub.GetInfo(empty_pb2.Empty(), timeout=10)
health = stub.HealthCheck(common_pb2.HealthCheckRequest(include_details=True), timeout=10)
call = stub.Process(events(), timeout=60)
answers = [{"id": a.id, "type": a.type, "content_type": a.content_type,
            "payload": json.loads(a.payload), "cursor": a.stellar_cursor.ledger_sequence}
           for a in call]
print(json.dumps({
    "info": {"id": info.id, "type": common_pb2.ComponentType.Name(info.type),
             "input": list(info.input_event_types), "output": list(info.output_event_types),
             "endpoint": info.endpoint},
    "health": common_pb2.HealthStatus.Name(health.status),
    "answers": answers, "code": call.code().name,
    "trailing": dict(call.trailing_metadata()),
    "reference_host_imported": any(m.startswith("reference_host") for m in sys.modules),
}))
"""

EXTENSION_CLIENT = r"""
import json, sys
import grpc
from flowctl.v1 import common_pb2
from flowctl_host.v1 import extension_pb2, extension_pb2_grpc

GOOD = json.dumps({"network_passphrase": "Test SDF Network ; September 2015", "min_amount": 1.0,
                   "extract_path_payments": True, "extract_claimable_balances": False})
BAD = json.dumps({"min_amount": 1.0})
tx = {
    "hash": "ab" * 32, "source-account": "GDDBO66TZIRL5WSXOK5JDPF7XGBBXBZFK32JP4IMTSZNAIDABMSKK73Y",
    "sequence-number": 7, "fee": 100, "time-bounds": None, "memo": None,
    "operations": [{"operation-type": "payment", "source-account": None,
                    "body": json.dumps({"destination":
                                        "GADXRCDOFEMIPRIVHCKAJKOWTAIECSJOGVT3OOB2I7R4SYHMZUMZXYCP",
                                        "amount": "42.0", "asset": {"type": "native"}}),
                    "result": {"result-code": "op_success", "result-meta": None}}],
    "signatures": [], "result-code": "tx_success", "result-meta": None,
}
stub = extension_pb2_grpc.ProcessorExtensionServiceStub(grpc.insecure_channel(sys.argv[1]))
info = stub.GetProcessorInfo(extension_pb2.GetProcessorInfoRequest(), timeout=10)
bad = stub.ValidateConfig(extension_pb2.ConfigRequest(config=BAD), timeout=10)
good = stub.ValidateConfig(extension_pb2.ConfigRequest(config=GOOD), timeout=10)
init = stub.Initialize(extension_pb2.ConfigRequest(config=GOOD), timeout=10)
event = common_pb2.Event(id="ext-1", type="stellar.transaction.v1",
                         content_type="application/json", payload=json.dumps(tx).encode())
out = stub.ProcessEvent(event, timeout=30)
print(json.dumps({
    "info": {"name": info.name, "supported": list(info.supported_event_types),
             "output": list(info.output_event_types),
             "has_schema": info.HasField("configuration_schema")},
    "bad": {"outcome": bad.WhichOneof("outcome"), "case": bad.error.case,
            "message": bad.error.message},
    "good": good.WhichOneof("outcome"), "init": init.WhichOneof("outcome"),
    "events": [{"id": e.id, "type": e.type, "payload": json.loads(e.payload)} for e in out.events],
    "error": out.HasField("error"), "failure": out.HasField("failure"),
    "reference_host_imported": any(m.startswith("reference_host") for m in sys.modules),
}))
"""


@pytest.fixture(scope="module")
def generated_client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Python stubs generated from ``proto/`` (upstream layout) into a temp dir, nothing else."""
    import grpc_tools  # type: ignore[import-untyped]

    tmp = tmp_path_factory.mktemp("generated-client")
    protos, gen = tmp / "proto", tmp / "gen"
    for top in ("flowctl", "flowctl_host"):
        shutil.copytree(REPO / "proto" / top, protos / top)
    gen.mkdir()
    files = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    proc = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{protos}", f"-I{include}",
         f"--python_out={gen}", f"--grpc_python_out={gen}", *files],
        cwd=tmp, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (gen / "flowctl" / "v1" / "processor_pb2_grpc.py").exists()
    assert (gen / "flowctl_host" / "v1" / "extension_pb2_grpc.py").exists()
    return gen


def run_client(gen: Path, script: str, target: str) -> dict[str, Any]:
    """``script`` in a fresh interpreter with only ``gen`` on PYTHONPATH, cwd ``gen``."""
    (gen.parent / "client.py").write_text(script, "utf-8")
    env = {k: v for k, v in serve_env().items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(gen)
    proc = subprocess.run(
        [sys.executable, "-P", str(gen.parent / "client.py"), target], cwd=gen, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_a_client_generated_from_the_protos_talks_to_serve(served, generated_client_dir):
    got = run_client(generated_client_dir, PROCESSOR_CLIENT, served.target)
    assert not got["reference_host_imported"]
    assert got["info"]["type"] == "COMPONENT_TYPE_PROCESSOR"
    assert got["info"]["id"] == TTP_PROCESSOR_ID
    assert got["info"]["input"] == [TX_TYPE] and got["info"]["output"] == [TRANSFER_TYPE]
    assert got["info"]["endpoint"] == served.target
    assert got["health"] == "HEALTH_STATUS_HEALTHY"
    assert got["code"] == "OK"
    assert got["trailing"]["flowctl-host-received"] == "3"
    answers = got["answers"]
    assert [a["id"] for a in answers] == [f"hand-{n}-transfer-0" for n in range(3)]
    assert all(a["type"] == TRANSFER_TYPE for a in answers)
    assert all(a["content_type"] == "application/json" for a in answers)
    assert [float(a["payload"]["amount"]) for a in answers] == [10.0, 2.5, 100.0]
    assert [a["cursor"] for a in answers] == [100, 101, 102]


def test_a_generated_client_drives_the_extension_service(generated_client_dir):
    process = start_serve()
    try:
        got = run_client(generated_client_dir, EXTENSION_CLIENT, process.target)
    finally:
        assert process.stop() == 0, process.output()
    assert not got["reference_host_imported"]
    assert got["info"]["supported"] == ["transaction"]
    assert got["info"]["output"] == ["token-transfer"]
    assert got["info"]["has_schema"]
    assert got["bad"]["outcome"] == "error"
    assert got["bad"]["case"] == "configuration-error"
    assert "network_passphrase" in got["bad"]["message"]
    assert got["good"] == "ok" and got["init"] == "ok"
    assert not got["error"] and not got["failure"]
    assert [e["id"] for e in got["events"]] == ["ext-1-transfer-0"]
    assert got["events"][0]["type"] == TRANSFER_TYPE
    assert float(got["events"][0]["payload"]["amount"]) == 42.0


# --------------------------------------------------------------------------- 5. standard gRPC


@pytest.mark.parametrize("service", ["", "flowctl.v1.ProcessorService"])
def test_standard_health_checking_reports_serving(served, service):
    stub = health_pb2_grpc.HealthStub(served.channel())
    response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(served):
    stub = reflection_pb2_grpc.ServerReflectionStub(served.channel())
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (response,) = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    names = {s.name for s in response.list_services_response.service}
    assert {"flowctl.v1.ProcessorService", "flowctl_host.v1.ProcessorExtensionService"} <= names


def test_a_10_mb_event_is_answered_not_refused(served, transactions):
    big = json.loads(transactions[0].payload)
    big["result-meta"] = "A" * (10 * 1024 * 1024)
    event = renamed(transactions[0], "big-10mb")
    event.payload = json.dumps(big).encode()
    assert event.ByteSize() > 10 * 1024 * 1024
    result = drive(served, [event])
    assert result.code == grpc.StatusCode.OK, (result.code, result.details)
    assert [a.id for a in result.answers] in (["big-10mb-transfer-0"], ["big-10mb/error"])
    if result.answers[0].type == ERROR_TYPE:  # the guest may not fit it in its memory limit
        check_error_event(result.answers[0], event, "process")
    assert drive(served, transactions[:1]).code == grpc.StatusCode.OK  # and serve goes on


def _raw_stream(served: ServeProcess, messages: list[bytes], **options: Any) -> tuple[Any, str]:
    """Send already-serialized messages on a Process stream: (status code, details)."""
    channel = grpc.insecure_channel(served.target, options=list(options.items()))
    try:
        call = channel.stream_stream(
            "/flowctl.v1.ProcessorService/Process",
            request_serializer=None, response_deserializer=None,
        )(iter(messages), timeout=60)  # fmt: skip
        try:
            list(call)
        except grpc.RpcError as exc:
            return exc.code(), str(exc.details())
        return grpc.StatusCode.OK, ""
    finally:
        channel.close()


def test_an_oversized_message_is_refused_and_serve_goes_on(served, transactions):
    # hostile input over gRPC: past the 50 MB limit the transport refuses the message
    event = renamed(transactions[0], "too-big")
    event.payload = b"A" * (60 * 1024 * 1024)
    code, details = _raw_stream(served, [event.SerializeToString()],
                                **{"grpc.max_send_message_length": 100 << 20})  # fmt: skip
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
    assert drive(served, transactions[:1]).code == grpc.StatusCode.OK  # and serve goes on


def test_invalid_utf8_in_a_string_field_is_answered_in_its_place_and_the_stream_goes_on(
    served, transactions
):
    # a proto3 string must be UTF-8; a hostile client sends raw bytes in the event id
    marker = renamed(transactions[0], "XXXXXXXX").SerializeToString()
    hostile = marker.replace(b"XXXXXXXX", b"\xff\xfe\xfd\xfc\xff\xfe\xfd\xfc", 1)
    assert hostile != marker
    good = [renamed(t, f"utf8-{i}").SerializeToString() for i, t in enumerate(transactions[:2])]
    channel = grpc.insecure_channel(served.target)
    try:
        call = channel.stream_stream(
            "/flowctl.v1.ProcessorService/Process",
            request_serializer=None, response_deserializer=common_pb2.Event.FromString,
        )(iter([good[0], hostile, good[1]]), timeout=60)  # fmt: skip
        answers = list(call)
        assert call.code() == grpc.StatusCode.OK
        trailing = dict(call.trailing_metadata() or ())
    finally:
        channel.close()
    errors = [a for a in answers if a.type == "flowctl.error.v1"]
    assert [e.id for e in errors] == ["message-2/error"]  # its place in the stream
    body = json.loads(errors[0].payload)
    assert body["stage"] == "decode" and "not a flowctl.v1.Event" in body["error"]["message"]
    assert "UTF-8" in body["error"]["message"]
    owners = {a.metadata.get("original_event_id") for a in answers if a not in errors}
    assert {"utf8-0", "utf8-1"} <= owners  # the events around it were processed
    assert trailing["flowctl-host-received"] == "3" and trailing["flowctl-host-failed"] == "1"
    assert drive(served, transactions[:1]).code == grpc.StatusCode.OK  # and serve goes on


def test_an_empty_stream_ends_ok(served):
    result = drive(served, [])
    assert result.code == grpc.StatusCode.OK
    assert result.answers == []
    assert result.trailing["flowctl-host-received"] == "0"


def test_a_cancelled_stream_is_cleaned_up(served, transactions):
    stop = threading.Event()

    def endless() -> Iterator[common_pb2.Event]:
        n = 0
        while not stop.wait(0.001):
            yield renamed(transactions[n % len(transactions)], f"cancel-{n}")
            n += 1

    stub = processor_pb2_grpc.ProcessorServiceStub(served.channel())  # type: ignore[no-untyped-call]
    call = stub.Process(endless(), timeout=60)
    try:
        for count, _answer in enumerate(call, 1):
            if count == 20:
                call.cancel()
    except grpc.RpcError:
        pass
    finally:
        stop.set()
    assert call.code() == grpc.StatusCode.CANCELLED
    active = ("flowctl_host_streams_active", ())
    wait_until(lambda: scrape(served.health_url + "/metrics")[active] == 0, 10, "0 streams")
    assert drive(served, transactions[:3]).code == grpc.StatusCode.OK


# --------------------------------------------------------------------------- 6. HTTP


def test_http_health_ready_live(served):
    for path in ("/health", "/ready", "/live"):
        status, content_type, body = served.http_get(path)
        assert status == 200, (path, body)
        assert content_type.startswith("application/json")
        data = json.loads(body)
        assert data["status"] == "HEALTHY"
        assert {"status", "uptime", "timestamp"} <= set(data)


def test_http_metrics_count_streams_and_show_the_components_metrics(served, transactions):
    url = served.health_url + "/metrics"
    received = ("flowctl_host_events_received_total", ())

    def total(samples: dict[Any, float], name: str) -> float:
        return float(sum(v for (n, _labels), v in samples.items() if n == name))

    before = scrape(url)
    inputs = [renamed(m, f"metrics-{m.id}") for m in transactions]
    result = drive(served, inputs)
    assert result.code == grpc.StatusCode.OK
    after = scrape(url)
    assert after[received] == before.get(received, 0.0) + len(inputs)
    emitted = "flowctl_host_events_emitted_total"
    assert total(after, emitted) - total(before, emitted) == len(result.answers)
    assert total(after, "flowctl_host_batch_seconds_count") > total(
        before, "flowctl_host_batch_seconds_count"
    )
    # the component's own metrics (the TTP guest's metrics capability), per stream event
    processed, extracted = "events_processed_total", "token_transfers_extracted_total"
    assert total(after, processed) - total(before, processed) == len(inputs)
    assert total(after, extracted) - total(before, extracted) == len(result.answers)
    assert all(
        dict(labels).get("component") == TTP_PROCESSOR_ID
        for name, labels in after
        if name in (processed, extracted)
    )

    status, content_type, body = served.http_get("/metrics", accept="application/json")
    assert status == 200 and content_type.startswith("application/json")
    data = json.loads(body)
    assert set(data) == {"status", "uptime", "timestamp", "metrics"}
    assert data["status"] == "HEALTHY"
    assert int(data["metrics"]["events_received"]) >= len(inputs)


# --------------------------------------------------------------------------- 7. control plane


def list_healthy(endpoint: str) -> list[control_plane_pb2.ComponentStatusResponse]:
    """The orchestrator's lookup: the default ListComponents (HEALTHY only), over the network."""
    with grpc.insecure_channel(endpoint) as channel:
        stub = cp_grpc.ControlPlaneServiceStub(channel)  # type: ignore[no-untyped-call]
        response = stub.ListComponents(control_plane_pb2.ListComponentsRequest(), timeout=5)
    return [c for c in response.components if c.component.id == TTP_PROCESSOR_ID]


def flowctl_env(endpoint: str) -> dict[str, str]:
    return serve_env({
        "ENABLE_FLOWCTL": "true", "FLOWCTL_ENDPOINT": endpoint,
        "FLOWCTL_COMPONENT_ID": TTP_PROCESSOR_ID, "FLOWCTL_HEARTBEAT_INTERVAL": "200ms",
    })  # fmt: skip


@pytest.fixture
def control_plane() -> Iterator[ControlPlane]:
    plane = ControlPlane(ttl=2.0, janitor_interval=0.2, servicer_class=TimedControlPlaneService)
    try:
        yield plane
    finally:
        plane.stop()


def test_registers_heartbeats_is_dialable_and_unregisters(control_plane, record_property):
    process = start_serve(env=flowctl_env(control_plane.endpoint))
    try:
        servicer = control_plane.servicer
        (entry,) = wait_until(lambda: list_healthy(control_plane.endpoint), 30, "listed HEALTHY")
        assert entry.status == common_pb2.HEALTH_STATUS_HEALTHY
        assert entry.component.id == TTP_PROCESSOR_ID
        assert entry.component.type == common_pb2.COMPONENT_TYPE_PROCESSOR
        assert servicer.register_requests[0].component_id == TTP_PROCESSOR_ID
        with grpc.insecure_channel(entry.component.endpoint) as channel:
            info = get_info(channel)
        assert info.id == TTP_PROCESSOR_ID and info.type == common_pb2.COMPONENT_TYPE_PROCESSOR
        first = wait_until(
            lambda: servicer.first_healthy_heartbeat(TTP_PROCESSOR_ID), 30, "a HEALTHY heartbeat"
        )
        assert process.listening_at is not None
        spawn_to_heartbeat = first - process.spawned_at
        spawn_to_listening = process.listening_at - process.spawned_at
        record_property("spawn_to_first_healthy_heartbeat_s", round(spawn_to_heartbeat, 3))
        record_property("spawn_to_listening_s", round(spawn_to_listening, 3))
        print(
            f"spawn -> first HEALTHY heartbeat: {spawn_to_heartbeat:.3f} s "
            f"(spawn -> listening line: {spawn_to_listening:.3f} s)"
        )
        wait_until(lambda: len(servicer.heartbeats) >= 3, 30, "heartbeats every 200 ms")
        assert list_healthy(control_plane.endpoint), "still listed after several heartbeats"
        process.signal(signal.SIGTERM)
        assert process.wait(DRAIN_TIMEOUT_S + 15) == 0, process.output()
        assert TTP_PROCESSOR_ID in servicer.unregistered
        assert not list_healthy(control_plane.endpoint)
    finally:
        process.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_control_plane_that_starts_later_still_gets_the_registration(transactions):
    port = free_port()
    endpoint = f"127.0.0.1:{port}"
    process = start_serve(env=flowctl_env(endpoint))
    plane = None
    try:
        # no control plane yet: serve serves anyway
        with grpc.insecure_channel(process.target) as channel:
            assert get_info(channel).id == TTP_PROCESSOR_ID
        result = drive(process, transactions[:3])
        assert result.code == grpc.StatusCode.OK
        plane = ControlPlane(port, ttl=2.0, janitor_interval=0.2)
        wait_until(lambda: list_healthy(endpoint), 40, "the registration with a late plane")
        process.signal(signal.SIGTERM)
        assert process.wait(DRAIN_TIMEOUT_S + 15) == 0, process.output()
        assert TTP_PROCESSOR_ID in plane.servicer.unregistered
    finally:
        process.stop()
        if plane is not None:
            plane.stop()


# --------------------------------------------------------------------------- 8. refusals


def test_an_unset_pipeline_variable_exits_2_naming_it_and_its_key():
    proc = run_serve(serve_argv(), serve_env({"TTP_NETWORK_PASSPHRASE": None}))
    assert proc.returncode == 2, proc.stderr
    assert "${TTP_NETWORK_PASSPHRASE}" in proc.stderr
    assert "spec.processors[0].config.processor_config" in proc.stderr
    assert "listening" not in proc.stderr


@pytest.mark.parametrize("how", ["empty passphrase in the pipeline", "--config without it"])
def test_a_config_the_component_refuses_exits_3(tmp_path, how):
    argv, env = serve_argv(), serve_env()
    if how.startswith("empty"):
        env["TTP_NETWORK_PASSPHRASE"] = ""
    else:
        config = tmp_path / "bad.json"
        config.write_text('{"min_amount": 1.0}', "utf-8")
        argv = serve_argv("--config", str(config))
    proc = run_serve(argv, env)
    assert proc.returncode == 3, proc.stderr
    assert "refused its config" in proc.stderr
    assert "listening" not in proc.stderr
    assert "Traceback" not in proc.stderr
