"""Which server a mode provides: :func:`start_postgres` and :func:`start_redis`.

``auto`` takes the URL from the environment, else a container when a Docker engine answers (and
falls back to embedded when starting it fails), else an embedded server; the forced modes
(``env``, ``docker``, ``embedded``) raise :class:`ServiceUnavailableError` instead of falling
back.  A server given by URL must answer before it is used.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from conformance.services.containers import docker_available, postgres_container, redis_container
from conformance.services.embedded_postgres import start_embedded_postgres
from conformance.services.embedded_redis import start_embedded_redis
from conformance.services.environment import POSTGRES_URL_ENV, REDIS_URL_ENV, ServiceMode
from conformance.services.errors import ServiceUnavailableError
from conformance.services.servers import PostgresService, RedisService, Service

_log = logging.getLogger(__name__)


def _provide(
    kind: str,
    mode: ServiceMode | str,
    url: str | None,
    given: Callable[..., Service],
    docker: Callable[[], Service],
    embedded: Callable[[], Service],
) -> Any:
    """The ``kind`` server ``mode`` asks for: ``given(url)``, ``docker()`` or ``embedded()``."""
    mode, started = ServiceMode(mode), time.perf_counter()
    if mode is ServiceMode.ENV or (mode is ServiceMode.AUTO and url):
        var = POSTGRES_URL_ENV if kind == "PostgreSQL" else REDIS_URL_ENV
        if not url:
            raise ServiceUnavailableError(f"mode 'env' needs the {kind} URL in {var}")
        service = given(url, owned=False, origin="env")
        try:
            service.ping()
        except Exception as exc:
            raise ServiceUnavailableError(
                f"{var} ({service.endpoint}) does not answer: {exc}"
            ) from exc
    elif mode is ServiceMode.DOCKER or (mode is ServiceMode.AUTO and docker_available()[0]):
        try:
            service = docker()
        except ServiceUnavailableError:
            if mode is ServiceMode.DOCKER:
                raise
            _log.warning("%s in Docker failed; falling back to embedded", kind, exc_info=True)
            service = embedded()
    else:
        service = embedded()
    service.setup_seconds = time.perf_counter() - started
    _log.info("%s (%s) ready in %.2fs: %r", kind, service.origin, service.setup_seconds, service)
    return service


def start_postgres(mode: ServiceMode | str = "auto", url: str | None = None) -> PostgresService:
    """Provide PostgreSQL per ``mode`` (a URL counts in auto/env only); use it as a context manager.

    Call :meth:`PostgresService.close` (or leave the ``with`` block) to stop what was started.
    """
    given, docker, embedded = PostgresService.from_url, postgres_container, start_embedded_postgres
    service: PostgresService = _provide("PostgreSQL", mode, url, given, docker, embedded)
    return service


def start_redis(
    mode: ServiceMode | str = "auto", url: str | None = None, *, require_password: bool = True
) -> RedisService:
    """Provide Redis per ``mode`` (a URL counts in auto/env only); use it as a context manager.

    ``require_password`` gives an embedded server a random ``requirepass``.
    """
    embedded = functools.partial(
        start_embedded_redis, secrets.token_urlsafe(24) if require_password else ""
    )
    service: RedisService = _provide(
        "Redis", mode, url, RedisService.from_url, redis_container, embedded
    )
    return service
