"""Token buckets per API quota scope: shared by a process, or by a whole deployment.

A marketplace's limit is per application (Mercado Livre), per shop (Shopee, TikTok), per
seller and operation (Amazon) or per account (Bling) — whoever calls. An orders backfill
spreads over one process per core and several runs may hit one marketplace at once, so a
bucket kept in one process lets N processes spend N times the budget. When a
`BudgetStore` is installed (`use_budget_store`; the warehouse installs one backed by its
own database), every limiter handed out is that store's bucket: each call reserves its
token in one atomic statement and sleeps for its turn, so every thread, process and run of
the deployment shares the budget, and a 429 slows the scope for all of them. Without a
store (tests, one-off scripts), the bucket lives in the process, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger("synchub.ratelimit")


class RateLimiter:
    """`acquire()` waits until the call fits in `rate` per second with bursts of `burst`."""

    def __init__(self, rate: float, burst: float | None = None, headroom: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        # Tokens never spent: the server's bucket starts when our first call *arrives*, ours
        # when it leaves, so a later call that travels faster than the first finds the
        # server's bucket one token short. `headroom` tokens absorb headroom / rate seconds
        # of such latency spread; 0 spends the whole published burst.
        self.headroom = max(0.0, min(headroom, self.burst - 1.0))
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
                if self._tokens >= 1 + self.headroom:
                    self._tokens -= 1
                    return waited
                pause = (1 + self.headroom - self._tokens) / self.rate
            time.sleep(pause)
            waited += pause

    def penalize(self, seconds: float) -> None:
        """The server said slow down: empty the bucket so every caller pauses."""
        with self._lock:
            self._tokens = min(self._tokens, -seconds * self.rate)


class BudgetStore(Protocol):
    """Where deployment-wide buckets live (a table in the warehouse's database)."""

    def reserve(self, scope: str, rate: float, burst: float, now: float) -> float:
        """Take one token of `scope` at wall-clock `now` (seconds since the epoch), going
        into debt if none is left; returns the tokens left after taking (negative: the
        caller waits -left / rate seconds for its turn)."""
        ...

    def penalize(self, scope: str, rate: float, burst: float, seconds: float, now: float) -> None:
        """Empty the bucket so that nobody calls for `seconds`."""
        ...


class SharedBudget(RateLimiter):
    """A bucket every process of the deployment draws from (see the module docstring)."""

    def __init__(
        self,
        scope: str,
        rate: float,
        burst: float | None,
        store: BudgetStore,
        headroom: float = 0.0,
    ) -> None:
        super().__init__(rate, burst, headroom)
        self.scope = scope
        self._store = store

    def acquire(self) -> float:
        try:
            left = self._store.reserve(self.scope, self.rate, self.burst, time.time())
        except Exception as exc:
            # The shared budget is unreachable: pace this process alone until it is back.
            log.warning(
                "shared budget %s unavailable (%s); pacing locally", self.scope, type(exc).__name__
            )
            return super().acquire()
        pause = max(0.0, (self.headroom - left) / self.rate)
        if pause:
            time.sleep(pause)
        return pause

    def penalize(self, seconds: float) -> None:
        super().penalize(seconds)
        try:
            self._store.penalize(self.scope, self.rate, self.burst, seconds, time.time())
        except Exception as exc:
            log.warning("shared budget %s unavailable (%s)", self.scope, type(exc).__name__)


_limiters: dict[str, RateLimiter] = {}
_guard = threading.Lock()
_store: BudgetStore | None = None


def use_budget_store(store: BudgetStore | None) -> None:
    """Share every quota through `store` from now on (None: back to per-process buckets)."""
    global _store
    with _guard:
        if store is not _store:
            _store = store
            _limiters.clear()


# The spread of latency between calls that a client pacing at a quota's full rate must
# absorb: one call leaves a thread of a busy process, or waits in a proxy, this much after
# a later one. Without tokens kept back every call lands on the edge of the server's bucket:
# Amazon's getListingsItem at 5/s met 77 429s in a publishing benchmark, and a Mercado Livre
# facts refresh at 100/s with eight calls in flight met one in 127,193. One token covers
# only 1/rate seconds of spread, so fast quotas keep more. The cost is these few tokens of
# the burst, once.
LATENCY_SPREAD_SECONDS = 0.1


def latency_headroom(rate: float) -> float:
    """Tokens to keep back from a bucket paced at `rate` (at least one; see `RateLimiter`)."""
    return max(1.0, rate * LATENCY_SPREAD_SECONDS)


def shared_limiter(
    key: str, rate: float, burst: float | None = None, headroom: float | None = None
) -> RateLimiter:
    """The limiter for a quota scope (e.g. 'mercadolivre:<app id>'): the deployment's when a
    budget store is installed, else the process's. `headroom`: see `RateLimiter`; by
    default `latency_headroom(rate)`, which a burst of one token cannot spare."""
    if headroom is None:
        headroom = latency_headroom(rate)
    with _guard:
        limiter = _limiters.get(key)
        if (
            limiter is None
            or limiter.rate != rate
            or (burst is not None and limiter.burst != max(1.0, burst))
            or limiter.headroom != max(0.0, min(headroom, limiter.burst - 1.0))
        ):
            limiter = (
                SharedBudget(key, rate, burst, _store, headroom)
                if _store is not None
                else RateLimiter(rate, burst, headroom)
            )
            _limiters[key] = limiter
        return limiter
