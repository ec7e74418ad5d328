"""The suite over the wire: a host under test instead of the in-process reference host.

Two ways to reach it (``--launch`` or ``--processor-endpoint``, see :class:`RemoteTarget`):

- **launch**: the suite starts the host under test itself from a command template --
  ``{component}`` (the run's hashed private copy),
  ``{policy}`` (a JSON policy file the suite writes: grants, limits, the processor config and
  the run's isolated PostgreSQL schema / Redis namespace), ``{config}`` (the processor config
  alone, as a JSON file), ``{port}`` (a free port on 127.0.0.1) -- waits until it answers
  ``flowctl.v1.ProcessorService/GetInfo``, and stops it by PID (SIGTERM, then SIGKILL) at the
  end of the run.  Each fresh instance a check needs is the extension's ``Reset`` on a live
  host launched for the same policy; a different policy (LIM-002's tight memory, LIM-003's
  search, a fresh database schema) or a host that went down gets a new process.
- **endpoint**: a server that already hosts the component; a fresh instance is the
  ``flowctl_host.v1`` extension's ``Reset``.  The server's policy is its own, so checks that
  set limits of their own are not applicable there.

Calls go through the extension service (``flowctl_host.v1.ProcessorExtensionService``) and come
back as the host's typed answers: ``ok``, the WIT ``processor-error``, or a ``Failure`` whose
kind names the host's error class (a trap, a limit stop).  Silence is never a pass: a call the
host does not answer within its deadline is a trap (:class:`HostUnresponsive`: the host
enforced no time limit), a host that goes away is a trap (:class:`HostDown`, with its exit
code), an unknown failure kind is a trap.  What cannot be decided over the wire is listed in
:data:`LOCAL_ONLY` (and :data:`LAUNCH_ONLY` for the endpoint mode) with the reason; those checks
are *not applicable remotely*, the result says which, and a remote run certifies at most the
``standard`` tier.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from conformance.config_choice import ConfigChoice
from conformance.harness import ComponentUnderTest, ExternalState, Running
from conformance.observe import ObservedInstance
from conformance.outcomes import NotAssessable
from conformance.services import Services
from conformance.settings import SuiteSettings
from reference_host import errors
from reference_host import types as t
from reference_host.host import GrantedCapabilities
from reference_host.limits import CallMeasurement, ResourceLimits
from reference_host.policy import Policy
from reference_host.rpc import codec
from reference_host.rpc.gen.flowctl.v1 import processor_pb2_grpc
from reference_host.rpc.gen.flowctl_host.v1 import extension_pb2 as ext
from reference_host.rpc.gen.flowctl_host.v1 import extension_pb2_grpc
from reference_host.rpc.stream import ERROR_TYPE

#: Checks decided by what only an in-process host can see, with the reason.
LOCAL_ONLY: dict[str, str] = {
    "WIT-001": "decided by inspecting the component's bytes, not by anything a host answers",
    "WIT-002": "decided by inspecting the component's bytes, not by anything a host answers",
    "SBX-001": "decided by inspecting the component's imports, not over the wire",
    "SBX-002": "decided by inspecting the component's imports, not over the wire",
    "SBX-003": "needs deny-all grants linked into the instance by the suite itself",
    "SBX-005": "counts the capability calls inside the host",
    "LIFE-006": "calls exports outside the lifecycle, which a remote host's own gate answers",
    "LIFE-007": "calls exports outside the lifecycle, which a remote host's own gate answers",
    "LIM-005": "runs the suite's probe guests in-process (host-certify examines a host's limits "
    "with the zoo)",
    "SEC-001": "reads the log records and metrics the host captured in-process",
}
#: Checks that need limits of their own: over ``--launch`` only.
LAUNCH_ONLY: dict[str, str] = {
    "LIM-002": "needs instances at limits of its own, which only --launch can give",
    "LIM-003": "needs instances at limits of its own, which only --launch can give",
    "LIM-006": "needs instances at limits of its own, which only --launch can give",
    "SBX-004": "launches the sandbox probe guests under grants of their own, which only --launch "
    "can give",
}
#: What ``--remote-contract`` names: the extension service, or flowctl.v1 alone.
CONTRACTS = ("extension", "flowctl.v1")
#: The checks a host that speaks flowctl.v1 alone can be examined by: each needs only events in
#: and events out of ``Process`` streams (a fresh instance is a new host process).
FLOWCTL_V1_CHECKS = frozenset(
    {"OUT-001", "OUT-002", "OUT-004", "DET-001", "HIST-001", "GOLD-001", "PERF-002", "SBX-004"}
)  # fmt: skip
#: Why the other checks cannot be decided over flowctl.v1 alone, by category.
_FLOWCTL_V1_GAPS = {
    "lifecycle": "calls get-info, validate-config, initialize, health-check or shutdown of "
    "the WIT, which flowctl.v1 does not carry (its processor gets its configuration at start)",
    "typed-errors": "needs the component's typed answers (processor-error cases, traps); "
    "flowctl.v1 carries none, and a flowctl.v1 host may answer a failing event with nothing",
    "resource-limits": "needs the host's typed limit stops (fuel, timeout, memory, stack), "
    "which flowctl.v1 does not carry",
    "output-contract": "compares process-batch with process-event; flowctl.v1 has one Process "
    "stream and does not promise output order",
    "secret-hygiene": "reads the configuration-schema of get-info, which flowctl.v1 does not carry",
}
#: Checks whose reason over flowctl.v1 alone is their own, not their category's.
_FLOWCTL_V1_CHECK_GAPS = {
    "PERF-001": "measures single calls, which flowctl.v1 does not have: a Process stream per "
    "event would measure the host's per-stream set-up (a host may open an instance per stream), "
    "not the component; PERF-002 measures batches as streams",
}
#: Idle launched hosts kept alive for reuse by a later instance with the same policy.
MAX_IDLE_HOSTS = 3
#: Measurements a remote run cannot take (recorded by the checks that would).
NOT_OBSERVABLE = "not observable over the wire"


@dataclass(frozen=True)
class RemoteTarget:
    """Where the host under test is: a command template to launch, or a running endpoint."""

    launch: str | None = None
    endpoint: str | None = None
    ready_timeout_s: float = 60.0
    contract: str = "extension"

    @classmethod
    def of(cls, settings: SuiteSettings) -> RemoteTarget:
        """The target a run's settings name."""
        return cls(
            settings.launch, settings.processor_endpoint, settings.launch_timeout,
            settings.remote_contract,
        )  # fmt: skip

    @property
    def flowctl_v1_only(self) -> bool:
        """The host under test speaks flowctl.v1 alone (no extension service)."""
        return self.contract == "flowctl.v1"

    def not_applicable(self, check_id: str) -> str | None:
        """Why ``check_id`` cannot run against any remote host (``None``: it runs)."""
        if check_id in LOCAL_ONLY:
            return LOCAL_ONLY[check_id]
        if self.launch is None and check_id in LAUNCH_ONLY:
            return LAUNCH_ONLY[check_id]
        return None

    def not_assessed(self, check_id: str) -> str | None:
        """Why this host's contract cannot decide ``check_id`` (a failure where mandatory).

        A host that speaks flowctl.v1 alone is examined by :data:`FLOWCTL_V1_CHECKS`; the
        other checks are about the component's answers, which such a host does not carry --
        not observed is not passed, so they are *not assessed* and the run certifies nothing.
        """
        if not self.flowctl_v1_only or check_id in FLOWCTL_V1_CHECKS:
            return None
        from conformance.checks import BY_ID

        why = _FLOWCTL_V1_CHECK_GAPS.get(check_id) or _FLOWCTL_V1_GAPS.get(
            BY_ID[check_id].category, "needs the extension service"
        )
        return f"over flowctl.v1 alone (--remote-contract flowctl.v1): {why}"

    def describe(self) -> dict[str, Any]:
        """For the result file."""
        return {"launch": self.launch, "endpoint": self.endpoint, "contract": self.contract}


