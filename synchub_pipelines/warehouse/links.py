"""Manual listing links: an operator's decision, which automatic matching never overrides."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.models import LinkMethod, ListingLink
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import link_batch
from synchub_pipelines.warehouse.schema import DEFAULT_TENANT, central_products, stores


def set_manual_link(
    engine: Engine, store_id: str, listing_id: str, variation_id: str, sku: str
) -> None:
    """Bind a listing variation to a SKU of its store's tenant (another tenant's SKU of the
    same name is another product)."""
    with engine.connect() as conn:
        tenant = (
            conn.execute(
                sa.select(stores.c.tenant).where(stores.c.store_id == store_id)
            ).scalar_one_or_none()
            or DEFAULT_TENANT
        )
        known = conn.execute(
            sa.select(central_products.c.sku).where(
                central_products.c.tenant == tenant, central_products.c.sku == sku
            )
        ).first()
    if known is None:
        raise LookupError(f"SKU {sku} is not in the central catalog of tenant {tenant}")
    link = ListingLink(
        store_id=store_id,
        listing_id=listing_id,
        variation_id=variation_id,
        sku=sku,
        method=LinkMethod.MANUAL,
    )
    upsert.write(engine, [link_batch([link], tenant)])
