r"""Validation of guest-chosen names for the ``metrics`` and ``logging`` capabilities.

The WIT ``metrics`` and ``logging`` functions return nothing, so the host cannot report an error
to the guest: it drops (and counts) a metric whose name or tags are invalid, and it escapes log
text so a guest cannot forge log lines.  The rules:

* metric names follow Prometheus: ``[a-zA-Z_:][a-zA-Z0-9_:]*``, at most 200 characters;
* tag (label) keys: ``[a-zA-Z_][a-zA-Z0-9_]*``, at most 100 characters, not starting with
  ``__`` (reserved by Prometheus) and not :data:`RESERVED_TAGS` (the host adds ``component``);
  at most :data:`MAX_TAGS` tags, no duplicate keys; values at most 1024 characters;
* log field keys: ``[a-zA-Z_][a-zA-Z0-9_.-]*``, at most 100 characters, not
  :data:`RESERVED_LOG_FIELDS`;
* log text (messages, field values) is truncated to a limit and control characters other than
  tab are written as ``\uXXXX`` escapes, so ``\n`` cannot start a fake log record.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "MAX_TAGS",
    "RESERVED_LOG_FIELDS",
    "RESERVED_TAGS",
    "log_field_problem",
    "metric_problem",
    "sanitize_log_text",
]

MAX_TAGS = 16
RESERVED_TAGS = frozenset({"component"})
RESERVED_LOG_FIELDS = frozenset({"component", "level", "msg", "message", "time", "timestamp"})
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,199}")
_TAG_KEY = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,99}")
_FIELD_KEY = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.-]{0,99}")
MAX_TAG_VALUE = 1024


def metric_problem(name: str, tags: Iterable[tuple[str, str]] = ()) -> str | None:
    """Return why a metric must be dropped, or None if its name and tags are valid."""
    if not _METRIC.fullmatch(name):
        return f"metric name {name!r} must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 200 chars)"
    seen: set[str] = set()
    for key, value in tags:
        if not _TAG_KEY.fullmatch(key) or key.startswith("__"):
            return f"tag key {key!r} must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__'"
        if key in RESERVED_TAGS:
            return f"tag key {key!r} is reserved for the host"
        if key in seen:
            return f"tag key {key!r} appears twice"
        if len(value) > MAX_TAG_VALUE:
            return f"tag {key!r} has a value longer than {MAX_TAG_VALUE} characters"
        seen.add(key)
    if len(seen) > MAX_TAGS:
        return f"{len(seen)} tags; at most {MAX_TAGS}"
    return None


def log_field_problem(key: str) -> str | None:
    """Return why a structured-log field key is refused, or None if it is valid."""
    if not _FIELD_KEY.fullmatch(key):
        return f"log field key {key!r} must match [a-zA-Z_][a-zA-Z0-9_.-]* (at most 100 chars)"
    if key in RESERVED_LOG_FIELDS:
        return f"log field key {key!r} is reserved for the host"
    return None


def sanitize_log_text(text: str, limit: int = 65536) -> str:
    """Escape control characters (except tab) and truncate to ``limit`` characters."""
    if len(text) > limit:
        text = text[:limit] + f"...[{len(text) - limit} chars truncated]"
    return "".join(
        f"\\u{ord(ch):04x}" if ch != "\t" and unicodedata.category(ch) in {"Cc", "Cs"} else ch
        for ch in text
    )
