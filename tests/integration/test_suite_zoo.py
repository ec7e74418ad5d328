"""Proof the checks can fail, and why: the packaged suite against every member of the zoo.

Each member is certified (tier marketplace) in its own ``pytest --component`` subprocess under
its manifest policy (``sample_components.zoo.build.member_policy``) and the certification
defaults (50 examples, the default limits) -- except the two members that spin
(``infinite-loop``, ``slow-finite-loop``), which run with a 0.5 s per-call timeout instead of
10 s: every call to them lasts the whole timeout, so the default would cost minutes per member
and prove nothing more.  PostgreSQL and Redis are started once here and handed over by URL, as a
CI job would.  Every check of the member's ``fails`` must fail with the message fragment the
manifest names for it; any other failing check must be in ``may_also_fail`` and fail only as
*not assessed* or *stopped by a resource limit*; for members the host refuses to run (WIT
drift), every other check fails as "refuses the component".  The control ``baseline`` must pass
every check.
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


#: Members that never return (or take seconds per call): a short per-call timeout (see above).
SPINNING = {"infinite-loop", "slow-finite-loop"}
CONSEQUENCE = ("not assessed", "stopped by a resource limit")


@pytest.mark.parametrize("name", [m.name for m in ZOO.all()])
def test_member_fails_exactly_its_checks(
    name: str, zoo_paths: dict[str, Path], service_env: dict[str, str], tmp_path: Path
) -> None:
    member = ZOO[name]
    policy = tmp_path / "policy.json"
    overrides = {"execution_timeout": "0.5s"} if name in SPINNING else {}
    policy.write_text(json.dumps(member_policy(member, overrides)))
    run = run_suite(
        zoo_paths[name], tmp_path, "--conformance-policy", str(policy),
        "--conformance-level", "marketplace", env=service_env,
    )  # fmt: skip
    assert run.result is not None, run.output[-4000:]
    failed = run.failed()
    missing = set(member.fails) - failed
    assert not missing, f"{name} should fail {sorted(missing)}\n{run.output[-3000:]}"
    for check in member.fails:  # each for the reason the manifest names
        fragment = member.because.get(check, "")
        assert any(fragment in m for m in run.messages(check)), (
            check,
            fragment,
            run.messages(check),
        )
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
    for check in failed - set(member.fails):  # consequences only, never another finding
        messages = run.messages(check)
        assert messages and all(any(c in m for c in CONSEQUENCE) for m in messages), (
            check,
            messages,
        )
    blocking = {c for c in failed if BY_ID[c].mandatory_from is not None}
    assert (run.returncode == 0) is (not blocking), (run.returncode, blocking)
    assert run.result["certified"] is (not blocking)
    assert run.result["violations"] == []
    # certification defaults: only a member's own manifest policy may loosen a limit
    assert all(c["setting"].startswith("policy ") for c in run.result["caps"]), run.result["caps"]
    assert bool(run.result["caps"]) is any(k.startswith("max_") for k in (member.policy or {}))
