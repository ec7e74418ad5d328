"""Rate limiting and time budgets of the ``http-client`` capability's requests.

:class:`RateLimiter` gives each request (every redirect hop included) one of ``max_requests``
slots per sliding ``rate_limit_window``; :func:`effective_timeout` picks the tightest of the
guest's ``timeout-ms``, the policy's ``request_timeout`` and what is left of the guest call.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter", "effective_timeout"]


class RateLimiter:
    """Sliding-window limiter: at most ``max_requests`` in any ``window_s`` seconds."""

    def __init__(
        self, max_requests: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_requests < 1 or window_s <= 0:
            raise ValueError("max_requests must be >= 1 and window_s > 0")
        self.max_requests = max_requests
        self.window_s = window_s
        self._clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()

    def allow(self) -> bool:
        """Record one request and return True, or return False if the window is full."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if len(self._times) >= self.max_requests:
                return False
            self._times.append(now)
            return True

    def retry_after(self) -> float:
        """Seconds until :meth:`allow` would succeed (0.0 if it would now)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if len(self._times) < self.max_requests:
                return 0.0
            return self._times[0] + self.window_s - now


def effective_timeout(request_ms: int, policy_s: float, remaining_call_s: float | None) -> float:
    """Return the smallest positive of the guest's, the policy's and the call's time budgets.

    ``request_ms`` is the guest's ``timeout-ms`` (0 = unset); ``remaining_call_s`` is what is left
    of the per-call wall-clock budget (None = no budget).  A remaining budget that is already
    used up (<= 0) yields 0.0: the caller reports ``timeout`` without sending the request.
    """
    if remaining_call_s is not None and remaining_call_s <= 0:
        return 0.0
    candidates = [request_ms / 1000.0, policy_s, remaining_call_s]
    positive = [c for c in candidates if c is not None and c > 0]
    if not positive:
        raise ValueError("no positive timeout among request, policy and call budget")
    return min(positive)
