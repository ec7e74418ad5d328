"""The JSON form round-trips every type, errors name the JSON path, and the schema agrees."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.strategies import strategy
from reference_host import types as t
from reference_host.abi import schema as s
from reference_host.errors import ValueConversionError
from reference_host.jsonform import event_from_json, event_schema, from_json, json_schema, to_json

ALL = sorted(s.NAMED_TYPES.items())


@pytest.mark.parametrize(("name", "ty"), ALL, ids=[n for n, _ in ALL])
def test_round_trip_and_schema(name: str, ty: s.Ty) -> None:
    schema = json_schema(ty)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    @settings(max_examples=40, deadline=None)
    @given(strategy(ty))
    def check(value: Any) -> None:
        data = json.loads(json.dumps(to_json(ty, value)))
        validator.validate(data)
        assert from_json(ty, data) == value

    check()


def test_documented_event_form() -> None:
    data = {
        "id": "e1",
        "timestamp": 1,
        "source-component": "src",
        "event-type": "transaction",
        "data": {"stellar-transaction": {
            "hash": "h", "source-account": "G", "sequence-number": 1, "fee": 100,
            "time-bounds": None, "memo": {"memo-type": "text", "memo-value": "m"},
            "operations": [{"operation-type": "payment", "source-account": None, "body": "{}",
                            "result": {"result-code": "op_success", "result-meta": None}}],
            "signatures": ["s"], "result-code": None, "result-meta": None}},
        "metadata": [["k", "v"]],
    }  # fmt: skip
    ev = event_from_json(data)
    assert isinstance(ev.data, t.StellarTransaction)
    assert ev.data.operations[0].operation_type is t.OperationType.PAYMENT
    assert ev.metadata == [("k", "v")]
    assert to_json(s.EVENT, ev) == data
    jsonschema.validate(data, event_schema())


def test_options_may_be_omitted() -> None:
    data = {"asset-type": "native"}
    assert from_json(s.STELLAR_ASSET, data) == t.StellarAsset(t.AssetType.NATIVE)


@pytest.mark.parametrize(
    ("ty", "data", "where"),
    [
        (s.EVENT, {"id": "x"}, "missing field 'timestamp'"),
        (s.TIME_BOUNDS, {"min-time": -1, "max-time": 0}, r"\$\.min-time.*u64"),
        (s.STELLAR_ASSET, {"asset-type": "gold"}, r"\$\.asset-type"),
        (s.STELLAR_ASSET, {"asset-type": "native", "x": 1}, "unknown field"),
        (s.PROCESSOR_ERROR, "invalid-event", "case name"),
        (s.PROCESSOR_ERROR, {"timeout": "x"}, "case name"),
        (s.EVENT_DATA, {"nope": 1}, "case"),
        (s.List(s.U32), [1, "2"], r"\$\[1\]"),
        (s.Tuple((s.STRING, s.STRING)), ["a"], "array of 2"),
        (s.BOOL, 1, "bool"),
    ],
)
def test_errors_name_the_path(ty: s.Ty, data: Any, where: str) -> None:
    with pytest.raises(ValueConversionError, match=where):
        from_json(ty, data)


@given(st.integers(min_value=2**64))
def test_u64_overflow_rejected(n: int) -> None:
    with pytest.raises(ValueConversionError):
        from_json(s.U64, n)


def test_result_form() -> None:
    ty = s.Result(s.Option(s.STRING), s.KV_ERROR)
    assert to_json(ty, t.Err(t.KvError("storage-full"))) == {"err": "storage-full"}
    assert to_json(ty, t.Ok(None)) == {"ok": None}
    assert from_json(ty, {"err": {"invalid-key": "k"}}) == t.Err(t.KvError("invalid-key", "k"))