class HostDown(errors.GuestTrap):
    """The host under test went away during a call (crashed, killed, closed the connection)."""


class HostUnresponsive(errors.GuestTrap):
    """The host under test gave no answer within the call's deadline (no time limit held)."""


_FAILURES: dict[str, type[errors.GuestError]] = {
    cls.__name__: cls
    for cls in (
        errors.GuestTrap, errors.OutOfFuelError, errors.CallTimeoutError,
        errors.MemoryLimitError, errors.StackExhaustedError, errors.OutputLimitError,
    )
}  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def policy_document(policy: Policy) -> dict[str, Any]:
    """``policy`` as the JSON a host reads back with ``load_policy`` (secrets in the clear)."""
    data: dict[str, Any] = json.loads(json.dumps(policy.document(), default=str))
    return data


# --------------------------------------------------------------------------- the host process


@dataclass
class LaunchedHost:
    """One host process started from the launch template; stopped by PID."""

    template: str
    component: Path
    policy: Policy
    ready_timeout_s: float
    workdir: Path = field(init=False)
    port: int = field(init=False)
    process: subprocess.Popen[bytes] = field(init=False)
    command: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="flowctl-launch-"))
        os.chmod(self.workdir, 0o700)
        policy_file = self.workdir / "policy.json"
        policy_file.write_text(json.dumps(policy_document(self.policy)), encoding="utf-8")
        config_file = self.workdir / "config.json"
        config_file.write_text(self.policy.processor_config, encoding="utf-8")
        self.port = free_port()
        values = {
            "component": str(self.component), "policy": str(policy_file),
            "config": str(config_file), "port": str(self.port),
        }  # fmt: skip
        try:
            self.command = [part.format(**values) for part in shlex.split(self.template)]
        except (KeyError, IndexError, ValueError) as exc:
            raise NotAssessable(
                f"--launch {self.template!r}: {exc}; use only {{component}}, {{policy}}, "
                "{config} and {port}"
            ) from None
        self._stderr = open(self.workdir / "stderr.log", "wb")  # noqa: SIM115 - closed in stop
        try:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=self._stderr,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            self._stderr.close()
            raise NotAssessable(f"--launch: cannot start {self.command[0]!r}: {exc}") from None

    @property
    def address(self) -> str:
        """host:port of the launched server."""
        return f"127.0.0.1:{self.port}"

    def output_tail(self, lines: int = 12) -> str:
        """The last lines the host wrote (stdout and stderr)."""
        try:
            self._stderr.flush()
            text = (self.workdir / "stderr.log").read_text(encoding="utf-8", errors="replace")
        except (OSError, ValueError):  # stopped: the output went with its directory
            return "(the host's output is gone: it was stopped)"
        return "\n".join(text.strip().splitlines()[-lines:])

    def exited(self) -> int | None:
        """The exit code if the process has ended."""
        return self.process.poll()

    def wait_ready(self) -> None:
        """Until GetInfo answers; :class:`NotAssessable` naming the exit code and output."""
        deadline = time.monotonic() + self.ready_timeout_s
        with grpc.insecure_channel(self.address) as channel:
            stub = processor_pb2_grpc.ProcessorServiceStub(channel)  # type: ignore[no-untyped-call]
            while True:
                code = self.exited()
                if code is not None:
                    raise NotAssessable(
                        f"the host under test exited with code {code} before it answered "
                        f"GetInfo ({' '.join(self.command)}); its output:\n{self.output_tail()}"
                    )
                try:
                    stub.GetInfo(_empty(), timeout=1.0)
                    return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise NotAssessable(
                        f"the host under test did not answer GetInfo on {self.address} within "
                        f"{self.ready_timeout_s:.0f} s ({' '.join(self.command)}); its output:\n"
                        f"{self.output_tail()}"
                    )
                time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM the process group, SIGKILL after 10 s; the exit code (None if it was lost)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.process.returncode


