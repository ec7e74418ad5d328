"""The distribution installs what the host needs at run time: the WIT, both CLIs, the plugin."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_the_wit_and_entry_points(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("flowctl_conformance-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "reference_host/_wit/flowctl.wit" in names
        assert (
            z.read("reference_host/_wit/flowctl.wit") == (ROOT / "wit" / "flowctl.wit").read_bytes()
        )
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        # what the suite needs at run time ships with it: its probe guests, its fixture events
        # (malformed bodies and their repaired twins), and the config generator
        for probe in ("spin", "membomb", "recurse", "_sandbox", "sandbox-http",
                      "sandbox-database", "sandbox-key-value"):  # fmt: skip
            assert f"conformance/probe_guests/{probe}.wat" in names
        assert "conformance/_fixtures/events/ttp_malformed_twins.jsonl" in names
        # and what its reports and certificates need: the HTML template, the shipped schemas
        for shipped in ("reporting/templates/report.html.j2", "reporting/attestation.schema.json",
                        "reporting/result.schema.json", "ci/github-actions.yml"):  # fmt: skip
            assert f"conformance/{shipped}" in names, shipped
    assert "flowctl-host = reference_host.cli:main" in entry
    assert "flowctl-conformance = conformance.cli:main" in entry
    assert "flowctl_conformance = conformance.plugin" in entry
    assert not any(n.startswith(("tests/", "sample_components/")) for n in names)
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [r for r in requires if "extra ==" not in r]
    assert any("hypothesis-jsonschema" in r for r in runtime), runtime
    assert any(r.startswith("Requires-Dist: hypothesis<") or "hypothesis>=" in r for r in runtime)
