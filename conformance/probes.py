"""SBX-004: the sandbox-escape probe corpus (``fixtures/probes``) against the live host.

Every probe the corpus expects to be refused is sent through the reference host's real
capability object on this run's real services: SQL probes to a ``DatabaseCapability`` connected to a
fresh schema on the run's PostgreSQL (tables ``events``, ``token_transfers``, ``secrets``),
key-value probes to a ``KeyValueCapability`` on the run's Redis, HTTP probes to an
``HttpClientCapability`` with a real httpx client.  A probe passes when the capability answers
the expected error case, records the denial, and nothing reached the service (SQL: denied by the
rules, never sent; key-value: the store is unchanged; HTTP: nothing was sent).  Probes the corpus
expects to be *allowed* are checked against the pure rules (they would need the outside world).
"""

from __future__ import annotations

import time
from typing import Any

import yaml
from pydantic import SecretStr

from conformance.data import fixtures_dir
from conformance.services import Services
from reference_host import types as t
from reference_host.capabilities.base import HostContext
from reference_host.grants import DatabaseGrant, HttpGrant, KeyValueGrant
from reference_host.limits import CallBudget, ResourceLimits
from reference_host.rules import SqlRules, UrlRules

SQL_DDL = (
    "CREATE TABLE events (id int PRIMARY KEY, kind text, ts timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE token_transfers (hash text PRIMARY KEY, amount numeric CHECK (amount > 0), "
    "event_id int REFERENCES events (id))",
    "CREATE TABLE secrets (id int, password text)",
    "INSERT INTO secrets VALUES (1, 'hunter2')",
    "INSERT INTO events (id, kind) VALUES (1, 'payment'), (2, NULL)",
    "INSERT INTO token_transfers VALUES ('h0', 5, 1)",
)


def load(name: str) -> list[dict[str, Any]]:
    """The probes of ``fixtures/probes/<name>.yaml``."""
    path = fixtures_dir() / "probes" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["probes"])


def _context() -> HostContext:
    budget = CallBudget(ResourceLimits())
    budget.deadline = time.monotonic() + 10.0
    return HostContext("conformance-probe", budget)


def _case(result: Any) -> str | None:
    return str(result.error.case) if isinstance(result, t.Err) else None


def _http(probes: list[dict[str, Any]]) -> tuple[int, list[str]]:
    from reference_host.capabilities.http_client import HttpClientCapability

    failures, n = [], 0
    caps: dict[tuple[str, ...], HttpClientCapability] = {}
    for probe in probes:
        grant, data, expect = probe["grant"], probe["input"], probe["expect"]
        rules = UrlRules(grant["allowed_domains"])
        if expect.get("allowed") or data.get("redirects"):
            allowed = rules.check(data["url"]).allowed
            if allowed is not bool(expect.get("allowed") or data.get("redirects")):
                failures.append(f"{probe['id']}: the URL rules disagree with the corpus")
            continue
        key = tuple(grant["allowed_domains"])
        if key not in caps:
            caps[key] = HttpClientCapability.from_policy(
                HttpGrant(enabled=True, allowed_domains=key),
                component_id="conformance-probe",
            )
            caps[key].context = _context()
        cap = caps[key]
        sent, denied = len(cap.sent), len(cap.denials)
        result = cap.request(t.HttpRequest("GET", data["url"], [], None, 0))
        n += 1
        if _case(result) != expect["error"] or len(cap.sent) > sent or len(cap.denials) == denied:
            failures.append(
                f"{probe['id']} {data['url']!r}: expected err({expect['error']}) with nothing "
                f"sent, got {result!r} (sent {len(cap.sent) - sent})"
            )
    for cap in caps.values():
        cap.close()
    return n, failures


