"""A copy-pastable reproduction for every failure, written next to the report.

``<stem>.repro/README.md`` lists, per failed check, the command that reruns that check alone
(``pytest ... -k <its test>``) and -- where the check recorded the inputs that failed
(``Verdict.reproduce``: traps, wrong error cases, limits hit, output over the bound) -- the
``flowctl-host run`` command that replays exactly those events through the reference host, with
the events in ``<stem>.repro/<CHECK>.jsonl``.  A replay runs the events on a fresh instance: a
defect that needs the events before it (history) shows only in the check's own rerun.
"""

from __future__ import annotations

import json
from pathlib import Path
from shlex import quote
from typing import Any

from conformance.reporting.writers import Report


def _test_name(check: dict[str, Any]) -> str | None:
    tests = [str(t).split("::")[-1].split("[")[0] for t in check.get("tests") or []]
    return " or ".join(sorted(set(tests))) or None


def failures(report: Report) -> list[dict[str, Any]]:
    """One entry per failed check: id, title, messages, rerun command, replay (or None)."""
    out = []
    for c in report.failed():
        repro = (c.get("measurements") or {}).get("repro") or []
        entry: dict[str, Any] = {
            "id": c["id"], "title": c["title"], "messages": list(c.get("messages") or [])[:3],
            "rerun": report.suite_command(_test_name(dict(c))), "events": repro, "replay": None,
        }  # fmt: skip
        out.append(entry)
    return out


def replay_command(report: Report, events_file: Path) -> str:
    """``flowctl-host run`` on the recorded events, with the run's config."""
    component = str(report.component or report.data["component"].get("path") or "")
    parts = ["flowctl-host", "run", quote(component), "--input", quote(str(events_file))]
    if report.config and "#" not in report.config:
        parts += ["--config", quote(report.config)]
    if report.policy:
        parts += ["--policy", quote(report.policy.split("#")[0])]
        if "#" in report.policy:
            parts += ["--processor", quote(report.policy.split("#", 1)[1])]
    return " ".join(parts) + " --summary"


class ReproWriter:
    """``<stem>.repro/``: README.md and one ``<CHECK>.jsonl`` per check with recorded inputs."""

    name = "repro"
    description = "per failure: the command rerunning the check, and a flowctl-host run replay"

    def write(self, report: Report, directory: Path) -> list[Path]:
        """Write the folder (nothing when nothing failed)."""
        entries = failures(report)
        if not entries:
            return []
        folder = directory / f"{report.stem}.repro"
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        lines = [f"# Reproducing the failures of {report.data['component'].get('file')}", "",
                 f"Verdict: **{report.verdict()}**. Each failed check below can be rerun alone; "
                 "where the check recorded the inputs that failed, they are replayed through "
                 "`flowctl-host run` on a fresh instance (a defect that needs the events before "
                 "it shows only in the check's own rerun).", ""]  # fmt: skip
        for e in entries:
            lines += [f"## {e['id']} {e['title']}", ""]
            lines += [f"> {m.splitlines()[0][:400]}" for m in e["messages"]] + [""]
            lines += ["Rerun the check:", "", "```sh", e["rerun"], "```", ""]
            if e["events"]:
                path = folder / f"{e['id']}.jsonl"
                path.write_text("".join(json.dumps(x["event"], ensure_ascii=False) + "\n"
                                        for x in e["events"]), encoding="utf-8")  # fmt: skip
                written.append(path)
                e["replay"] = replay_command(report, path)
                calls = sorted({x["function"] for x in e["events"]})
                lines += [f"Replay the {len(e['events'])} failing event(s) ({', '.join(calls)}):",
                          "", "```sh", e["replay"], "```", ""]  # fmt: skip
        readme = folder / "README.md"
        readme.write_text("\n".join(lines), encoding="utf-8")
        return [readme, *written]


WRITER = ReproWriter()
