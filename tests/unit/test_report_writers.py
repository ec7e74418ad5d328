"""The report formats: JUnit (read back by a JUnit consumer), Markdown, badge, repro, HTML, the
registry and its hook, and --conformance-list."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import junitparser
import pytest

from conformance.checks import CHECKS, Tier
from conformance.reporting import json_report
from conformance.reporting.writers import Report, builtin, registry, write_all
from conformance.results import Outcome, RunResult, TestRecord, decide

TRAPPING_EVENT = {"id": "ev-7", "timestamp": 7, "source-component": "t", "event-type": "custom",
                  "data": {"generic": "boom"}, "metadata": []}  # fmt: skip


def result_file(tmp_path: Path, *, fail: bool = True) -> Path:
    """A result with measurements to chart and, when ``fail``, a blocking ERR-001 with its input."""
    records = {c.id: [TestRecord(f"conformance/suite/t.py::test_{c.id.lower().replace('-', '_')}",
                                 Outcome.PASSED)] for c in CHECKS}  # fmt: skip
    if fail:
        records["ERR-001"] = [TestRecord("conformance/suite/test_errors.py::test_no_well_typed"
                                         "_input_traps", Outcome.FAILED,
                                         "ERR-001: process-event trapped: unreachable")]  # fmt: skip
    measurements: dict[str, dict[str, Any]] = {
        "PERF-001": {"events_per_s": 700.0, "fuel_per_event_sample": [4e5, 5e5, 9e5, 1.5e6]},
        "PERF-002": {"events_per_s": 1400.0, "batch_size": 50, "p50_ms": 20.0, "p95_ms": 60.0,
                     "p99_ms": 80.0, "batch_latencies_ms": [18.0, 20.0, 22.0, 60.0, 80.0]},
        "LIM-003": {"memory_pages_needed": 199, "max_memory_pages": 256},
        "LIM-006": {"events": [53, 2705], "pages": [199, 203]},
        "ERR-001": {"repro": [{"function": "process-event", "event": TRAPPING_EVENT}]},
    }  # fmt: skip
    result = RunResult(
        {"file": "c.wasm", "sha256": "ab" * 32, "size": 10, "path": "/x/c.wasm"},
        Tier.MARKETPLACE, decide(Tier.MARKETPLACE, records, measurements=measurements),
        started="2026-12-03T00:00:00+00:00", finished="2026-12-03T00:01:00+00:00",
        environment={"thresholds": {"batch-p99-ms": 1000.0, "fuel-per-event": 10_000_000,
                                    "single-events-per-s": 100.0, "batch-events-per-s": 500.0}},
    )  # fmt: skip
    return json_report.write(result, tmp_path)


def report(tmp_path: Path, **kw: bool) -> Report:
    return Report.from_file(result_file(tmp_path, **kw), component=Path("/x/c.wasm"),
                            config="fixtures/configs/c.json")  # fmt: skip


def test_every_format_is_written_and_json_is_always_there(tmp_path: Path) -> None:
    written = write_all(report(tmp_path), tmp_path / "out", None, registry())
    assert set(written) == {"junit", "html", "markdown", "badge", "repro"}
    names = sorted(p.name for paths in written.values() for p in paths)
    assert names == ["ERR-001.jsonl", "README.md", "c.badge.svg", "c.junit.xml",
                     "c.report.html", "c.summary.md"]  # fmt: skip
    assert write_all(report(tmp_path), tmp_path / "o2", ["json", "badge"], registry()).keys() == {
        "badge"
    }
    with pytest.raises(ValueError, match="unknown report format.*pdf"):
        write_all(report(tmp_path), tmp_path / "o3", ["pdf"], registry())


def test_junit_is_read_back_by_a_junit_consumer_one_case_per_check(tmp_path: Path) -> None:
    (path,) = builtin()["junit"].write(report(tmp_path), tmp_path)
    xml = junitparser.JUnitXml.fromfile(str(path))
    (suite,) = list(xml)
    cases = list(suite)
    assert len(cases) == len(CHECKS) and suite.tests == len(CHECKS) and suite.failures == 1
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert props["component_sha256"] == "ab" * 32 and props["tier"] == "marketplace"
    assert props["verdict"] == "NOT CERTIFIED"
    failed = [c for c in cases if not c.is_passed and not c.is_skipped]
    assert [(c.classname, c.name.split()[0]) for c in failed] == [("typed-errors", "ERR-001")]
    text = failed[0].result[0].text
    assert "trapped: unreachable" in text and "remedy:" in text
    # shaped like pytest's own --junitxml: testsuites > testsuite(name, tests, failures...)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root[0].tag == "testsuite"
    assert {"errors", "failures", "skipped", "tests", "time", "timestamp"} <= set(root[0].attrib)


def test_markdown_is_a_step_summary_with_the_failure_and_its_rerun(tmp_path: Path) -> None:
    (path,) = builtin()["markdown"].write(report(tmp_path), tmp_path)
    text = path.read_text()
    assert text.startswith("## flowctl conformance: NOT CERTIFIED")
    assert "**Blocking:** `ERR-001`" in text and "remedy:" in text
    assert "-k test_no_well_typed_input_traps" in text
    assert "| batch latency p50 / p95 / p99 (ms) | 20.0 / 60.0 / 80.0 |" in text


def test_the_badge_shows_the_tier_or_not_certified(tmp_path: Path) -> None:
    (failed,) = builtin()["badge"].write(report(tmp_path), tmp_path)
    (ok,) = builtin()["badge"].write(report(tmp_path / "ok", fail=False), tmp_path / "ok")
    assert "not certified" in failed.read_text() and "marketplace" in ok.read_text()
    assert ET.fromstring(ok.read_text()).tag.endswith("svg")


def test_every_failure_gets_a_rerun_and_recorded_inputs_a_replay(tmp_path: Path) -> None:
    readme, events = builtin()["repro"].write(report(tmp_path), tmp_path)
    text = readme.read_text()
    assert (
        "python -m pytest --component /x/c.wasm --component-config fixtures/configs/c.json" in text
    )
    assert (
        "flowctl-host run /x/c.wasm --input" in text and "--config fixtures/configs/c.json" in text
    )
    assert [json.loads(line) for line in events.read_text().splitlines()] == [TRAPPING_EVENT]
    ok = Report.from_file(result_file(tmp_path / "ok", fail=False))
    assert builtin()["repro"].write(ok, tmp_path / "ok") == []  # nothing failed: nothing written


def test_the_html_page_is_self_contained_with_four_charts(tmp_path: Path) -> None:
    (path,) = builtin()["html"].write(report(tmp_path), tmp_path)
    page = path.read_text()
    assert page.count('<figure class="chart"') == 4 and page.count("<svg") >= 4
    assert "NOT CERTIFIED" in page and "test_no_well_typed_input_traps" in page
    # nothing is fetched: no script, no stylesheet link, no external URL in an attribute or CSS
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "url(http" not in page


class _Csv:
    name = "csv"
    description = "one line per check"

    def write(self, report: Report, directory: Path) -> list[Path]:
        path = directory / f"{report.stem}.csv"
        path.write_text("".join(f"{c['id']},{c['outcome']}\n" for c in report.checks))
        return [path]


def test_a_plugin_adds_a_format_and_a_name_cannot_be_taken_twice(tmp_path: Path) -> None:
    writers = registry([[_Csv()]])
    (path,) = write_all(report(tmp_path), tmp_path, ["csv"], writers)["csv"]
    assert path.read_text().startswith("WIT-001,passed")
    junit = builtin()["junit"]
    with pytest.raises(ValueError, match="registered twice"):
        registry([[junit]])
    with pytest.raises(TypeError, match="not a report writer"):
        registry([[object()]])  # type: ignore[list-item]


def test_conformance_list_is_a_dry_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--conformance-list",
         "--conformance-level", "basic", "--launch", "host serve {port}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "checks at tier basic (nothing is run)" in out
    assert re.search(r"WIT-001\s+mandatory", out) and re.search(r"PERF-001\s+runs, mandatory", out)
    assert "not applicable remotely: decided by inspecting" in out
    assert "not assessed" not in out
    assert not list(tmp_path.glob("reports/*"))  # nothing ran, nothing was written


def test_conformance_list_names_what_flowctl_v1_alone_cannot_decide(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--conformance-list",
         "--launch", "host serve {port}", "--remote-contract", "flowctl.v1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    blocks = done.stdout.split("\n\n")[1]
    entries = {line.split()[0]: line for line in blocks.splitlines() if not line.startswith(" ")}
    assert set(entries) >= {"LIFE-001", "OUT-001"}
    listing = done.stdout
    assert re.search(r"LIFE-001 .*\n.*\n\s+not assessed \(a failure where mandatory\): over "
                     r"flowctl.v1 alone", listing)  # fmt: skip
    assert not re.search(r"OUT-001 .*\n.*\n\s+not assessed", listing)