def _sql(probes: list[dict[str, Any]], services: Services) -> tuple[int, list[str]]:
    from reference_host.capabilities.database import DatabaseCapability

    pg = services.postgres()
    failures, n = [], 0
    caps: dict[tuple[tuple[str, ...], tuple[str, ...]], DatabaseCapability] = {}
    with pg.isolated_schema("probe") as schema:
        pg.execute(f'SET LOCAL search_path TO "{schema.name}"', *SQL_DDL)
        role, password = schema.create_restricted_role(
            ["events", "token_transfers"], ("SELECT", "INSERT")
        )
        url = schema.role_endpoint(role, password).url
        for probe in probes:
            grant, data, expect = probe["grant"], probe["input"], probe["expect"]
            if "error" not in expect:
                rules = SqlRules(grant["allowed_tables"], grant["allowed_operations"])
                if not rules.check(data["sql"]).allowed:
                    failures.append(f"{probe['id']}: the SQL rules refuse an allowed statement")
                continue
            key = (tuple(grant["allowed_tables"]), tuple(grant["allowed_operations"]))
            if key not in caps:
                caps[key] = DatabaseCapability.from_policy(
                    DatabaseGrant(
                        enabled=True,
                        connection_string=SecretStr(url),
                        allowed_tables=key[0],
                        allowed_operations=key[1],
                    ),
                    component_id="conformance-probe",
                )
                caps[key].context = _context()
            cap = caps[key]
            before = len(cap.denials)
            if data["function"] == "is-query-allowed":
                result: Any = cap.is_query_allowed(data["sql"])
                ok = result is False
            else:
                result = getattr(cap, data["function"])(data["sql"], list(data["params"]))
                sources = [d.source for d in cap.denials[before:]]
                ok = _case(result) == expect["error"] and sources == ["rules"]
            n += 1
            if not ok:
                failures.append(f"{probe['id']}: expected err({expect['error']}), got {result!r}")
        for cap in caps.values():
            cap.close()
    return n, failures


def kv_key(data: dict[str, Any]) -> str:
    """The key a key-value probe passes (``key``, or ``key_repeat: [text, times]``)."""
    return str(data["key"] if "key" in data else data["key_repeat"][0] * data["key_repeat"][1])


def _kv(probes: list[dict[str, Any]], services: Services) -> tuple[int, list[str]]:
    from reference_host.capabilities.key_value import KeyValueCapability

    rd = services.redis()
    failures, n = [], 0
    with rd.isolated_namespace("probe") as space, space.endpoint.client() as client:
        canary = space.key("billing:api-key")  # a key outside every probe's namespace
        client.set(canary, "outside")

        def snapshot(namespace: str) -> dict[Any, Any]:
            # a dedicated DB: all of it; a shared server: the namespace and the canary only
            pattern = "*" if space.dedicated_db else f"{namespace}:*"
            keys = {*client.scan_iter(pattern), canary.encode()}
            return {k: client.get(k) for k in keys}

        caps: dict[str, KeyValueCapability] = {}
        for probe in probes:
            grant, data, expect = probe["grant"], probe["input"], probe["expect"]
            if "error" not in expect or expect["error"] == "unknown-error":
                continue  # allowed probes and store-side overflow need seeded state: unit-tested
            namespace = grant["namespace"]
            if namespace not in caps:
                caps[namespace] = KeyValueCapability.from_policy(
                    KeyValueGrant(
                        enabled=True, backend="redis", url=SecretStr(space.url), namespace=namespace
                    ),
                    component_id="conformance-probe",
                )
            cap = caps[namespace]
            before = snapshot(namespace)
            result: Any
            op = data["op"]
            if op == "list-keys":
                result = cap.list_keys(data["prefix"], None)
            elif op == "set":
                result = cap.set(kv_key(data), data["value"], None)
            elif op == "increment":
                result = cap.increment(kv_key(data), data["delta"])
            elif op == "expire":
                result = cap.expire(kv_key(data), data["ttl"])
            else:
                fn = {"get": cap.get, "delete": cap.delete, "exists": cap.exists}[op]
                result = fn(kv_key(data))
            n += 1
            after = snapshot(namespace)
            if _case(result) != expect["error"] or after != before:
                failures.append(
                    f"{probe['id']}: expected err({expect['error']}) and no change, got {result!r}"
                    + ("; the store changed" if after != before else "")
                )
        for cap in caps.values():
            cap.close()
    return n, failures


def run_corpus(services: Services) -> tuple[dict[str, int], list[str]]:
    """Run the corpus: (probes sent live per capability, every failure)."""
    http_n, http_f = _http(load("http"))
    sql_n, sql_f = _sql(load("sql"), services)
    kv_n, kv_f = _kv(load("kv"), services)
    return {"http": http_n, "database": sql_n, "key-value": kv_n}, [*http_f, *sql_f, *kv_f]
