"""``flowctl-host serve`` as a real subprocess, driven the way flowctl drives a processor.

- :func:`start_serve` / :func:`serving`: spawn ``python -m reference_host.cli serve ...`` (cwd the
  repository, a clean environment with ``TTP_NETWORK_PASSPHRASE``), wait for its
  ``flowctl-host serve: listening on HOST:PORT[, health on HOST:PORT]`` line, parse the ports;
  a start that fails or times out stops the process and raises :class:`ServeStartError` with
  everything it printed.  :meth:`ServeProcess.stop` ends it by PID: SIGTERM, wait, SIGKILL as a
  last resort -- always, also when setup fails halfway.
- :class:`Orchestrator`: what flowctl's stream orchestrator does with a processor -- ONE
  ``Process`` stream, every source event forwarded (optionally slowly), ``CloseSend`` at EOF,
  every answer forwarded to a sink over a second stream (``ConsumerService.Consume``), the
  sink stream closed when the processor stream ends.
- :class:`TestConsumer`: a real in-process ``flowctl.v1.ConsumerService`` on 127.0.0.1 that
  records what it consumed.
- :class:`TimedControlPlaneService`: the fake control plane of ``tests/flowctl_control_plane.py``
  with the monotonic time of every heartbeat (``time.monotonic`` is system-wide on Linux, so it
  compares with the spawn time taken here).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2

from reference_host.jsonform import event_from_json
from reference_host.rpc import codec
from reference_host.rpc.gen.flowctl.v1 import (
    common_pb2,
    consumer_pb2,
    consumer_pb2_grpc,
    processor_pb2_grpc,
)
from tests.flowctl_control_plane import ControlPlaneService

REPO = Path(__file__).resolve().parents[2]
TTP_WASM = REPO / "sample_components" / "dist" / "ttp_processor.wasm"
TTP_PIPELINE = REPO / "fixtures" / "pipelines" / "ttp-serve.yaml"
TTP_CONFIG = REPO / "fixtures" / "configs" / "ttp.json"
TTP_PROCESSOR_ID = "ttp-processor"
PASSPHRASE = "Test SDF Network ; September 2015"
MAX_MESSAGE = 50 * 1024 * 1024
CHANNEL_OPTIONS = (
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
)
#: what the host's environment must not leak into a serve started here
_FLOWCTL_VARIABLES = (
    "ENABLE_FLOWCTL", "FLOWCTL_ENDPOINT", "FLOWCTL_COMPONENT_ID", "FLOWCTL_SERVICE_ID",
    "FLOWCTL_HEARTBEAT_INTERVAL", "COMPONENT_ID", "PORT", "HEALTH_PORT",
)  # fmt: skip
LISTENING = re.compile(
    r"flowctl-host serve: listening on (?P<host>[^\s,]+):(?P<port>\d+)"
    r"(?:, health on (?P<health_host>[^\s,]+):(?P<health_port>\d+))?"
)


class ServeStartError(RuntimeError):
    """``serve`` exited or stayed silent before it listened (the message has its output)."""

    def __init__(self, message: str, process: ServeProcess) -> None:
        super().__init__(message)
        self.process = process  # stopped by the time the error reaches the caller


def ttp_component() -> Path:
    """The TTP sample, built (``sample_components/build.py --only ttp_processor``) if missing."""
    if not TTP_WASM.exists():
        subprocess.run(
            [sys.executable, "sample_components/build.py", "--only", "ttp_processor"],
            cwd=REPO, check=True, timeout=900,
        )  # fmt: skip
    return TTP_WASM


def serve_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment without flowctl's variables, plus the TTP passphrase.

    ``extra`` adds variables; a ``None`` value removes one.
    """
    env = {k: v for k, v in os.environ.items() if k not in _FLOWCTL_VARIABLES}
    env["TTP_NETWORK_PASSPHRASE"] = PASSPHRASE
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def serve_argv(
    *extra: str,
    pipeline: Path | None = TTP_PIPELINE,
    processor: str | None = TTP_PROCESSOR_ID,
    port: int | None = 0,
    health_port: int | None = 0,
) -> list[str]:
    """``python -m reference_host.cli serve`` with the TTP pipeline, free ports, and ``extra``."""
    argv = [sys.executable, "-m", "reference_host.cli", "serve"]
    if pipeline is not None:
        argv += ["--pipeline", str(pipeline)]
    if processor is not None:
        argv += ["--processor", processor]
    if port is not None:
        argv += ["--port", str(port)]
    if health_port is not None:
        argv += ["--health-port", str(health_port)]
    return [*argv, *extra]


