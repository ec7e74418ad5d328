"""WIT ``event`` <-> ``flowctl.v1.Event``: the documented event codec of ``flowctl-host serve``.

Event types (WIT ``event-type`` case <-> ``flowctl.v1.Event.type``), in flowctl's
``stellar.<thing>.v1`` style:

==================== ================================ ===========================
WIT event-type       flowctl.v1 type                  payload record (default)
==================== ================================ ===========================
transaction          ``stellar.transaction.v1``       ``stellar-transaction``
ledger               ``stellar.ledger.v1``            ``stellar-ledger``
operation            ``stellar.operation.v1``         ``stellar-operation``
token-transfer       ``stellar.token.transfer.v1``    ``token-transfer``
account-created      ``stellar.account.created.v1``   ``generic`` (text)
account-updated      ``stellar.account.updated.v1``   ``generic``
trustline-created    ``stellar.trustline.created.v1`` ``generic``
trustline-updated    ``stellar.trustline.updated.v1`` ``generic``
offer-created        ``stellar.offer.created.v1``     ``generic``
offer-updated        ``stellar.offer.updated.v1``     ``generic``
offer-deleted        ``stellar.offer.deleted.v1``     ``generic``
trade                ``stellar.trade.v1``             ``generic``
custom               ``flowctl.custom.v1``            ``generic``
==================== ================================ ===========================

Any other type string decodes to ``custom`` and is kept in the metadata key ``flowctl.type``, which
encoding turns back into the type: types flowctl routes on survive the trip through a component.

Payloads, by ``content_type``:

- ``application/json`` (also ``""``): the JSON form (:mod:`reference_host.jsonform`) of the
  type's default payload record -- a ``stellar.transaction.v1`` payload is a bare
  ``stellar-transaction`` object; for a ``generic`` default the payload is the generic text itself;
- ``application/x-flowctl-event-data+json``: the JSON form of the whole WIT ``event-data``
  (``{"stellar-transaction": {...}}``, ``{"generic": "..."}``) -- what encoding emits when the data
  is not the type's default record, or generic text is not JSON;
- ``text/plain``: ``generic`` text for any type.
  Anything else (``application/protobuf``, ``stellar/xdr``) cannot be decoded: :class:`DecodeError`.

``metadata`` is a ``map`` in flowctl.v1: decoded pairs are sorted by key; a WIT key given twice
keeps its last value.  ``timestamp`` is WIT seconds <-> ``google.protobuf.Timestamp`` seconds (a
WIT value beyond year 9999 travels in the metadata key ``flowctl.timestamp``).
``source-component`` <-> ``source_component_id``.  ``stellar_cursor`` is derived from the metadata
keys ``ledger_sequence`` / ``index_in_ledger`` (and, decoding an event without them, added there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from reference_host import types as t
from reference_host.abi import schema as s
from reference_host.errors import FlowctlHostError
from reference_host.jsonform import from_json, to_json
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as pb

JSON = "application/json"
EVENT_DATA_JSON = "application/x-flowctl-event-data+json"
TEXT = "text/plain"
TYPE_KEY = "flowctl.type"
TIMESTAMP_KEY = "flowctl.timestamp"
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the largest valid Timestamp

TYPES: dict[t.EventType, str] = {
    t.EventType.TRANSACTION: "stellar.transaction.v1",
    t.EventType.LEDGER: "stellar.ledger.v1",
    t.EventType.OPERATION: "stellar.operation.v1",
    t.EventType.TOKEN_TRANSFER: "stellar.token.transfer.v1",
    t.EventType.ACCOUNT_CREATED: "stellar.account.created.v1",
    t.EventType.ACCOUNT_UPDATED: "stellar.account.updated.v1",
    t.EventType.TRUSTLINE_CREATED: "stellar.trustline.created.v1",
    t.EventType.TRUSTLINE_UPDATED: "stellar.trustline.updated.v1",
    t.EventType.OFFER_CREATED: "stellar.offer.created.v1",
    t.EventType.OFFER_UPDATED: "stellar.offer.updated.v1",
    t.EventType.OFFER_DELETED: "stellar.offer.deleted.v1",
    t.EventType.TRADE: "stellar.trade.v1",
    t.EventType.CUSTOM: "flowctl.custom.v1",
}
"""WIT event type -> flowctl.v1 type string (the table above)."""
BY_TYPE: dict[str, t.EventType] = {v: k for k, v in TYPES.items()}

#: The payload record a type's events carry by default (others: generic text).
DEFAULT_CASE: dict[t.EventType, tuple[type, s.Ty]] = {
    t.EventType.TRANSACTION: (t.StellarTransaction, s.STELLAR_TRANSACTION),
    t.EventType.LEDGER: (t.StellarLedger, s.STELLAR_LEDGER),
    t.EventType.OPERATION: (t.StellarOperation, s.STELLAR_OPERATION),
    t.EventType.TOKEN_TRANSFER: (t.TokenTransfer, s.TOKEN_TRANSFER),
}


class DecodeError(FlowctlHostError):
    """A flowctl.v1 event that cannot become a WIT event (says what and how to send it)."""


def wire_type(event_type: t.EventType) -> str:
    """The flowctl.v1 type string of a WIT event type."""
    return TYPES[event_type]


@dataclass(frozen=True)
class Decoded:
    """A decoded input: the WIT event, or why there is none."""

    event: t.Event | None
    error: str | None = None


def _data_from_payload(event_type: t.EventType, content_type: str, payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"payload is not UTF-8 ({exc})") from None
    kind = content_type.split(";")[0].strip().lower()
    if kind == TEXT:
        return t.Generic(text)
    if kind == EVENT_DATA_JSON:
        return from_json(s.EVENT_DATA, _loads(text), "$.payload")
    if kind not in (JSON, ""):
        raise DecodeError(
            f"content_type {content_type!r} cannot be decoded: send {JSON} (the JSON form of the "
            f"event's record), {EVENT_DATA_JSON} or {TEXT}"
        )
    default = DEFAULT_CASE.get(event_type)
    if default is None:
        return t.Generic(text)
    return from_json(default[1], _loads(text), "$.payload")


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DecodeError(f"payload is not JSON: {exc}") from None
    except RecursionError:
        raise DecodeError("payload JSON is nested too deeply") from None


def decode(message: pb.Event) -> t.Event:
    """A flowctl.v1 event as a WIT event; :class:`DecodeError` when it cannot be one."""
    metadata = dict(message.metadata)
    event_type = BY_TYPE.get(message.type)
    if event_type is None:
        event_type = t.EventType.CUSTOM
        if message.type:
            metadata[TYPE_KEY] = message.type
    try:
        data = _data_from_payload(event_type, message.content_type, message.payload)
    except FlowctlHostError as exc:
        raise DecodeError(f"event {message.id!r} ({message.type}): {exc}") from None
    if TIMESTAMP_KEY in metadata:
        try:
            timestamp = int(metadata.pop(TIMESTAMP_KEY))
        except ValueError:
            raise DecodeError(f"event {message.id!r}: {TIMESTAMP_KEY} is not an integer") from None
    else:
        timestamp = max(0, message.timestamp.seconds) if message.HasField("timestamp") else 0
    if message.HasField("stellar_cursor") and "ledger_sequence" not in metadata:
        metadata["ledger_sequence"] = str(message.stellar_cursor.ledger_sequence)
        if message.stellar_cursor.index_in_ledger:
            metadata["index_in_ledger"] = str(message.stellar_cursor.index_in_ledger)
    return t.Event(
        message.id,
        timestamp,
        message.source_component_id,
        event_type,
        data,
        sorted(metadata.items()),
    )


def _payload(event: t.Event) -> tuple[bytes, str]:
    default = DEFAULT_CASE.get(event.event_type)
    data = event.data
    if default is not None and isinstance(data, default[0]):
        return json.dumps(to_json(default[1], data), separators=(",", ":")).encode(), JSON
    if default is None and isinstance(data, t.Generic):
        try:
            json.loads(data.value)
        except ValueError:
            pass
        else:
            return data.value.encode(), JSON
    wrapped = to_json(s.EVENT_DATA, data)
    return json.dumps(wrapped, separators=(",", ":")).encode(), EVENT_DATA_JSON


def encode(event: t.Event) -> pb.Event:
    """A WIT event as a flowctl.v1 event."""
    metadata = dict(event.metadata)
    wire = metadata.pop(TYPE_KEY, None) if event.event_type is t.EventType.CUSTOM else None
    payload, content_type = _payload(event)
    message = pb.Event(
        id=event.id,
        type=wire or TYPES[event.event_type],
        payload=payload,
        source_component_id=event.source_component,
        content_type=content_type,
    )
    if event.timestamp <= _MAX_SECONDS:
        message.timestamp.seconds = event.timestamp
    else:
        metadata[TIMESTAMP_KEY] = str(event.timestamp)
    message.metadata.update(metadata)
    seq = metadata.get("ledger_sequence", "")
    if seq.isdigit() and int(seq) < 2**64:
        message.stellar_cursor.ledger_sequence = int(seq)
        index = metadata.get("index_in_ledger", "")
        if index.isdigit() and int(index) < 2**32:
            message.stellar_cursor.index_in_ledger = int(index)
    return message
