"""Hand-written WAT test guests (WebAssembly components) for the host's tests.

``build_guest(name)`` returns the path of the built component; ``GUESTS`` describes them all.
See ``tests/guests/build.py`` (also a command line: ``python -m tests.guests.build --list``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import GUESTS, GuestBuildError, GuestSpec, WasmToolsNotFoundError, build_guest

__all__ = ["GUESTS", "GuestBuildError", "GuestSpec", "WasmToolsNotFoundError", "build_guest"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `python -m tests.guests.build` does not import the module twice.
    if name in __all__:
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