class _Pump:
    """Reads one pipe of the child line by line (so it never fills up), keeps every line."""

    def __init__(self, pipe: Any, name: str, on_line: Callable[[str], None]) -> None:
        self.lines: list[str] = []
        self._pipe = pipe
        self._on_line = on_line
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._pipe:
            self.lines.append(line)
            self._on_line(line)
        self._pipe.close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()


class ServeProcess:
    """One ``serve`` child process: its ports, output, channels; :meth:`stop` ends it by PID."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path = REPO) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.health_port: int | None = None
        self.listening_line: str | None = None
        self.listening_at: float | None = None
        self._listening = threading.Event()
        self._channels: list[grpc.Channel] = []
        self.spawned_at = time.monotonic()
        self.popen = subprocess.Popen(
            self.argv, cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            errors="replace", start_new_session=True,
        )  # fmt: skip
        self.pid = self.popen.pid
        self._stdout = _Pump(self.popen.stdout, f"serve-{self.pid}-stdout", lambda _l: None)
        self._stderr = _Pump(self.popen.stderr, f"serve-{self.pid}-stderr", self._seen)

    def _seen(self, line: str) -> None:
        match = LISTENING.search(line)
        if match and not self._listening.is_set():
            self.host = match["host"]
            self.port = int(match["port"])
            if match["health_port"]:
                self.health_port = int(match["health_port"])
            self.listening_line = line.rstrip("\n")
            self.listening_at = time.monotonic()
            self._listening.set()

    # ------------------------------------------------------------------ output

    @property
    def stdout(self) -> str:
        return "".join(self._stdout.lines)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr.lines)

    def output(self) -> str:
        """Everything the process printed so far (for error messages)."""
        return f"--- stderr ---\n{self.stderr}--- stdout ---\n{self.stdout}"

    # ------------------------------------------------------------------ start

    def wait_listening(self, timeout: float = 60.0) -> ServeProcess:
        """Until the listening line (returns self); :class:`ServeStartError` otherwise."""
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self.popen.poll() is not None:
                self._stderr.join(5.0)
                if self._listening.is_set():
                    break
                raise ServeStartError(
                    f"serve exited with {self.popen.returncode} before listening "
                    f"({' '.join(self.argv)}):\n{self.output()}",
                    self,
                )
            if time.monotonic() > deadline:
                raise ServeStartError(
                    f"serve did not print 'listening on' within {timeout} s "
                    f"({' '.join(self.argv)}):\n{self.output()}",
                    self,
                )
        return self

    # ------------------------------------------------------------------ clients

    @property
    def target(self) -> str:
        """``127.0.0.1:PORT`` of the gRPC server."""
        if self.port is None:
            raise RuntimeError("serve is not listening")
        return f"{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        if self.health_port is None:
            raise RuntimeError("serve has no health port")
        return f"http://{self.host}:{self.health_port}"

    def channel(self) -> grpc.Channel:
        """A new insecure channel to the server, 50 MB message limits (closed by :meth:`stop`)."""
        channel = grpc.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        self._channels.append(channel)
        return channel

    def http_get(self, path: str, accept: str | None = None) -> tuple[int, str, bytes]:
        """(status, content type, body) of ``GET path`` on the health port."""
        return http_get(self.health_url + path, accept)

    # ------------------------------------------------------------------ stop

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process, by PID, while it runs."""
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int:
        """Its exit status; ``subprocess.TimeoutExpired`` if it still runs after ``timeout``."""
        code = self.popen.wait(timeout)
        self._stdout.join(5.0)
        self._stderr.join(5.0)
        return code

    def stop(self, timeout: float = 45.0) -> int:
        """SIGTERM, wait up to ``timeout`` (serve drains), SIGKILL as a last resort; the status."""
        for channel in self._channels:
            channel.close()
        self._channels.clear()
        try:
            self.signal(signal.SIGTERM)
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.wait(10.0)
        finally:
            if self.popen.poll() is None:  # an interrupt while waiting: never leave it behind
                self.signal(signal.SIGKILL)
                self.popen.wait(10.0)


