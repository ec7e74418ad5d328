"""``obsrvr:flowctl/logging@1.0.0``: captured, filtered, flood-limited guest logging.

Records below the component's level (``set-log-level``; default ``trace``) are dropped before
anything else.  Kept records are captured in :attr:`LoggingCapability.records` (the conformance
suite reads them) and forwarded to Python logging on ``flowctl.guest.<component id>`` with the
component id and fields in ``extra``.  Per call at most ``max_records_per_call`` records and
``max_bytes_per_call`` bytes of text are kept; the rest are counted in :attr:`dropped_flood`.
Text is sanitised (control characters escaped) so a guest cannot forge log lines; field keys that
are invalid or reserved are renamed ``field_<n>``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from wasmtime.component import LinkerInstance

from reference_host import interfaces
from reference_host.capabilities.base import HostContext, link_interface
from reference_host.rules.names import log_field_problem, sanitize_log_text
from reference_host.types import LogLevel

TRACE = 5
PY_LEVELS = {
    LogLevel.TRACE: TRACE,
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.INFO: logging.INFO,
    LogLevel.WARN: logging.WARNING,
    LogLevel.ERROR: logging.ERROR,
}
logging.addLevelName(TRACE, "TRACE")


@dataclass(frozen=True)
class LogRecord:
    """One guest log record as captured."""

    component_id: str
    level: LogLevel
    message: str
    fields: tuple[tuple[str, str], ...]
    function: str
    time: float


@dataclass(eq=False)
class LoggingCapability:
    """Serves the logging interface for one component instance."""

    component_id: str
    level: LogLevel = LogLevel.TRACE
    max_records_per_call: int = 1000
    max_bytes_per_call: int = 1 << 20
    forward: bool = True
    records: list[LogRecord] = field(default_factory=list)
    #: keep at most this many records (the oldest go first); None keeps all (tests, conformance)
    max_kept: int | None = None
    dropped_flood: int = 0
    dropped_level: int = 0
    interface: str = interfaces.LOGGING
    _call_key: float = -1.0
    _count: int = 0
    _bytes: int = 0
    _context: HostContext | None = None

    @property
    def logger(self) -> logging.Logger:
        """The Python logger records are forwarded to."""
        return logging.getLogger(f"flowctl.guest.{self.component_id}")

    def link(self, linker: LinkerInstance, context: HostContext) -> None:
        """Define log, log-structured and set-log-level."""
        self._context = context
        link_interface(
            linker,
            self.interface,
            {
                "log": lambda level, message: self._emit(level, message, []),
                "log-structured": self._emit,
                "set-log-level": self._set_level,
            },
            context=context,
        )

    def _set_level(self, level: LogLevel) -> None:
        self.level = level

    def _emit(self, level: LogLevel, message: str, fields: list[tuple[str, str]]) -> None:
        if PY_LEVELS[level] < PY_LEVELS[self.level]:
            self.dropped_level += 1
            return
        ctx = self._context
        key = ctx.budget.deadline if ctx is not None else 0.0
        if key != self._call_key:  # a new call into the guest: reset the flood counters
            self._call_key, self._count, self._bytes = key, 0, 0
        size = len(message) + sum(len(k) + len(v) for k, v in fields)
        if self._count >= self.max_records_per_call or self._bytes + size > self.max_bytes_per_call:
            self.dropped_flood += 1
            return
        self._count += 1
        self._bytes += size
        clean = tuple(
            (k if log_field_problem(k) is None else f"field_{i}", sanitize_log_text(v, 4096))
            for i, (k, v) in enumerate(fields)
        )
        record = LogRecord(
            self.component_id,
            level,
            sanitize_log_text(message),
            clean,
            ctx.budget.function if ctx is not None else "",
            time.time(),
        )
        self.records.append(record)
        if self.max_kept is not None and len(self.records) > self.max_kept:
            del self.records[: len(self.records) - self.max_kept // 2]
        if self.forward:
            extra: dict[str, Any] = {"component_id": self.component_id, "fields": dict(clean)}
            self.logger.log(PY_LEVELS[level], "%s", record.message, extra=extra)

    def close(self) -> None:
        """Nothing to release."""
