"""Shared fixtures: throwaway warehouses (SQLite and real PostgreSQL) and a loopback sandbox.

PostgreSQL tests create their own database on the server at SYNCHUB_TEST_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and drop it afterwards. Without a server
they skip, except under CI=true, where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig

PAYLOADS = Path(__file__).resolve().parent / "fixtures" / "payloads"
ADMIN_URL = os.environ.get("SYNCHUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ANCHOR = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    data = tmp_path_factory.mktemp("synchub-data")
    saved = dict(os.environ)
    os.environ["SYNCHUB_DATA_DIR"] = str(data)
    os.environ["SYNCHUB_SECRET_KEY"] = Fernet.generate_key().decode()
    os.environ.pop("SYNCHUB_WAREHOUSE_URL", None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _no_leftover_defs_state_storage() -> Iterator[None]:
    """Each test starts without another test's Dagster instance as the current state storage.

    An instance used as a context manager makes itself the process-wide "defs state
    storage" (a context variable) and restores the previous one on exit; when instances
    close out of order, a closed one can stay current and a later `materialize` fails
    with "undefined DagsterInstance weakref". Reset it around every test.
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture(autouse=True)
def _no_leftover_budget_store() -> Iterator[None]:
    """A test's shared API budgets and breakers (in its throwaway warehouse, or in this
    process) end with it."""
    from synchub_pipelines.marketplaces.breaker import use_breaker_store
    from synchub_pipelines.marketplaces.ratelimit import use_budget_store
    from synchub_pipelines.warehouse import budgets

    yield
    use_budget_store(None)
    use_breaker_store(None)
    budgets._installed.clear()


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (psycopg 3 driver), dropped after the test."""
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires PostgreSQL at {ADMIN_URL}: {problem}")
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {problem}")
    name = f"synchub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from synchub_pipelines.warehouse.engine import engine_for

        engine_for.cache_clear()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def sandbox_factory() -> Iterator[object]:
    started: list[RunningSandbox] = []

    def start(**config: object) -> RunningSandbox:
        config.setdefault("seed", 7)
        config.setdefault("size", "tiny")
        config.setdefault("anchor", ANCHOR)
        running = RunningSandbox(Sandbox(SandboxConfig(**config))).start()  # type: ignore[arg-type]
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def sandbox(sandbox_factory) -> RunningSandbox:  # type: ignore[no-untyped-def]
    return sandbox_factory()