def start_serve(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 60.0,
) -> ServeProcess:
    """A listening ``serve`` (defaults: the TTP pipeline, free ports); stopped again if not."""
    ttp_component()
    process = ServeProcess(argv if argv is not None else serve_argv(), env or serve_env())
    try:
        return process.wait_listening(timeout)
    except BaseException:
        process.stop(timeout=10.0)
        raise


@contextmanager
def serving(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 60.0,
) -> Iterator[ServeProcess]:
    """:func:`start_serve` as a context manager: stopped (by PID) on exit, whatever happened."""
    process = start_serve(argv, env, timeout=timeout)
    try:
        yield process
    finally:
        process.stop()


def run_serve(
    argv: Sequence[str], env: Mapping[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run a ``serve`` that is expected to exit by itself (bad usage, bad config)."""
    ttp_component()
    return subprocess.run(
        list(argv), cwd=REPO, env=dict(env), stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=timeout, check=False,
    )  # fmt: skip


def http_get(url: str, accept: str | None = None, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, error statuses included."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` (Prometheus text) as ``{(sample name, sorted labels): value}``."""
    from prometheus_client.parser import text_string_to_metric_families

    status, _type, body = http_get(url)
    if status != 200:
        raise RuntimeError(f"GET {url}: {status} {body[:200]!r}")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode("utf-8"))
        for sample in family.samples
    }


# --------------------------------------------------------------------------- events


def fixture_events(path: Path) -> list[common_pb2.Event]:
    """A JSONL fixture of WIT events (the fixtures' JSON form), encoded for the wire."""
    with path.open(encoding="utf-8") as fh:
        return [codec.encode(event_from_json(json.loads(line))) for line in fh if line.strip()]


def renamed(event: common_pb2.Event, new_id: str) -> common_pb2.Event:
    """A copy of ``event`` with another id."""
    out = common_pb2.Event()
    out.CopyFrom(event)
    out.id = new_id
    return out


# --------------------------------------------------------------------------- the sink


class TestConsumer(consumer_pb2_grpc.ConsumerServiceServicer):
    """A ``flowctl.v1.ConsumerService`` on 127.0.0.1 that records every ``Consume`` stream.

    ``start()`` serves it on a free port (:attr:`target`); ``stop()`` ends it.  ``streams`` has
    one list of events per finished ``Consume`` call, ``events`` all of them in arrival order.
    """

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[common_pb2.Event] = []
        self.streams: list[list[common_pb2.Event]] = []
        self.server: grpc.Server | None = None
        self.port = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TestConsumer:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="test-consumer"),
            options=CHANNEL_OPTIONS,
        )
        consumer_pb2_grpc.add_ConsumerServiceServicer_to_server(self, server)  # type: ignore[no-untyped-call]
        self.port = server.add_insecure_port("127.0.0.1:0")
        if not self.port:
            raise OSError("cannot bind 127.0.0.1:0 for the test consumer")
        server.start()
        self.server = server
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(0).wait(5.0)
            self.server = None

    def __enter__(self) -> TestConsumer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self.lock:
            self.events.clear()
            self.streams.clear()

    def GetInfo(self, request: Any, context: Any) -> common_pb2.ComponentInfo:
        return common_pb2.ComponentInfo(
            id="test-consumer", name="test consumer", type=common_pb2.COMPONENT_TYPE_CONSUMER,
            endpoint=self.target,
        )  # fmt: skip

    def HealthCheck(self, request: Any, context: Any) -> common_pb2.HealthCheckResponse:
        return common_pb2.HealthCheckResponse(status=common_pb2.HEALTH_STATUS_HEALTHY)

    def Consume(
        self, request_iterator: Iterator[common_pb2.Event], context: Any
    ) -> consumer_pb2.ConsumeResponse:
        got: list[common_pb2.Event] = []
        for event in request_iterator:
            got.append(event)
            with self.lock:
                self.events.append(event)
        with self.lock:
            self.streams.append(got)
        return consumer_pb2.ConsumeResponse(events_consumed=len(got))


# --------------------------------------------------------------------------- the orchestrator

_END = object()


