"""The pytest11 plugin: registered, light, inert without --component; options validated early.

pytester runs in a subprocess here: an in-process nested pytest session toggles faulthandler,
which restores the signal handlers saved before wasmtime installed its own, and the next wasm trap
in this process would then kill it (SIGILL) instead of raising.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conformance.plugin import OPTIONS, SUITE_DIR

pytest_plugins = ["pytester"]


def test_every_option_is_documented_with_an_ini_twin(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    for opt in OPTIONS:
        assert f"{opt.flag}={opt.metavar}" in text
        assert f"{opt.ini} (" in text or f"{opt.ini}:" in text or f"  {opt.ini} " in text, opt.ini
    assert len({o.ini for o in OPTIONS}) == len(OPTIONS)
    assert all(o.flag == "--component" or o.flag.startswith(("--conformance-", "--component-"))
               for o in OPTIONS)  # fmt: skip


def test_without_component_the_suite_is_never_collected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    assert True\n")
    result = pytester.runpytest_subprocess(str(SUITE_DIR), "--collect-only", "-q")
    assert "test_lifecycle" not in result.stdout.str()
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--component", "missing.wasm"], "*--component missing.wasm*does not exist*"),
        (["--component", "."], "*is a directory*"),
        (["--component", "c.wasm", "--conformance-level", "gold"], "*choose one of basic*"),
        (["--component", "c.wasm", "--conformance-examples", "0"], "*positive integer*"),
        (["--component", "c.wasm", "--conformance-threshold", "speed=1"], "*unknown key 'speed'*"),
        (["--component", "c.wasm", "--conformance-threshold", "rounds=x"], "*expected a int*"),
        (
            ["--component", "c.wasm", "--conformance-waive", "LIFE-999:because"],
            "*no check 'LIFE-999'*",
        ),
        (["--component", "c.wasm", "--conformance-waive", "LIFE-001"], "*CHECK:REASON*"),
        (["--component", "c.wasm", "--conformance-golden", "in.jsonl"], "*INPUT:EXPECTED*"),
        (["--component", "c.wasm", "--conformance-services", "cloud"], "*auto, env, docker*"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_fix(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.path.joinpath("c.wasm").write_bytes(b"\0asm\x0d\0\x01\0")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_ini_twins_resolve_relative_to_the_ini_file(pytester: pytest.Pytester) -> None:
    sub = pytester.mkdir("sub")
    pytester.path.joinpath("pytest.ini").write_text(
        "[pytest]\nconformance_component = sub/missing.wasm\n", encoding="utf-8"
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{sub / 'missing.wasm'} does not exist*"])


def test_plugin_import_is_light() -> None:
    heavy = "('wasmtime', 'psycopg', 'redis', 'grpc', 'hypothesis', 'pydantic')"
    code = f"import sys, conformance.plugin; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
