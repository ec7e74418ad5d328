"""One ``Process`` stream: batching, order, backpressure, every input accounted for, drain.

What the stream guarantees (stricter than flowctl's Go SDK, which runs a goroutine per event,
loses order, drops failed events silently and returns before late outputs are sent):

- **Batches** of up to ``batch_size`` events, or fewer when ``batch_timeout`` passed since the
  first event of the batch arrived.  By default each event of a batch is its own
  ``process-event`` call, so every failure is the event's own (strict accounting); with
  ``use_process_batch`` each batch is one ``process-batch`` call (faster) and the component's
  process-batch decides what a failing event yields -- the TTP sample, like the design document,
  logs it and goes on, so it gets no error event.
- **Order**: outputs leave in input order.  A ``process-batch`` call the component answers ``err``
  (or that traps) is replayed event by event, so the failure is attributed to the events that
  fail.
- **Every input accounted for**: an event that cannot be decoded, or that the component fails, is
  answered in the stream, in its place, by an **error event** (:func:`error_event`); the stream's
  counters (:class:`StreamStats`) always satisfy ``received == ok + failed``.  An event the
  component answers ``ok([])`` (filtered) gets no output, as in flowctl.
- **Backpressure**: a reader thread moves requests into a bounded queue (4 batches); when the
  component is slower than the client, the reader blocks and gRPC flow control holds the client.
- **End of input**: after the client's ``CloseSend`` every queued event is processed and every
  output sent, then the stream ends with OK.
- **Drain** (SIGTERM): the reader stops taking new events; everything already taken is processed
  and answered; the stream then ends -- :attr:`StreamStats.drained` tells the servicer.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from reference_host import types as t
from reference_host.errors import (
    GuestError,
    GuestTrap,
    LifecycleError,
    ProcessorErrorResult,
    ValueConversionError,
)
from reference_host.processor import ProcessorInstance
from reference_host.rpc import codec
from reference_host.rpc.gen.flowctl.v1 import common_pb2 as pb

ERROR_TYPE = "flowctl.error.v1"
"""The ``type`` of an error event."""
_END = object()
#: What a process call can fail with and still leave the stream going (the host recycles
#: trapped instances itself; a LifecycleError means it could not re-initialize one).
_CALL_ERRORS = (GuestError, ValueConversionError, LifecycleError)


@dataclass(frozen=True)
class Undecodable:
    """A request message that is not a flowctl.v1 ``Event``.

    Protobuf could not parse it: invalid UTF-8 in a string field, a truncated or foreign
    message.  The server's lenient deserializer
    (:func:`parse_event`) hands it to the stream, which answers it in its place with a decode
    error event and goes on -- one hostile message does not end the stream.
    """

    size: int
    reason: str


def parse_event(data: bytes) -> pb.Event | Undecodable:
    """``flowctl.v1.Event`` from its bytes, or :class:`Undecodable` naming why not."""
    from google.protobuf.message import DecodeError

    try:
        return pb.Event.FromString(data)
    except DecodeError as exc:
        return Undecodable(len(data), str(exc) or type(exc).__name__)


@dataclass(frozen=True)
class BatchDone:
    """What one batch did (for the host's metrics)."""

    received: int
    failed: int
    emitted: int
    seconds: float


@dataclass
class StreamStats:
    """What one stream did; ``received == ok + failed`` once it ended."""

    received: int = 0
    ok: int = 0
    failed: int = 0
    outputs: int = 0
    batches: int = 0
    drained: bool = False
    batch_seconds: list[float] = field(default_factory=list)


def error_event(
    message: pb.Event, stage: str, kind: str, text: str, component_id: str, **extra: Any
) -> pb.Event:
    """The error event answering ``message`` (documented in README: "The error event").

    ``id`` ``<input id>/error``, ``type`` ``flowctl.error.v1``, ``content_type``
    ``application/json``, payload ``{"input_id", "input_type", "stage", "error": {"kind",
    "message", ...}}``; the input's metadata plus ``flowctl.error.kind`` and
    ``flowctl.input_id``; the input's timestamp and cursor; ``source_component_id`` the host's
    component id.  ``stage`` is ``decode`` or ``process``; ``kind`` is ``decode``,
    ``processor-error`` (with ``case``), ``trap`` (with ``trap``: the host's error class) or
    ``host``.
    """
    body = {
        "input_id": message.id,
        "input_type": message.type,
        "stage": stage,
        "error": {"kind": kind, "message": text, **extra},
    }
    out = pb.Event(
        id=f"{message.id}/error",
        type=ERROR_TYPE,
        payload=json.dumps(body, ensure_ascii=False).encode(),
        content_type=codec.JSON,
        source_component_id=component_id,
    )
    out.metadata.update(message.metadata)
    out.metadata.update({"flowctl.error.kind": kind, "flowctl.input_id": message.id})
    if message.HasField("timestamp"):
        out.timestamp.CopyFrom(message.timestamp)
    if message.HasField("stellar_cursor"):
        out.stellar_cursor.CopyFrom(message.stellar_cursor)
    return out


def _failure(message: pb.Event, exc: Exception, component_id: str) -> pb.Event:
    if isinstance(exc, ProcessorErrorResult):
        case = str(exc.error.case)
        value = getattr(exc.error, "value", None)
        return error_event(
            message, "process", "processor-error", "" if value is None else str(value),
            component_id, case=case,
        )  # fmt: skip
    kind = "trap" if isinstance(exc, GuestTrap) else "host"
    return error_event(
        message, "process", kind, str(exc).splitlines()[0][:2000], component_id,
        trap=type(exc).__name__,
    )  # fmt: skip


class StreamProcessor:
    """Turns one stream of flowctl.v1 events into its answers, on one instance."""

    def __init__(
        self,
        instance: ProcessorInstance,
        *,
        component_id: str,
        batch_size: int,
        batch_timeout_s: float,
        draining: threading.Event,
        use_process_batch: bool = False,
        on_batch: Callable[[BatchDone], None] | None = None,
    ) -> None:
        self.instance = instance
        self.component_id = component_id
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.draining = draining
        self.use_process_batch = use_process_batch
        self.stats = StreamStats()
        self._on_batch = on_batch
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=4 * batch_size)
        self._gate = threading.Lock()
        self._closed = False  # the worker ended the stream for a drain
        self._refused = False  # the reader refused an event for a drain

    # ------------------------------------------------------------------ reading

    def _read(self, requests: Iterable[pb.Event]) -> None:
        try:
            for message in requests:
                if not self._put(message):
                    return  # draining: nothing more is taken from this stream
        except Exception as exc:  # the client went away mid-stream: process what was read
            self._put(exc, final=True)
            return
        self._put(_END, final=True)

    def _put(self, item: Any, *, final: bool = False) -> bool:
        """Queue ``item``, waiting while the queue is full (backpressure); False if not taken.

        An item is not taken when a drain closed the stream or refuses new events.  The gate
        makes "taken" exact: the worker closes the stream under it only when nothing is queued,
        so every message that got into the queue is answered.
        """
        while True:
            with self._gate:
                if self._closed:
                    return False
                if self.draining.is_set() and not final:
                    self._refused = True
                    return False
                try:
                    self._queue.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    pass

    # ------------------------------------------------------------------ batching

    def _next_batch(self) -> tuple[list[pb.Event], bool]:
        """Up to ``batch_size`` messages, and True once the input has ended (or drained).

        Waits at most ``batch_timeout`` after the first message of the batch.  While draining,
        an empty queue ends the stream at once: an idle stream does not hold up a shutdown.
        """
        batch: list[pb.Event] = []
        deadline = None
        while len(batch) < self.batch_size:
            timeout = 0.1 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                if deadline is not None:
                    return batch, False
                if self.draining.is_set():
                    with self._gate:
                        if self._queue.empty():
                            self._closed = True
                            return batch, True
                continue
            if item is _END or isinstance(item, Exception):
                return batch, True
            batch.append(item)
            if deadline is None:
                deadline = time.monotonic() + self.batch_timeout_s
        return batch, False

    def run(self, requests: Iterable[pb.Event]) -> Iterator[pb.Event]:
        """The answers to ``requests``, in order; returns when the input ended (or drained).

        :attr:`StreamStats.drained` is True only when the drain kept events of this stream from
        being taken (a stream whose input had ended anyway ends normally).
        """
        reader = threading.Thread(
            target=self._read, args=(requests,), name="flowctl-stream-reader", daemon=True
        )
        reader.start()
        try:
            ended = False
            while not ended:
                batch, ended = self._next_batch()
                if batch:
                    yield from self._answer(batch)
        finally:
            self.stats.drained = self._closed or self._refused
            reader.join(timeout=0.2)

    # ------------------------------------------------------------------ answering

    def _answer(self, batch: list[pb.Event]) -> Iterator[pb.Event]:
        self.stats.received += len(batch)
        failed, emitted = self.stats.failed, self.stats.outputs
        started = time.perf_counter()
        run: list[tuple[pb.Event, t.Event]] = []
        answers: list[pb.Event] = []
        first = self.stats.received - len(batch) + 1  # the stream position of batch[0]
        for index, message in enumerate(batch, first):  # undecodable inputs split the batch
            if isinstance(message, Undecodable):
                answers += self._process(run)
                run = []
                self.stats.failed += 1
                answers.append(
                    error_event(
                        pb.Event(id=f"message-{index}"), "decode", "decode",
                        f"message #{index} of the stream ({message.size} bytes) is not a "
                        f"flowctl.v1.Event: {message.reason} (string fields must be UTF-8)",
                        self.component_id,
                    )
                )  # fmt: skip
                continue
            try:
                run.append((message, codec.decode(message)))
            except (codec.DecodeError, ValueConversionError) as exc:
                answers += self._process(run)
                run = []
                self.stats.failed += 1
                answers.append(
                    error_event(message, "decode", "decode", str(exc), self.component_id)
                )
        answers += self._process(run)
        took = time.perf_counter() - started
        self.stats.batches += 1
        self.stats.batch_seconds.append(took)
        if len(self.stats.batch_seconds) > 10_000:
            del self.stats.batch_seconds[:5_000]
        if self._on_batch is not None:
            self._on_batch(
                BatchDone(
                    len(batch), self.stats.failed - failed, self.stats.outputs - emitted, took
                )
            )
        yield from answers

    def _process(self, run: list[tuple[pb.Event, t.Event]]) -> list[pb.Event]:
        if not run:
            return []
        if not self.use_process_batch:
            return self._one_by_one(run)
        try:
            outputs = self.instance.process_batch([event for _m, event in run])
        except _CALL_ERRORS:
            return self._one_by_one(run)
        self.stats.ok += len(run)
        self.stats.outputs += len(outputs)
        return [codec.encode(o) for o in outputs]

    def _one_by_one(self, run: list[tuple[pb.Event, t.Event]]) -> list[pb.Event]:
        answers: list[pb.Event] = []
        for message, event in run:
            try:
                outputs = self.instance.process_event(event)
            except _CALL_ERRORS as exc:
                self.stats.failed += 1
                answers.append(_failure(message, exc, self.component_id))
                continue
            self.stats.ok += 1
            self.stats.outputs += len(outputs)
            answers += [codec.encode(o) for o in outputs]
        return answers
