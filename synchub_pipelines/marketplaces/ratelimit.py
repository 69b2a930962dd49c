"""A blocking token bucket shared by every call of a process to one API (per quota key)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """`acquire()` waits until the call fits in `rate` per second with bursts of `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token, sleeping as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                pause = (1 - self._tokens) / self.rate
            time.sleep(pause)
            waited += pause

    def penalize(self, seconds: float) -> None:
        """The server said slow down: empty the bucket so every caller pauses."""
        with self._lock:
            self._tokens = min(self._tokens, -seconds * self.rate)


_limiters: dict[str, RateLimiter] = {}
_guard = threading.Lock()


def shared_limiter(key: str, rate: float, burst: float | None = None) -> RateLimiter:
    """The process-wide limiter for a quota (e.g. 'mercadolivre:<app id>')."""
    with _guard:
        limiter = _limiters.get(key)
        if limiter is None or limiter.rate != rate:
            limiter = _limiters[key] = RateLimiter(rate, burst)
        return limiter
