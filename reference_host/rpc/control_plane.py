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

Configuration flows one way: :func:`~reference_host.rpc.flowctl_env.settings_from_env` turns the
environment flowctl injects into a frozen :class:`ControlPlaneSettings`
(:mod:`reference_host.rpc.flowctl_env`); this module never reads ``os.environ`` itself.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, cast

import grpc

from reference_host.rpc.flowctl_env import (
    MAX_MESSAGE_BYTES,
    Backoff,
    ControlPlaneConfigError,
    ControlPlaneSettings,
    parse_go_duration,
    settings_from_env,
)
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
