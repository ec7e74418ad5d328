"""Run ``pytest --component ...`` in a subprocess (as users do) and read its result file.

In a subprocess because an in-process pytester run restores signal handlers wasmtime relies on
(a later trap then kills the interpreter with SIGILL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclass
class SuiteRun:
    """What one conformance run left: exit status, output, the parsed result file."""

    returncode: int
    output: str
    result: dict[str, Any] | None

    def outcome(self, check: str) -> str:
        """The outcome of one check in the result file."""
        assert self.result is not None, self.output[-3000:]
        outcome: str = next(c["outcome"] for c in self.result["checks"] if c["id"] == check)
        return outcome

    def failed(self) -> set[str]:
        """The checks that did not pass (failed, skipped or not run)."""
        assert self.result is not None, self.output[-3000:]
        return {
            c["id"]
            for c in self.result["checks"]
            if c["outcome"] in ("failed", "skipped", "not-run")
        }

    def messages(self, check: str) -> list[str]:
        """The messages recorded for one check."""
        assert self.result is not None
        return next(c["messages"] for c in self.result["checks"] if c["id"] == check)


def run_suite(
    component: Path,
    report_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> SuiteRun:
    """``python -m pytest --component component --conformance-report-dir report_dir *args``.

    Only the JSON result is written unless ``args`` choose formats (``--conformance-report``):
    the tests read the result; the other formats are tested on their own
    (tests/unit/test_report_writers.py), and the HTML page's charts cost ~2 s per run.
    """
    formats = [] if "--conformance-report" in args else ["--conformance-report", "json"]
    argv = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-header",
        "-p", "no:randomly", "--component", str(component),
        "--conformance-report-dir", str(report_dir), *formats, *args,
    ]  # fmt: skip
    proc = subprocess.run(
        argv,
        cwd=report_dir,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    files = sorted(report_dir.glob("*.conformance.json"))
    result = json.loads(files[0].read_text(encoding="utf-8")) if files else None
    return SuiteRun(proc.returncode, proc.stdout + proc.stderr, result)


def run_benchmark(module: str, out: Path, *args: str, timeout: float = 240) -> dict[str, Any]:
    """``python -m benchmarks.<module> *args --out out`` from the repository root; its JSON.

    A non-zero exit fails the calling test with the script's output.
    """
    import pytest

    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args, "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"benchmarks.{module} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data
