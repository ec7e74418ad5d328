"""PostgreSQL and Redis in Docker containers, through testcontainers.

:func:`docker_available` asks the Docker engine testcontainers would use (once per process);
the containers get random passwords and are stopped when their service is closed.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any

from conformance.services.endpoints import PostgresEndpoint, RedisEndpoint
from conformance.services.environment import POSTGRES_URL_ENV, REDIS_URL_ENV
from conformance.services.errors import INSTALL_HINT, ServiceUnavailableError
from conformance.services.process import Resources
from conformance.services.servers import PostgresService, RedisService

POSTGRES_IMAGE = "postgres:18-alpine"
REDIS_IMAGE = "redis:7-alpine"


@functools.cache
def docker_available(timeout: float = 2.0) -> tuple[bool, str]:
    """Probe the Docker engine once per process as testcontainers finds it; return (ok, why)."""
    try:
        from testcontainers.core.docker_client import DockerClient

        DockerClient(timeout=timeout).client.ping()
    except ImportError:
        return False, "testcontainers is not installed (pip install testcontainers)"
    except Exception as exc:  # any failure means "no usable engine"
        return False, f"no Docker engine answered ({type(exc).__name__}: {exc})"
    return True, "a Docker engine answered"


def _container(kind: str) -> tuple[Any, str, int, Resources]:
    ok, why = docker_available()
    if not ok:
        raise ServiceUnavailableError(
            f"mode 'docker' needs a Docker engine: {why}. Install/start Docker or set DOCKER_HOST;"
            f" or use mode 'embedded' ({INSTALL_HINT}) or 'env' with {POSTGRES_URL_ENV} and"
            f" {REDIS_URL_ENV}"
        )
    res = Resources()
    try:
        try:  # testcontainers >= 4.15 moved them; the old names warn
            from testcontainers.community.postgres import PostgresContainer
            from testcontainers.community.redis import RedisContainer
        except ImportError:
            from testcontainers.postgres import PostgresContainer
            from testcontainers.redis import RedisContainer
        password, user = secrets.token_hex(16), "flowctl"  # hex: lands in argv unquoted
        res.container = (
            PostgresContainer(POSTGRES_IMAGE, username=user, password=password, dbname=user)
            if kind == "postgres"
            else RedisContainer(REDIS_IMAGE, password=password)
        )
        res.container.start()
        port = int(res.container.get_exposed_port(res.container.port))
        return res.container, res.container.get_container_host_ip(), port, res
    except Exception as exc:
        res.release()
        raise ServiceUnavailableError(f"starting the {kind} container failed: {exc}") from exc


def postgres_container() -> PostgresService:
    """Start a PostgreSQL container (random password); stopped when the service closes."""
    container, host, port, res = _container("postgres")
    endpoint = PostgresEndpoint(
        host, port, container.username, container.password, container.dbname
    )
    return PostgresService(endpoint, owned=True, origin="docker", resources=res)


def redis_container() -> RedisService:
    """Start a Redis container (random password); stopped when the service closes."""
    container, host, port, res = _container("redis")
    endpoint = RedisEndpoint(host, port, 0, container.password)
    return RedisService(endpoint, owned=True, origin="docker", resources=res)
