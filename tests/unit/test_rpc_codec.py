"""The event codec WIT event <-> flowctl.v1.Event: round trips, the type table, errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.strategies import events
from reference_host import types as t
from reference_host.rpc import codec
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as pb

RESERVED = {codec.TYPE_KEY, codec.TIMESTAMP_KEY, "ledger_sequence", "index_in_ledger"}


def _canonical(event: t.Event) -> t.Event:
    """What the wire keeps: metadata is a map (last value wins, sorted by key)."""
    return dataclasses.replace(event, metadata=sorted(dict(event.metadata).items()))


wit_events = events().map(
    lambda e: dataclasses.replace(e, metadata=[kv for kv in e.metadata if kv[0] not in RESERVED])
)


@settings(max_examples=300, deadline=None)
@given(wit_events)
def test_wit_to_wire_and_back_is_the_identity(event: t.Event) -> None:
    message = codec.encode(event)
    assert pb.Event.FromString(message.SerializeToString()) == message  # survives the wire
    assert codec.decode(message) == _canonical(event)


@settings(max_examples=200, deadline=None)
@given(wit_events, st.sampled_from(["contract.event.v1", "account.balance.v1", "x"]))
def test_unknown_wire_types_survive_a_trip_through_custom(event: t.Event, wire: str) -> None:
    message = codec.encode(dataclasses.replace(event, event_type=t.EventType.CUSTOM,
                                               data=t.Generic("{}")))  # fmt: skip
    message.type = wire
    decoded = codec.decode(message)
    assert decoded.event_type is t.EventType.CUSTOM
    assert dict(decoded.metadata)[codec.TYPE_KEY] == wire
    assert codec.encode(decoded).type == wire


def test_every_event_type_has_a_distinct_stellar_style_type_string() -> None:
    assert set(codec.TYPES) == set(t.EventType)
    assert len(set(codec.TYPES.values())) == len(t.EventType)
    assert all(v.endswith(".v1") for v in codec.TYPES.values())
    assert codec.TYPES[t.EventType.TOKEN_TRANSFER] == "stellar.token.transfer.v1"


def test_default_records_travel_bare_in_application_json() -> None:
    tx = t.StellarTransaction("h", "G", 1, 100, None, None, [], [], None, None)
    message = codec.encode(t.Event("e", 7, "src", t.EventType.TRANSACTION, tx,
                                   [("ledger_sequence", "42")]))  # fmt: skip
    assert message.content_type == codec.JSON
    assert json.loads(message.payload)["hash"] == "h"  # the bare record, no variant wrapper
    assert message.timestamp.seconds == 7 and message.stellar_cursor.ledger_sequence == 42
    mismatched = codec.encode(t.Event("e", 7, "src", t.EventType.CUSTOM, tx))
    assert mismatched.content_type == codec.EVENT_DATA_JSON
    assert "stellar-transaction" in json.loads(mismatched.payload)
    text = codec.encode(t.Event("e", 7, "src", t.EventType.CUSTOM, t.Generic("not json")))
    assert text.content_type == codec.EVENT_DATA_JSON


def test_a_cursor_without_metadata_becomes_metadata() -> None:
    message = pb.Event(id="l", type="stellar.ledger.v1", content_type="text/plain", payload=b"x")
    message.stellar_cursor.ledger_sequence = 9
    message.stellar_cursor.index_in_ledger = 3
    decoded = codec.decode(message)
    assert dict(decoded.metadata) == {"ledger_sequence": "9", "index_in_ledger": "3"}
    assert decoded.data == t.Generic("x")


def test_huge_timestamps_travel_in_metadata() -> None:
    event = t.Event("e", 2**64 - 1, "s", t.EventType.CUSTOM, t.Generic("{}"))
    message = codec.encode(event)
    assert not message.HasField("timestamp") or message.timestamp.seconds == 0
    assert codec.decode(message).timestamp == 2**64 - 1


@pytest.mark.parametrize(
    ("content_type", "payload", "message"),
    [
        ("application/protobuf", b"\x08\x01", "cannot be decoded: send application/json"),
        ("stellar/xdr", b"AAAA", "cannot be decoded"),
        ("application/json", b"{not json", "payload is not JSON"),
        ("application/json", b'{"hash": 1}', r"\$\.payload\.hash: expected string"),
        ("application/json", b"\xff\xfe", "payload is not UTF-8"),
        ("application/json", b"[" * 100_000, "nested too deeply"),
    ],
)
def test_undecodable_inputs_say_why(content_type: str, payload: bytes, message: str) -> None:
    wire = pb.Event(id="bad", type="stellar.transaction.v1", content_type=content_type,
                    payload=payload)  # fmt: skip
    with pytest.raises(codec.DecodeError, match=message):
        codec.decode(wire)
