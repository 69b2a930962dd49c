"""A listing links only to a SKU of its store's tenant: the same seller SKU or GTIN in
another merchant's catalog is another product (SQLite and PostgreSQL)."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.listings.assets import listing_links
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.models import CentralProduct, Listing, ListingStatus, Marketplace, Store
from synchub_pipelines.warehouse import schema, upsert
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.links import set_manual_link
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.rows import listing_batch, product_batches
from synchub_pipelines.warehouse.stores import register_store


def _listing(store_id: str, listing_id: str, seller_sku: str | None, gtin: str | None) -> Listing:
    return Listing(
        store_id=store_id,
        listing_id=listing_id,
        variation_id="",
        title=listing_id,
        seller_sku=seller_sku,
        gtin=gtin,
        status=ListingStatus.ACTIVE,
        raw_status="active",
    )


def test_each_listing_links_within_its_stores_tenant(warehouse_url: str) -> None:
    engine = engine_for(warehouse_url)
    migrate(engine)
    register_store(engine, Store.of(Marketplace.MERCADOLIVRE, "1", name="Default"))
    register_store(engine, Store.of(Marketplace.MERCADOLIVRE, "2", name="Acme", tenant="acme"))
    mine = product_batches([CentralProduct(sku="CAM-P", name="Camiseta", gtin="7891")], [])
    theirs = product_batches(
        [
            CentralProduct(sku="CAM-P", name="Camiseta da Acme", gtin="7892"),
            CentralProduct(sku="ACME-ONLY", name="Só da Acme"),
        ],
        [],
        tenant="acme",
    )
    listings = listing_batch(
        [
            _listing("mercadolivre-1", "L1", "cam-p", None),
            _listing("mercadolivre-1", "L2", "ACME-ONLY", None),  # acme's SKU, not ours
            _listing("mercadolivre-2", "L3", "CAM-P", None),
            _listing("mercadolivre-2", "L4", None, "7891"),  # the default tenant's GTIN
            _listing("mercadolivre-2", "L5", None, "7892"),
        ]
    )
    upsert.write(engine, [*mine[:2], *theirs[:2], listings])

    result = dg.materialize(
        [listing_links], resources={"warehouse": WarehouseResource(url=warehouse_url)}
    )
    assert result.success
    with engine.connect() as conn:
        links = {
            r.listing_id: (r.tenant, r.sku, r.method)
            for r in conn.execute(sa.select(schema.listing_links))
        }
    assert links == {
        "L1": ("default", "CAM-P", "seller_sku"),
        "L3": ("acme", "CAM-P", "seller_sku"),
        "L5": ("acme", "CAM-P", "gtin"),
    }
    meta = result.asset_materializations_for_node("listing_links")[0].metadata
    assert meta["unmatched_listings"].value == 2

    # A manual link is made in the store's tenant's catalog too.
    set_manual_link(engine, "mercadolivre-2", "L4", "", "ACME-ONLY")
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(schema.listing_links).where(schema.listing_links.c.listing_id == "L4")
        ).one()
    assert (row.tenant, row.sku, row.method) == ("acme", "ACME-ONLY", "manual")
