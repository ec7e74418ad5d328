"""What every sample builder shares: errors, the result, the inputs digest, the output and the CLI.

``build.py`` (componentize-py), ``build_js.py`` (componentize-js) and ``ttp_variants/build.py``
(patched copies of the TTP sample) turn sources into ``<out>/<name>.wasm`` the same way:

* the identity of a build is the **inputs digest**: sha256 over labelled parts (recipe, tool
  versions, every file read), each framed as ``label NUL len NUL data`` (:class:`InputsDigest`);
* ``<name>.wasm.inputs.sha256`` beside the component records it; when it matches and the
  component exists, the build is skipped (:meth:`Output.is_current`);
* a new component is copied next to the target and renamed over it, so a reader never sees half
  a file, and only then is the stamp written (:meth:`Output.install`);
* every failure is a :class:`BuildError` whose message says why and what to do; a missing tool
  is a :class:`ToolMissingError` (tests skip on it).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FLOWCTL_WIT = REPO / "wit" / "flowctl.wit"
DEFAULT_OUT = HERE / "dist"


class BuildError(RuntimeError):
    """A sample could not be built; the message says why and what to do."""


class ToolMissingError(BuildError):
    """A tool the build needs (componentize-py, node, npm) is not installed."""


@dataclass(frozen=True)
class BuildResult:
    """What a build did."""

    name: str
    path: Path
    built: bool  # False: skipped, the recorded inputs digest matched
    seconds: float
    sha256: str
    npm_ci_seconds: float | None = None  # JavaScript samples; None: node_modules was installed


class InputsDigest:
    """sha256 over labelled parts: ``add("tool", b"...")``, then :meth:`hexdigest`."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, label: str, data: bytes) -> None:
        """Feed one part, framed by its label and length (no two part lists collide)."""
        self._hash.update(f"{label}\0{len(data)}\0".encode())
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Output:
    """``<out_dir>/<name>.wasm`` and its stamp ``<name>.wasm.inputs.sha256``."""

    name: str
    out_dir: Path

    @classmethod
    def create(cls, out_dir: Path | str, name: str) -> Output:
        """The output of ``name`` under ``out_dir`` (resolved, created if missing)."""
        directory = Path(out_dir).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        return cls(name, directory)

    @property
    def target(self) -> Path:
        return self.out_dir / f"{self.name}.wasm"

    @property
    def stamp(self) -> Path:
        return self.out_dir / f"{self.name}.wasm.inputs.sha256"

    def is_current(self, digest: str) -> bool:
        """Whether the component exists and its stamp records ``digest``."""
        return (
            self.target.is_file()
            and self.stamp.is_file()
            and self.stamp.read_text().split()[:1] == [digest]
        )

    def install(self, built: Path, digest: str) -> None:
        """Put the component ``built`` in place atomically, then record ``digest``."""
        staged = self.out_dir / f".{self.name}.wasm.partial"
        shutil.copyfile(built, staged)
        os.replace(staged, self.target)
        self.stamp.write_text(f"{digest}\n")

    def result(
        self, *, built: bool, start: float, npm_ci_seconds: float | None = None
    ) -> BuildResult:
        """The :class:`BuildResult` of a build that began at ``time.perf_counter()`` ``start``."""
        return BuildResult(
            self.name,
            self.target,
            built=built,
            seconds=time.perf_counter() - start,
            sha256=file_sha256(self.target),
            npm_ci_seconds=npm_ci_seconds,
        )


def wit_imports(wasm: Path, error: type[BuildError] = BuildError) -> list[str] | None:
    """The interfaces ``wasm`` imports, from ``wasm-tools component wit`` (None: no wasm-tools).

    A component wasm-tools cannot read raises ``error``.
    """
    exe = shutil.which("wasm-tools")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "component", "wit", str(wasm)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise error(f"wasm-tools could not read {wasm}: {out.stderr.strip()}")
    return sorted(set(re.findall(r"^\s*import\s+([^;]+);", out.stdout, re.MULTILINE)))


def run_cli(
    argv: list[str] | None,
    description: str,
    names: list[str],
    build: Callable[..., Sequence[BuildResult]],
) -> int:
    """The command line of ``build.py`` and ``build_js.py``: --only/--out/--force, one line each."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", metavar="NAME", choices=names, help="build only this sample")
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=str(DEFAULT_OUT),
        help=f"output directory (default: {DEFAULT_OUT.relative_to(REPO)})",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even when the recorded inputs digest matches"
    )
    args = parser.parse_args(argv)
    try:
        results = build(args.out, only=args.only, force=args.force)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for r in results:
        what = "built" if r.built else "up to date"
        size = r.path.stat().st_size / 1e6
        npm = f", npm ci {r.npm_ci_seconds:.1f} s" if r.npm_ci_seconds is not None else ""
        print(
            f"{r.name}: {what} {r.path} ({size:.1f} MB, {r.seconds:.1f} s{npm}) sha256 {r.sha256}"
        )
    return 0
