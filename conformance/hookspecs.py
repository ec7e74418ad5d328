"""Hooks flowctl-conformance offers other pytest plugins."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_conformance_report_writers(config: pytest.Config) -> list[Any]:
    """Return report writer objects (``conformance.reporting.writers.ReportWriter``) to add.

    Each has ``name`` (the ``--conformance-report`` value), ``description`` and
    ``write(report, directory) -> list[Path]``.
    """
    raise NotImplementedError
