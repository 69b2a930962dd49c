"""The warehouse-backed `TokenStore`: tokens encrypted at rest, refresh under a row lock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy.engine import Connection, Engine

from synchub_pipelines.marketplaces.tokens import TokenLease, TokenSet
from synchub_pipelines.warehouse.schema import store_credentials

_process_locks: dict[tuple[str, str], threading.Lock] = {}
_process_guard = threading.Lock()


class CredentialsError(RuntimeError):
    pass


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqlTokenStore:
    def __init__(self, engine: Engine, key: bytes) -> None:
        self._engine = engine
        self._fernet = Fernet(key)

    # --- encryption ------------------------------------------------------------------

    def _seal(self, value: str | None) -> str | None:
        return None if value is None else self._fernet.encrypt(value.encode()).decode()

    def _open(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            raise CredentialsError(
                "stored tokens cannot be decrypted: SYNCHUB_SECRET_KEY is not the key they "
                "were saved with (reconnect the store or restore the key)"
            ) from None

    # --- rows ------------------------------------------------------------------------

    def _read(self, conn: Connection, store_id: str, for_update: bool = False) -> TokenSet | None:
        query = sa.select(store_credentials).where(store_credentials.c.store_id == store_id)
        if for_update and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            return None
        refresh = self._open(row["refresh_token_enc"])
        extra = self._open(row["extra_enc"])
        access_expires_at = _utc(row["access_expires_at"])
        assert access_expires_at is not None
        return TokenSet(
            access_token=SecretStr(self._open(row["access_token_enc"]) or ""),
            refresh_token=SecretStr(refresh) if refresh is not None else None,
            access_expires_at=access_expires_at,
            refresh_expires_at=_utc(row["refresh_expires_at"]),
            extra=json.loads(extra) if extra else {},
        )

    def _write(self, conn: Connection, store_id: str, tokens: TokenSet) -> None:
        refresh = tokens.refresh_token.get_secret_value() if tokens.refresh_token else None
        values = {
            "access_token_enc": self._seal(tokens.access_token.get_secret_value()),
            "refresh_token_enc": self._seal(refresh),
            "access_expires_at": tokens.access_expires_at,
            "refresh_expires_at": tokens.refresh_expires_at,
            "extra_enc": self._seal(json.dumps(tokens.extra)) if tokens.extra else None,
            "updated_at": datetime.now(UTC),
        }
        updated = conn.execute(
            store_credentials.update()
            .where(store_credentials.c.store_id == store_id)
            .values(**values)
        )
        if updated.rowcount == 0:
            conn.execute(store_credentials.insert().values(store_id=store_id, **values))

    # --- TokenStore ------------------------------------------------------------------

    def load(self, store_id: str) -> TokenSet | None:
        with self._engine.connect() as conn:
            return self._read(conn, store_id)

    def save(self, store_id: str, tokens: TokenSet) -> None:
        with self._engine.begin() as conn:
            self._write(conn, store_id, tokens)

    def lease(self, store_id: str) -> AbstractContextManager[TokenLease]:
        return self._lease(store_id)

    @contextmanager
    def _lease(self, store_id: str) -> Iterator[TokenLease]:
        with _process_guard:
            lock = _process_locks.setdefault((str(self._engine.url), store_id), threading.Lock())
        with lock, self._engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # A write first takes SQLite's database write lock for the whole transaction.
                conn.execute(
                    store_credentials.update()
                    .where(store_credentials.c.store_id == store_id)
                    .values(updated_at=store_credentials.c.updated_at)
                )
            yield _SqlLease(self, conn, store_id, self._read(conn, store_id, for_update=True))


class _SqlLease:
    def __init__(
        self, store: SqlTokenStore, conn: Connection, store_id: str, tokens: TokenSet | None
    ) -> None:
        self._store, self._conn, self._store_id, self._tokens = store, conn, store_id, tokens

    @property
    def tokens(self) -> TokenSet | None:
        return self._tokens

    def save(self, tokens: TokenSet) -> None:
        self._store._write(self._conn, self._store_id, tokens)
        self._tokens = tokens
