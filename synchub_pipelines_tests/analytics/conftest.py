"""One warehouse per backend for the whole session, built by the real pipeline (slow: each
build runs every marketplace's backfill against the sandbox), shared by every analytics test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines_tests.analytics.warehouse import Built, build_warehouse
from synchub_pipelines_tests.conftest import ADMIN_URL, _postgres_available


class Warehouses:
    """Builds each backend's warehouse on first use; a failed build fails every test after."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.built: dict[str, Built | BaseException] = {}
        self.databases: list[str] = []

    def get(self, backend: str) -> Built:
        if backend not in self.built:
            try:
                self.built[backend] = self._build(backend)
            except BaseException as exc:
                if isinstance(exc, pytest.skip.Exception):
                    raise
                self.built[backend] = exc
                raise
        found = self.built[backend]
        if isinstance(found, BaseException):
            pytest.fail(f"the {backend} warehouse could not be built: {found!r}")
        return found

    def _build(self, backend: str) -> Built:
        folder = self.folder / backend
        folder.mkdir(parents=True, exist_ok=True)
        if backend == "sqlite":
            return build_warehouse(f"sqlite:///{folder / 'warehouse.sqlite'}", folder)
        problem = _postgres_available()
        if problem:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI requires PostgreSQL at {ADMIN_URL}: {problem}")
            pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {problem}")
        name = f"synchub_analytics_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
        return build_warehouse(url.render_as_string(hide_password=False), folder)

    def close(self) -> None:
        for built in self.built.values():
            if isinstance(built, Built):
                engine_for(built.url).dispose()
        engine_for.cache_clear()
        if self.databases:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                for name in self.databases:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def analytics_warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouses]:
    warehouses = Warehouses(tmp_path_factory.mktemp("analytics"))
    yield warehouses
    warehouses.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest, analytics_warehouses: Warehouses) -> Built:
    """The demo-shaped warehouse of each backend (each test runs once per backend)."""
    return analytics_warehouses.get(request.param)
