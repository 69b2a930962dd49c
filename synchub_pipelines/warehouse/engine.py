"""Engines for the warehouse URL, with the driver made explicit."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

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


# Errors name the database they were about, never its password (drivers and SQLAlchemy do
# neither reliably on their own).
_URL_PASSWORD = re.compile(r"(\w[\w+.-]*://[^/\s:@]*:)[^@\s/]+@")


def warehouse_target(url: str) -> str:
    """What a warehouse URL points at, in words an operator can check: no password."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:":
            return "in-memory SQLite database"
        return f"SQLite file {Path(path).expanduser().absolute()}"
    host = parsed.host or "the local socket"
    where = f"{host}:{parsed.port or 5432}"
    return f"PostgreSQL at {where}, database {parsed.database!r}, user {parsed.username!r}"


def describe_database_error(exc: sa.exc.DBAPIError, url: str) -> str:
    """One line naming the database an error was about and what its driver said.

    SQLAlchemy's own text carries the SQL and its parameters (not for a terminal) and the
    drivers do not always say where they were going (sqlite3: "unable to open database
    file"; psycopg, for a name it cannot resolve, the host without the port).
    """
    driver = exc.orig if exc.orig is not None else exc
    said = " ".join(str(driver).split()) or type(driver).__name__
    try:
        target = warehouse_target(url)
    except Exception:
        target = "at SYNCHUB_WAREHOUSE_URL"
    hint = ""
    if target.startswith("SQLite file") and "unable to open" in said:
        hint = " (does its folder exist, and may this user write there?)"
    return scrub(f"warehouse {target}: {said}{hint}", url)


def scrub(text: str, url: str) -> str:
    """The text without the URL's password, however it got there."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    match = _URL_PASSWORD.search(url)
    if match:
        password = url[match.end(1) : match.end() - 1]
        # A very short password would mask ordinary letters: the shape rule covers it.
        if len(password) >= 4:
            text = text.replace(password, "***")
    return text