def _exit_note(launched: LaunchedHost | None) -> str:
    """How a launched host ended, for a call it stopped answering ("" when not launched)."""
    if launched is None:
        return ""
    for _ in range(20):
        code = launched.exited()
        if code is not None:
            return f"; the host process exited with code {code}: {launched.output_tail(4)}"
        time.sleep(0.05)
    return "; the host process is still running"


def _empty() -> Any:
    from google.protobuf import empty_pb2

    return empty_pb2.Empty()


# --------------------------------------------------------------------------- one instance


@dataclass
class _Context:
    """What an in-process instance's context offers and a remote one cannot observe."""

    calls: dict[str, int] = field(default_factory=dict)


class _WireInstance:
    """What both remote instances share: the channel, the limits, the counters."""

    def __init__(self, address: str, limits: ResourceLimits, launched: LaunchedHost | None) -> None:
        self.address = address
        self.limits = limits
        self.launched = launched
        self.channel = grpc.insecure_channel(
            address,
            options=[("grpc.max_send_message_length", 64 << 20),
                     ("grpc.max_receive_message_length", 64 << 20)],
        )  # fmt: skip
        self.measurements: list[CallMeasurement] = []
        self.context = _Context()
        self.recycles = 0
        self.refusals = 0

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def _failed(
        self, exc: grpc.RpcError, function: str, deadline: float, silent: str, ended: str
    ) -> errors.GuestTrap:
        """The trap a call that got no answer is.

        Past its deadline the host did not stop it (:class:`HostUnresponsive`; a launched host
        is stopped, the next instance gets a new process); otherwise the host went away
        (:class:`HostDown`, with how it ended).
        """
        code, detail = _status(exc)
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            if self.launched is not None:
                self.launched.stop()
            return HostUnresponsive(
                f"{function}: the host under test {silent} within {deadline:.0f} s (its "
                f"policy's execution_timeout is {self.limits.execution_timeout_s} s): it did not "
                "stop the call",
                function=function,
            )
        return HostDown(
            f"{function}: the host under test {ended} ({code.name if code else exc}: "
            f"{detail}){_exit_note(self.launched)}",
            function=function,
        )


