"""The HTML report in a real headless browser (Debian's chromium): it renders, the charts are
there, the console stays quiet, nothing is fetched; a screenshot is kept for a person to look at.

Without chromium the tests skip, unless ``FLOWCTL_REQUIRE_CHROMIUM=1`` (``.ci/run`` sets it and
installs chromium): then a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.reporting.writers import builtin
from tests.unit.test_report_writers import report

pytestmark = pytest.mark.integration


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("FLOWCTL_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required here: apt-get install chromium")
        pytest.skip("no chromium (apt-get install chromium)")
    return found


def browse(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Load ``page`` headless; console messages and failed loads go to stderr."""
    return subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1200,2600", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line]


def test_the_console_watch_sees_errors_and_fetches(tmp_path: Path) -> None:
    # the control: a page that logs an error and fetches from the network is seen as such
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><img src='http://127.0.0.1:9/x.png'><script>"
                   "console.error('broken chart');</script></body></html>")  # fmt: skip
    done = browse(bad, tmp_path, "--dump-dom")
    assert any("broken chart" in line for line in console(done.stderr)), done.stderr[-2000:]


def test_the_report_renders_with_its_charts_and_a_quiet_console(tmp_path: Path) -> None:
    (page,) = builtin()["html"].write(report(tmp_path), tmp_path)
    done = browse(page, tmp_path, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'id="verdict">NOT CERTIFIED<' in dom
    assert len(re.findall(r'<figure class="chart"', dom)) == 4
    assert len(re.findall(r"<svg", dom)) >= 4
    assert console(done.stderr) == [], console(done.stderr)
    shot = tmp_path / "report.png"
    taken = browse(page, tmp_path, f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.stat().st_size > 50_000  # a rendered page, not blank
    keep = os.environ.get("FLOWCTL_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
