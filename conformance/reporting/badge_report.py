"""The SVG badge: the tier a component earned (``anybadge``)."""

from __future__ import annotations

from pathlib import Path

from conformance.reporting.writers import Report

COLOURS = {"marketplace": "#2e7d32", "standard": "#1976d2", "basic": "#f9a825"}
FAILED = "#c62828"


def badge_svg(report: Report) -> str:
    """The badge's SVG text."""
    import anybadge

    tier = report.data.get("certified_tier") if report.data.get("certified") else None
    value = tier if tier else "not certified"
    badge = anybadge.Badge(
        label="flowctl conformance", value=value, default_color=COLOURS.get(str(tier), FAILED)
    )
    return str(badge.badge_svg_text)


class BadgeWriter:
    """``<stem>.badge.svg``."""

    name = "badge"
    description = "SVG badge showing the tier earned"

    def write(self, report: Report, directory: Path) -> list[Path]:
        """Write the badge."""
        path = directory / f"{report.stem}.badge.svg"
        path.write_text(badge_svg(report), encoding="utf-8")
        return [path]


WRITER = BadgeWriter()