@dataclass
class StreamResult:
    """How one ``Process`` stream went."""

    answers: list[common_pb2.Event] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # ids handed to gRPC, in order
    code: grpc.StatusCode | None = None
    details: str = ""
    trailing: dict[str, str] = field(default_factory=dict)
    consumed: consumer_pb2.ConsumeResponse | None = None  # the sink's answer
    seconds: float = 0.0
    answer_times: list[float] = field(default_factory=list)  # monotonic, one per answer


class Orchestrator:
    """Drives a processor the way flowctl's stream orchestrator does.

    ``processor`` is a channel to the processor; ``sink``, when given, a channel to a
    ``ConsumerService``: the processor's answers whose type ``sink_event_types`` accepts (empty:
    all) are forwarded into one ``Consume`` stream, closed when the processor stream ends.
    """

    def __init__(
        self,
        processor: grpc.Channel,
        sink: grpc.Channel | None = None,
        *,
        sink_event_types: Sequence[str] = (),
    ) -> None:
        self.processor = processor_pb2_grpc.ProcessorServiceStub(processor)  # type: ignore[no-untyped-call]
        self.sink = None if sink is None else consumer_pb2_grpc.ConsumerServiceStub(sink)  # type: ignore[no-untyped-call]
        self.sink_event_types = frozenset(sink_event_types)

    def run(
        self,
        events: Iterable[common_pb2.Event],
        *,
        interval_s: float = 0.0,
        on_answer: Callable[[common_pb2.Event, int], None] | None = None,
        timeout: float = 120.0,
    ) -> StreamResult:
        """ONE ``Process`` stream fed from ``events`` (``interval_s`` apart), CloseSend at EOF."""
        result = StreamResult()
        finished = threading.Event()
        to_sink: queue.Queue[Any] = queue.Queue()
        consume = None
        if self.sink is not None:
            consume = self.sink.Consume.future(iter(to_sink.get, _END), timeout=timeout)

        def feed() -> Iterator[common_pb2.Event]:
            for n, event in enumerate(events):
                if n and interval_s and finished.wait(interval_s):
                    return
                if finished.is_set():
                    return
                result.sent.append(event.id)
                yield event
            # returning ends the request stream: the client's CloseSend

        started = time.monotonic()
        call = self.processor.Process(feed(), timeout=timeout)
        try:
            for answer in call:
                result.answers.append(answer)
                result.answer_times.append(time.monotonic())
                if not self.sink_event_types or answer.type in self.sink_event_types:
                    to_sink.put(answer)
                if on_answer is not None:
                    on_answer(answer, len(result.answers))
        except grpc.RpcError:
            pass  # the status is read below
        finally:
            finished.set()
            to_sink.put(_END)
        result.seconds = time.monotonic() - started
        result.code = call.code()
        result.details = call.details() or ""
        result.trailing = {m.key: m.value for m in call.trailing_metadata() or ()}
        if consume is not None:
            result.consumed = consume.result(timeout=30.0)
        return result


# --------------------------------------------------------------------------- control plane


class TimedControlPlaneService(ControlPlaneService):
    """The fake control plane, plus ``(monotonic time, service id, status)`` per heartbeat."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heartbeat_times: list[tuple[float, str, int]] = []
        self.register_times: list[tuple[float, str]] = []

    def RegisterComponent(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.register_times.append((time.monotonic(), request.component_id))
        return super().RegisterComponent(request, context)

    def Heartbeat(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.heartbeat_times.append((time.monotonic(), request.service_id, request.status))
        return super().Heartbeat(request, context)

    def first_healthy_heartbeat(self, service_id: str) -> float | None:
        with self.lock:
            return next(
                (
                    t
                    for t, sid, status in self.heartbeat_times
                    if sid == service_id and status == common_pb2.HEALTH_STATUS_HEALTHY
                ),
                None,
            )


def get_info(channel: grpc.Channel, timeout: float = 10.0) -> common_pb2.ComponentInfo:
    """``ProcessorService.GetInfo``."""
    stub = processor_pb2_grpc.ProcessorServiceStub(channel)  # type: ignore[no-untyped-call]
    info: common_pb2.ComponentInfo = stub.GetInfo(empty_pb2.Empty(), timeout=timeout)
    return info
