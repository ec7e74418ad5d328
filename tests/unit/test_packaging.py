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
    assert "flowctl-host = reference_host.cli:main" in entry
    assert "flowctl-conformance = conformance.cli:main" in entry
    assert "flowctl_conformance = conformance.plugin" in entry
    assert not any(n.startswith(("tests/", "sample_components/")) for n in names)
