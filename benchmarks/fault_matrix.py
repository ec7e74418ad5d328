"""Fault injection at every capability boundary, on real services (a script and a test).

Run from the repository root::

    python -m benchmarks.fault_matrix [--out reports/faults.json] [--no-pipeline]

Each row injects one fault into a real service the harness started for it -- embedded
PostgreSQL and Redis (``conformance.services``: killed with SIGKILL and restarted on the same
port, or frozen with SIGSTOP and thawed), a real HTTP server on 127.0.0.1 (slow, 5xx, reset
connections, trickling and oversized bodies), a resolver whose answer changes between calls --
and calls the reference host's own capability objects (what a guest's import call reaches) with a
per-call budget.  A row holds when

- the call under the fault answers the WIT's typed error (the ``expected`` case),
- within the call budget (plus 0.5 s of slack for the machine),
- and the *same* capability object answers ok again once the service is back (connections
  re-established by the host itself: nothing is restarted but the service).

The pipeline row runs the JavaScript account-balance sample (every capability) in-process on
PostgreSQL that crashes mid-run and comes back: every event is answered exactly once (ok or a
typed error, never a trap), the events during the outage fail typed, the ones after it succeed,
and the balances PostgreSQL holds at the end equal an independent computation over exactly the
events answered ok (no event lost, none applied twice, none half-applied).

The figures go to ``--out`` (JSON; ``SECURITY.md``'s fault table is generated from it by
``python -m benchmarks.security_figures``).
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from benchmarks import write_result
from reference_host import types as t
from reference_host.backends.redis import RedisBackend
from reference_host.capabilities.base import HostContext
from reference_host.capabilities.database import DatabaseCapability
from reference_host.capabilities.http_client import HttpClientCapability
from reference_host.capabilities.key_value import KeyValueCapability
from reference_host.grants import DatabaseGrant, HttpGrant
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.rules.kv import KeyRules

REPO = Path(__file__).resolve().parents[1]
SLACK_S = 0.5


@dataclass
class Row:
    """One fault at one boundary and what the host did."""

    boundary: str
    fault: str
    expected: str
    got: str = ""
    seconds: float = 0.0
    budget_s: float = 0.0
    recovered: bool = False
    detail: str = ""

    @property
    def held(self) -> bool:
        """Typed error as expected, within budget, and ok again after the fault."""
        in_time = self.seconds <= self.budget_s + SLACK_S
        return self.got == self.expected and in_time and self.recovered

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        return {**asdict(self), "held": self.held}


@dataclass
class Matrix:
    """Every row, and the pipeline run."""

    rows: list[Row] = field(default_factory=list)
    pipeline: dict[str, Any] | None = None

    @property
    def held(self) -> bool:
        """Every row held, and the pipeline (when run) lost nothing."""
        return all(r.held for r in self.rows) and (
            self.pipeline is None or bool(self.pipeline.get("held"))
        )

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        return {
            "held": self.held, "rows": [r.to_dict() for r in self.rows],
            "pipeline": self.pipeline,
        }  # fmt: skip


def _context(seconds: float) -> HostContext:
    """A fresh per-call budget of ``seconds`` (what one guest call gets)."""
    budget = CallBudget(ResourceLimits())
    budget.deadline = time.monotonic() + seconds
    return HostContext("faults", budget)


def _case(result: Any) -> str:
    """``ok``, the error case of an ``Err``, or what came back otherwise."""
    if isinstance(result, t.Err):
        return str(result.error.case)
    if isinstance(result, t.Ok) or result is None or isinstance(result, str):
        return "ok"
    return f"unexpected {result!r}"[:120]


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        got = call()
    except Exception as exc:
        got = f"raised {type(exc).__name__}: {exc}"
    return got, time.monotonic() - started


def _row(
    boundary: str, fault: str, expected: str, budget_s: float, cap: Any,
    call: Callable[[], Any], inject: Callable[[], None], heal: Callable[[], None],
) -> Row:  # fmt: skip
    """Call ok, inject the fault, call (typed error?), heal, call again (ok?)."""
    row = Row(boundary, fault, expected, budget_s=budget_s)
    cap.context = _context(10)
    before = _case(call())
    if before != "ok":
        row.got, row.detail = f"not ok before the fault: {before}", ""
        return row
    inject()
    try:
        cap.context = _context(budget_s)
        got, row.seconds = _timed(call)
        row.got = _case(got) if not isinstance(got, str) or got == "ok" else got
        if isinstance(got, t.Err):
            row.detail = str(got.error.value or "")[:200]
    finally:
        heal()
    deadline = time.monotonic() + 10
    while True:  # the service may need a moment to accept connections again
        cap.context = _context(5)
        after = _case(call())
        if after == "ok" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    row.recovered = after == "ok"
    if not row.recovered:
        row.detail += f"; after the fault: {after}"
    return row


# --------------------------------------------------------------------------- PostgreSQL, Redis


def postgres_rows(pg: Any) -> list[Row]:
    """Crash + restart, and a hung server, under the database capability."""
    rows = []
    with pg.isolated_schema("faults") as schema:
        pg.execute(f'CREATE TABLE "{schema.name}".events (id INT)')
        role, password = schema.create_restricted_role(["events"], ("SELECT", "INSERT"))
        grant = DatabaseGrant(
            enabled=True, connection_string=SecretStr(schema.role_endpoint(role, password).url),
            allowed_tables=("events",), allowed_operations=("SELECT", "INSERT"),
            query_timeout=2.0,
        )  # fmt: skip
        cap = DatabaseCapability.from_policy(grant, component_id="faults")
        try:

            def query() -> Any:
                return cap.query("SELECT count(*) FROM events", [])

            rows.append(_row("database", "PostgreSQL killed (SIGKILL), restarted on its port",
                             "connection-failed", 3.0, cap, query, pg.crash,
                             pg.restart))  # fmt: skip
            rows.append(_row("database", "PostgreSQL hung (SIGSTOP), then continued", "timeout",
                             1.0, cap, query, pg.freeze,
                             pg.thaw))  # fmt: skip
        finally:
            cap.close()
    return rows


def redis_rows(rd: Any) -> list[Row]:
    """Crash + restart, and a hung server, under the key-value capability."""
    rows = []
    with rd.isolated_namespace("faults") as space:
        backend = RedisBackend(space.url)
        cap = KeyValueCapability(backend, KeyRules(space.namespace), context=_context(5))
        try:
            cap.set("k", "v", None)

            def get() -> Any:
                return cap.get("k")

            rows.append(_row("key-value", "Redis killed (SIGKILL), restarted on its port",
                             "unknown-error", 2.0, cap, get, rd.crash, rd.restart))  # fmt: skip
            cap.context = _context(5)
            cap.set("k", "v", None)  # the restarted server starts empty (no persistence)
            rows.append(_row("key-value", "Redis hung (SIGSTOP), then continued", "timeout", 0.5,
                             cap, get, rd.freeze, rd.thaw))  # fmt: skip
        finally:
            backend.close()
    return rows


# --------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    """Modes by path: /ok /slow /5xx /reset /trickle /huge; a mode can be switched live."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        mode = self.server.mode if self.path == "/live" else self.path.strip("/")
        if mode == "ok":
            self._send(200, b"fine")
        elif mode == "slow":
            self.server.stop.wait(5)
            self._send(200, b"late")
        elif mode == "5xx":
            self._send(503, b"overloaded")
        elif mode == "reset":  # an RST instead of an answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
        elif mode == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                if self.server.stop.wait(0.1):
                    break
                self.wfile.write(b"x")
                self.wfile.flush()
        elif mode == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(8 << 20))
            self.end_headers()
            chunk = b"h" * 65536
            for _ in range(128):
                self.wfile.write(chunk)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "ok"
        self.stop = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up on a slow or huge answer is the point of the row."""


@contextmanager
def http_server() -> Iterator[_Server]:
    """A real HTTP server on 127.0.0.1 in a thread; stopped on exit."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def http_rows(server: _Server) -> list[Row]:
    """Slow, 5xx, reset, trickle, oversized: the mode of /live is switched under one capability."""
    port = int(server.server_address[1])
    addresses = {"answer": "127.0.0.1"}

    def resolve(_host: str, _port: int) -> list[str]:
        return [addresses["answer"]]

    cap = HttpClientCapability.from_policy(
        HttpGrant(enabled=True, allowed_domains=(f"127.0.0.1:{port}", f"svc.test:{port}"),
                  request_timeout=1.0, max_response_bytes=1 << 20, max_requests=1000),
        component_id="faults", resolver=resolve,
    )  # fmt: skip
    rows = []
    try:

        def live() -> Any:
            return cap.request(t.HttpRequest("GET", f"http://127.0.0.1:{port}/live", [], None, 0))

        def mode(name: str) -> Callable[[], None]:
            return lambda: setattr(server, "mode", name)

        for name, fault, expected, budget in (
            ("slow", "endpoint answers after 5 s (request_timeout 1 s)", "timeout", 1.0),
            ("5xx", "endpoint answers 503", "server-error", 2.0),
            ("reset", "endpoint resets the connection (RST)", "network-error", 2.0),
            ("trickle", "endpoint trickles its body, 1 byte / 100 ms", "timeout", 1.0),
            ("huge", "endpoint sends an 8 MiB body (max_response_bytes 1 MiB)", "unknown-error",
             2.0),
        ):  # fmt: skip
            rows.append(_row("http-client", fault, expected, budget, cap, live, mode(name),
                             mode("ok")))  # fmt: skip

        def by_name() -> Any:
            return cap.request(t.HttpRequest("GET", f"http://svc.test:{port}/ok", [], None, 0))

        def moved() -> None:
            addresses["answer"] = "127.0.0.2"  # where nothing listens on the port

        def back() -> None:
            addresses["answer"] = "127.0.0.1"

        rows.append(_row("http-client", "DNS answer of the listed name changes between calls "
                         "(to an address where nothing listens)", "network-error", 2.0, cap,
                         by_name, moved, back))  # fmt: skip
    finally:
        cap.close()
    return rows


