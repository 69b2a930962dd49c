"""What every simulator shares: a controllable clock, fault injection and token buckets.

Only simulation concerns live here. Signing, paging and parsing are written separately in
each simulator (and never shared with the clients) so that a mistake cannot cancel out.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Wall-clock time plus an offset that tests can advance (token expiry, timestamps)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def advance_delta(self, delta: timedelta) -> None:
        self.advance(delta.total_seconds())


@dataclass
class Faults:
    """Fault injection knobs, each a probability per request (0 disables)."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.5
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def roll(self) -> str | None:
        """'429', '5xx', 'slow' or None for this request."""
        with self._lock:
            r = self._rng.random()
        if r < self.rate_429:
            return "429"
        if r < self.rate_429 + self.rate_5xx:
            return "5xx"
        if r < self.rate_429 + self.rate_5xx + self.slow_rate:
            return "slow"
        return None

    def update(self, **knobs: float) -> None:
        for name, value in knobs.items():
            if name not in {"rate_429", "rate_5xx", "slow_rate", "slow_seconds"}:
                raise ValueError(f"unknown fault knob {name!r}")
            setattr(self, name, float(value))


class TokenBucket:
    """A token bucket per caller (client id, app key, seller…), like the APIs' own quotas."""

    def __init__(self, rate_per_second: float, burst: float, clock: SandboxClock) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        # What the quota let through and refused (429), every caller together: what a
        # benchmark holds a client's pacing against, counted where the quota is enforced.
        self.served = 0
        self.refused = 0
        self.first_served: float | None = None  # wall clock, since the counts last restarted
        self.last_served: float | None = None

    def take(self, caller: str) -> float | None:
        """Take one token; None if allowed, else the seconds until one is available."""
        if self.rate <= 0:
            with self._lock:
                self._count_served()
            return None
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._state[caller] = (tokens - 1, now)
                self._count_served()
                return None
            self._state[caller] = (tokens, now)
            self.refused += 1
            return (1 - tokens) / self.rate

    def _count_served(self) -> None:
        self.served += 1
        self.last_served = time.time()
        if self.first_served is None:
            self.first_served = self.last_served

    def counts(self) -> dict[str, float | None]:
        with self._lock:
            return {
                "rate": self.rate,
                "burst": self.burst,
                "served": self.served,
                "refused": self.refused,
                "first_served": self.first_served,
                "last_served": self.last_served,
            }

    def restart_counts(self) -> None:
        """Count from zero (the bucket's tokens are untouched)."""
        with self._lock:
            self.served = self.refused = 0
            self.first_served = self.last_served = None
