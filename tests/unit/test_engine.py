"""Loading: every bad input gets its own error naming the remedy; the compile cache works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reference_host import errors
from reference_host._tools import wasm_tools
from reference_host.engine import EngineConfig, HostEngine, default_cache_dir
from tests.guests.build import build_guest


@pytest.fixture(scope="module")
def noop() -> Path:
    return build_guest("noop")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(errors.ComponentNotFoundError, match="does not exist.*build the component"):
        HostEngine().load(tmp_path / "nope.wasm")


def test_directory_is_not_a_component(tmp_path: Path) -> None:
    with pytest.raises(errors.ComponentNotFoundError, match="is a directory"):
        HostEngine().load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello world, not wasm", b"(component)\n"])
def test_not_wasm(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "x.wasm"
    f.write_bytes(content)
    with pytest.raises(errors.NotWasmError, match="not a WebAssembly binary"):
        HostEngine().load(f)


def test_core_module_is_refused_with_the_fix(tmp_path: Path) -> None:
    wat = tmp_path / "m.wat"
    wat.write_text('(module (func (export "f")))')
    core = tmp_path / "m.wasm"
    subprocess.run([wasm_tools(), "parse", str(wat), "-o", str(core)], check=True)
    with pytest.raises(errors.CoreModuleError, match="core WebAssembly module.*component new"):
        HostEngine().load(core)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_component(tmp_path: Path, noop: Path, keep: float) -> None:
    data = noop.read_bytes()
    f = tmp_path / "cut.wasm"
    f.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(errors.TruncatedComponentError, match="incomplete.*cut short"):
        HostEngine().load(f)


def test_unknown_layer_bytes(tmp_path: Path, noop: Path) -> None:
    data = bytearray(noop.read_bytes())
    data[6:8] = b"\x07\x00"
    f = tmp_path / "weird.wasm"
    f.write_bytes(bytes(data))
    with pytest.raises(errors.NotWasmError, match="neither a core module nor a component"):
        HostEngine().load(f)


def test_cache_hit_on_second_load(tmp_path: Path, noop: Path) -> None:
    first = HostEngine(cache_dir=tmp_path).load(noop)
    second = HostEngine(cache_dir=tmp_path).load(noop)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert first.sha256 == second.sha256
    assert len(list(tmp_path.glob("*.cwasm"))) == 1


def test_cache_key_includes_engine_configuration(tmp_path: Path, noop: Path) -> None:
    HostEngine(EngineConfig(fuel=False), cache_dir=tmp_path).load(noop)
    fueled = HostEngine(EngineConfig(fuel=True), cache_dir=tmp_path).load(noop)
    assert not fueled.cache_hit  # a fuel engine cannot use code compiled without fuel checks
    assert len(list(tmp_path.glob("*.cwasm"))) == 2


def test_corrupt_cache_entry_is_rebuilt(tmp_path: Path, noop: Path) -> None:
    host = HostEngine(cache_dir=tmp_path)
    host.load(noop)
    (entry,) = tmp_path.glob("*.cwasm")
    entry.write_bytes(b"garbage")
    again = HostEngine(cache_dir=tmp_path).load(noop)
    assert not again.cache_hit
    assert HostEngine(cache_dir=tmp_path).load(noop).cache_hit


def test_second_load_in_a_fresh_process_does_not_recompile(tmp_path: Path, noop: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from reference_host.engine import HostEngine;"
        "print(HostEngine(cache_dir=Path(sys.argv[1])).load(sys.argv[2]).cache_hit)"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path), str(noop)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert outs == ["False", "True"]


def test_default_cache_dir_follows_xdg(tmp_path: Path) -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == (
        tmp_path / "flowctl-conformance" / "components"
    )
    assert default_cache_dir({}).parts[-3:] == (".cache", "flowctl-conformance", "components")


def test_epoch_ticker_is_owned_and_stopped() -> None:
    host = HostEngine()
    host.ticker.acquire()
    host.ticker.acquire()
    assert host.ticker.running
    host.ticker.release()
    assert host.ticker.running
    host.ticker.release()
    assert not host.ticker.running


def test_fast_path_never_serves_a_changed_file(tmp_path: Path, noop: Path) -> None:
    import os
    import shutil

    f = tmp_path / "c.wasm"
    shutil.copy(noop, f)
    cache = tmp_path / "cache"
    first = HostEngine(cache_dir=cache).load(f)
    assert HostEngine(cache_dir=cache).load(f).cache_hit
    shutil.copy(build_guest("echo"), f)  # same path, other content
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    changed = HostEngine(cache_dir=cache).load(f)
    assert changed.sha256 != first.sha256
    assert not changed.cache_hit


def test_verify_rehashes(tmp_path: Path, noop: Path) -> None:
    host = HostEngine(cache_dir=tmp_path)
    host.load(noop)
    again = host.load(noop, verify=True)
    assert again.cache_hit
    import hashlib

    assert again.sha256 == hashlib.sha256(noop.read_bytes()).hexdigest()
