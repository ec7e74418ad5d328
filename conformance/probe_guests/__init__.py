"""The suite's own probe components: tiny processors that spin, grow memory, recurse (LIM-005).

They show that the host enforces its limits whatever the component under test does: ``spin``
never returns from process-event (a timeout or fuel must stop it), ``membomb`` grows its memory
until the host refuses (its health-check reports the pages it got), ``recurse`` recurses without
bound (the stack limit must stop it).  The ``.wat`` files are spliced copies of the host's test
guests (``tests/guests``; a test keeps them current); each is made a component with
``wasm-tools`` against the packaged WIT, in a private temporary directory, once per process.
"""

from __future__ import annotations

import subprocess
import tempfile
from functools import cache
from pathlib import Path

from reference_host._tools import wasm_tools, wit_dir

HERE = Path(__file__).resolve().parent
NAMES = ("spin", "membomb", "recurse")
WORLD = "flowctl-processor-basic"


@cache
def component_bytes(name: str) -> bytes:
    """The probe component ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise ValueError(f"no probe guest {name!r}; known: {', '.join(NAMES)}")
    tool = wasm_tools()
    with tempfile.TemporaryDirectory(prefix="flowctl-probe-") as tmp:
        core, comp = Path(tmp) / "core.wasm", Path(tmp) / f"{name}.wasm"
        for argv in (
            [tool, "component", "embed", str(wit_dir()), str(HERE / f"{name}.wat"),
             "--world", WORLD, "-o", str(core)],
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
