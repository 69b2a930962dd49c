"""The central catalog: the merchant's SKUs, kits and stock on hand (source of truth)."""

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.catalog.source import CatalogResource, category_batch
from synchub_pipelines.defs.common import OWNERS, quarantine, write_metadata
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse import schema, upsert
from synchub_pipelines.warehouse.rows import product_batches, stock_batch

GROUP = "catalog"


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    description=(
        "Central catalog: one row per SKU (variations included) in `central_products`, kit "
        "compositions in `product_components`, and — from Bling — its category tree in "
        "`categories`. Source: the merchant's catalog file or Bling (SYNCHUB_CATALOG_SOURCE)."
    ),
    tags={"domain": "catalog"},
)
def central_products(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    snapshot = catalog.read_catalog(warehouse)
    if not snapshot.products:
        raise dg.Failure(
            f"the catalog at {snapshot.location} has no valid product; nothing was changed",
            metadata={"rejected_records": len(snapshot.rejects)},
        )
    products, components, prune = product_batches(snapshot.products, snapshot.components)
    batches = [products, components]
    if snapshot.categories:
        batches.append(category_batch(snapshot.categories, snapshot.source))
    with warehouse.engine().begin() as conn:
        changed = upsert.write(conn, batches, [prune])
        if snapshot.categories:
            # The source's tree is whole: a category deleted there goes here too.
            current = [n.category_id for n in snapshot.categories]
            gone = conn.execute(
                sa.delete(schema.categories).where(
                    schema.categories.c.source == snapshot.source,
                    schema.categories.c.category_id.not_in(current),
                )
            )
            changed["categories_deleted"] = gone.rowcount
    rejected = quarantine(warehouse, snapshot.rejects, context)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "central_products",
            len(snapshot.products),
            changed,
            rejected,
            kits=len({c.kit_sku for c in snapshot.components}),
            categories=len(snapshot.categories),
            source=dg.MetadataValue.text(f"{snapshot.source} ({snapshot.location})"),
        )
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[central_products],
    description=(
        "Stock on hand per SKU and warehouse (`central_stock`), from the catalog source "
        "(the file's on_hand column, or Bling's physical balance per deposit)."
    ),
    tags={"domain": "catalog"},
)
def central_stock(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    snapshot = catalog.read_stock(warehouse)
    changed = upsert.write(warehouse.engine(), [stock_batch(snapshot.stock)])
    rejected = quarantine(warehouse, snapshot.rejects, context)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "central_stock",
            len(snapshot.stock),
            changed,
            rejected,
            units_on_hand=sum(s.on_hand for s in snapshot.stock),
            skus_out_of_stock=sum(1 for s in snapshot.stock if s.on_hand == 0),
            source=dg.MetadataValue.text(snapshot.source),
        )
    )