def _status(exc: grpc.RpcError) -> tuple[grpc.StatusCode | None, str]:
    """The status code and details of a failed call (None: no status at all)."""
    code = exc.code() if hasattr(exc, "code") else None
    return code, exc.details() if hasattr(exc, "details") else str(exc)


class RemoteInstance(_WireInstance):
    """A processor instance on the host under test, with the in-process instance's methods.

    Raises the reference host's typed errors (see the module docstring); ``measurements`` has
    the wall time of each call as the client saw it and no fuel.
    """

    def __init__(
        self,
        address: str,
        limits: ResourceLimits,
        *,
        launched: LaunchedHost | None = None,
        batch_size: int = 100,
    ) -> None:
        super().__init__(address, limits, launched)
        self.batch_size = max(1, batch_size)
        self.stub = extension_pb2_grpc.ProcessorExtensionServiceStub(self.channel)  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------ plumbing

    def _deadline(self, events: int) -> float:
        per_call = self.limits.execution_timeout_s or 30.0
        chunks = 1 + (events - 1) // self.batch_size if events else 1
        return 10.0 + 2 * per_call * chunks

    def _rpc(self, function: str, method: str, request: Any, events: int = 0) -> Any:
        deadline = self._deadline(events)
        try:
            return getattr(self.stub, method)(request, timeout=deadline)
        except grpc.RpcError as exc:
            code, detail = _status(exc)
            if code is grpc.StatusCode.UNIMPLEMENTED:
                raise NotAssessable(
                    f"the host under test does not serve flowctl_host.v1 {method} ({detail}); "
                    "the lifecycle checks need the extension service -- a host that speaks "
                    "flowctl.v1 alone is examined with --launch ... --remote-contract flowctl.v1"
                ) from None
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                raise NotAssessable(
                    f"the host under test refused the {function} request: {detail}"
                ) from None
            raise self._failed(exc, function, deadline, "gave no answer", "went away") from None

    def _measure(self, function: str, started: float, events_in: int, outcome: str) -> None:
        self.measurements.append(
            CallMeasurement(function, time.perf_counter() - started, None, events_in, 0, outcome)
        )

    def _answer(self, function: str, result: Any, started: float, events_in: int) -> Any:
        """The value of an answered call; raises its typed error otherwise."""
        self.refusals += getattr(result, "refusals", 0)
        error = result.error if result.HasField("error") else None
        failure = result.failure if result.HasField("failure") else None
        if error is not None:
            self._measure(function, started, events_in, "err")
            case = error.case
            if case not in t.ProcessorError.CASES:
                raise errors.GuestTrap(
                    f"{function}: the host answered an unknown processor-error case {case!r}",
                    function=function,
                )
            value = None if t.ProcessorError.CASES[case] is None else error.message
            raise errors.ProcessorErrorResult(t.ProcessorError(case, value), function=function)
        if failure is not None:
            self._measure(function, started, events_in, f"trap:{failure.kind}")
            cls = _FAILURES.get(failure.kind, errors.GuestTrap)
            known = "" if failure.kind in _FAILURES else f" (unknown failure kind {failure.kind})"
            self.recycles += 1
            said = failure.message if failure.message.startswith(function) else (
                f"{function}: {failure.message}")  # fmt: skip
            raise cls(f"{said}{known}", function=function)
        self._measure(function, started, events_in, "ok")
        return result

    def _call(self, function: str, method: str, request: Any) -> None:
        started = time.perf_counter()
        self._answer(function, self._rpc(function, method, request), started, 0)

    def _events(self, function: str, method: str, request: Any, n: int) -> list[t.Event]:
        started = time.perf_counter()
        result = self._answer(function, self._rpc(function, method, request, n), started, n)
        try:
            out = [codec.decode(m) for m in result.events]
        except codec.DecodeError as exc:
            raise errors.GuestTrap(
                f"{function}: the host answered an output event the codec cannot read: {exc}",
                function=function,
            ) from None
        self.measurements[-1] = CallMeasurement(
            function, self.measurements[-1].duration_s, None, n, len(out), "ok"
        )
        return out

    # ------------------------------------------------------------------ the WIT calls

    def reset(self) -> None:
        """A fresh, uninitialized instance on the server (extension ``Reset``)."""
        self._rpc("reset", "Reset", ext.ResetRequest())

    def get_info(self) -> t.ProcessorInfo:
        """``get-info`` (extension ``GetProcessorInfo``)."""
        info = self._rpc("get-info", "GetProcessorInfo", ext.GetProcessorInfoRequest())
        try:
            return t.ProcessorInfo(
                info.name, info.version, info.author, info.description,
                [t.EventType(e) for e in info.supported_event_types],
                [t.EventType(e) for e in info.output_event_types],
                list(info.capabilities_required),
                info.configuration_schema if info.HasField("configuration_schema") else None,
            )  # fmt: skip
        except ValueError as exc:
            raise errors.GuestTrap(
                f"get-info: the host answered {exc}", function="get-info"
            ) from None

    def validate_config(self, config: str) -> None:
        """``validate-config``."""
        self._call("validate-config", "ValidateConfig", ext.ConfigRequest(config=config))

    def initialize(self, config: str) -> None:
        """``initialize``."""
        self._call("initialize", "Initialize", ext.ConfigRequest(config=config))

    def process_event(self, event: t.Event) -> list[t.Event]:
        """``process-event``."""
        return self._events("process-event", "ProcessEvent", _wire(event), 1)

    def process_batch(self, events: Sequence[t.Event]) -> list[t.Event]:
        """``process-batch``."""
        request = ext.ProcessBatchRequest(events=[_wire(e) for e in events])
        return self._events("process-batch", "ProcessBatch", request, len(events))

    def health_check(self) -> t.HealthStatus:
        """``health-check``."""
        started = time.perf_counter()
        result = self._answer(
            "health-check", self._rpc("health-check", "HealthCheck", ext.HealthRequest()),
            started, 0,
        )  # fmt: skip
        try:
            state = t.HealthState(result.status)
        except ValueError:
            raise errors.GuestTrap(
                f"health-check: the host answered the unknown status {result.status!r}",
                function="health-check",
            ) from None
        message = result.message if result.HasField("message") else None
        return t.HealthStatus(state, message, sorted(result.details.items()), result.timestamp)

    def shutdown(self) -> None:
        """``shutdown``."""
        self._call("shutdown", "Shutdown", ext.ShutdownRequest())

    def call_unchecked(self, function: str, *args: Any) -> Any:
        """Not over the wire: the checks that need it are not applicable remotely."""
        raise NotAssessable(f"{function} outside the lifecycle cannot be called over the wire")


