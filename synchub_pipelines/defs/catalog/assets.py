"""The central catalog: the merchant's SKUs, kits and stock on hand (source of truth)."""

from pathlib import Path

import dagster as dg

from synchub_pipelines.defs.catalog.catalog_file import CatalogFileError, load_catalog
from synchub_pipelines.defs.common import OWNERS, quarantine, write_metadata
from synchub_pipelines.defs.resources import CatalogFileResource, WarehouseResource
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import product_batches, stock_batch

GROUP = "catalog"


def _load(catalog_file: CatalogFileResource):  # type: ignore[no-untyped-def]
    try:
        return load_catalog(Path(catalog_file.path))
    except CatalogFileError as exc:
        raise dg.Failure(str(exc)) from None


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    description=(
        "Central catalog: one row per SKU (variations included) in `central_products`, kit "
        "compositions in `product_components`. Source: the merchant's catalog file."
    ),
    tags={"domain": "catalog"},
)
def central_products(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    catalog_file: CatalogFileResource,
) -> dg.MaterializeResult:
    catalog = _load(catalog_file)
    if not catalog.products:
        raise dg.Failure(
            f"catalog file {catalog_file.path} has no valid product; nothing was changed",
            metadata={"rejected_records": len(catalog.rejects)},
        )
    products, components, prune = product_batches(catalog.products, catalog.components)
    changed = upsert.write(warehouse.engine(), [products, components], [prune])
    rejected = quarantine(warehouse, catalog.rejects, context)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "central_products",
            len(catalog.products),
            changed,
            rejected,
            kits=len({c.kit_sku for c in catalog.components}),
            source=dg.MetadataValue.path(catalog_file.path),
        )
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[central_products],
    description="Stock on hand per SKU and warehouse (`central_stock`), from the catalog source.",
    tags={"domain": "catalog"},
)
def central_stock(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    catalog_file: CatalogFileResource,
) -> dg.MaterializeResult:
    catalog = _load(catalog_file)
    changed = upsert.write(warehouse.engine(), [stock_batch(catalog.stock)])
    total = sum(s.on_hand for s in catalog.stock)
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "central_stock",
            len(catalog.stock),
            changed,
            units_on_hand=total,
            skus_out_of_stock=sum(1 for s in catalog.stock if s.on_hand == 0),
        )
    )
