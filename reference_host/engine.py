"""One sandboxing engine configuration, and a compile cache for components.

Compiling the 18 MB Python-guest sample takes seconds; loading a serialized artifact takes
milliseconds.  :class:`HostEngine` compiles each component once and keeps the artifact under
``cache_dir`` keyed by (sha256 of the file, wasmtime version, engine configuration): an artifact
only loads under the engine configuration and wasmtime version that produced it.

Bad inputs are recognised *before* compiling, each with its own error (see
:mod:`reference_host.errors`): missing file, not WebAssembly, a core module, a truncated file.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wasmtime import Config, Engine, WasmtimeError
from wasmtime.component import Component

from reference_host.errors import (
    CompileError,
    ComponentNotFoundError,
    CoreModuleError,
    NotWasmError,
    TruncatedComponentError,
)


def _wasmtime_version() -> str:
    """``importlib.metadata.version("wasmtime")``, read cheaply when possible.

    ``importlib.metadata`` costs ~10-15 ms of imports (email, zipfile, ...) at start-up (pydantic
    imports it anyway for a policy; ``flowctl-host inspect`` and ``import reference_host.engine``
    need not); the ``Version:`` line of the one ``wasmtime-*.dist-info/METADATA`` next to the
    imported package says the same.  Any other layout asks ``importlib.metadata``.
    """
    import wasmtime

    found = list(Path(wasmtime.__file__).parent.parent.glob("wasmtime-*.dist-info/METADATA"))
    if len(found) == 1:
        try:
            with found[0].open(encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line.strip():  # the end of the headers
                        break
        except OSError:
            pass
    import importlib.metadata

    return importlib.metadata.version("wasmtime")


WASMTIME_VERSION = _wasmtime_version()
_MAGIC = b"\0asm"
_CORE_VERSION = b"\x01\x00\x00\x00"
_COMPONENT_LAYER = b"\x01\x00"


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user cache directory: ``$XDG_CACHE_HOME/flowctl-conformance`` or ``~/.cache/...``.

    The caller passes the environment (the library never reads it on its own).
    """
    base = (environ or {}).get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "flowctl-conformance" / "components"


@dataclass(frozen=True)
class EngineConfig:
    """What the engine is configured with; part of the compile-cache key.

    Epoch interruption is always on (wall-clock timeouts); fuel only when metering is asked for.
    """

    fuel: bool = False
    max_wasm_stack: int = 512 * 1024
    epoch_tick_s: float = 0.005

    def fingerprint(self) -> str:
        """A short stable text naming everything that changes compiled code."""
        return f"epoch=1;fuel={int(self.fuel)};stack={self.max_wasm_stack}"

    def build(self) -> Engine:
        """A wasmtime engine with this configuration."""
        cfg = Config()
        cfg.epoch_interruption = True
        cfg.consume_fuel = self.fuel
        cfg.max_wasm_stack = self.max_wasm_stack
        return Engine(cfg)


@dataclass(frozen=True)
class LoadedComponent:
    """A compiled component and how it was obtained."""

    path: Path
    sha256: str
    size: int
    component: Component = field(repr=False)
    cache_hit: bool
    load_seconds: float


def sniff(data: bytes, path: Path) -> None:
    """Raise the right error when ``data`` is not a WebAssembly component binary."""
    if len(data) < 8 or data[:4] != _MAGIC:
        what = "is empty" if not data else f"starts with {data[:8]!r}"
        raise NotWasmError(
            f"{path} is not a WebAssembly binary (the file {what}; expected the magic \\0asm). "
            "Pass the .wasm produced by your component build (e.g. componentize-py ... -o x.wasm), "
            "not a source, text (.wat) or archive file."
        )
    if data[4:8] == _CORE_VERSION:
        raise CoreModuleError(
            f"{path} is a core WebAssembly module, not a component. flowctl processors are "
            "components: wrap it with `wasm-tools component new` (after `wasm-tools component "
            "embed wit/ --world flowctl-processor-basic`), or build with componentize-py / "
            "cargo-component / jco."
        )
    if data[6:8] != _COMPONENT_LAYER:
        raise NotWasmError(
            f"{path} has WebAssembly version/layer bytes {data[4:8].hex()}, which is neither a "
            "core module nor a component this wasmtime understands; rebuild it with current tools."
        )


