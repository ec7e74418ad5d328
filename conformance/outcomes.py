"""What one call into the component gave, classified: ``ok``, ``err``, ``trap`` or ``limit``.

The checks never let an exception of the host decide for them: :func:`outcome` turns typed
errors, traps and stops by a resource limit into a :class:`CallOutcome` they can judge.  A check
that cannot observe the component at all raises :class:`NotAssessable`; the suite's hooks turn it
into a failure that says *not assessed* and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reference_host import errors
from reference_host import types as t


class NotAssessable(Exception):
    """A check cannot observe the component (the host refuses it, a service is missing...)."""


LIMIT_ERRORS: tuple[type[BaseException], ...] = (
    errors.CallTimeoutError, errors.OutOfFuelError, errors.StackExhaustedError,
    errors.MemoryLimitError, errors.OutputLimitError,
)  # fmt: skip


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


@dataclass(frozen=True)
class CallOutcome:
    """What one call gave: ``ok`` (value), ``err`` (case, value), ``trap`` or ``limit``."""

    kind: str  # ok | err | trap | limit
    value: Any = None
    case: str = ""
    error: BaseException | None = None

    def __str__(self) -> str:
        if self.kind == "ok":
            n = f"{len(self.value)} events" if isinstance(self.value, list) else repr(self.value)
            return f"ok({n})"
        if self.kind == "err":
            return f"err({self.case}: {str(self.value)[:120]!r})"
        assert self.error is not None
        return f"{self.kind}: {type(self.error).__name__}: {first_line(self.error)}"

    @property
    def failed(self) -> bool:
        """A trap or a stop by a resource limit (not an answer of the component)."""
        return self.kind in ("trap", "limit")


def outcome(call: Callable[[], Any]) -> CallOutcome:
    """Run ``call``; classify typed errors, traps and limit stops instead of raising."""
    try:
        value = call()
    except errors.ProcessorErrorResult as exc:
        return CallOutcome("err", getattr(exc.error, "value", None), str(exc.error.case), exc)
    except LIMIT_ERRORS as exc:
        return CallOutcome("limit", error=exc)
    except errors.GuestTrap as exc:
        return CallOutcome("trap", error=exc)
    if isinstance(value, t.Err):
        return CallOutcome("err", getattr(value.error, "value", None), str(value.error.case))
    if isinstance(value, t.Ok):
        value = value.value
    return CallOutcome("ok", value)
