"""Starts the run, collects check outcomes, decides, writes the result, sets the exit status.

Registered on the controlling process only (the xdist controller, or a plain run).  At session
start it fixes the component and its configuration (:func:`conformance.start.begin`) and hands
both to xdist workers; test reports from workers arrive here with their ``user_properties``,
which carry the check id (``conformance.check``), measurements (``conformance.measure``), facts
about the component and services (``conformance.component``, ``conformance.services``) and what
the worker found wrong with the run's integrity (``conformance.integrity``).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import platform
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from conformance.results import (
    NOT_APPLICABLE_PREFIX,
    Outcome,
    RunResult,
    TestRecord,
    decide,
)
from conformance.settings import SuiteSettings
from conformance.start import RunStart

CHECK_PROP = "conformance.check"
MEASURE_PROP = "conformance.measure"
COMPONENT_PROP = "conformance.component"
SERVICES_PROP = "conformance.services"
INTEGRITY_PROP = "conformance.integrity"
#: ``workerinput`` key of the run's start (a :class:`RunStart` as JSON).
START_KEY = "flowctl_conformance_start"
START_STASH = pytest.StashKey[RunStart]()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def suite_version() -> str | None:
    """The installed flowctl-conformance version."""
    return _version("flowctl-conformance")


def _message(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).removeprefix("Failed: ")
    return str(report.longrepr or "")[-2000:]


class Recorder:
    """The plugin object that turns a test session into a :class:`RunResult`."""

    def __init__(self, settings: SuiteSettings, config: pytest.Config) -> None:
        self.settings = settings
        self.config = config
        self.start: RunStart | None = None
        self.records: dict[str, list[TestRecord]] = defaultdict(list)
        self.measurements: dict[str, dict[str, Any]] = defaultdict(dict)
        self.component_facts: dict[str, Any] = {}
        self.services: dict[str, str] = {}
        self.violations: set[str] = set()
        self.other_failures: list[str] = []
        self.started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.result: RunResult | None = None
        self.report_path: Path | None = None
        self.reports: dict[str, list[Path]] = {}
        self.report_errors: list[str] = []

    # ------------------------------------------------------------------ the start

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Snapshot the component and choose its configuration before anything runs."""
        from conformance.start import begin

        self.start = begin(self.settings)
        session.config.stash[START_STASH] = self.start
        if self.start.error is not None:  # stop before any check runs, with one error
            self._finish()
            summary = self.result.summary(str(self.report_path)) if self.result else ""
            raise pytest.UsageError(f"flowctl-conformance: {self.start.error}\n{summary}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Give each xdist worker the run's start."""
        if self.start is not None:
            node.workerinput[START_KEY] = self.start.to_json()

    def close(self) -> None:
        """Remove the private copy of the component (at unconfigure)."""
        from conformance.start import discard

        if self.start is not None:
            discard(self.start)

    # ------------------------------------------------------------------ reports

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record what a test phase says about its check."""
        props: dict[str, Any] = dict(report.user_properties) if report.user_properties else {}
        value: Any
        for key, value in report.user_properties:
            if key == MEASURE_PROP and report.when == "call":
                for check, values in value.items():
                    self.measurements[check].update(values)
            elif key == COMPONENT_PROP:
                self.component_facts.update(value)
            elif key == SERVICES_PROP:
                self.services.update(value)
            elif key == INTEGRITY_PROP:
                self.violations.update(value)
        check = props.get(CHECK_PROP)
        if check is None:
            if report.failed:
                self.other_failures.append(report.nodeid)
            return
        if report.when != "call" and report.passed:
            return
        if report.skipped:
            message = _message(report)
            outcome = (
                Outcome.NOT_APPLICABLE
                if message.startswith(NOT_APPLICABLE_PREFIX)
                else Outcome.SKIPPED
            )
        elif report.failed:
            outcome, message = Outcome.FAILED, _message(report)
            if report.when != "call" and ": not assessed: " not in message:
                message = f"{report.when} error: {message}"
        else:
            outcome, message = Outcome.PASSED, ""
        self.records[check].append(
            TestRecord(report.nodeid, outcome, message, float(report.duration))
        )

    # ------------------------------------------------------------------ the result

    def _component(self) -> dict[str, Any]:
        out = self.start.component() if self.start is not None else {}
        out.update(self.component_facts)
        return out

    def _environment(self) -> dict[str, Any]:
        workers = getattr(self.config.option, "numprocesses", None)
        return {
            "flowctl_conformance": suite_version(),
            "wasmtime": _version("wasmtime"),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "services": self.services,
            "xdist_workers": workers,
            "examples": self.settings.examples,
            "thresholds": {
                key: getattr(self.settings.thresholds, key.replace("-", "_"))
                for key in self.settings.thresholds.KEYS
            },
        }

    def _finish(self) -> None:
        from conformance.integrity import audit_plugins, tampered
        from conformance.reporting import json_report

        facts, violations = audit_plugins(self.config.pluginmanager)
        violations += tampered()
        start = self.start
        checks = decide(self.settings.level, self.records, self.measurements, self.settings.waivers)
        self.result = RunResult(
            component=self._component(),
            tier=self.settings.level,
            checks=checks,
            environment=self._environment(),
            started=self.started,
            finished=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            other_failures=self.other_failures,
            earned_under=start.earned_under if start else {},
            caps=start.caps if start else [],
            violations=sorted(self.violations | set(violations)),
            integrity=facts,
            start_error=start.error if start else "the run did not start",
        )
        self.report_path = json_report.write(self.result, self.settings.report_dir)
        self.reports = self._write_reports(self.report_path)

    def _write_reports(self, result_path: Path) -> dict[str, list[Path]]:
        """Every other format (``--conformance-report`` chooses); a writer's failure is shown."""
        from conformance.reporting.writers import Report, registry, write_all

        settings = self.settings
        extra = self.config.hook.pytest_conformance_report_writers(config=self.config)
        from conformance.reporting import json_report

        assert self.result is not None
        data = json.loads(json.dumps(json_report.to_dict(self.result), default=str))  # as written
        report = Report(
            data, result_path,
            component=settings.component,
            config=str(settings.component_config) if settings.component_config else None,
            policy=str(settings.policy) if settings.policy else None,
            level=settings.level.value,
            invocation=tuple(str(a) for a in self.config.invocation_params.args),
        )  # fmt: skip
        try:
            return write_all(report, settings.report_dir, settings.report_formats,
                             registry(extra))  # fmt: skip
        except (ValueError, TypeError, OSError, ImportError) as exc:
            self.report_errors.append(f"reports not written: {exc}")
            return {}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Decide, write the result file, and make the exit status the verdict."""
        self._finish()
        assert self.result is not None
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                          pytest.ExitCode.NO_TESTS_COLLECTED):  # fmt: skip
            ok = self.result.certified
            session.exitstatus = pytest.ExitCode.OK if ok else pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The one summary line (plus the blocking checks' first messages)."""
        if self.result is None:
            return
        tr = terminalreporter
        not_run = [r.check.id for r in self.result.checks if r.blocks and not r.messages]
        for r in self.result.checks:
            if r.blocks and r.messages:
                first = r.messages[0].splitlines()[0][:200]
                tr.write_line(f"  {r.check.id} {r.outcome.value}: {first}")
        if not_run:
            tr.write_line(f"  mandatory checks that did not run: {' '.join(not_run)}")
        for violation in self.result.violations:
            tr.write_line(f"  integrity: {violation}")
        if self.settings.level.value == "marketplace":
            for cap in self.result.caps:
                tr.write_line(f"  capped at standard: {cap['setting']} = {cap['value']}")
        for error in self.report_errors:
            tr.write_line(f"  {error}", red=True)
        if self.reports:
            written = [p.name for paths in self.reports.values() for p in paths[:1]]
            tr.write_line(f"  reports: {', '.join(written)}")
        line = self.result.summary(str(self.report_path or ""))
        tr.write_line(line, green=self.result.certified, red=not self.result.certified, bold=True)
