"""The one place the suite touches Hypothesis internals: draws that depend on nothing but the seed.

Hypothesis (since 6.131) mixes literals it finds in the *local* modules loaded in the process --
any module outside site-packages and the standard library, tests excluded -- into generated
values.  What the suite generates would then depend on what else the process imported and on how
the suite was installed (an editable checkout counts as local, a wheel does not), so two runs on
the same component would not try the same inputs and a certificate could not be reproduced.
:func:`without_local_constants` makes the draws of :func:`conformance.configs.draw` see no local
constants (Hypothesis' own global constants, which are fixed, stay in).  Hypothesis is pinned
below a tested version in pyproject.toml; ``tests/unit/test_conformance_draws.py`` fails when
the internals this relies on move.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

_lock = threading.Lock()


def _no_local_constants() -> Constants:
    return Constants()


@contextmanager
def without_local_constants() -> Iterator[None]:
    """Within the block, Hypothesis draws no constant taken from a local module."""
    with _lock:
        saved = providers._get_local_constants
        providers._get_local_constants = _no_local_constants
        providers.CONSTANTS_CACHE.cache.clear()
        try:
            yield
        finally:
            providers._get_local_constants = saved
            providers.CONSTANTS_CACHE.cache.clear()
