"""What flowctl tells a process component, as frozen settings: environment, Go durations, backoff.

:func:`settings_from_env` turns the environment flowctl injects (``ENABLE_FLOWCTL``,
``FLOWCTL_ENDPOINT``, ``FLOWCTL_COMPONENT_ID``, ``FLOWCTL_HEARTBEAT_INTERVAL``) into a frozen
:class:`ControlPlaneSettings`; nothing here reads ``os.environ`` itself.
:func:`parse_go_duration` reads Go's ``time.ParseDuration`` syntax; :class:`Backoff` gives the
retry delays of :class:`~reference_host.rpc.control_plane.ControlPlaneClient`.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from reference_host.errors import FlowctlHostError

__all__ = [
    "Backoff",
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
