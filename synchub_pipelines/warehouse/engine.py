"""Engines for the warehouse URL, with the driver made explicit."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url


def normalize_url(url: str | URL) -> URL:
    """Pin the driver: PostgreSQL through psycopg 3, SQLite through the stdlib module."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"postgresql", "sqlite"}:
        raise ValueError(
            f"warehouse URL uses {parsed.get_backend_name()!r}; supported are PostgreSQL "
            "(postgresql+psycopg://…) and SQLite (sqlite:///path)"
        )
    return parsed


@cache
def engine_for(url: str) -> Engine:
    """One engine (and connection pool) per URL per process."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets the UI, sensors and runs read while one writer writes.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def redacted(url: str | URL) -> str:
    """The URL with its password hidden, for logs and metadata."""
    return normalize_url(url).render_as_string(hide_password=True)
