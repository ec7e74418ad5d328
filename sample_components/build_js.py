"""Build the JavaScript sample guest components with componentize-js (npm).

    python sample_components/build_js.py [--only NAME] [--out DIR] [--force]

A JavaScript sample is a folder of this directory holding ``package.json`` (with a ``"flowctl"``
block naming the entry module and the world of ``wit/flowctl.wit`` to build), its
``package-lock.json`` (pinning ``@bytecodealliance/componentize-js``) and its ``*.js`` modules.
The sample has no WIT of its own: the project's ``wit/flowctl.wit`` is copied into a temporary
build folder, so no copy of the contract is ever committed.

Steps, per sample:

1. ``npm ci --no-audit --no-fund`` in the sample folder when ``node_modules`` is missing or does
   not hold the componentize-js version the lock file pins (needs the npm registry once).
2. ``componentize-js <entry> --wit <build>/wit --world-name <world> -d stdio random clocks http
   fetch-event -o <build>/<name>.wasm``: every WASI feature disabled, so the component imports
   only ``obsrvr:flowctl/*`` (checked afterwards with ``wasm-tools`` when it is on PATH).
3. ``dist/<name>.wasm`` is written atomically; ``dist/<name>.wasm.inputs.sha256`` records the
   sha256 of everything the build reads (sources, package files, ``wit/flowctl.wit``, the Node and
   componentize-js versions, the recipe).  When it matches, the build is skipped.

Builds of one sample are serialised with a lock file (pytest-xdist workers may build at once).
Errors, the result, the digest framing, the atomic output and the CLI are ``buildlib.py``'s.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    from sample_components import buildlib
except ImportError:  # run as a script outside an installed checkout: this folder is sys.path[0]
    import buildlib  # type: ignore[import-not-found,no-redef]

BuildResult = buildlib.BuildResult
HERE = buildlib.HERE
REPO = buildlib.REPO
FLOWCTL_WIT = buildlib.FLOWCTL_WIT
DEFAULT_OUT = buildlib.DEFAULT_OUT

COMPONENTIZE_JS_PACKAGE = "@bytecodealliance/componentize-js"
DISABLED_FEATURES = ("stdio", "random", "clocks", "http", "fetch-event")
NODE_HINT = "install Node.js 20 or newer with npm (Debian: apt-get install nodejs npm)"
# Bump when the way a sample is turned into a component changes (flags, layout, copied files).
RECIPE = (
    "flowctl-js-sample-build/1 componentize-js <entry> --wit wit --world-name <world> "
    f"-d {' '.join(DISABLED_FEATURES)}; wit/flowctl.wit"
)


class JsBuildError(buildlib.BuildError):
    """A JavaScript sample could not be built; the message says why and what to do."""


class NodeMissingError(JsBuildError, buildlib.ToolMissingError):
    """``node`` or ``npm`` is not installed."""


@dataclass(frozen=True)
class _Sample:
    name: str
    dir: Path
    entry: str
    world: str
    componentize_js_version: str


# ----------------------------------------------------------------------------- discovery


def list_js_samples() -> list[str]:
    """Names of the JavaScript samples (folders with ``package.json`` holding a flowctl block)."""
    names = []
    for d in sorted(HERE.iterdir()):
        pkg = d / "package.json"
        if d.is_dir() and pkg.is_file():
            with contextlib.suppress(ValueError):
                if "flowctl" in json.loads(pkg.read_text(encoding="utf-8")):
                    names.append(d.name)
    return names


def _sample(name: str) -> _Sample:
    if name not in list_js_samples():
        raise JsBuildError(
            f"no JavaScript sample named {name!r}; known: {', '.join(list_js_samples()) or 'none'}"
        )
    d = HERE / name
    pkg = json.loads((d / "package.json").read_text(encoding="utf-8"))
    block = pkg["flowctl"]
    entry, world = block.get("entry"), block.get("world")
    if not isinstance(entry, str) or not (d / entry).is_file():
        raise JsBuildError(f"{d / 'package.json'}: flowctl.entry must name a module of the sample")
    if not isinstance(world, str) or not re.fullmatch(r"[a-z][a-z0-9-]*", world):
        raise JsBuildError(f"{d / 'package.json'}: flowctl.world must name a world of flowctl.wit")
    lock_path = d / "package-lock.json"
    if not lock_path.is_file():
        raise JsBuildError(f"{lock_path} is missing: run `npm install` in {d} and commit it")
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    entry_lock = lock.get("packages", {}).get(f"node_modules/{COMPONENTIZE_JS_PACKAGE}")
    if not entry_lock or "version" not in entry_lock:
        raise JsBuildError(f"{lock_path} does not pin {COMPONENTIZE_JS_PACKAGE}")
    return _Sample(name, d, entry, world, str(entry_lock["version"]))


def _sources(sample: _Sample) -> list[Path]:
    """What the build reads from the sample: its top-level ``*.js`` and the npm package files."""
    js = sorted(sample.dir.glob("*.js")) + sorted(sample.dir.glob("*.mjs"))
    return [*js, sample.dir / "package.json", sample.dir / "package-lock.json"]


# ----------------------------------------------------------------------------- tools


def node_tools() -> tuple[str, str, str]:
    """Paths of ``node`` and ``npm`` and ``node --version``, or :class:`NodeMissingError`."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    missing = [n for n, p in (("node", node), ("npm", npm)) if p is None]
    if missing or node is None or npm is None:
        raise NodeMissingError(f"{' and '.join(missing)} not on PATH; {NODE_HINT}")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    version = out.stdout.strip()
    if out.returncode != 0 or not version:
        raise NodeMissingError(f"{node} --version failed ({out.stderr.strip()}); {NODE_HINT}")
    return node, npm, version


