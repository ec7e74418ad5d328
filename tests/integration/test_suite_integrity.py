"""Nobody changes a verdict unseen: overrides, outcome hooks, monkeypatching, stray check tests,
weaker settings and a component that cannot be configured -- each shows in the result and
keeps the run from certifying (the zoo's well-behaved ``baseline`` is the component)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.integrity import sha256_file
from sample_components.zoo.build import build_zoo
from tests.conformance_run import REPO, run_suite

pytestmark = pytest.mark.integration

FAST = ("--conformance-level", "basic", "-k", "LIFE or WIT or ERR_003 or unsupported or info")


@pytest.fixture(scope="module")
def baseline() -> Path:
    return build_zoo(names=["baseline"])["baseline"]


LIAR = """
import pytest

class _Yes:
    def fail(self, *a, **k): pass
    def expect_none(self, *a, **k): pass
    def not_assessed(self, *a, **k): pass
    def not_applicable(self, *a, **k): pass
    def measure(self, **k): pass

@pytest.fixture
def conformance_check():
    return _Yes()
"""

FLIPPER = """
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    return report
"""

PATCHER = """
import conformance.outcomes as o
o.first_line = lambda exc: "nothing to see"
"""

STRAY = """
import pytest

@pytest.mark.conformance_check("ERR-001")
def test_err_001_passes():
    assert True
"""


@pytest.mark.parametrize(
    ("conftest", "violation"),
    [
        (LIAR, "fixture 'conformance_check' used by the suite's tests is defined in"),
        (FLIPPER, "implements pytest_runtest_makereport"),
        (PATCHER, "conformance.outcomes.first_line was replaced by code from"),
    ],
    ids=["overrides-conformance_check", "flips-outcomes", "monkeypatches-the-suite"],
)
def test_a_conftest_that_could_change_the_verdict_voids_the_run(
    baseline: Path, tmp_path: Path, conftest: str, violation: str
) -> None:
    (tmp_path / "conftest.py").write_text(conftest, encoding="utf-8")
    run = run_suite(baseline, tmp_path, "--rootdir", str(tmp_path), *FAST)
    assert run.result is not None, run.output[-3000:]
    assert run.returncode != 0 and not run.result["certified"]
    assert run.result["certified_tier"] is None
    assert any(violation in v for v in run.result["violations"]), run.result["violations"]
    assert "nothing certified" in run.output
    conftests = run.result["integrity"]["conftests"]
    assert conftests == [
        {"path": str(tmp_path / "conftest.py"), "sha256": sha256_file(tmp_path / "conftest.py")}
    ]
    # the documented remedy for certifiers: --noconftest
    clean = run_suite(baseline, tmp_path, "--rootdir", str(tmp_path), "--noconftest", *FAST)
    assert clean.result is not None and clean.result["violations"] == []
    assert clean.result["integrity"]["conftests"] == []


def test_a_test_outside_the_suite_cannot_decide_a_check(baseline: Path, tmp_path: Path) -> None:
    stray = tmp_path / "test_stray.py"
    stray.write_text(STRAY, encoding="utf-8")
    run = run_suite(baseline, tmp_path, str(stray), "-k", "err_001", "--conformance-level", "basic")
    assert run.result is not None, run.output[-3000:]
    assert run.returncode != 0
    assert any("is not a test of the packaged suite" in v for v in run.result["violations"])
    assert run.outcome("ERR-001") != "passed"


def test_weaker_settings_cap_marketplace_at_standard(baseline: Path, tmp_path: Path) -> None:
    run = run_suite(
        baseline, tmp_path, "--conformance-level", "marketplace", "--conformance-examples", "5",
        "--conformance-threshold", "batch-p99-ms=5000",
    )  # fmt: skip
    assert run.result is not None, run.output[-3000:]
    assert run.result["blocking"] == [], run.result["blocking"]
    assert run.returncode == 1 and not run.result["certified"]
    assert run.result["certified_tier"] == "standard"
    settings = {c["setting"] for c in run.result["caps"]}
    assert settings == {"--conformance-examples", "--conformance-threshold batch-p99-ms"}
    assert "capped at standard by --conformance-examples" in run.output
    earned = run.result["earned_under"]
    assert earned["examples"] == 5 and earned["thresholds"]["batch-p99-ms"] == 5000
    assert earned["policy"]["source"].startswith("default")
    assert earned["component_config"]["sha256"] is not None
    assert earned["workload"]["events"] > 0 and len(earned["workload"]["sha256"]) == 64


def test_the_component_certified_is_the_copy_hashed_at_the_start(
    baseline: Path, tmp_path: Path
) -> None:
    from conformance.harness import ComponentUnderTest
    from conformance.services import Services
    from conformance.settings import SuiteSettings
    from conformance.start import discard, snapshot
    from reference_host.errors import ComponentLoadError

    local = tmp_path / "component.wasm"
    local.write_bytes(baseline.read_bytes())
    run = run_suite(local, tmp_path, *FAST)
    assert run.result is not None, run.output[-3000:]
    assert run.result["component"]["sha256"] == sha256_file(local)
    assert run.result["component"]["file"] == "component.wasm"
    # every process loads the private copy and checks it against the digest taken at the start
    settings = SuiteSettings(component=local)
    copy, sha, _ = snapshot(local)
    try:
        with pytest.raises(ComponentLoadError, match="changed during the run"):
            ComponentUnderTest(settings, Services(settings), component_path=copy,
                               expected_sha256="0" * 64, cache_dir=None)  # fmt: skip
        cut = ComponentUnderTest(settings, Services(settings), component_path=copy,
                                 expected_sha256=sha, cache_dir=None)  # fmt: skip
        assert cut.loaded.sha256 == sha
    finally:
        from conformance.start import RunStart

        discard(RunStart("c", str(local), str(copy), sha, 0))
    assert not copy.exists()


def test_without_a_usable_config_the_run_stops_before_any_check(tmp_path: Path) -> None:
    """The TTP sample's schema without its `examples` (as the design document publishes it)
    suggests no config initialize accepts: one error, naming the field and the option."""
    from sample_components.build import build_all

    ttp = next(Path(b.path) for b in build_all(only="ttp_processor"))
    schema = REPO / "sample_components" / "ttp_processor" / "app.py"
    assert '"examples"' in schema.read_text(encoding="utf-8")
    plugin = tmp_path / "strip_examples.py"
    plugin.write_text(
        "import json\n"
        "from conformance import harness\n"
        "_info = harness.ComponentUnderTest.info.func\n"
        "def info(self):\n"
        "    got = _info(self)\n"
        "    schema = json.loads(got.configuration_schema)\n"
        "    schema.pop('examples', None)\n"
        "    got.configuration_schema = json.dumps(schema)\n"
        "    return got\n"
        "harness.ComponentUnderTest.info = harness.cached_property(info)\n"
        "harness.ComponentUnderTest.info.__set_name__(harness.ComponentUnderTest, 'info')\n",
        encoding="utf-8",
    )
    run = run_suite(ttp, tmp_path, "-p", "strip_examples", env={"PYTHONPATH": str(tmp_path)})
    assert run.returncode == 4, run.output[-3000:]  # a usage error: nothing ran
    assert "no configuration to certify with" in run.output
    assert "network_passphrase" in run.output and "--component-config" in run.output
    assert run.output.count("no configuration to certify with") <= 2
    assert run.result is not None and run.result["start_error"]
    assert run.result["counts"]["passed"] == 0 and run.result["certified"] is False
