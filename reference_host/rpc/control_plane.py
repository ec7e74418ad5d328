"""Client of flowctl's control plane (``flowctl.v1.ControlPlaneService``), used by ``serve``.

What flowctl needs from a processor before it routes events to it (its orchestrator lists the
HEALTHY components and dials the one whose ``ComponentInfo.id`` is the pipeline id):

1. ``RegisterComponent`` with ``component.id`` = ``RegisterRequest.component_id`` =
   ``FLOWCTL_COMPONENT_ID`` and a dialable ``endpoint``;
2. a ``Heartbeat`` within the control plane's TTL (30 s by default), carrying the host's *real*
   status -- a heartbeat's status replaces the stored one unless it is UNKNOWN, so STARTING,
   DEGRADED or UNHEALTHY take the component out of the listing and HEALTHY puts it back;
3. registering again when a heartbeat answers ``service <id> not found`` (flowctl answers a plain
   Go error, i.e. gRPC status UNKNOWN): the control plane restarted and lost its state.

:class:`ControlPlaneClient` does this on a daemon thread it owns.  An unreachable control plane is
retried with jittered exponential backoff (:class:`Backoff`), each RPC under a short deadline;
nothing escapes the thread, the host keeps serving.  ``stop()`` unregisters (best effort).

Configuration flows one way: :func:`settings_from_env` turns the environment flowctl injects
(``ENABLE_FLOWCTL``, ``FLOWCTL_ENDPOINT``, ``FLOWCTL_COMPONENT_ID``, ``FLOWCTL_HEARTBEAT_INTERVAL``)
into a frozen :class:`ControlPlaneSettings`; this module never reads ``os.environ`` itself.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, cast

import grpc

from reference_host.errors import FlowctlHostError
from reference_host.rpc.gen.flowctl.v1 import common_pb2, control_plane_pb2, control_plane_pb2_grpc

__all__ = [
    "Backoff",
    "ControlPlaneClient",
    "ControlPlaneConfigError",
    "ControlPlaneSettings",
    "parse_go_duration",
    "settings_from_env",
]

_log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES: Final = 50 * 1024 * 1024
"""flowctl's gRPC message limit (send and receive), 50 MB."""
DEFAULT_ENDPOINT: Final = "localhost:8080"
"""``FLOWCTL_ENDPOINT`` when unset (the SDK's default)."""
DEFAULT_HEARTBEAT_INTERVAL_S: Final = 10.0
"""``FLOWCTL_HEARTBEAT_INTERVAL`` when unset (what flowctl injects)."""
COMPONENT_ID_VARIABLES: Final = ("FLOWCTL_COMPONENT_ID", "FLOWCTL_SERVICE_ID", "COMPONENT_ID")
"""Where the component id comes from, first set (non-empty) one wins."""
_TRUE: Final = frozenset({"true", "1", "yes"})


class ControlPlaneConfigError(FlowctlHostError, ValueError):
    """The control-plane configuration (environment, settings) is invalid; says how to fix it."""


# --------------------------------------------------------------------------- Go durations

_NANOS: Final[dict[str, int]] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 MICRO SIGN
    "μs": 1_000,  # U+03BC GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_TOKEN: Final = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_SYNTAX: Final = (
    'expected a Go duration such as "10s", "1m30s", "500ms" or "1.5h" '
    "(a number and a unit, ns, us, µs, ms, s, m or h, repeated; or a bare 0)"
)
_MAX_NANOS: Final = 2**63 - 1


