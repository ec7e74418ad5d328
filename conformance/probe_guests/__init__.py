"""The suite's own probe components: limit probes (LIM-005) and sandbox probes (SBX-004).

The sandbox probe guests perform the probe corpus as real capability calls (SBX-004 over the
wire, :mod:`conformance.wire_probes`).

They show that the host enforces its limits whatever the component under test does: ``spin``
never returns from process-event (a timeout or fuel must stop it), ``membomb`` grows its memory
until the host refuses (its health-check reports the pages it got), ``recurse`` recurses without
bound (the stack limit must stop it).  The ``.wat`` files are spliced copies of the host's test
guests (``tests/guests``; a test keeps them current).  ``sandbox-http``, ``sandbox-database`` and
``sandbox-key-value`` each import one capability and share ``_sandbox.wat`` (spliced in at their
``;; @include`` line): one probe per event, answered by an event naming the typed answer.  Each is
made a component with ``wasm-tools`` against the packaged WIT, in a private temporary
directory, once per process.
"""

from __future__ import annotations

import subprocess
import tempfile
from functools import cache
from pathlib import Path

from reference_host._tools import wasm_tools, wit_dir

HERE = Path(__file__).resolve().parent
#: The limit probes (LIM-005) and the sandbox probes (SBX-004 over the wire).
LIMIT_PROBES = ("spin", "membomb", "recurse")
SANDBOX_PROBES = ("sandbox-http", "sandbox-database", "sandbox-key-value")
NAMES = LIMIT_PROBES + SANDBOX_PROBES
INCLUDE = ";; @include _sandbox.wat"


def _world(name: str) -> str:
    # the full world: wasm-tools keeps only the imports the core module uses
    return "flowctl-processor" if name.startswith("sandbox-") else "flowctl-processor-basic"


def source(name: str) -> str:
    """The WAT text of probe ``name``, with ``_sandbox.wat`` spliced in where it is included."""
    text = (HERE / f"{name}.wat").read_text(encoding="utf-8")
    if INCLUDE in text:
        text = text.replace(INCLUDE, (HERE / "_sandbox.wat").read_text(encoding="utf-8"))
    return text


@cache
def component_bytes(name: str) -> bytes:
    """The probe component ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise ValueError(f"no probe guest {name!r}; known: {', '.join(NAMES)}")
    tool = wasm_tools()
    with tempfile.TemporaryDirectory(prefix="flowctl-probe-") as tmp:
        core, comp = Path(tmp) / "core.wasm", Path(tmp) / f"{name}.wasm"
        wat = Path(tmp) / f"{name}.wat"
        wat.write_text(source(name), encoding="utf-8")
        for argv in (
            [tool, "component", "embed", str(wit_dir()), str(wat),
             "--world", _world(name), "-o", str(core)],
            [tool, "component", "new", str(core), "-o", str(comp)],
        ):  # fmt: skip
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            if proc.returncode:
                raise RuntimeError(f"building probe guest {name}: {proc.stderr.strip()}")
        return comp.read_bytes()


def write(name: str, directory: Path) -> Path:
    """Write probe ``name`` as ``<directory>/<name>.wasm``; return the path."""
    path = directory / f"{name}.wasm"
    path.write_bytes(component_bytes(name))
    return path