class StreamInstance(_WireInstance):
    """A processor instance on a host that speaks flowctl.v1 alone: each call is a stream.

    flowctl.v1 has no lifecycle calls: the launched host initialized the component with the
    policy's config when it started (``initialize`` with that config is acknowledged, any other
    is not assessable), and a fresh instance is a new host process.  ``process-event`` is one
    ``Process`` stream holding that event, ``process-batch`` one stream holding the batch; the
    call's answer is everything the host sent before it ended the stream with OK, in arrival
    order.  An error event (``type`` ``flowctl.error.v1``, the reference host's documented
    convention) is the typed answer it names; a host that answers a failing event with nothing
    looks like ``ok([])`` -- flowctl.v1 cannot tell, which is why the typed-error checks are not
    assessed over it.  A stream the host ends with an error status, or does not end within the
    deadline, is a trap (:class:`HostDown` / :class:`HostUnresponsive`).
    """

    def __init__(
        self, address: str, limits: ResourceLimits, *, launched: LaunchedHost | None, config: str
    ) -> None:
        super().__init__(address, limits, launched)
        self.config = config
        self.stub = processor_pb2_grpc.ProcessorServiceStub(self.channel)  # type: ignore[no-untyped-call]

    def _not_carried(self, function: str) -> NotAssessable:
        return NotAssessable(
            f"{function} is not part of flowctl.v1 (--remote-contract flowctl.v1): the host "
            "under test carries only Process streams"
        )

    def reset(self) -> None:
        """Nothing: every instance of this contract is a new host process."""

    def get_info(self) -> t.ProcessorInfo:
        """Not carried by flowctl.v1."""
        raise self._not_carried("get-info")

    def validate_config(self, config: str) -> None:
        """Not carried by flowctl.v1."""
        raise self._not_carried("validate-config")

    def health_check(self) -> t.HealthStatus:
        """Not carried by flowctl.v1 in the WIT's terms."""
        raise self._not_carried("health-check")

    def shutdown(self) -> None:
        """Not carried by flowctl.v1 (shutdown is a signal to the process)."""
        raise self._not_carried("shutdown")

    def call_unchecked(self, function: str, *args: Any) -> Any:
        """Not over the wire."""
        raise self._not_carried(function)

    def initialize(self, config: str) -> None:
        """Acknowledged for the config the host was launched with (it initialized at start)."""
        if config != self.config:
            raise NotAssessable(
                "initialize with another config than the launched host's: flowctl.v1 gives a "
                "processor its configuration only at start"
            )
        self.measurements.append(CallMeasurement("initialize", 0.0, None, 0, 0, "ok"))

    def process_event(self, event: t.Event) -> list[t.Event]:
        """One ``Process`` stream holding ``event``."""
        return self._stream("process-event", [event])

    def process_batch(self, events: Sequence[t.Event]) -> list[t.Event]:
        """One ``Process`` stream holding ``events``."""
        return self._stream("process-batch", list(events))

    def answers(self, events: Sequence[t.Event]) -> list[t.Event]:
        """Everything one ``Process`` stream holding ``events`` answered, error events too."""
        return self._stream("process-batch", list(events), errors_as_events=True)

    def _stream(
        self, function: str, events: list[t.Event], *, errors_as_events: bool = False
    ) -> list[t.Event]:
        per_call = self.limits.execution_timeout_s or 30.0
        deadline = 10.0 + 2 * per_call * max(1, len(events))
        started = time.perf_counter()
        try:
            answers = list(self.stub.Process(iter([_wire(e) for e in events]), timeout=deadline))
        except grpc.RpcError as exc:
            self._measure(function, started, len(events), 0, "trap")
            code, detail = _status(exc)
            if code is grpc.StatusCode.UNIMPLEMENTED:
                raise NotAssessable(
                    f"the host under test does not serve flowctl.v1 Process ({detail})"
                ) from None
            raise self._failed(
                exc, function, deadline, "did not end the Process stream",
                "ended the Process stream",
            ) from None  # fmt: skip
        out: list[t.Event] = []
        for message in answers:
            if message.type == ERROR_TYPE and not errors_as_events:
                self._measure(function, started, len(events), len(out), "err")
                raise _error_answer(function, message)
            try:
                out.append(codec.decode(message))
            except codec.DecodeError as exc:
                self._measure(function, started, len(events), len(out), "trap")
                raise errors.GuestTrap(
                    f"{function}: the host answered an output event the codec cannot read: {exc}",
                    function=function,
                ) from None
        self._measure(function, started, len(events), len(out), "ok")
        return out

    def _measure(self, function: str, started: float, n: int, out: int, outcome: str) -> None:
        self.measurements.append(
            CallMeasurement(function, time.perf_counter() - started, None, n, out, outcome)
        )


