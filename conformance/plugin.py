"""pytest plugin of flowctl-conformance (entry point ``pytest11``).

The packaged conformance suite (``pytest --component x.wasm``) is not in this release yet.  The
plugin registers its headline option so that asking for it fails loudly instead of silently
running nothing; without ``--component`` it does nothing and imports nothing heavy.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register --component (the suite's headline option)."""
    group = parser.getgroup("flowctl-conformance", "flowctl component conformance")
    group.addoption(
        "--component",
        dest="flowctl_component",
        metavar="PATH",
        default=None,
        help="certify this flowctl processor component (.wasm) with the packaged suite "
        "(not available in this release: use `flowctl-host inspect/run`)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Refuse --component until the suite exists: never certify by running nothing."""
    if config.getoption("flowctl_component") is not None:
        raise pytest.UsageError(
            "--component: the packaged conformance suite is not implemented in this release "
            "(nothing would be certified). Use `flowctl-host inspect X.wasm` and "
            "`flowctl-host run X.wasm ...` meanwhile."
        )
