"""Stock snapshots: what each listing publishes, over time."""

from datetime import UTC, datetime

import dagster as dg

from synchub_pipelines.defs.common import OWNERS, quarantine, resolve_store, write_metadata
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.partitions import store_partitions
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.models import StockSnapshot
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.rows import snapshot_batch


@dg.asset(
    group_name="stock",
    kinds={"python", "sql"},
    owners=OWNERS,
    partitions_def=store_partitions,
    pool="marketplace_api",
    deps=["listings"],
    description=(
        "The quantity every listing variation publishes, read from the marketplace at "
        "snapshot time (`stock_snapshots`, one row per store × listing × variation × time)."
    ),
    tags={"domain": "stock"},
)
def stock_snapshots(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    store = resolve_store(warehouse, context.partition_key)
    client = marketplaces.client_for(store, warehouse)
    # One instant for the whole snapshot, to the second, so a re-run of it rewrites nothing.
    taken_at = datetime.now(UTC).replace(microsecond=0)
    engine = warehouse.engine()
    rows = rejected = units = 0
    changed: dict[str, int] = {}
    try:
        for page in client.iter_listings():
            snapshots = [
                StockSnapshot(
                    store_id=x.store_id,
                    listing_id=x.listing_id,
                    variation_id=x.variation_id,
                    seller_sku=x.seller_sku,
                    available_quantity=x.available_quantity or 0,
                    snapshot_at=taken_at,
                )
                for x in page.records
            ]
            rows += len(snapshots)
            units += sum(s.available_quantity for s in snapshots)
            for table, count in upsert.write(engine, [snapshot_batch(snapshots)]).items():
                changed[table] = changed.get(table, 0) + count
            rejected += quarantine(warehouse, page.rejects, context)
    finally:
        client.close()
    return dg.MaterializeResult(
        metadata=write_metadata(
            warehouse,
            "stock_snapshots",
            rows,
            changed,
            rejected,
            store=store.store_id,
            snapshot_at=dg.MetadataValue.text(taken_at.isoformat()),
            units_published=units,
        )
    )