def _error_answer(function: str, message: Any) -> errors.GuestError:
    """The typed error an error event (``flowctl.error.v1``) names."""
    try:
        body = json.loads(message.payload)
        error = body["error"]
        kind, text = str(error["kind"]), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return errors.GuestTrap(
            f"{function}: the host answered an error event it did not fill in: "
            f"{bytes(message.payload)[:200]!r}",
            function=function,
        )
    case = str(error.get("case", ""))
    if kind == "processor-error" and case in t.ProcessorError.CASES:
        value = None if t.ProcessorError.CASES[case] is None else text
        return errors.ProcessorErrorResult(t.ProcessorError(case, value), function=function)
    cls = _FAILURES.get(str(error.get("trap", "")), errors.GuestTrap)
    said = text if text.startswith(function) else f"{function}: {text}"
    return cls(f"{said} (error event, kind {kind})", function=function)


def _wire(event: t.Event) -> Any:
    """``event`` as a flowctl.v1 event (the codec's table, ``reference_host.rpc.codec``).

    flowctl.v1 metadata is a map: its order and repeated keys are not carried (the last value
    of a repeated key wins).  Every call of a check goes the same way, so the checks that
    compare answers compare like with like.
    """
    return codec.encode(event)


# --------------------------------------------------------------------------- the component