def _installed_version(sample: _Sample) -> str | None:
    pkg = sample.dir / "node_modules" / COMPONENTIZE_JS_PACKAGE / "package.json"
    try:
        return str(json.loads(pkg.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def _componentize_js_cli(sample: _Sample) -> Path:
    cli = sample.dir / "node_modules" / COMPONENTIZE_JS_PACKAGE / "src" / "cli.js"
    if not cli.is_file():
        raise JsBuildError(f"{cli} is missing after npm ci; delete node_modules and retry")
    return cli


def ensure_node_modules(name: str) -> float | None:
    """``npm ci`` in the sample unless the pinned componentize-js is installed; seconds or None."""
    sample = _sample(name)
    _node, npm, _version = node_tools()
    if _installed_version(sample) == sample.componentize_js_version:
        return None
    start = time.perf_counter()
    cmd = [npm, "ci", "--no-audit", "--no-fund"]
    proc = subprocess.run(cmd, cwd=sample.dir, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise JsBuildError(
            f"npm ci failed in {sample.dir} (exit {proc.returncode}); it needs the npm registry:\n"
            f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
        )
    installed = _installed_version(sample)
    if installed != sample.componentize_js_version:
        raise JsBuildError(
            f"npm ci installed {COMPONENTIZE_JS_PACKAGE} {installed}, the lock file pins "
            f"{sample.componentize_js_version}"
        )
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- digest


def inputs_digest(name: str, node_version: str | None = None) -> str:
    """sha256 over everything a build of ``name`` reads: sources, WIT, tool versions, recipe."""
    sample = _sample(name)
    if node_version is None:
        node_version = node_tools()[2]
    digest = buildlib.InputsDigest()
    digest.add("recipe", RECIPE.encode())
    digest.add("node", node_version.encode())
    digest.add("componentize-js", sample.componentize_js_version.encode())
    digest.add("entry", sample.entry.encode())
    digest.add("world", sample.world.encode())
    digest.add("flowctl.wit", FLOWCTL_WIT.read_bytes())
    for f in _sources(sample):
        digest.add(f.relative_to(sample.dir).as_posix(), f.read_bytes())
    return digest.hexdigest()


def component_imports(wasm: Path) -> list[str] | None:
    """The interfaces ``wasm`` imports, from ``wasm-tools component wit`` (None: no wasm-tools)."""
    return buildlib.wit_imports(wasm, JsBuildError)


def _check_imports(wasm: Path) -> None:
    imports = component_imports(wasm)
    if imports is None:
        return
    foreign = [i for i in imports if not i.startswith("obsrvr:flowctl/")]
    if foreign:
        raise JsBuildError(
            f"{wasm} imports more than obsrvr:flowctl/* despite -d {' '.join(DISABLED_FEATURES)}: "
            f"{', '.join(foreign)}"
        )


# ----------------------------------------------------------------------------- build


@contextlib.contextmanager
def _locked(sample: _Sample) -> Iterator[None]:
    """Serialise builds (and npm ci) of one sample across processes."""
    with (sample.dir / ".build.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _stage(sample: _Sample, build: Path) -> tuple[Path, Path]:
    """Copy the sample's modules and the project's flowctl.wit into ``build``."""
    src = build / "src"
    wit = build / "wit"
    src.mkdir()
    wit.mkdir()
    for f in _sources(sample):
        if f.suffix in (".js", ".mjs"):
            shutil.copyfile(f, src / f.name)
    shutil.copyfile(FLOWCTL_WIT, wit / "flowctl.wit")
    return src / sample.entry, wit


def build_js_sample(
    name: str, out_dir: Path | str = DEFAULT_OUT, *, force: bool = False
) -> BuildResult:
    """Build one JS sample into ``out_dir/<name>.wasm`` unless its inputs digest matches."""
    start = time.perf_counter()
    sample = _sample(name)
    node, _npm, node_version = node_tools()
    output = buildlib.Output.create(out_dir, name)
    with _locked(sample):
        digest = inputs_digest(name, node_version)
        if not force and output.is_current(digest):
            return output.result(built=False, start=start)
        npm_seconds = ensure_node_modules(name)
        cli = _componentize_js_cli(sample)
        with tempfile.TemporaryDirectory(prefix=f"flowctl-jsbuild-{name}-") as tmp:
            build = Path(tmp)
            entry, wit = _stage(sample, build)
            tmp_out = build / f"{name}.wasm"
            cmd = [
                node,
                str(cli),
                str(entry),
                "--wit",
                str(wit),
                "--world-name",
                sample.world,
                "-d",
                *DISABLED_FEATURES,
                "-o",
                str(tmp_out),
            ]
            proc = subprocess.run(cmd, cwd=build, capture_output=True, text=True, check=False)
            if proc.returncode != 0 or not tmp_out.is_file():
                raise JsBuildError(
                    f"componentize-js failed for sample {name!r} (exit {proc.returncode}):\n"
                    f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
                )
            _check_imports(tmp_out)
            output.install(tmp_out, digest)
    return output.result(built=True, start=start, npm_ci_seconds=npm_seconds)


def build_all_js(
    out_dir: Path | str = DEFAULT_OUT, *, only: str | None = None, force: bool = False
) -> list[BuildResult]:
    """Build every JavaScript sample (or just ``only``)."""
    names = [only] if only else list_js_samples()
    return [build_js_sample(n, out_dir, force=force) for n in names]


def main(argv: list[str] | None = None) -> int:
    return buildlib.run_cli(argv, __doc__.split("\n\n")[0], list_js_samples(), build_all_js)


if __name__ == "__main__":
    sys.exit(main())
