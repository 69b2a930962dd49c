"""Reading marts the same way from both warehouses (SQLite keeps booleans as 0/1, instants
as text and money as REAL; PostgreSQL gives bool, aware datetimes and Decimal)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from synchub_pipelines.defs.marts.profile import PROJECT_DIR
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines_tests.conftest import ADMIN_URL, _postgres_available

BOOLEAN = "boolean"


def documented_columns() -> dict[str, dict[str, str]]:
    """Mart → column → documented type, from the manifest (schema.yml)."""
    manifest = json.loads((PROJECT_DIR / "target" / "manifest.json").read_text())
    return {
        node["name"]: {name: c.get("data_type") or "" for name, c in node["columns"].items()}
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"].startswith("mart_")
    }


def plain(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == BOOLEAN:
        return bool(value)
    if kind == "date":
        return str(value)[:10] if not isinstance(value, date) else value.isoformat()
    if kind.startswith("timestamp"):
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    if kind.startswith("numeric"):
        return round(float(value), 4)
    if isinstance(value, Decimal):
        return float(value)
    return value


def rows(engine: Engine, mart: str, where: str = "", **params: Any) -> list[dict[str, Any]]:
    types = documented_columns()[mart]
    sql = f"SELECT * FROM {mart}" + (f" WHERE {where}" if where else "")
    with engine.connect() as conn:
        result = conn.execute(sa.text(sql), params).mappings().all()
    return [{k: plain(v, types.get(k, "")) for k, v in r.items()} for r in result]


def one(engine: Engine, mart: str, where: str, **params: Any) -> dict[str, Any]:
    found = rows(engine, mart, where, **params)
    assert len(found) == 1, (mart, where, params, found)
    return found[0]


@contextmanager
def throwaway_warehouse(kind: str, tmp: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty warehouse URL (SQLite file or PostgreSQL database), for a fixture wider
    than one test (conftest's own are per test); the PostgreSQL database is dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp.mktemp('marts') / 'warehouse.sqlite'}"
        return
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
        engine_for(url.render_as_string(hide_password=False)).dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
