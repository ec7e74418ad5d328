"""JUnit XML: one testcase per check, shaped like pytest's own ``--junitxml``.

``<testsuites><testsuite name="flowctl-conformance">`` with the component's sha256, the tier and
the suite version as properties; each check is ``<testcase classname="<category>"
name="<ID> <title>">``: a failure (message + remedy) when it failed or, mandatory, did not run;
skipped (with the reason) when not applicable, skipped or waived.  Written with
:mod:`xml.etree.ElementTree`.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.reporting.writers import Report


def _text(messages: list[str], remedy: str | None) -> str:
    body = "\n".join(messages) or "(no message)"
    return f"{body}\n\nremedy: {remedy}" if remedy else body


def document(report: Report) -> ET.ElementTree:
    """The JUnit document of ``report``."""
    data = report.data
    checks = report.checks
    failures = sum(
        c["outcome"] == "failed" or (c["outcome"] == "not-run" and c["mandatory"]) for c in checks
    )
    skipped = sum(c["outcome"] in ("skipped", "not-applicable", "waived") for c in checks)
    total = sum(float(c.get("duration_s") or 0.0) for c in checks)
    suites = ET.Element("testsuites", {"name": "flowctl-conformance"})
    suite = ET.SubElement(suites, "testsuite", {
        "name": "flowctl-conformance", "errors": "0", "failures": str(failures),
        "skipped": str(skipped), "tests": str(len(checks)), "time": f"{total:.3f}",
        "timestamp": str(data.get("started") or ""), "hostname": socket.gethostname(),
    })  # fmt: skip
    props = ET.SubElement(suite, "properties")
    component = data["component"]
    earned = data.get("earned_under") or {}
    for name, value in (
        ("component", component.get("file")), ("component_sha256", component.get("sha256")),
        ("tier", data.get("tier")), ("certified", str(bool(data.get("certified"))).lower()),
        ("certified_tier", data.get("certified_tier") or ""),
        ("suite_version", earned.get("suite_version") or ""),
        ("verdict", report.verdict()),
    ):  # fmt: skip
        ET.SubElement(props, "property", {"name": name, "value": str(value or "")})
    for c in checks:
        case = ET.SubElement(suite, "testcase", {
            "classname": str(c["category"]), "name": f"{c['id']} {c['title']}",
            "time": f"{float(c.get('duration_s') or 0.0):.3f}",
        })  # fmt: skip
        messages = [str(m) for m in c.get("messages") or []]
        outcome = c["outcome"]
        if outcome == "failed" or (outcome == "not-run" and c["mandatory"]):
            first = messages[0] if messages else f"{c['id']} {outcome}"
            kind = "blocking" if c["id"] in (data.get("blocking") or []) else "informational"
            failure = ET.SubElement(case, "failure", {"message": first[:500], "type": kind})
            failure.text = _text(messages or [f"the check {outcome}"], c.get("remedy"))
        elif outcome in ("skipped", "not-applicable", "waived"):
            why = f"waived: {c.get('waiver')}" if outcome == "waived" else "; ".join(messages)
            ET.SubElement(case, "skipped", {"type": outcome, "message": why[:500] or outcome})
    ET.indent(suites)
    return ET.ElementTree(suites)


class JUnitWriter:
    """``<stem>.junit.xml``."""

    name = "junit"
    description = "JUnit XML, one testcase per check (CI test-report viewers)"

    def write(self, report: Report, directory: Path) -> list[Path]:
        """Write the document."""
        path = directory / f"{report.stem}.junit.xml"
        document(report).write(path, encoding="utf-8", xml_declaration=True)
        return [path]


WRITER = JUnitWriter()