def parse_go_duration(text: str) -> float:
    r"""Seconds in a Go ``time.ParseDuration`` string: ``"10s"``, ``"1m30s"``, ``"-1.5h"``, ``"0"``.

    Same grammar as Go (``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``, units ns us µs ms s m h, a bare
    ``0``; no spaces, a unit on every number; at most 2^63-1 ns).  Raises
    :class:`ControlPlaneConfigError` (a ``ValueError``) naming the text and the expected syntax.
    """
    rest, sign = text, 1
    if rest[:1] in ("-", "+"):
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ControlPlaneConfigError(f"invalid duration {text!r}: {_SYNTAX}")
    nanos, pos = 0, 0
    while pos < len(rest):
        match = _TOKEN.match(rest, pos)
        assert match is not None  # every group may be empty
        whole, fraction, unit = match.group(1), match.group(2) or "", match.group(3)
        if not whole and not fraction:
            raise ControlPlaneConfigError(f"invalid duration {text!r}: {_SYNTAX}")
        if not unit:
            raise ControlPlaneConfigError(f"missing unit in duration {text!r}: {_SYNTAX}")
        scale = _NANOS.get(unit)
        if scale is None:
            raise ControlPlaneConfigError(f"unknown unit {unit!r} in duration {text!r}: {_SYNTAX}")
        nanos += int(whole or "0") * scale
        if fraction:  # Go truncates the fraction to whole nanoseconds
            nanos += int(fraction) * scale // 10 ** len(fraction)
        if nanos > _MAX_NANOS + (sign < 0):
            raise ControlPlaneConfigError(
                f"duration {text!r} is out of range (at most 2562047h47m16.854775807s)"
            )
        pos = match.end()
    return sign * nanos / 1e9


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ControlPlaneSettings:
    """Where the control plane is, who we are, and how often and how patiently we talk to it."""

    component_id: str
    """The id flowctl knows the component by: ``component.id`` and the requested service id."""
    endpoint: str = DEFAULT_ENDPOINT
    """The control plane's gRPC ``host:port``, dialled without TLS."""
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    """Seconds between heartbeats; keep it well under the control plane's TTL (30 s)."""
    rpc_timeout_s: float = 5.0
    """Deadline of each RegisterComponent / Heartbeat call, connecting included."""
    backoff_initial_s: float = 0.5
    """First retry delay after a failed call; doubles per failure up to ``backoff_max_s``."""
    backoff_max_s: float = 30.0
    """Longest retry delay (while registered, retries never wait longer than the interval)."""
    unregister_timeout_s: float = 2.0
    """Deadline of the best-effort UnregisterComponent sent by ``stop()``."""
    status_poll_interval_s: float = 1.0
    """How often the status is read between heartbeats; a change is reported at once (0: never).

    flowctl polls its listing every second while it waits for a component to become HEALTHY, so
    a host that registers while STARTING is routed to within about a second of being ready,
    not a heartbeat interval later.
    """

    def __post_init__(self) -> None:
        if not self.component_id.strip():
            raise ControlPlaneConfigError(
                "the component id is empty; set FLOWCTL_COMPONENT_ID to the pipeline's id "
                "for this component (flowctl injects it)"
            )
        if not self.endpoint.strip():
            raise ControlPlaneConfigError(
                f"the control-plane endpoint is empty; set FLOWCTL_ENDPOINT to host:port "
                f"(default {DEFAULT_ENDPOINT})"
            )
        if "://" in self.endpoint and self.endpoint.split("://", 1)[0].lower() in (
            "http",
            "https",
            "grpc",
        ):
            raise ControlPlaneConfigError(
                f"FLOWCTL_ENDPOINT={self.endpoint!r} is a URL; the control plane is dialled as a "
                f"gRPC target: give host:port, e.g. {DEFAULT_ENDPOINT!r}"
            )
        for name in ("heartbeat_interval_s", "rpc_timeout_s", "backoff_initial_s"):
            if not getattr(self, name) > 0:
                raise ControlPlaneConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not self.unregister_timeout_s > 0:
            raise ControlPlaneConfigError(
                f"unregister_timeout_s must be > 0, got {self.unregister_timeout_s!r}"
            )
        if not self.backoff_max_s >= self.backoff_initial_s:
            raise ControlPlaneConfigError(
                f"backoff_max_s ({self.backoff_max_s!r}) must be >= backoff_initial_s "
                f"({self.backoff_initial_s!r})"
            )
        if not self.status_poll_interval_s >= 0:
            raise ControlPlaneConfigError(
                f"status_poll_interval_s must be >= 0, got {self.status_poll_interval_s!r}"
            )


