"""Listings of every connected store, and their links to central SKUs.

A listing links only to a SKU of its store's tenant: two merchants with the same SKU code
sell different stock, so matching across tenants would pool it.
"""

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.catalog.assets import central_products
from synchub_pipelines.defs.common import OWNERS, quarantine, resolve_store, write_metadata
from synchub_pipelines.defs.listings.linking import LinkResult, ListingRef, link_listings
from synchub_pipelines.defs.listings.vanished import close_vanished
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.partitions import store_partitions
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stores.tenants import DEFAULT_TENANT
from synchub_pipelines.models import LinkMethod
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import link_batch, listing_batch
from synchub_pipelines.warehouse.schema import central_products as products_table
from synchub_pipelines.warehouse.schema import listing_links as links_table
from synchub_pipelines.warehouse.schema import listings as listings_table
from synchub_pipelines.warehouse.stores import store_tenants

GROUP = "listings"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    partitions_def=store_partitions,
    pool="marketplace_api",
    description=(
        "Every listing of a store, one row per listing × variation (`listings`), with the "
        "seller SKU, GTIN, price and published quantity. Partitioned by store."
    ),
    tags={"domain": "listings"},
)
def listings(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    store = resolve_store(warehouse, context.partition_key)
    client = marketplaces.client_for(store, warehouse)
    engine = warehouse.engine()
    started = datetime.now(UTC)
    returned = rejected = 0
    seen: set[tuple[str, str]] = set()
    quarantined: set[str] = set()  # a malformed listing is still listed: not taken for gone
    changed: dict[str, int] = {}
    try:
        for page in client.iter_listings():
            returned += len(page.records)
            seen.update((x.listing_id, x.variation_id) for x in page.records)
            quarantined.update(r.record_key for r in page.rejects)
            for table, count in upsert.write(engine, [listing_batch(page.records)]).items():
                changed[table] = changed.get(table, 0) + count
            rejected += quarantine(warehouse, page.rejects, context)
    finally:
        client.close()
    gone = close_vanished(engine, store.store_id, seen, started, quarantined)
    if gone:
        changed["listings"] = changed.get("listings", 0) + gone
        context.log.warning(
            f"{store.store_id}: {gone} listing(s) the marketplace no longer lists were closed "
            "(no stock is pushed to them)"
        )
    metadata = write_metadata(
        warehouse, "listings", returned, changed, rejected, store=store.store_id
    )
    metadata["listings_closed_as_gone"] = dg.MetadataValue.int(gone)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[listings, central_products],
    # Re-linked whenever a store's listings or the catalog change (the automation sensor).
    automation_condition=dg.AutomationCondition.eager(),
    description=(
        "Each listing variation bound to exactly one central SKU of its store's tenant "
        "(`listing_links`): manual links first, then seller SKU, then GTIN. Unmatched "
        "listings are reported, never guessed. Runs by itself whenever listings or the "
        "catalog change."
    ),
    tags={"domain": "listings"},
)
def listing_links(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    engine = warehouse.engine()
    with engine.connect() as conn:
        refs = [
            ListingRef(**row)
            for row in conn.execute(
                sa.select(
                    listings_table.c.store_id,
                    listings_table.c.listing_id,
                    listings_table.c.variation_id,
                    listings_table.c.seller_sku,
                    listings_table.c.gtin,
                    listings_table.c.title,
                )
            ).mappings()
        ]
        products = conn.execute(
            sa.select(products_table.c.tenant, products_table.c.sku, products_table.c.gtin)
        ).all()
        manual = {
            (r.store_id, r.listing_id, r.variation_id): r.sku
            for r in conn.execute(
                sa.select(links_table).where(links_table.c.method == LinkMethod.MANUAL.value)
            )
        }
    tenant_of = store_tenants(engine)
    by_tenant: dict[str, list[ListingRef]] = defaultdict(list)
    for ref in refs:
        by_tenant[tenant_of.get(ref.store_id, DEFAULT_TENANT)].append(ref)
    catalogs: dict[str, list[Any]] = defaultdict(list)
    for product in products:
        catalogs[product.tenant].append(product)
    result = LinkResult()
    for tenant, tenant_refs in sorted(by_tenant.items()):
        catalog = catalogs.get(tenant, [])
        linked_here = link_listings(
            tenant_refs,
            [p.sku for p in catalog],
            {p.gtin: p.sku for p in catalog if p.gtin},
            manual,
        )
        result.links += linked_here.links
        result.unmatched += linked_here.unmatched
    with engine.begin() as conn:
        changed = upsert.write(conn, [link_batch(result.links, tenant_of)])
        # Automatic links whose listing went away or stopped matching are dropped.
        linked = {(x.store_id, x.listing_id, x.variation_id) for x in result.links}
        stale = [
            r
            for r in conn.execute(
                sa.select(
                    links_table.c.store_id, links_table.c.listing_id, links_table.c.variation_id
                )
            )
            if tuple(r) not in linked
        ]
        for r in stale:
            conn.execute(
                links_table.delete().where(
                    links_table.c.store_id == r.store_id,
                    links_table.c.listing_id == r.listing_id,
                    links_table.c.variation_id == r.variation_id,
                )
            )
    changed["listing_links"] = changed.get("listing_links", 0) + len(stale)
    by_method: dict[str, int] = {}
    for link in result.links:
        by_method[link.method.value] = by_method.get(link.method.value, 0) + 1
    unmatched_md = "\n".join(
        ["| store | listing | variation | title | why |", "|---|---|---|---|---|"]
        + [
            f"| {r.store_id} | {r.listing_id} | {r.variation_id or '—'} | {r.title} | {why} |"
            for r, why in result.unmatched[:50]
        ]
    )
    if result.unmatched:
        context.log.warning(f"{len(result.unmatched)} listing variations are not linked to a SKU")
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "listing_links",
            len(result.links),
            changed,
            links_by_method=dg.MetadataValue.json(by_method),
            unmatched_listings=dg.MetadataValue.int(len(result.unmatched)),
            unmatched_sample=dg.MetadataValue.md(unmatched_md),
        )
    )