@dataclass
class RemoteRunning(Running):
    """A fresh instance on the host under test; refusals are the ones the host reported."""

    def denials(self) -> list[Any]:
        """Not observable remotely (the host's record stays in the host)."""
        return []

    def refusals(self) -> int:
        """Capability refusals the host reported for this instance's calls."""
        remote: RemoteInstance = self.instance.instance  # type: ignore[assignment]
        return remote.refusals


@dataclass
class RemoteComponentUnderTest(ComponentUnderTest):
    """The component under test, run by the host under test (see the module docstring).

    The component is still loaded and inspected here (its bytes are what is certified, and the
    services a fresh instance needs follow its imports); every call goes to the remote host.
    """

    target: RemoteTarget = field(default_factory=RemoteTarget)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._hosts: dict[str, LaunchedHost] = {}  # least recently used first
        self._in_use: dict[str, int] = {}
        self._local = False

    # Over flowctl.v1 alone the host under test answers no get-info and no initialize: what the
    # component declares and the config it accepts are asked of the in-process reference host
    # (they are properties of the certified bytes); every event still goes to the host under test.

    @contextlib.contextmanager
    def _in_process(self) -> Iterator[None]:
        self._local = True
        try:
            yield
        finally:
            self._local = False

    def ask_info(self) -> t.ProcessorInfo:
        """get-info: of the host under test, or in-process over flowctl.v1 alone."""
        if not self.target.flowctl_v1_only:
            return super().ask_info()
        with self._in_process():
            return super().ask_info()

    def choose_config(self) -> ConfigChoice:
        """The run's config: chosen by the host under test, or in-process over flowctl.v1."""
        if not self.target.flowctl_v1_only:
            return super().choose_config()
        with self._in_process():
            return super().choose_config()

    def _launched(self, policy: Policy) -> tuple[str, LaunchedHost]:
        """A ready host for ``policy``: a live one launched for the same policy, else a new one.

        At most :data:`MAX_IDLE_HOSTS` idle hosts stay alive (a policy with a fresh schema or
        namespace per instance is never reused; without the bound every instance would leave a
        process behind until the run ends).
        """
        key = json.dumps(policy_document(policy), sort_keys=True)
        host = self._hosts.pop(key, None)
        if host is not None and host.exited() is None:
            self._hosts[key] = host
            return key, host
        if host is not None:
            host.stop()
        idle = [k for k in self._hosts if not self._in_use.get(k)]
        for old in idle[: max(0, len(idle) - MAX_IDLE_HOSTS + 1)]:
            self._hosts.pop(old).stop()
        host = LaunchedHost(
            self.target.launch or "", self.path, policy, self.target.ready_timeout_s
        )
        try:
            host.wait_ready()
        except BaseException:
            host.stop()
            raise
        self._hosts[key] = host
        return key, host

    def close(self) -> None:
        """Stop every host this run launched."""
        for host in self._hosts.values():
            host.stop()
        self._hosts.clear()

    @contextlib.contextmanager
    def _open(
        self, policy: Policy, limits: ResourceLimits, state: ExternalState, *, probing: bool = False
    ) -> Iterator[Running]:
        if self._local:
            with ComponentUnderTest._open(self, policy, limits, state, probing=probing) as run:
                yield run
            return
        launched: LaunchedHost | None = None
        if policy.max_fuel is None and limits.max_fuel is not None:
            policy = policy.updated({"max_fuel": limits.max_fuel})  # the certification's fuel
        if self.target.flowctl_v1_only:
            with self._fresh_process(policy, limits, probing=probing, state=state) as run:
                yield run
            return
        key = ""
        if self.target.launch is not None:
            key, launched = self._launched(policy)
            address = launched.address
            self._in_use[key] = self._in_use.get(key, 0) + 1
        elif self.target.endpoint is not None:
            address = self.target.endpoint
        else:
            raise NotAssessable("no --launch or --processor-endpoint for the remote run")
        remote = RemoteInstance(address, limits, launched=launched, batch_size=policy.batch_size)
        try:
            remote.reset()  # a fresh, uninitialized instance (a new process has one already)
            observed = ObservedInstance(remote, None if probing else self.ledger)  # type: ignore[arg-type]
            yield RemoteRunning(
                observed, GrantedCapabilities(), policy, policy.processor_config, state
            )
        finally:
            remote.close()
            if key:
                self._in_use[key] -= 1

    @contextlib.contextmanager
    def _fresh_process(
        self, policy: Policy, limits: ResourceLimits, *, probing: bool, state: ExternalState
    ) -> Iterator[Running]:
        """A new host process for one instance (flowctl.v1 has no Reset); stopped after it."""
        host = LaunchedHost(
            self.target.launch or "", self.path, policy, self.target.ready_timeout_s
        )
        try:
            host.wait_ready()
            remote = StreamInstance(
                host.address, limits, launched=host, config=policy.processor_config
            )
            try:
                observed = ObservedInstance(remote, None if probing else self.ledger)  # type: ignore[arg-type]
                yield RemoteRunning(
                    observed, GrantedCapabilities(), policy, policy.processor_config, state
                )
            finally:
                remote.close()
        finally:
            host.stop()


