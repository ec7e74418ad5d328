"""Build the sample guest components with componentize-py.

    python sample_components/build.py [--only NAME] [--out DIR] [--force]

A sample is a folder of this directory holding ``app.py`` (the componentize-py app module, plus any
other ``*.py`` modules it imports) and ``wit/`` (its own WIT package declaring exactly one world).
Each sample is built against the project's contract: ``wit/flowctl.wit`` at the repository root is
copied into ``<build>/wit/deps/flowctl/`` at build time, so no copy of it is ever committed.

Builds use ``--stub-wasi``: the component imports no ``wasi:*`` interface (checked after the build
when ``wasm-tools`` is installed).  Output goes to ``dist/<name>.wasm`` (default
``sample_components/dist``).  Next to it, ``<name>.wasm.inputs.sha256`` records the sha256 of
everything the build reads (sources, WIT, componentize-py version, build recipe); when it matches,
the build is skipped.

Reproducibility: componentize-py 0.25.1 does **not** produce byte-identical components from
identical inputs (upstream issue bytecodealliance/componentize-py#247).  Two things vary from one
build to the next.  First, the order of the small WASI stub modules (a Rust HashMap iteration
order).  Second, the main module's data segments: the pre-initialised interpreter heap holds
values from build-time randomness (the str hash seed), clocks and the inode metadata of
componentize-py's own temporary files.  The inputs digest is therefore the build's identity, not
the component's sha256.  See sample_components/README.md.

What every builder here shares (errors, the result, the inputs digest, the atomic output and its
stamp, the command line) is ``buildlib.py``; ``build_js.py`` and ``ttp_variants/build.py`` use it
too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    from sample_components import build_js, buildlib
except ImportError:  # run as a script outside an installed checkout: this folder is sys.path[0]
    import build_js  # type: ignore[import-not-found,no-redef]
    import buildlib  # type: ignore[import-not-found,no-redef]

BuildError = buildlib.BuildError
BuildResult = buildlib.BuildResult
HERE = buildlib.HERE
REPO = buildlib.REPO
FLOWCTL_WIT = buildlib.FLOWCTL_WIT
DEFAULT_OUT = buildlib.DEFAULT_OUT

COMPONENTIZE_PY = "componentize-py"
COMPONENTIZE_PY_VERSION = "0.25.1"
INSTALL_HINT = f"pip install componentize-py=={COMPONENTIZE_PY_VERSION}"
# Bump when the way a sample is turned into a component changes (flags, layout, copied files).
RECIPE = (
    "flowctl-sample-build/1 componentize app --stub-wasi; deps/flowctl/flowctl.wit; "
    "VIRTUAL_ENV=empty"
)

_WORLD_RE = re.compile(r"^\s*world\s+([a-z][a-z0-9-]*)\s*\{", re.MULTILINE)


class ComponentizePyMissingError(buildlib.ToolMissingError):
    """componentize-py is not installed."""


# ----------------------------------------------------------------------------- discovery


def list_samples() -> list[str]:
    """Names of the samples (folders with ``app.py`` and ``wit/``), sorted."""
    return sorted(
        d.name
        for d in HERE.iterdir()
        if d.is_dir() and (d / "app.py").is_file() and (d / "wit").is_dir()
    )


def _sample_dir(name: str) -> Path:
    if name not in list_samples():
        raise BuildError(f"no sample named {name!r}; known samples: {', '.join(list_samples())}")
    return HERE / name


def source_files(sample: Path) -> list[Path]:
    """The sample's Python modules (top level only: componentize-py's app path) and WIT files."""
    py = sorted(sample.glob("*.py"))
    wit = sorted(
        f for f in (sample / "wit").rglob("*.wit") if "deps" not in f.relative_to(sample).parts
    )
    return py + wit


def _world(sample: Path) -> str:
    worlds = [w for f in (sample / "wit").glob("*.wit") for w in _WORLD_RE.findall(f.read_text())]
    if len(worlds) != 1:
        raise BuildError(
            f"{sample / 'wit'} must declare exactly one world, found {worlds or 'none'}"
        )
    return str(worlds[0])


# ----------------------------------------------------------------------------- tool


def componentize_py() -> tuple[str, str]:
    """Path and ``--version`` output of componentize-py, or :class:`ComponentizePyMissingError`."""
    exe = shutil.which(COMPONENTIZE_PY)
    if exe is None:
        raise ComponentizePyMissingError(
            f"{COMPONENTIZE_PY} is not on PATH; install it with: {INSTALL_HINT}"
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    version = out.stdout.strip()
    if out.returncode != 0 or not version:
        raise ComponentizePyMissingError(
            f"{exe} --version failed ({out.stderr.strip()}); reinstall it with: {INSTALL_HINT}"
        )
    return exe, version


def inputs_digest(name: str, tool_version: str | None = None) -> str:
    """sha256 over everything a build of ``name`` reads: sources, WIT, tool version, recipe."""
    return source_digest(_sample_dir(name), tool_version)


def source_digest(sample: Path, tool_version: str | None = None) -> str:
    """:func:`inputs_digest` of the sources in folder ``sample`` (laid out like a sample)."""
    if tool_version is None:
        tool_version = componentize_py()[1]
    digest = buildlib.InputsDigest()
    digest.add("recipe", RECIPE.encode())
    digest.add("tool", tool_version.encode())
    digest.add("flowctl.wit", FLOWCTL_WIT.read_bytes())
    for f in source_files(sample):
        digest.add(f.relative_to(sample).as_posix(), f.read_bytes())
    return digest.hexdigest()


def _check_no_wasi(wasm: Path) -> None:
    """Fail if the component imports any ``wasi:*`` interface (needs wasm-tools; else skipped)."""
    wasi = [i for i in buildlib.wit_imports(wasm) or [] if i.startswith("wasi:")]
    if wasi:
        raise BuildError(f"{wasm} imports WASI despite --stub-wasi: {', '.join(wasi)}")


# ----------------------------------------------------------------------------- build


def _stage(sample: Path, build: Path) -> tuple[Path, Path]:
    """Copy sources and WIT (with the project's flowctl.wit as a dependency) into ``build``."""
    src = build / "src"
    wit = build / "wit"
    (wit / "deps" / "flowctl").mkdir(parents=True)
    src.mkdir()
    for f in source_files(sample):
        rel = f.relative_to(sample)
        dest = (build / rel) if rel.parts[0] == "wit" else (src / rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    shutil.copyfile(FLOWCTL_WIT, wit / "deps" / "flowctl" / "flowctl.wit")
    return src, wit


def _hermetic_env(build: Path) -> dict[str, str]:
    """Environment for componentize-py that keeps the host's packages out of the guest.

    componentize-py appends a site-packages directory to the guest's module path: the one under
    $VIRTUAL_ENV, else (pipenv, then) the *host interpreter's* site-packages.  Pointing
    VIRTUAL_ENV at an empty environment makes the guest see only the sample's own modules.
    """
    venv = build / "empty-venv"
    (venv / "lib" / "site-packages").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONPATH", None)
    return env


def build_sample(
    name: str, out_dir: Path | str = DEFAULT_OUT, *, force: bool = False
) -> BuildResult:
    """Build one sample into ``out_dir/<name>.wasm`` unless its recorded inputs digest matches."""
    return build_source_dir(_sample_dir(name), name, out_dir, force=force)


def build_source_dir(
    sample: Path, name: str, out_dir: Path | str = DEFAULT_OUT, *, force: bool = False
) -> BuildResult:
    """Build the sources in folder ``sample`` (``app.py``, ``wit/``) as ``out_dir/<name>.wasm``.

    What :func:`build_sample` does for a sample of this directory, for a folder anywhere (e.g. a
    patched copy of a sample); skipped when the recorded :func:`source_digest` matches.
    """
    start = time.perf_counter()
    sample = Path(sample)
    exe, version = componentize_py()
    if version.split()[-1] != COMPONENTIZE_PY_VERSION:
        print(
            f"warning: {version} found; the samples are tested with {COMPONENTIZE_PY_VERSION} "
            f"({INSTALL_HINT})",
            file=sys.stderr,
        )
    output = buildlib.Output.create(out_dir, name)
    digest = source_digest(sample, version)
    if not force and output.is_current(digest):
        return output.result(built=False, start=start)

    with tempfile.TemporaryDirectory(prefix=f"flowctl-build-{name}-") as tmp:
        build = Path(tmp)
        src, wit = _stage(sample, build)
        tmp_out = build / f"{name}.wasm"
        cmd = [
            exe,
            "-q",
            "-d",
            str(wit),
            "-w",
            _world(sample),
            "componentize",
            "app",
            "-p",
            str(src),
            "--stub-wasi",
            "-o",
            str(tmp_out),
        ]
        proc = subprocess.run(
            cmd, cwd=build, env=_hermetic_env(build), capture_output=True, text=True, check=False
        )
        if proc.returncode != 0 or not tmp_out.is_file():
            raise BuildError(
                f"componentize-py failed for sample {name!r} (exit {proc.returncode}):\n"
                f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
            )
        _check_no_wasi(tmp_out)
        output.install(tmp_out, digest)
    return output.result(built=True, start=start)


def all_samples() -> list[str]:
    """Every sample: Python guests (componentize-py) and JavaScript guests (componentize-js)."""
    return list_samples() + build_js.list_js_samples()


def build_all(
    out_dir: Path | str = DEFAULT_OUT, *, only: str | None = None, force: bool = False
) -> list[BuildResult]:
    """Build every sample (or just ``only``) into ``out_dir``."""
    names = [only] if only else all_samples()
    return [
        build_js.build_js_sample(n, out_dir, force=force)
        if n in build_js.list_js_samples()
        else build_sample(n, out_dir, force=force)
        for n in names
    ]


def main(argv: list[str] | None = None) -> int:
    return buildlib.run_cli(argv, __doc__.split("\n\n")[0], all_samples(), build_all)


if __name__ == "__main__":
    sys.exit(main())