# --------------------------------------------------------------------------- the pipeline


def balances(events: list[t.Event]) -> dict[tuple[str, str], Decimal]:
    """Per (account, asset): the account-balance sample's balances, computed independently."""
    out: dict[tuple[str, str], Decimal] = {}
    for ev in events:
        tt = ev.data
        assert isinstance(tt, t.TokenTransfer)
        a = tt.asset
        asset = (
            "native" if a.asset_type is t.AssetType.NATIVE else f"{a.asset_code}:{a.asset_issuer}"
        )
        amount = Decimal(tt.amount)
        out[(tt.from_, asset)] = out.get((tt.from_, asset), Decimal(0)) - amount
        out[(tt.to, asset)] = out.get((tt.to, asset), Decimal(0)) + amount
    return out


def pipeline_run(pg: Any, rd: Any, *, events_n: int = 60) -> dict[str, Any]:
    """The account-balance sample on PostgreSQL that crashes mid-run (see the docstring)."""
    from reference_host.host import open_processor
    from reference_host.jsonform import event_from_json
    from reference_host.policy import policy_from_mapping
    from sample_components.build_js import build_js_sample

    wasm = Path(build_js_sample("account_balance").path)
    lines = (REPO / "fixtures/events/token_transfers.jsonl").read_text().splitlines()
    base = [event_from_json(json.loads(line)) for line in lines if line.strip()]
    events = [
        t.Event(f"{base[i % len(base)].id}-{i}", *[getattr(base[i % len(base)], f) for f in
                ("timestamp", "source_component", "event_type", "data", "metadata")])
        for i in range(events_n)
    ]  # fmt: skip
    crash_at, back_at = events_n // 3, 2 * events_n // 3
    with pg.isolated_schema("faultacct") as schema, rd.isolated_namespace("faultacct") as ns:
        pg.execute(
            f'CREATE TABLE "{schema.name}".balances (account TEXT, asset TEXT, '
            "amount NUMERIC NOT NULL, PRIMARY KEY (account, asset))"
        )
        role, password = schema.create_restricted_role(["balances"], ("SELECT", "INSERT", "UPDATE"))
        policy = policy_from_mapping({
            "max_memory_pages": 1024, "execution_timeout": "10s",
            "capabilities": {
                "logging": True, "metrics": True, "config": True,
                "http": {"enabled": True, "allowed_domains": ["127.0.0.1:9"]},  # not used
                "database": {"enabled": True,
                             "connection_string": schema.role_endpoint(role, password).url,
                             "allowed_tables": ["balances"], "query_timeout": "2s",
                             "allowed_operations": ["SELECT", "INSERT", "UPDATE"]},
                "key_value": {"enabled": True, "backend": "redis", "url": ns.url,
                              "namespace": "faultacct"},
            },
            "processor_config": {"table": "balances", "cache_ttl_seconds": 60},
        })  # fmt: skip
        inst, _granted = open_processor(policy, wasm)
        answers: dict[str, str] = {}
        ok_events: list[t.Event] = []
        started = time.monotonic()
        try:
            inst.initialize(policy.processor_config)
            for i, event in enumerate(events):
                if i == crash_at:
                    pg.crash()
                if i == back_at:
                    pg.restart()
                try:
                    inst.process_event(event)
                    answers[event.id] = "ok"
                    ok_events.append(event)
                except Exception as exc:
                    answers[event.id] = type(exc).__name__
        finally:
            inst.close()
        seconds = time.monotonic() - started
        with schema.endpoint.connect() as conn:
            rows = conn.execute(
                f'SELECT account, asset, amount FROM "{schema.name}".balances'
            ).fetchall()
    held_db = {(a, s): Decimal(v) for a, s, v in rows if Decimal(v) != 0} == {
        k: v for k, v in balances(ok_events).items() if v != 0
    }
    during = [answers[e.id] for e in events[crash_at:back_at]]
    after = [answers[e.id] for e in events[back_at + 1 :]]
    kinds: dict[str, int] = {}
    for a in answers.values():
        kinds[a] = kinds.get(a, 0) + 1
    result = {
        "events": events_n, "answered": len(answers), "answers": kinds,
        "crash_at": crash_at, "restart_at": back_at, "seconds": round(seconds, 2),
        "failed_during_outage": sum(a != "ok" for a in during),
        "ok_after_restart": sum(a == "ok" for a in after), "after_restart": len(after),
        "traps": sum(a not in ("ok", "ProcessorErrorResult") for a in answers.values()),
        "balances_match_ok_events": held_db,
    }  # fmt: skip
    result["held"] = (
        len(answers) == events_n and result["traps"] == 0 and held_db
        and result["failed_during_outage"] == len(during) and after.count("ok") == len(after)
    )  # fmt: skip
    return result


