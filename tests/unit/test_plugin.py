"""The pytest11 plugin: registered, light, inert without --component; options validated early.

pytester runs in a subprocess here: an in-process nested pytest session toggles faulthandler,
which restores the signal handlers saved before wasmtime installed its own, and the next wasm trap
in this process would then kill it (SIGILL) instead of raising.
"""

from __future__ import annotations

import json
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
    remote = {"--launch", "--launch-timeout", "--processor-endpoint", "--remote-contract"}
    assert all(o.flag in ("--component", *remote)
               or o.flag.startswith(("--conformance-", "--component-"))
               for o in OPTIONS)  # fmt: skip


def test_without_component_the_suite_is_never_collected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    assert True\n")
    result = pytester.runpytest_subprocess(str(SUITE_DIR), "--collect-only", "-q")
    assert "test_lifecycle" not in result.stdout.str()
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)


#: A bad value of each kind of option and the message (naming the option and the fix) it gets.
BAD_VALUES = [
    (["--conformance-level", "gold"], "*--conformance-level 'gold': choose one of basic*"),
    (["--conformance-examples", "0"], "*--conformance-examples '0': expected a positive integer*"),
    (["--conformance-threshold", "speed=1"], "*unknown key 'speed'; known: single-events-per-s*"),
    (["--conformance-threshold", "rounds=x"], "*expected a int*"),
    (["--conformance-waive", "LIFE-999:because"], "*no check 'LIFE-999' (see conformance/CHECKS.md)*"),
    (["--conformance-waive", "LIFE-001"], "*--conformance-waive 'LIFE-001': expected CHECK:REASON*"),
    (["--conformance-golden", "in.jsonl"], "*--conformance-golden 'in.jsonl': expected INPUT:EXPECTED*"),
    (["--conformance-services", "cloud"], "*--conformance-services 'cloud': choose one of auto, env, docker*"),
    (["--conformance-policy", "nope.yaml"], "*--conformance-policy nope.yaml*does not exist; give the path*"),
    (["--conformance-db-setup", "."], "*--conformance-db-setup .*is a directory; give the path of a file*"),
    (["--conformance-http-fixture", "c.wasm"], "*--conformance-http-fixture*not readable JSON*"),
    (["--launch", "flowctl-host serve"], "*--launch 'flowctl-host serve': the command must contain {port}*"),
    (["--processor-endpoint", "localhost"], "*--processor-endpoint 'localhost': expected HOST:PORT*"),
    (["--launch-timeout", "-1"], "*--launch-timeout '-1': expected a positive number of seconds*"),
    (["--remote-contract", "grpc"], "*--remote-contract 'grpc': expected 'extension'*'flowctl.v1'*"),
]  # fmt: skip


def _fake_component(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("c.wasm").write_bytes(b"\0asm\x0d\0\x01\0")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--component", "missing.wasm"], "*--component missing.wasm*does not exist*"),
        (["--component", "."], "*is a directory*"),
        *((["--component", "c.wasm", *args], message) for args, message in BAD_VALUES),
    ],
)
def test_bad_options_are_usage_errors_naming_the_fix(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    _fake_component(pytester)
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_launch_and_endpoint_exclude_each_other(pytester: pytest.Pytester) -> None:
    _fake_component(pytester)
    result = pytester.runpytest_subprocess(
        "--component", "c.wasm", "--launch", "h {port}", "--processor-endpoint", "127.0.0.1:1"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--launch and --processor-endpoint exclude each other*"])


def test_flowctl_v1_alone_needs_launch(pytester: pytest.Pytester) -> None:
    _fake_component(pytester)
    result = pytester.runpytest_subprocess(
        "--component", "c.wasm", "--processor-endpoint", "127.0.0.1:1",
        "--remote-contract", "flowctl.v1",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--remote-contract flowctl.v1 needs --launch*no Reset*"])


@pytest.mark.parametrize(("args", "message"), BAD_VALUES)
def test_bad_options_are_usage_errors_without_component_too(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    """Parsed with the command line: a typo is caught even when the suite is not run."""
    _fake_component(pytester)
    pytester.makepyfile("def test_x():\n    assert True\n")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    result.stdout.no_fnmatch_line("*1 passed*")


@pytest.mark.parametrize(("args", "message"), BAD_VALUES)
def test_bad_ini_values_are_usage_errors_without_component_too(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    _fake_component(pytester)
    pytester.makepyfile("def test_x():\n    assert True\n")
    flag, value = args
    ini = next(o.ini for o in OPTIONS if o.flag == flag)
    pytester.path.joinpath("pytest.ini").write_text(f"[pytest]\n{ini} = {value}\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    result.stderr.fnmatch_lines([f"*ini option {ini} in {pytester.path / 'pytest.ini'}*"])


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


def test_unconfigure_unregisters_what_configure_registered(pytester: pytest.Pytester) -> None:
    _fake_component(pytester)
    pytester.makepyfile(
        watch_plugins="""
import json
import pytest

NAMES = ("flowctl-conformance-fixtures", "flowctl-conformance-recorder")
seen = {}


def _registered(config):
    return [config.pluginmanager.get_plugin(name) is not None for name in NAMES]


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    seen["configured"] = _registered(config)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    seen["unconfigured"] = _registered(config)
    with open("registered.json", "w") as out:
        json.dump(seen, out)
"""
    )
    pytester.runpytest_subprocess("-p", "watch_plugins", "--component", "c.wasm", "--collect-only")
    seen = json.loads(pytester.path.joinpath("registered.json").read_text())
    assert seen == {"configured": [True, True], "unconfigured": [False, False]}
