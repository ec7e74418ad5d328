"""Which servers a run asks for, read from the environment mapping it is given.

The only place of :mod:`conformance.services` that reads environment variables, and it reads
them from the mapping passed in (never ``os.environ`` itself).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from conformance.services.errors import ServiceUnavailableError

MODE_ENV = "FLOWCTL_CONFORMANCE_SERVICES"
POSTGRES_URL_ENV = "FLOWCTL_CONFORMANCE_POSTGRES_URL"
REDIS_URL_ENV = "FLOWCTL_CONFORMANCE_REDIS_URL"


class ServiceMode(enum.StrEnum):
    """Where the servers come from."""

    AUTO = "auto"
    ENV = "env"
    DOCKER = "docker"
    EMBEDDED = "embedded"


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    """Mode and URLs read by :func:`resolve_mode_and_urls` (URLs hidden from the repr)."""

    mode: ServiceMode
    postgres_url: str | None = dataclasses.field(default=None, repr=False)
    redis_url: str | None = dataclasses.field(default=None, repr=False)


def resolve_mode_and_urls(environ: Mapping[str, str]) -> ServiceSettings:
    """Read ``FLOWCTL_CONFORMANCE_SERVICES`` and the two URL variables from ``environ``."""
    raw = environ.get(MODE_ENV, "").strip().lower() or "auto"
    if raw not in set(ServiceMode):
        choices = "|".join(ServiceMode)
        raise ServiceUnavailableError(f"{MODE_ENV}={raw!r} is not one of {choices}")
    pg, rd = environ.get(POSTGRES_URL_ENV) or None, environ.get(REDIS_URL_ENV) or None
    return ServiceSettings(ServiceMode(raw), pg, rd)
