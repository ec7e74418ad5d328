"""SBX-004 over the wire: the probe corpus performed by a guest on the host under test.

In-process, SBX-004 sends the corpus (``fixtures/probes``) through the reference host's own
capability objects (:mod:`conformance.probes`).  A remote host's capability layer is out of
reach, so here the probes meet it the way a hostile component would: the sandbox probe guests
(``conformance/probe_guests/sandbox-*.wat``, one per capability) are launched on the host under
test with ``--launch``, one host per grant of the corpus, and each probe is one event the guest
turns into a real capability call, answering what it got (``ok``, ``err:<case index>``,
``yes`` / ``no`` for the permission questions).

A probe passes when the answer is the corpus's error case, the permission question for the same
input is answered as the pure rules decide it (*no*, unless the call is refused only for its
function or parameters), and the service is unchanged afterwards.  The database role the host is
given may read and write every table of the probe schema -- including ``secrets`` -- so the host's
own rules are the only barrier: a host that forwards ``SELECT * FROM secrets -- events`` gets rows,
answers ``ok`` and is caught.  The corpus's controls (inputs that must be allowed) are asked as
permission questions and must be answered *yes*, so "deny everything" does not pass either.  An
event that gets no answer, a host that does not start, trap or go away: every one is a failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import probe_guests
from conformance.outcomes import NotAssessable
from conformance.probes import SQL_DDL, kv_key, load
from conformance.services import Services
from reference_host import errors
from reference_host import types as t
from reference_host.policy import Policy, policy_from_mapping
from reference_host.rules import SqlRules, UrlRules

#: The case names of each capability's error variant, in WIT order (the guest answers indexes).
CASES = {
    "http-client": list(t.HttpError.CASES),
    "database": list(t.DbError.CASES),
    "key-value": list(t.KvError.CASES),
}
#: What the guest's first source-component byte means, per capability and corpus operation.
OPS = {
    "http-client": {"request": "r", "is-url-allowed": "u"},
    "database": {"query": "q", "execute": "x", "is-query-allowed": "a"},
    "key-value": {
        "get": "g", "set": "s", "delete": "d", "exists": "e", "list-keys": "l",
        "increment": "i", "expire": "x",
    },
}  # fmt: skip
PROBE_TABLES = ("events", "token_transfers", "secrets")
U64 = (1 << 64) - 1


@dataclass
class Probe:
    """One event for the guest and the answer it must get."""

    probe_id: str
    op: str
    arg: str
    expect: str  # "err:<case>" (by name), "yes" or "no"
    params: list[str] = field(default_factory=list)
    number: int = 0

    def event(self, n: int) -> t.Event:
        """The event the guest performs (ids are unique within one batch)."""
        meta = [(f"p{i:03d}", p) for i, p in enumerate(self.params)]
        return t.Event(
            f"{self.probe_id}#{n}", self.number & U64, self.op, t.EventType.CUSTOM,
            t.Generic(self.arg), meta,
        )  # fmt: skip


@dataclass
class Group:
    """The probes of one capability under one grant: one launched host."""

    capability: str
    grant: dict[str, Any]
    probes: list[Probe] = field(default_factory=list)


def _answer_name(capability: str, answer: str) -> str:
    if answer.startswith("err:") and answer[4:].isdigit():
        index = int(answer[4:])
        cases = CASES[capability]
        return f"err({cases[index]})" if index < len(cases) else f"err(#{index}: not a WIT case)"
    return answer


def _expected(capability: str, case: str) -> str:
    return f"err:{CASES[capability].index(case)}"


def _groups() -> tuple[list[Group], int]:
    """The corpus as groups; also the number of probes that need what a guest cannot give."""
    groups: dict[tuple[str, str], Group] = {}
    skipped = 0

    def group(capability: str, grant: dict[str, Any]) -> Group:
        key = (capability, repr(sorted(grant.items())))
        return groups.setdefault(key, Group(capability, grant))

    for probe in load("http"):
        data, expect, g = probe["input"], probe["expect"], group("http-client", probe["grant"])
        if data.get("redirects"):
            skipped += 1  # a redirect chain needs a server that answers with it
            continue
        if expect.get("allowed"):
            g.probes.append(Probe(probe["id"], "u", data["url"], "yes"))
            continue
        g.probes.append(
            Probe(probe["id"], "r", data["url"], _expected("http-client", expect["error"]))
        )
        asked = UrlRules(probe["grant"]["allowed_domains"]).check(data["url"]).allowed
        g.probes.append(Probe(probe["id"], "u", data["url"], "yes" if asked else "no"))
    for probe in load("sql"):
        data, expect, g = probe["input"], probe["expect"], group("database", probe["grant"])
        if "error" not in expect:
            g.probes.append(Probe(probe["id"], "a", data["sql"], "yes"))
            continue
        if data["function"] == "is-query-allowed":
            g.probes.append(Probe(probe["id"], "a", data["sql"], "no"))
            continue
        params = [str(p) for p in data.get("params") or []]
        op = OPS["database"][data["function"]]
        g.probes.append(Probe(probe["id"], op, data["sql"],
                              _expected("database", expect["error"]), params))  # fmt: skip
        rules = SqlRules(probe["grant"]["allowed_tables"], probe["grant"]["allowed_operations"])
        asked = rules.check(data["sql"]).allowed  # refused for its parameters only: allowed
        g.probes.append(Probe(probe["id"], "a", data["sql"], "yes" if asked else "no"))
    for probe in load("kv"):
        data, expect = probe["input"], probe["expect"]
        if "error" not in expect or expect["error"] == "unknown-error":
            skipped += 1  # allowed operations and counter overflows need seeded state
            continue
        g = group("key-value", probe["grant"])
        op = data["op"]
        arg = data["prefix"] if op == "list-keys" else kv_key(data)
        number = int(data.get("delta", data.get("ttl", 0)))
        params = [str(data["value"])] if "value" in data else []
        g.probes.append(Probe(probe["id"], OPS["key-value"][op], arg,
                              _expected("key-value", expect["error"]), params, number))  # fmt: skip
    return list(groups.values()), skipped


# --------------------------------------------------------------------------- services


@contextlib.contextmanager
def _database(services: Services) -> Iterator[tuple[str, Any]]:
    """A probe schema (:data:`conformance.probes.SQL_DDL`) whose role may do anything to its tables.

    Yields (the role's URL, a function snapshotting the tables' contents).
    """
    pg = services.postgres()
    with pg.isolated_schema("wireprobe") as schema:
        pg.execute(f'SET LOCAL search_path TO "{schema.name}"', *SQL_DDL)
        role, password = schema.create_restricted_role(
            PROBE_TABLES, ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
        )
        url = schema.role_endpoint(role, password).url

        def snapshot() -> dict[str, Any]:
            with schema.endpoint.connect() as conn:
                present = {
                    r[0]
                    for r in conn.execute(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                        (schema.name,),
                    )
                }
                rows = {}
                for name in sorted(present):  # names from the catalog, quoted
                    query = f'SELECT * FROM "{name}"'  # noqa: S608
                    rows[name] = sorted(map(repr, conn.execute(query).fetchall()))
            return {"tables": sorted(present), "rows": rows}

        yield url, snapshot


@contextlib.contextmanager
def _key_value(services: Services, namespaces: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """A Redis namespace holding a canary outside every probe's ``namespaces``.

    Yields (its URL, a function snapshotting the keys and values the probes could reach).
    """
    rd = services.redis()
    with rd.isolated_namespace("wireprobe") as space, space.endpoint.client() as client:
        canary = space.key("billing:api-key")
        client.set(canary, "outside")

        def snapshot() -> dict[Any, Any]:
            pattern = "*" if space.dedicated_db else f"{space.key('')}*"
            keys = {*client.scan_iter(pattern), canary.encode()}
            for namespace in namespaces:  # a glob: a wider set of keys, never a narrower one
                keys |= set(client.scan_iter(f"{namespace}:*"))
            return {k: client.get(k) for k in sorted(keys)}

        yield space.url, snapshot


def _policy(group: Group, database_url: str | None, kv_url: str | None) -> Policy:
    grant = dict(group.grant)
    caps: dict[str, Any]
    if group.capability == "http-client":
        caps = {"http": {"enabled": True, "allowed_domains": list(grant["allowed_domains"])}}
    elif group.capability == "database":
        caps = {"database": {
            "enabled": True, "connection_string": database_url,
            "allowed_tables": list(grant["allowed_tables"]),
            "allowed_operations": list(grant["allowed_operations"]),
        }}  # fmt: skip
    else:
        caps = {"key_value": {"enabled": True, "backend": "redis", "url": kv_url,
                              "namespace": grant["namespace"]}}  # fmt: skip
    return policy_from_mapping(
        {"capabilities": caps, "execution_timeout": "20s"}, source="SBX-004 over the wire"
    )


# --------------------------------------------------------------------------- the run


def _perform(
    group: Group, launch: str, component: Path, policy: Policy, ready_timeout_s: float,
    contract: str,
) -> tuple[dict[str, str], str | None]:  # fmt: skip
    """Launch the host with the probe guest; its answers by event id, or why there are none.

    Through the extension service, or ``Process`` streams when the host speaks flowctl.v1
    alone (the guest answers in output events either way).
    """
    from conformance.remote import LaunchedHost, RemoteInstance, StreamInstance
    from reference_host.host import limits_from_policy

    host = LaunchedHost(launch, component, policy, ready_timeout_s)
    try:
        host.wait_ready()
        limits = limits_from_policy(policy)
        instance: RemoteInstance | StreamInstance = (
            StreamInstance(host.address, limits, launched=host, config=policy.processor_config)
            if contract == "flowctl.v1"
            else RemoteInstance(host.address, limits, launched=host)
        )
        try:
            instance.initialize(policy.processor_config)
            events = [p.event(i) for i, p in enumerate(group.probes)]
            answers: dict[str, str] = {}
            for start in range(0, len(events), 25):
                for out in instance.process_batch(events[start : start + 25]):
                    data = out.data
                    answers[out.id] = data.value if isinstance(data, t.Generic) else repr(data)
            return answers, None
        finally:
            instance.close()
    except (errors.FlowctlHostError, NotAssessable) as exc:
        return {}, f"{type(exc).__name__}: {exc}"
    finally:
        host.stop()


def run_corpus_through(
    launch: str,
    services: Services,
    *,
    ready_timeout_s: float = 60.0,
    workdir: Path,
    contract: str = "extension",
) -> tuple[dict[str, Any], list[str]]:
    """Run the corpus through the host ``launch`` starts: (counts, every failure)."""
    groups, skipped = _groups()
    failures: list[str] = []
    sent: dict[str, int] = {}
    answered: dict[str, int] = {}
    namespaces = sorted({g.grant["namespace"] for g in groups if g.capability == "key-value"})
    with (
        _database(services) as (db_url, db_snapshot),
        _key_value(services, namespaces) as (kv_url, kv_snap),
    ):
        snapshots = {"database": db_snapshot, "key-value": kv_snap}
        for group in groups:
            name = "sandbox-" + group.capability.removesuffix("-client")
            component = probe_guests.write(name, workdir)
            snap = snapshots.get(group.capability)
            before = snap() if snap else None
            policy = _policy(group, db_url, kv_url)
            answers, why = _perform(group, launch, component, policy, ready_timeout_s, contract)
            sent[group.capability] = sent.get(group.capability, 0) + len(group.probes)
            answered[group.capability] = answered.get(group.capability, 0) + len(answers)
            grant = ", ".join(f"{k}={v}" for k, v in group.grant.items())
            if why is not None:
                failures.append(f"{group.capability} probes under {grant}: {why}")
                continue
            for i, probe in enumerate(group.probes):
                got = answers.get(f"{probe.probe_id}#{i}")
                if got is None:
                    failures.append(f"{probe.probe_id}: no answer event came back")
                elif got != probe.expect:
                    what = {"u": "is-url-allowed", "a": "is-query-allowed"}.get(probe.op, "call")
                    failures.append(
                        f"{probe.probe_id} ({what} {probe.arg[:80]!r}): expected "
                        f"{_answer_name(group.capability, probe.expect)}, the host answered "
                        f"{_answer_name(group.capability, got)}"
                    )
            if snap is not None and snap() != before:
                failures.append(
                    f"{group.capability} probes under {grant}: the service changed -- a refused "
                    "call reached it"
                )
    counts = {"sent_through_guest": sent, "answered": answered, "not_sendable": skipped}
    return counts, failures
