"""Reads and writes of the connected stores (the `stores` table)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.models import Store, parse_store_id
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import store_batch
from synchub_pipelines.warehouse.schema import stores


def register_store(engine: Engine, store: Store) -> None:
    """Add or update a connected store (idempotent)."""
    existing = load_store(engine, store.store_id, missing_ok=True)
    connected_at = datetime.now(UTC)
    if existing is not None:
        with engine.connect() as conn:
            connected_at = conn.execute(
                sa.select(stores.c.connected_at).where(stores.c.store_id == store.store_id)
            ).scalar_one()
    upsert.write(engine, [store_batch([store], connected_at)])


def _to_store(row: sa.RowMapping) -> Store:
    return Store(
        store_id=row["store_id"],
        marketplace=row["marketplace"],
        seller_id=row["seller_id"],
        name=row["name"],
        tenant=row["tenant"],
        timezone=row["timezone"],
    )


def load_stores(engine: Engine, active_only: bool = True) -> list[Store]:
    query = sa.select(stores).order_by(stores.c.store_id)
    if active_only:
        query = query.where(stores.c.status == "active")
    with engine.connect() as conn:
        return [_to_store(row) for row in conn.execute(query).mappings()]


def store_tenants(engine: Engine) -> dict[str, str]:
    """Every store's tenant (inactive stores too: their listings and orders still belong
    to it)."""
    with engine.connect() as conn:
        return {
            store_id: tenant
            for store_id, tenant in conn.execute(sa.select(stores.c.store_id, stores.c.tenant))
        }


def load_store(engine: Engine, store_id: str, missing_ok: bool = False) -> Store | None:
    parse_store_id(store_id)  # a clear error for a malformed key, before any query
    with engine.connect() as conn:
        row = (
            conn.execute(sa.select(stores).where(stores.c.store_id == store_id)).mappings().first()
        )
    if row is None:
        if missing_ok:
            return None
        raise LookupError(
            f"store {store_id} is not connected: run `synchub connect {store_id.split('-')[0]}`"
        )
    return _to_store(row)