def _server(channel: grpc.Channel, address: str) -> dict[str, Any]:
    """The host's self-description: flowctl.v1 GetInfo and the extension's Inspect digest."""
    server: dict[str, Any] = {}
    try:
        stub = processor_pb2_grpc.ProcessorServiceStub(channel)  # type: ignore[no-untyped-call]
        info = stub.GetInfo(_empty(), timeout=10)
    except grpc.RpcError as exc:
        raise NotAssessable(
            f"the host under test at {address} does not answer GetInfo: {exc}"
        ) from None
    server["get_info"] = {
        "id": info.id, "name": info.name, "version": info.version,
        "type": int(info.type), "input_event_types": list(info.input_event_types),
        "output_event_types": list(info.output_event_types),
        "metadata": dict(info.metadata),
    }  # fmt: skip
    ext_stub = extension_pb2_grpc.ProcessorExtensionServiceStub(channel)  # type: ignore[no-untyped-call]
    try:
        server["component_sha256"] = ext_stub.Inspect(
            ext.InspectRequest(), timeout=30
        ).component_sha256
    except grpc.RpcError as exc:
        server["component_sha256"] = None
        server["inspect"] = f"not answered: {exc.code().name if hasattr(exc, 'code') else exc}"
    return server


def describe(cut: RemoteComponentUnderTest) -> dict[str, Any]:
    """What the result records of a remote run (where, the server, what does not run there).

    ``server`` is the host's self-description (flowctl.v1 GetInfo, the extension's Inspect
    digest), asked of the host the run already uses; ``not_applicable_remotely`` the checks
    that do not run there, with the reason.

    At a ``--processor-endpoint`` whose extension answers Inspect, the hosted component must
    be the certified one: another digest is :class:`NotAssessable`.
    """
    from conformance.checks import CHECKS

    target = cut.target
    with cut.running(initialize=False) as run:
        remote: RemoteInstance = run.instance.instance  # type: ignore[assignment]
        server = _server(remote.channel, remote.address)
    hosted = server.get("component_sha256")
    if target.endpoint is not None and hosted and hosted != cut.loaded.sha256:
        raise NotAssessable(
            f"the server at {target.endpoint} hosts a component with sha256 {hosted[:12]}, not "
            f"--component's {cut.loaded.sha256[:12]}: point --component at the hosted file"
        )
    return {
        **target.describe(),
        "server": server,
        "not_applicable_remotely": {
            c.id: why for c in CHECKS if (why := target.not_applicable(c.id)) is not None
        },
    }


def component_under_test(
    settings: SuiteSettings, services: Services, **kwargs: Any
) -> ComponentUnderTest:
    """The run's component under test: in-process, or on the host under test when remote."""
    if not settings.remote:
        return ComponentUnderTest(settings, services, **kwargs)
    return RemoteComponentUnderTest(settings, services, target=RemoteTarget.of(settings), **kwargs)
