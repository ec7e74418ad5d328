"""WIT contract: the processor export and the imports, compared with the package's WIT."""

from __future__ import annotations

import pytest

from conformance.fixtures import Verdict
from conformance.harness import ComponentUnderTest

check = pytest.mark.conformance_check


@check("WIT-001")
def test_exports_the_processor_interface_of_the_wit(
    conformance_component: ComponentUnderTest, conformance_check: Verdict
) -> None:
    report = conformance_component.report
    findings = []
    if not report.processor_export:
        findings.append("no export obsrvr:flowctl/processor@1.0.0")
    findings += [d for d in report.drift if not d.startswith("import ")]
    findings += [f"{f}: {state}" for f, state in report.functions.items() if state != "ok"]
    findings = list(dict.fromkeys(findings))
    conformance_check.measure(exports=list(report.exports), worlds=list(report.worlds))
    conformance_check.expect_none(findings)


@check("WIT-002")
def test_imports_only_flowctl_interfaces_of_the_wit(
    conformance_component: ComponentUnderTest, conformance_check: Verdict
) -> None:
    report = conformance_component.report
    findings = [f"imports {name}, not an obsrvr:flowctl interface" for name in report.wasi_imports]
    findings += [f"imports {name}, which no flowctl host provides" for name in report.other_imports]
    findings += [d for d in report.drift if d.startswith("import ")]
    conformance_check.measure(imports=[i.name for i in report.imports])
    conformance_check.expect_none(findings)