def settings_from_env(environ: Mapping[str, str]) -> ControlPlaneSettings | None:
    """The control-plane settings the environment asks for; ``None`` when flowctl is not enabled.

    ``ENABLE_FLOWCTL`` (``true``/``1``/``yes``, any case) enables; ``FLOWCTL_ENDPOINT`` (default
    ``localhost:8080``); the component id from ``FLOWCTL_COMPONENT_ID``, else
    ``FLOWCTL_SERVICE_ID``, else ``COMPONENT_ID``; ``FLOWCTL_HEARTBEAT_INTERVAL`` as a Go duration
    (default ``10s``).  An empty value counts as unset.  The caller passes the environment (e.g.
    ``os.environ``); invalid values raise :class:`ControlPlaneConfigError` naming the variable.
    """
    if environ.get("ENABLE_FLOWCTL", "").strip().lower() not in _TRUE:
        return None
    component_id = next(
        (environ[k].strip() for k in COMPONENT_ID_VARIABLES if environ.get(k, "").strip()), None
    )
    if component_id is None:
        raise ControlPlaneConfigError(
            "ENABLE_FLOWCTL is set but no component id is: set FLOWCTL_COMPONENT_ID (flowctl "
            "injects it; FLOWCTL_SERVICE_ID or COMPONENT_ID are read too) to the id this "
            "component has in the pipeline, or unset ENABLE_FLOWCTL to run without flowctl"
        )
    endpoint = environ.get("FLOWCTL_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
    interval = DEFAULT_HEARTBEAT_INTERVAL_S
    raw_interval = environ.get("FLOWCTL_HEARTBEAT_INTERVAL", "").strip()
    if raw_interval:
        try:
            interval = parse_go_duration(raw_interval)
        except ControlPlaneConfigError as exc:
            raise ControlPlaneConfigError(f"FLOWCTL_HEARTBEAT_INTERVAL: {exc}") from None
        if interval <= 0:
            raise ControlPlaneConfigError(
                f"FLOWCTL_HEARTBEAT_INTERVAL={raw_interval!r} must be positive, e.g. '10s'"
            )
    return ControlPlaneSettings(
        component_id=component_id, endpoint=endpoint, heartbeat_interval_s=interval
    )


# --------------------------------------------------------------------------- backoff


class Backoff:
    """Exponential retry delays with jitter: ``initial``, doubling, at most ``maximum``.

    Each delay is multiplied by a random factor in ``[1 - jitter, 1 + jitter]`` (then capped), so
    many hosts restarted together do not retry in lockstep.
    """

    def __init__(
        self,
        initial: float,
        maximum: float,
        *,
        multiplier: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"need 0 < initial <= maximum, got {initial!r}, {maximum!r}")
        if not multiplier >= 1 or not 0 <= jitter < 1:
            raise ValueError(f"need multiplier >= 1 and 0 <= jitter < 1: {multiplier}, {jitter}")
        self._initial, self._maximum = initial, maximum
        self._multiplier, self._jitter = multiplier, jitter
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 -- not crypto
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Delays handed out since the last :meth:`reset`."""
        return self._attempt

    def next(self) -> float:
        """The delay before the next retry (seconds)."""
        base = min(self._maximum, self._initial * self._multiplier ** min(self._attempt, 64))
        self._attempt += 1
        factor = self._rng.uniform(1 - self._jitter, 1 + self._jitter)
        return min(self._maximum, base * factor)

    def reset(self) -> None:
        """Start again from ``initial`` (after a success)."""
        self._attempt = 0


# --------------------------------------------------------------------------- client


class _StoppedError(Exception):
    """The client is stopping: the in-flight call was cancelled."""


def _is_not_found(exc: grpc.RpcError) -> bool:
    """Whether the control plane no longer knows our service id (it restarted, or evicted us)."""
    code = exc.code() if hasattr(exc, "code") else None
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    return code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.NOT_FOUND) and (
        "not found" in details.lower()
    )


def _describe(rpc: str, exc: BaseException) -> str:
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        code = exc.code()
        return f"{rpc}: {getattr(code, 'name', code)}: {exc.details()}"
    return f"{rpc}: {type(exc).__name__}: {exc}"


def _metric_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CHANNEL_OPTIONS: Final = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # keepalive no more often than a default Go server tolerates (MinTime 5 min, no pings without
    # calls) -- a dead control plane is noticed sooner by each call's deadline anyway
    ("grpc.keepalive_time_ms", 300_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 0),
)


class ControlPlaneClient:
    """Registers a component with flowctl's control plane and keeps it listed by heartbeating.

    ``info`` is the ``ComponentInfo`` to register (built by the caller: type, a dialable
    ``endpoint``, event types, metadata); its ``id`` must be empty or ``settings.component_id``
    (it is set to that).  ``status`` gives the host's real status (a ``common_pb2.HealthStatus``
    value), sent with every heartbeat and also read every ``settings.status_poll_interval_s``
    between heartbeats (a change is sent at once; keep it cheap); ``metrics`` the metrics sent
    along (values become strings, booleans ``true``/``false`` as Go prints them).  Both are called
    on the client's thread; if they raise, the heartbeat says UNHEALTHY / carries no metrics.

    ``start()`` runs the client on a daemon thread; ``stop()`` ends it and unregisters.  Also a
    context manager.  The properties are safe to read from any thread.
    """

    def __init__(
        self,
        settings: ControlPlaneSettings,
        info: common_pb2.ComponentInfo,
        status: Callable[[], int],
        metrics: Callable[[], Mapping[str, object]],
        *,
        rng: random.Random | None = None,
    ) -> None:
        if info.id and info.id != settings.component_id:
            raise ControlPlaneConfigError(
                f"ComponentInfo.id is {info.id!r} but the component id is "
                f"{settings.component_id!r}: flowctl finds the component by ComponentInfo.id, "
                "so leave it empty or set it to FLOWCTL_COMPONENT_ID"
            )
        self._settings = settings
        self._info = common_pb2.ComponentInfo()
        self._info.CopyFrom(info)
        self._info.id = settings.component_id
        self._status = status
        self._metrics = metrics
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s, rng=rng)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._ran = False
        self._channel: Any = None
        self._stub: Any = None
        self._inflight: Any = None
        self._status_failing = False
        # observable state (under _lock)
        self._registered = False
        self._service_id: str | None = None
        self._assigned_topics: tuple[str, ...] = ()
        self._registrations = 0
        self._heartbeats_sent = 0
        self._consecutive_failures = 0
        self._last_error: str | None = None
        self._started_at: float | None = None
        self._first_healthy_heartbeat_at: float | None = None

    # ------------------------------------------------------------------ observable state

    @property
    def settings(self) -> ControlPlaneSettings:
        """The settings the client was made with."""
        return self._settings

    @property
    def info(self) -> common_pb2.ComponentInfo:
        """A copy of the ComponentInfo registered (``id`` = the component id)."""
        copy = common_pb2.ComponentInfo()
        copy.CopyFrom(self._info)
        return copy

    @property
    def registered(self) -> bool:
        """Whether the control plane acknowledged our registration (and has not forgotten it)."""
        with self._lock:
            return self._registered

    @property
    def service_id(self) -> str | None:
        """The service id the control plane assigned at the last registration."""
        with self._lock:
            return self._service_id

    @property
    def assigned_topics(self) -> tuple[str, ...]:
        """The topics the control plane assigned at the last registration."""
        with self._lock:
            return self._assigned_topics

    @property
    def registrations(self) -> int:
        """Successful RegisterComponent calls (more than 1: the control plane restarted)."""
        with self._lock:
            return self._registrations

    @property
    def heartbeats_sent(self) -> int:
        """Heartbeats the control plane acknowledged."""
        with self._lock:
            return self._heartbeats_sent

    @property
    def consecutive_failures(self) -> int:
        """Failed calls since the last successful one (0: the link is fine)."""
        with self._lock:
            return self._consecutive_failures

    @property
    def last_error(self) -> str | None:
        """The most recent failure (``"Heartbeat: UNAVAILABLE: ..."``); kept after recovery."""
        with self._lock:
            return self._last_error

    @property
    def started_at(self) -> float | None:
        """``time.monotonic()`` when :meth:`start` was called."""
        with self._lock:
            return self._started_at

    @property
    def first_healthy_heartbeat_at(self) -> float | None:
        """``time.monotonic()`` when the first heartbeat sent with HEALTHY was acknowledged."""
        with self._lock:
            return self._first_healthy_heartbeat_at

    # ------------------------------------------------------------------ lifetime

    def start(self) -> ControlPlaneClient:
        """Dial the control plane and start registering and heartbeating on a daemon thread."""
        with self._lock:
            if self._ran:
                raise RuntimeError("a ControlPlaneClient starts once; make a new one to restart")
            self._ran = True
            self._started_at = time.monotonic()
        self._channel = grpc.insecure_channel(
            self._settings.endpoint,
            options=[
                *_CHANNEL_OPTIONS,
                ("grpc.initial_reconnect_backoff_ms", int(self._settings.backoff_initial_s * 1000)),
                ("grpc.max_reconnect_backoff_ms", int(self._settings.backoff_max_s * 1000)),
            ],
        )
        # the generated stub is unannotated
        self._stub = control_plane_pb2_grpc.ControlPlaneServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(
            target=self._run, name=f"flowctl-control-plane[{self._settings.component_id}]"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def wake(self) -> None:
        """Send a heartbeat now (e.g. the status just changed) instead of at the next interval."""
        self._wake.set()

    def stop(self, *, unregister: bool = True) -> None:
        """Stop the thread (cancelling an in-flight call), then unregister, best effort.

        ``UnregisterComponent`` gets ``settings.unregister_timeout_s``; its failure is logged,
        never raised.  Idempotent; a stopped client cannot be started again.
        """
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        with self._lock:
            inflight = self._inflight
        if inflight is not None:
            inflight.cancel()
        thread.join(timeout=self._settings.rpc_timeout_s + 5.0)
        if thread.is_alive():
            _log.warning("control-plane client thread did not stop in time; abandoning it")
        self._thread = None
        with self._lock:
            service_id = self._service_id if self._registered else None
        if unregister and service_id is not None:
            try:
                self._stub.UnregisterComponent(
                    control_plane_pb2.UnregisterRequest(service_id=service_id),
                    timeout=self._settings.unregister_timeout_s,
                )
            except grpc.RpcError as exc:
                _log.warning("could not unregister %s: %s", service_id, _describe("", exc))
            else:
                _log.info("unregistered %s from the control plane", service_id)
                with self._lock:
                    self._registered = False
        self._channel.close()

    def __enter__(self) -> ControlPlaneClient:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        acked_since_register = False
        while not self._stopping.is_set():
            try:
                if not self.registered:
                    self._register()
                    acked_since_register = False
                status = self._read_status()
                try:
                    self._heartbeat(status)
                except grpc.RpcError as exc:
                    if not _is_not_found(exc):
                        raise
                    self._failed("Heartbeat", exc)
                    with self._lock:
                        self._registered = False
                    _log.warning(
                        "the control plane no longer knows %s; registering again", self.service_id
                    )
                    if not acked_since_register:  # registered but not known: do not spin
                        self._sleep(self._backoff.next())
                    continue
                acked_since_register = True
                self._backoff.reset()
                self._wait_for_next_heartbeat(status)
            except _StoppedError:
                break
            except grpc.RpcError as exc:  # unreachable, deadline, refused: retry later
                self._failed(
                    "Heartbeat" if self.registered else "RegisterComponent", exc, quiet=True
                )
                delay = self._backoff.next()
                if self.registered:  # keep the TTL in mind: never wait longer than the interval
                    delay = min(delay, self._settings.heartbeat_interval_s)
                self._sleep(delay)
            except Exception as exc:  # never leave the thread: the host keeps serving
                _log.exception("control-plane client error")
                self._failed("control-plane client", exc, quiet=True)
                self._sleep(self._backoff.next())

    def _call(self, method: Any, request: Any) -> Any:
        """One unary call under the deadline, cancellable by :meth:`stop`."""
        future = method.future(request, timeout=self._settings.rpc_timeout_s, wait_for_ready=True)
        with self._lock:
            self._inflight = future
        try:
            if self._stopping.is_set():
                future.cancel()
            return future.result()
        except grpc.FutureCancelledError:
            raise _StoppedError from None
        except grpc.RpcError as exc:
            if self._stopping.is_set() and exc.code() == grpc.StatusCode.CANCELLED:
                raise _StoppedError from None
            raise
        finally:
            with self._lock:
                self._inflight = None

    def _register(self) -> None:
        request = control_plane_pb2.RegisterRequest(
            component=self._info, component_id=self._settings.component_id
        )
        response = self._call(self._stub.RegisterComponent, request)
        service_id = response.service_id or self._settings.component_id
        with self._lock:
            self._registered = True
            self._service_id = service_id
            self._assigned_topics = tuple(response.assigned_topics)
            self._registrations += 1
            self._consecutive_failures = 0
            count = self._registrations
        if service_id != self._settings.component_id:
            _log.warning(
                "the control plane registered %r as %r", self._settings.component_id, service_id
            )
        _log.info(
            "registered with the control plane at %s as %s (registration %d)",
            self._settings.endpoint,
            service_id,
            count,
        )

    def _heartbeat(self, status: common_pb2.HealthStatus) -> None:
        with self._lock:
            service_id = self._service_id
        request = control_plane_pb2.HeartbeatRequest(
            service_id=service_id, status=status, metrics=self._read_metrics()
        )
        self._call(self._stub.Heartbeat, request)
        with self._lock:
            self._heartbeats_sent += 1
            recovered, self._consecutive_failures = self._consecutive_failures, 0
            if status == common_pb2.HEALTH_STATUS_HEALTHY and (
                self._first_healthy_heartbeat_at is None
            ):
                self._first_healthy_heartbeat_at = time.monotonic()
        if recovered:
            _log.info("heartbeats acknowledged again after %d failed calls", recovered)

    def _read_status(self) -> common_pb2.HealthStatus:
        try:
            value = self._status()
            common_pb2.HealthStatus.Name(value)  # ValueError unless a HealthStatus value
        except Exception:
            if not self._status_failing:  # once per streak: the status is polled often
                _log.exception("the status callable failed; reporting UNHEALTHY")
            self._status_failing = True
            return common_pb2.HEALTH_STATUS_UNHEALTHY
        self._status_failing = False
        return cast("common_pb2.HealthStatus", value)

    def _read_metrics(self) -> dict[str, str]:
        try:
            return {str(k): _metric_text(v) for k, v in self._metrics().items()}
        except Exception:
            _log.exception("the metrics callable failed; heartbeat without metrics")
            return {}

    def _failed(self, rpc: str, exc: BaseException, *, quiet: bool = False) -> None:
        message = _describe(rpc, exc)
        with self._lock:
            self._last_error = message
            self._consecutive_failures += 1
            first = self._consecutive_failures == 1
        # the first failure of a streak is a warning, the retries that follow are debug
        _log.log(logging.DEBUG if quiet and not first else logging.WARNING, "%s", message)

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _wait_for_next_heartbeat(self, sent: common_pb2.HealthStatus) -> None:
        """Until the interval is over, :meth:`wake` is called, or the status changes."""
        deadline = time.monotonic() + self._settings.heartbeat_interval_s
        poll = self._settings.status_poll_interval_s
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._wake.wait(min(poll, remaining) if poll > 0 else remaining):
                self._wake.clear()
                return
            if poll > 0 and self._read_status() != sent:
                return
