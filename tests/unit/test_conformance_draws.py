"""The suite's generated inputs depend on the seed alone, not on what the process imported."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conformance.configs import draw
from conformance.strategies import events

STRINGS = st.text(max_size=8)


def _raw_draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """What ``draw`` would give without the guard: plain derandomized Hypothesis."""
    out: list[Any] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


@pytest.fixture
def local_module_with_constants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A freshly imported module outside site-packages full of string literals."""
    lines = [f"C{i} = {f'zq{i:03d}'!r}" for i in range(300)]
    (tmp_path / "drawlocal_constants.py").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("drawlocal_constants", None)
    importlib.import_module("drawlocal_constants")
    yield
    sys.modules.pop("drawlocal_constants", None)


def test_a_newly_imported_local_module_changes_raw_hypothesis_draws(tmp_path: Path) -> None:
    # the hazard the guard exists for: shown on plain Hypothesis, so the next test can fail
    before = _raw_draw(STRINGS, 200)
    lines = [f"C{i} = {f'zq{i:03d}'!r}" for i in range(300)]
    (tmp_path / "drawlocal_hazard.py").write_text("\n".join(lines) + "\n")
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module("drawlocal_hazard")
        after = _raw_draw(STRINGS, 200)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("drawlocal_hazard", None)
    assert any(v.startswith("zq") for v in after), "Hypothesis no longer mixes in local constants"
    assert before != after


def test_draw_ignores_local_modules(local_module_with_constants: None) -> None:
    strings = draw(STRINGS, 200)
    assert not [v for v in strings if v.startswith("zq")]
    sys.modules.pop("drawlocal_constants")
    assert draw(STRINGS, 200) == strings


def test_draw_is_the_same_in_a_fresh_process_with_other_imports(tmp_path: Path) -> None:
    import subprocess

    here = repr(draw(events(), 30))
    script = textwrap.dedent("""
        import sys, tests.unit.test_conformance_draws, conformance.plugin, reference_host.cli
        from conformance.configs import draw
        from conformance.strategies import events
        sys.stdout.write(repr(draw(events(), 30)))
    """)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, check=True, timeout=120)  # fmt: skip
    assert done.stdout == here
