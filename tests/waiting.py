"""Small helpers of the tests that talk to threads and servers: poll, and a switchable value."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str | None = None) -> T:
    """Poll ``predicate`` until it is truthy (returned); ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.01)


class Knob:
    """A value a test changes while another thread reads it (an exception is raised instead)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self) -> Any:
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value
