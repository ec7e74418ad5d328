"""Report writers: one module per format, each a registered plugin object.

The shape is pytest's ``--junitxml``: a writer is an object with a ``name``, a ``description``
and ``write(report, directory) -> list[Path]``, registered by name.  The built-in writers are
:data:`BUILTIN`; another plugin adds formats by implementing the hook
``pytest_conformance_report_writers(config)`` (:mod:`conformance.hookspecs`) and returning
writer objects.  Every writer reads the same :class:`Report`: the result file's data (so
``flowctl-conformance report RESULT`` rewrites every format from a stored result) plus what a
reproduction needs.

``--conformance-report-dir`` gets every format; ``--conformance-report FORMAT`` (repeatable)
chooses (``json`` is always written: it is the result).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Report:
    """What every writer reads: the result data and how the run was made."""

    data: Mapping[str, Any]
    result_path: Path
    component: Path | None = None
    config: str | None = None  # --component-config as given (FILE[#ID])
    policy: str | None = None  # --conformance-policy as given
    level: str = "standard"
    invocation: tuple[str, ...] | None = None  # the run's pytest arguments, when known
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        """The component's file stem: every output is ``<stem>.<suffix>``."""
        return Path(str(self.data["component"].get("file") or "component.wasm")).stem

    @property
    def checks(self) -> list[Mapping[str, Any]]:
        """The per-check rows of the result."""
        return list(self.data.get("checks") or [])

    def failed(self) -> list[Mapping[str, Any]]:
        """The checks that failed (blocking or not)."""
        return [c for c in self.checks if c["outcome"] == "failed"]

    def verdict(self) -> str:
        """``CERTIFIED <tier>`` or ``NOT CERTIFIED``."""
        tier = self.data.get("certified_tier")
        return f"CERTIFIED {tier}" if self.data.get("certified") and tier else "NOT CERTIFIED"

    def suite_command(self, check_test: str | None = None) -> str:
        """The ``pytest`` command that reruns this certification (one check with ``-k``)."""
        from shlex import quote

        if self.invocation is not None:  # exactly the run's arguments, less selection/xdist
            kept, skip = [], False
            for arg in self.invocation:
                if skip:
                    skip = False
                    continue
                if arg in ("-k", "-n", "--numprocesses", "--conformance-report-dir"):
                    skip = True
                    continue
                if arg.startswith(("-k=", "-n=", "--numprocesses=", "--conformance-report-dir=")):
                    continue
                kept.append(quote(arg))
            return " ".join(["python", "-m", "pytest", *kept]
                            + (["-k", quote(check_test)] if check_test else []))  # fmt: skip
        component = self.data["component"]
        where = self.component or component.get("path") or component["file"]
        parts = ["python", "-m", "pytest", "--component", quote(str(where))]
        if self.config:
            parts += ["--component-config", quote(self.config)]
        if self.policy:
            parts += ["--conformance-policy", quote(self.policy)]
        parts += ["--conformance-level", str(self.data.get("tier") or self.level)]
        if check_test:
            parts += ["-k", quote(check_test)]
        return " ".join(parts)

    @classmethod
    def from_file(cls, path: Path, **kwargs: Any) -> Report:
        """A report for a stored result file."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != "flowctl-conformance-result":
            raise ValueError(f"{path} is not a flowctl-conformance result file")
        return cls(data, path, **kwargs)


@runtime_checkable
class ReportWriter(Protocol):
    """A report format."""

    name: str
    description: str

    def write(self, report: Report, directory: Path) -> list[Path]:
        """Write the format into ``directory``; the files written."""


def builtin() -> dict[str, ReportWriter]:
    """The formats this package ships, by name."""
    from conformance.reporting import (
        badge_report,
        html_report,
        junit_report,
        markdown_report,
        repro,
    )

    writers: list[ReportWriter] = [
        junit_report.WRITER, html_report.WRITER, markdown_report.WRITER, badge_report.WRITER,
        repro.WRITER,
    ]  # fmt: skip
    return {w.name: w for w in writers}


def registry(extra: Iterable[Iterable[ReportWriter]] = ()) -> dict[str, ReportWriter]:
    """Built-in writers plus the ones plugins returned from the hook (a name may not repeat)."""
    out = builtin()
    for group in extra:
        for writer in group:
            if not isinstance(writer, ReportWriter):
                raise TypeError(f"{writer!r} is not a report writer (name, description, write)")
            if writer.name in out or writer.name == "json":
                raise ValueError(f"report format {writer.name!r} is registered twice")
            out[writer.name] = writer
    return out


def write_all(
    report: Report, directory: Path, formats: Sequence[str] | None, writers: Mapping[str, Any]
) -> dict[str, list[Path]]:
    """Write the chosen formats (``None``: all); unknown names raise ``ValueError``."""
    chosen = list(writers) if formats is None else [f for f in formats if f != "json"]
    unknown = [f for f in chosen if f not in writers]
    if unknown:
        raise ValueError(
            f"unknown report format(s) {', '.join(unknown)}; known: json, {', '.join(writers)}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    return {name: writers[name].write(report, directory) for name in chosen}
