"""Proof the checks can fail: the packaged suite against every member of the broken-component zoo.

Each member is certified (tier marketplace) in its own ``pytest --component`` subprocess under
its manifest policy (``sample_components.zoo.build.member_policy``) with a 0.5 s per-call timeout;
PostgreSQL and Redis are started once here and handed over by URL, as a CI job would.  Exactly
the member's ``fails`` checks must fail -- plus at most its ``may_also_fail`` ones -- and for
members the host refuses to run (WIT drift), every other check must fail *as not assessed*.  The
control ``baseline`` must pass every check.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.checks import BY_ID
from conformance.services import POSTGRES_URL_ENV, REDIS_URL_ENV, start_postgres, start_redis
from sample_components.zoo.build import build_zoo, load_manifest, member_policy
from tests.conformance_run import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ZOO = load_manifest()
STATIC = {"WIT-001", "WIT-002", "SBX-001", "SBX-002", "SBX-004"}


@pytest.fixture(scope="module")
def zoo_paths() -> dict[str, Path]:
    return build_zoo(zoo=ZOO)


@pytest.fixture(scope="module")
def service_env() -> Iterator[dict[str, str]]:
    with start_postgres("embedded") as pg, start_redis("embedded") as rd:
        yield {POSTGRES_URL_ENV: pg.endpoint.url, REDIS_URL_ENV: rd.endpoint.url}
        # the runs were given these servers by URL: they must leave nothing behind
        with pg.endpoint.connect() as conn:
            schemas = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'conf%' "
                "OR nspname LIKE 'probe%'"
            ).fetchall()
            roles = conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'flowctl_role%'"
            ).fetchall()
        assert schemas == [] and roles == [], (schemas, roles)
        for db in range(16):
            with dataclasses.replace(rd.endpoint, db=db).client() as client:
                assert client.dbsize() == 0, f"keys left in Redis DB {db}"


@pytest.mark.parametrize("name", [m.name for m in ZOO.all()])
def test_member_fails_exactly_its_checks(
    name: str, zoo_paths: dict[str, Path], service_env: dict[str, str], tmp_path: Path
) -> None:
    member = ZOO[name]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(member_policy(member, {"execution_timeout": "0.5s"})))
    run = run_suite(
        zoo_paths[name], tmp_path, "--conformance-policy", str(policy),
        "--conformance-level", "marketplace", "--conformance-examples", "10",
        env=service_env,
    )  # fmt: skip
    assert run.result is not None, run.output[-4000:]
    failed = run.failed()
    missing = set(member.fails) - failed
    assert not missing, f"{name} should fail {sorted(missing)}\n{run.output[-3000:]}"
    unexpected = failed - set(member.fails) - set(member.may_also_fail)
    if member.flowctl_wit is not None:  # refused by the host: the rest is "not assessed"
        for check in unexpected:
            assert any("refuses the component" in m for m in run.messages(check)), (
                check,
                run.messages(check),
            )
        assert not (unexpected & STATIC - {"SBX-001"}), unexpected
    else:
        shown = {c: run.messages(c)[:1] for c in sorted(unexpected)}
        assert not unexpected, f"{name} also fails {shown}"
    blocking = {c for c in failed if BY_ID[c].mandatory_from is not None}
    assert (run.returncode == 0) is (not blocking), (run.returncode, blocking)
    assert run.result["certified"] is (not blocking)