class EpochTicker:
    """A daemon thread that increments the engine's epoch every ``tick_s`` (owned by the host).

    Reference-counted: :meth:`acquire` starts it, the last :meth:`release` stops and joins it.
    """

    def __init__(self, engine: Engine, tick_s: float) -> None:
        self._engine = engine
        self.tick_s = tick_s
        self._users = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the ticker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def acquire(self) -> None:
        """Register a user; start the thread if it is not running."""
        with self._lock:
            self._users += 1
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="flowctl-epoch-ticker", daemon=True
                )
                self._thread.start()

    def release(self) -> None:
        """Unregister a user; stop the thread when none is left."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users or self._thread is None:
                return
            thread, self._thread = self._thread, None
            self._stop.set()
        thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self._engine.increment_epoch()


_OWNERS: weakref.WeakKeyDictionary[Engine, weakref.ref[HostEngine]] = weakref.WeakKeyDictionary()


def host_engine_of(engine: Engine) -> HostEngine | None:
    """The live :class:`HostEngine` that built ``engine`` (None for an engine made elsewhere)."""
    owner = _OWNERS.get(engine)
    return owner() if owner is not None else None


class HostEngine:
    """A wasmtime engine + its compile cache + its epoch ticker."""

    def __init__(self, config: EngineConfig | None = None, cache_dir: Path | None = None) -> None:
        self.config = config or EngineConfig()
        self.engine = self.config.build()
        self.cache_dir = cache_dir
        self.ticker = EpochTicker(self.engine, self.config.epoch_tick_s)
        _OWNERS[self.engine] = weakref.ref(self)

    def cached_component(self, key: str, build: Callable[[], Component]) -> Component:
        """The component cached under ``key`` (a text naming everything its code depends on).

        Without a cache, or when the artifact is missing or does not load, ``build()`` makes it
        (and a cache keeps the result).  The host's own reference component
        (:mod:`reference_host.inspect`) is cached this way next to the components' artifacts.
        """
        cached = self.cache_path(hashlib.sha256(key.encode()).hexdigest())
        if cached is not None and cached.exists():
            try:
                return Component.deserialize_file(self.engine, str(cached))
            except WasmtimeError:
                cached.unlink(missing_ok=True)  # stale or corrupt: rebuild below
        comp = build()
        if cached is not None:
            self._store(comp.serialize(), cached)
        return comp

    def cache_path(self, sha256: str) -> Path | None:
        """Where the artifact for a component with this hash lives (None: no cache)."""
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(
            f"{sha256};wasmtime={WASMTIME_VERSION};{self.config.fingerprint()}".encode()
        ).hexdigest()[:40]
        return self.cache_dir / f"{key}.cwasm"

    def _index_path(self, p: Path) -> Path | None:
        """Where the sha256 of ``p`` is remembered for its current (path, size, mtime, inode)."""
        if self.cache_dir is None:
            return None
        try:
            st = p.stat()
        except OSError:
            return None
        ident = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"
        return self.cache_dir / "index" / hashlib.sha256(ident.encode()).hexdigest()[:40]

    def _fast_load(self, p: Path, start: float) -> LoadedComponent | None:
        """Load from cache without reading the whole file, when its stat identity is known."""
        index = self._index_path(p)
        if index is None or not index.exists():
            return None
        sha = index.read_text().strip()
        cached = self.cache_path(sha)
        if cached is None or not cached.exists():
            return None
        with p.open("rb") as fh:
            sniff(fh.read(8), p)
        try:
            comp = Component.deserialize_file(self.engine, str(cached))
        except WasmtimeError:
            return None
        size = p.stat().st_size
        return LoadedComponent(p, sha, size, comp, True, time.perf_counter() - start)

    def load(self, path: str | os.PathLike[str], *, verify: bool = False) -> LoadedComponent:
        """Read, check, and compile (or load from cache) the component at ``path``.

        With a cache, a file whose (path, size, mtime, inode) was seen before is not re-read or
        re-hashed: its recorded sha256 selects the compiled artifact (~5 ms for the 18 MB TTP
        sample instead of ~30 ms).  ``verify=True`` always hashes the bytes (certification).
        """
        start = time.perf_counter()
        p = Path(path)
        if not verify:
            fast = self._fast_load(p, start)
            if fast is not None:
                return fast
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise ComponentNotFoundError(
                f"component file {p} does not exist; check the path (relative paths are resolved "
                f"from {Path.cwd()}) or build the component first"
            ) from None
        except IsADirectoryError:
            raise ComponentNotFoundError(f"{p} is a directory; pass the .wasm file") from None
        sniff(data, p)
        sha = hashlib.sha256(data).hexdigest()
        cached = self.cache_path(sha)
        if cached is not None and cached.exists():
            try:
                comp = Component.deserialize_file(self.engine, str(cached))
            except WasmtimeError:
                cached.unlink(missing_ok=True)  # stale or corrupt: rebuild below
            else:
                self._remember(p, sha)
                return LoadedComponent(p, sha, len(data), comp, True, time.perf_counter() - start)
        comp = self._compile(data, p)
        if cached is not None:
            self._store(comp.serialize(), cached)
            self._remember(p, sha)
        return LoadedComponent(p, sha, len(data), comp, False, time.perf_counter() - start)

    def _remember(self, p: Path, sha: str) -> None:
        index = self._index_path(p)
        if index is not None:
            self._store(sha.encode(), index)

    def _compile(self, data: bytes, p: Path) -> Component:
        try:
            return Component(self.engine, data)
        except WasmtimeError as exc:
            msg = str(exc)
            lines = [line.strip() for line in msg.splitlines() if line.strip()]
            causes = [line for line in lines[1:] if line != "Caused by:"]
            said = lines[0] if lines else "no reason given"
            said += f" ({'; '.join(c[:300] for c in causes[:3])})" if causes else ""
            if "unexpected end" in msg or "out of bounds" in msg or "section size mismatch" in msg:
                raise TruncatedComponentError(
                    f"{p} is an incomplete WebAssembly component ({len(data)} bytes): "
                    f"{said}. The file was probably cut short during copy or download; rebuild "
                    "or re-copy it."
                ) from None
            if any(("exceeds" in c and "limit" in c) or "too deep" in c or "too many" in c
                   for c in causes):  # fmt: skip
                raise CompileError(
                    f"wasmtime {WASMTIME_VERSION} refuses {p}: {said}. The component exceeds "
                    "the engine's structural limits (imports, exports, types, nesting): it is "
                    "refused before anything runs; a real processor never needs this many."
                ) from None
            raise CompileError(
                f"wasmtime {WASMTIME_VERSION} cannot compile {p}: {said}. "
                "Check that `wasm-tools validate --features all` accepts it and that it targets "
                "WASI 0.2 / the component model this wasmtime supports."
            ) from None

    @staticmethod
    def _store(data: bytes | bytearray, dest: Path) -> None:
        """Write ``data`` to ``dest`` atomically; a cache we cannot write is not an error."""
        import tempfile  # only on a cache miss, not on a warm start

        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, dest)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
