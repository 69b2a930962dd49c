"""OAuth tokens: the store interface clients persist through, and single-flight refresh.

Mercado Livre's and Shopee's refresh tokens are single-use: two processes refreshing at
once would burn the token and lock the account out. `TokenManager` therefore refreshes
under the store's lock (a database row lock in the warehouse implementation) and re-reads
the tokens once it holds it: whoever waited finds the fresh pair and does not refresh again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class TokenSet(BaseModel):
    """What a store's OAuth grant gives; secrets stay masked in repr, logs and errors."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    access_expires_at: datetime
    refresh_expires_at: datetime | None = None
    # Per-API extras that are not secret but belong to the grant (e.g. TikTok's shop_cipher).
    extra: dict[str, str] = Field(default_factory=dict)

    def expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        return self.access_expires_at - margin <= (now or datetime.now(UTC))


class TokenLease(Protocol):
    """The tokens of one store while its lock is held."""

    @property
    def tokens(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...


class TokenStore(Protocol):
    def load(self, store_id: str) -> TokenSet | None: ...

    def save(self, store_id: str, tokens: TokenSet) -> None: ...

    def lease(self, store_id: str) -> AbstractContextManager[TokenLease]:
        """Hold the store's token lock (across processes) for a read-refresh-write."""
        ...


class NotConnectedError(RuntimeError):
    """The store has no tokens: it was never connected, or its grant was removed."""


Refresher = Callable[[TokenSet], TokenSet]


class TokenManager:
    """Hands out a valid access token for one store, refreshing before it expires."""

    def __init__(
        self,
        store: TokenStore,
        store_id: str,
        refresher: Refresher,
        margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._store_id = store_id
        self._refresher = refresher
        self._margin = margin
        self._clock = clock
        self._cached: TokenSet | None = None
        self._lock = threading.Lock()

    @property
    def tokens(self) -> TokenSet:
        with self._lock:
            if self._cached is None:
                self._cached = self._store.load(self._store_id)
            if self._cached is None:
                raise NotConnectedError(f"store {self._store_id} is not connected (no tokens)")
            if self._cached.expires_within(self._margin, self._clock()):
                self._cached = self._refresh(stale=self._cached)
            return self._cached

    def access_token(self) -> str:
        return self.tokens.access_token.get_secret_value()

    def invalidate(self, rejected: str) -> None:
        """The API refused `rejected` (revoked early, clock skew): refresh on next use."""
        with self._lock:
            current = self._cached
            if current is not None and current.access_token.get_secret_value() == rejected:
                self._cached = self._refresh(stale=current)

    def _refresh(self, stale: TokenSet) -> TokenSet:
        with self._store.lease(self._store_id) as lease:
            latest = lease.tokens
            if latest is None:
                raise NotConnectedError(f"store {self._store_id} is not connected (no tokens)")
            # Another process may have refreshed while we waited for the lock.
            replaced = latest.access_token != stale.access_token
            if replaced and not latest.expires_within(self._margin, self._clock()):
                return latest
            fresh = self._refresher(latest)
            lease.save(fresh)
            return fresh


class MemoryTokenStore:
    """A process-local store, for one-off CLI calls and tests of the clients alone."""

    def __init__(self) -> None:
        self._tokens: dict[str, TokenSet] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def load(self, store_id: str) -> TokenSet | None:
        return self._tokens.get(store_id)

    def save(self, store_id: str, tokens: TokenSet) -> None:
        self._tokens[store_id] = tokens

    def lease(self, store_id: str) -> AbstractContextManager[TokenLease]:
        with self._guard:
            lock = self._locks.setdefault(store_id, threading.Lock())
        return _MemoryLease(self, store_id, lock)


class _MemoryLease:
    def __init__(self, store: MemoryTokenStore, store_id: str, lock: threading.Lock) -> None:
        self._store, self._store_id, self._lock = store, store_id, lock

    def __enter__(self) -> _MemoryLease:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    @property
    def tokens(self) -> TokenSet | None:
        return self._store.load(self._store_id)

    def save(self, tokens: TokenSet) -> None:
        self._store.save(self._store_id, tokens)


def iter_secret_values(tokens: TokenSet) -> Iterator[str]:
    """Every secret string of a grant (to scrub from anything shown to people)."""
    yield tokens.access_token.get_secret_value()
    if tokens.refresh_token is not None:
        yield tokens.refresh_token.get_secret_value()
