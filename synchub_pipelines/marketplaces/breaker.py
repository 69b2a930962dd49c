"""Circuit breakers per marketplace and endpoint family: a marketplace that is down is not
retried by every step and run of the deployment.

After `threshold` failures in a row (5xx, timeouts, dropped connections — not 429, which
says the API is alive, nor other 4xx) the family's breaker opens: calls fail at once with
a `CircuitOpenError` naming the marketplace and since when, and runs fail fast instead of
spending their retries. After `cooldown` one call — one in the whole deployment — is let
through as a probe (half-open); its success closes the breaker, its failure opens it again
for another cooldown. With a `BreakerStore` installed (the warehouse's `circuit_breakers`
table, installed with the shared budgets) every process sees the same state, and an
operator can read it there; without one, each process keeps its own.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from synchub_pipelines.marketplaces.errors import MarketplaceError

DEFAULT_THRESHOLD = 8
DEFAULT_COOLDOWN_SECONDS = 30.0
# How long a process trusts the state it last read from a shared store.
STATE_TTL_SECONDS = 1.0


class CircuitOpenError(MarketplaceError):
    """The marketplace (endpoint family) failed repeatedly: calls fail fast until a probe
    succeeds. Not retried: the run fails at once with the reason."""


@dataclass(frozen=True)
class BreakerState:
    state: str = "closed"  # closed | open | half_open
    failures: int = 0
    opened_at: datetime | None = None
    probe_at: datetime | None = None
    last_error: str | None = None


class BreakerStore(Protocol):
    def load(self, scope: str) -> BreakerState: ...

    def record_failure(
        self, scope: str, error: str, threshold: int, cooldown: float, now: datetime
    ) -> BreakerState:
        """Count a failure; open (or re-open after a failed probe) at the threshold."""
        ...

    def record_success(self, scope: str, now: datetime) -> None:
        """Close the breaker and forget the failures."""
        ...

    def claim_probe(self, scope: str, cooldown: float, now: datetime) -> bool:
        """True for exactly one caller once an open breaker's cooldown is over."""
        ...


class MemoryBreakerStore:
    """The same rules within one process."""

    def __init__(self) -> None:
        self._states: dict[str, BreakerState] = {}
        self._lock = threading.Lock()

    def load(self, scope: str) -> BreakerState:
        with self._lock:
            return self._states.get(scope, BreakerState())

    def record_failure(
        self, scope: str, error: str, threshold: int, cooldown: float, now: datetime
    ) -> BreakerState:
        with self._lock:
            current = self._states.get(scope, BreakerState())
            failures = current.failures + 1
            if current.state == "half_open" or failures >= threshold:
                opened = current.opened_at if current.state != "closed" else now
                state = BreakerState("open", failures, opened, _after(now, cooldown), error[:500])
            else:
                state = replace(current, failures=failures, last_error=error[:500])
            self._states[scope] = state
            return state

    def record_success(self, scope: str, now: datetime) -> None:
        with self._lock:
            self._states[scope] = BreakerState()

    def claim_probe(self, scope: str, cooldown: float, now: datetime) -> bool:
        with self._lock:
            current = self._states.get(scope, BreakerState())
            due = current.probe_at is not None and current.probe_at <= now
            # A probe that never reported back (its process died) is given up after a cooldown.
            if current.state in ("open", "half_open") and due:
                self._states[scope] = replace(
                    current, state="half_open", probe_at=_after(now, cooldown)
                )
                return True
            return False


def _after(now: datetime, seconds: float) -> datetime:
    return datetime.fromtimestamp(now.timestamp() + seconds, UTC)


class CircuitBreaker:
    """One marketplace endpoint family's breaker, as `ApiHttp` uses it around each call."""

    def __init__(
        self,
        marketplace: str,
        family: str,
        store: BreakerStore,
        threshold: int = DEFAULT_THRESHOLD,
        cooldown: float = DEFAULT_COOLDOWN_SECONDS,
    ) -> None:
        self.marketplace = marketplace
        self.family = family
        self.scope = f"{marketplace}:{family}"
        self.threshold = threshold
        self.cooldown = cooldown
        self._store = store
        self._cached: tuple[float, BreakerState] | None = None
        self._lock = threading.Lock()

    def _state(self) -> BreakerState:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < STATE_TTL_SECONDS:
                return self._cached[1]
        state = self._store.load(self.scope)
        self._remember(state)
        return state

    def _remember(self, state: BreakerState) -> None:
        with self._lock:
            self._cached = (time.monotonic(), state)

    def before_call(self, operation: str) -> None:
        """Let the call through, or raise `CircuitOpenError` (fast, no request made)."""
        state = self._state()
        if state.state == "closed":
            return
        now = datetime.now(UTC)
        if self._store.claim_probe(self.scope, self.cooldown, now):
            self._remember(replace(state, state="half_open"))
            return
        since = f"{state.opened_at:%Y-%m-%d %H:%M:%S} UTC" if state.opened_at else "recently"
        retry = (
            f"; a probe call is let through after {state.probe_at:%H:%M:%S} UTC"
            if (state.probe_at)
            else ""
        )
        raise CircuitOpenError(
            self.marketplace,
            operation,
            f"the {self.marketplace} API ({self.family} calls) has been failing since "
            f"{since} ({state.failures} failures in a row; last: {state.last_error}); "
            f"calls fail fast until it answers again{retry}",
        )

    def on_success(self) -> None:
        # Failures count only in a row: an answer resets them (a write only when there are).
        state = self._state()
        if state.state != "closed" or state.failures:
            self._store.record_success(self.scope, datetime.now(UTC))
            self._remember(BreakerState())

    def on_failure(self, error: MarketplaceError) -> None:
        state = self._store.record_failure(
            self.scope, str(error), self.threshold, self.cooldown, datetime.now(UTC)
        )
        self._remember(state)


_breakers: dict[str, CircuitBreaker] = {}
_guard = threading.Lock()
_store: BreakerStore = MemoryBreakerStore()


def use_breaker_store(store: BreakerStore | None) -> None:
    """Share breaker state through `store` (None: back to this process's own)."""
    global _store
    with _guard:
        _store = store if store is not None else MemoryBreakerStore()
        _breakers.clear()


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def breaker_for(marketplace: str, operation: str) -> CircuitBreaker:
    """The breaker of the operation's endpoint family (`orders.search` → `orders`);
    SYNCHUB_BREAKER_THRESHOLD and SYNCHUB_BREAKER_COOLDOWN_SECONDS tune every breaker."""
    family = operation.split(".", 1)[0] or "api"
    key = f"{marketplace}:{family}"
    with _guard:
        breaker = _breakers.get(key)
        if breaker is None:
            breaker = _breakers[key] = CircuitBreaker(
                marketplace,
                family,
                _store,
                threshold=int(_setting("SYNCHUB_BREAKER_THRESHOLD", DEFAULT_THRESHOLD)),
                cooldown=_setting("SYNCHUB_BREAKER_COOLDOWN_SECONDS", DEFAULT_COOLDOWN_SECONDS),
            )
        return breaker
