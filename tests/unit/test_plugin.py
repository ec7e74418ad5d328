"""The pytest11 plugin is registered, light, and refuses --component honestly until the suite lands.

pytester runs in a subprocess here: an in-process nested pytest session toggles faulthandler,
which restores the signal handlers saved before wasmtime installed its own, and the next wasm trap
in this process would then kill it (SIGILL) instead of raising.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]


def test_plugin_is_registered_via_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--component=PATH*"])


def test_component_option_fails_loudly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    assert True\n")
    result = pytester.runpytest_subprocess("--component", "x.wasm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*conformance suite is not implemented*"])


def test_plugin_import_is_light() -> None:
    code = "import sys, conformance.plugin; print(sorted(m for m in ('wasmtime', 'psycopg', 'redis', 'grpc') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
