"""wit/flowctl.wit: parses, has the five worlds of the design document with exactly their imports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from wasmtime import Config, Engine
from wasmtime.component import Component

from reference_host import interfaces
from reference_host._tools import wasm_tools

ROOT = Path(__file__).resolve().parents[2]
WIT = ROOT / "wit"
DESIGN = ROOT.parent / "shared" / "seeds" / "flowctl-wasm-components-design.md"

# The design document's worlds, written out here independently of reference_host.interfaces.
P = "obsrvr:flowctl/"
DOC_WORLDS = {
    "flowctl-processor": ["logging", "metrics", "http-client", "database", "key-value", "config"],
    "flowctl-processor-basic": ["logging", "metrics"],
    "flowctl-processor-http": ["logging", "metrics", "http-client"],
    "flowctl-processor-database": ["logging", "metrics", "database"],
    "flowctl-processor-full": [
        "logging",
        "metrics",
        "http-client",
        "database",
        "key-value",
        "config",
    ],
}


def run(*argv: str) -> str:
    return subprocess.run([wasm_tools(), *argv], capture_output=True, text=True, check=True).stdout


def test_wit_parses_and_is_the_package() -> None:
    printed = run("component", "wit", str(WIT))
    assert "package obsrvr:flowctl@1.0.0;" in printed
    for iface in (
        "processor",
        "logging",
        "metrics",
        "http-client",
        "database",
        "key-value",
        "config",
    ):
        assert re.search(rf"^interface {iface} \{{", printed, re.M), iface
    for world in DOC_WORLDS:
        assert re.search(rf"^world {world} \{{", printed, re.M), world


def test_header_lists_every_change() -> None:
    head = (WIT / "flowctl.wit").read_text().split("\npackage ")[0]
    for change in ("processor-info", "health-status", "health-state", "f64", "%result", "%from"):
        assert change in head, change


@pytest.mark.skipif(not DESIGN.exists(), reason="design document not beside the checkout")
def test_only_the_listed_changes_differ_from_the_design_document() -> None:
    doc = DESIGN.read_text()
    listing = doc.split("```wit\n", 1)[1].split("```", 1)[0]
    ours = (WIT / "flowctl.wit").read_text().split("\npackage ", 1)[1]

    def norm(text: str) -> list[str]:
        out = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            line = (
                line.replace("float64", "f64")
                .replace("%result:", "result:")
                .replace("%from:", "from:")
            )
            out.append(line)
        return sorted(out)  # the moved records change order, not content

    assert norm(ours) == norm(listing.split("\npackage ", 1)[1])


@pytest.mark.parametrize("world", sorted(DOC_WORLDS))
def test_reference_component_per_world_has_exactly_the_world_imports(
    world: str, tmp_path: Path
) -> None:
    core, comp = tmp_path / "core.wasm", tmp_path / "c.wasm"
    run("component", "embed", "--dummy", str(WIT), "--world", world, "-o", str(core))
    run("component", "new", str(core), "-o", str(comp))
    engine = Engine(Config())
    component = Component.from_file(engine, str(comp))
    imports = set(component.type.imports(engine))
    assert imports == {f"{P}{name}@1.0.0" for name in DOC_WORLDS[world]}
    assert set(component.type.exports(engine)) == {interfaces.PROCESSOR}
    assert imports == set(interfaces.WORLDS[world])