# --------------------------------------------------------------------------- the run


def run_matrix(*, pipeline: bool = True) -> Matrix:
    """Every row on services started for the run (embedded PostgreSQL and Redis)."""
    from conformance.services import start_postgres, start_redis

    matrix = Matrix()
    with start_postgres("embedded") as pg, start_redis("embedded") as rd:
        matrix.rows += postgres_rows(pg)
        matrix.rows += redis_rows(rd)
        with http_server() as server:
            matrix.rows += http_rows(server)
        if pipeline:
            matrix.pipeline = pipeline_run(pg, rd)
    return matrix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="reports/faults.json", help="where the JSON goes")
    parser.add_argument("--no-pipeline", action="store_true",
                        help="skip the account-balance pipeline run (needs node/npm)")  # fmt: skip
    args = parser.parse_args(argv)
    matrix = run_matrix(pipeline=not args.no_pipeline)
    for r in matrix.rows:
        mark = "held  " if r.held else "BROKEN"
        print(f"{mark} {r.boundary:11} {r.fault}: {r.got} in {r.seconds:.2f} s "
              f"(expected {r.expected} within {r.budget_s:.1f} s); recovered: {r.recovered}"
              + (f" -- {r.detail}" if r.detail and not r.held else ""))  # fmt: skip
    if matrix.pipeline is not None:
        p = matrix.pipeline
        print(f"{'held  ' if p['held'] else 'BROKEN'} pipeline    account-balance, PostgreSQL "
              f"killed at event {p['crash_at']} and back at {p['restart_at']}: {p['answered']} of "
              f"{p['events']} answered ({p['answers']}), balances match the ok events: "
              f"{p['balances_match_ok_events']}")  # fmt: skip
    out = write_result(args.out, matrix.to_dict())
    print(f"fault matrix: {'HELD' if matrix.held else 'BROKEN'}; {out}")
    return 0 if matrix.held else 1


if __name__ == "__main__":
    raise SystemExit(main())
