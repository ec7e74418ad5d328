"""Hostile component shapes: thousands of imports, type graphs nested thousands deep.

Past wasmtime's structural limits a component is refused before anything runs, with the limit
it broke named (not just "failed to parse"); just under them, inspection still finishes and
names what is missing.  Each is a real component built with wasm-tools from generated text.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reference_host.engine import HostEngine
from reference_host.errors import CompileError, TruncatedComponentError
from reference_host.inspect import inspect_component
from tests.guests.build import find_wasm_tools


def _component(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / f"{name}.wat").write_text(text, encoding="utf-8")
    out = tmp_path / f"{name}.wasm"
    subprocess.run([str(find_wasm_tools()), "parse", str(tmp_path / f"{name}.wat"), "-o",
                    str(out)], check=True, timeout=60)  # fmt: skip
    return out


def _imports(n: int) -> str:
    return (
        "(component\n"
        + "".join(f'  (import "foreign:big/i{i}@1.0.0" (instance))\n' for i in range(n))
        + ")\n"
    )


def _exports(instances: int, functions: int) -> str:
    funcs = "".join(f'    (export "f{i}" (func))\n' for i in range(functions))
    out = "".join(f'  (export "foreign:big/e{i}@1.0.0" (instance $i))\n' for i in range(instances))
    return f'(component\n  (import "foreign:big/iface@1.0.0" (instance $i\n{funcs}  ))\n{out})\n'


def _nested(depth: int) -> str:
    types = "".join(f"  (type $t{i} (list $t{i - 1}))\n" for i in range(1, depth))
    return (f"(component\n  (type $t0 (list u8))\n{types}"
            f'  (import "deep" (func (param "x" $t{depth - 1})))\n)\n')  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text", "cause"),
    [
        ("many-imports", _imports(5000), "instances count exceeds limit"),
        ("deep-types", _nested(3000), "type nesting is too deep"),
        ("many-exports", _exports(2000, 3000), "effective type size exceeds the limit"),
    ],
)
def test_past_the_limits_the_component_is_refused_naming_the_limit(
    tmp_path: Path, name: str, text: str, cause: str
) -> None:
    path = _component(tmp_path, name, text)
    with pytest.raises(CompileError) as caught:
        HostEngine(cache_dir=None).load(path)
    message = str(caught.value)
    assert cause in message and "structural limits" in message, message


def test_just_under_the_limits_inspection_finishes_and_names_what_is_missing(
    tmp_path: Path,
) -> None:
    host = HostEngine(cache_dir=None)
    loaded = host.load(_component(tmp_path, "imports-4000", _imports(4000)))
    report = inspect_component(host.engine, loaded.component)
    assert len(report.other_imports) == 4000
    assert not report.processor_export
    assert set(report.functions.values()) == {"missing"}


def test_a_100_mb_file_of_garbage_behind_a_component_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.wasm"
    with path.open("wb") as out:
        out.write(b"\0asm\x0d\x00\x01\x00")
        chunk = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(100):
            out.write(chunk)
    with pytest.raises((CompileError, TruncatedComponentError)) as caught:
        HostEngine(cache_dir=None).load(path)
    message = str(caught.value)
    assert "huge.wasm" in message and "(at offset" in message, message  # wasmtime's cause
