"""Orders and order lines, partitioned by business date × store."""

from collections import defaultdict
from datetime import date

import dagster as dg

from synchub_pipelines.defs.common import OWNERS, resolve_store
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.orders.shards import (
    ShardJob,
    backfill_processes,
    plan_shards,
    sync_orders_sharded,
)
from synchub_pipelines.defs.orders.sync import SyncStats, day_windows
from synchub_pipelines.defs.partitions import order_partitions
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.engine import is_postgres

GROUP = "orders"


def dates_by_store(context: dg.AssetExecutionContext) -> dict[str, list[date]]:
    """The run's partitions, grouped: store → business dates (one run covers many)."""
    grouped: dict[str, list[date]] = defaultdict(list)
    for key in context.partition_keys:
        multi = (
            key
            if isinstance(key, dg.MultiPartitionKey)
            else order_partitions.get_partition_key_from_str(key)
        )
        dims = multi.keys_by_dimension
        grouped[dims["store"]].append(date.fromisoformat(dims["date"]))
    return dict(grouped)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "orders",
            group_name=GROUP,
            kinds={"python", "sql"},
            owners=OWNERS,
            description=(
                "One row per store × order (`orders`): normalized status beside the raw one, "
                "UTC instants, the local business date, amounts with currency, a hashed buyer "
                "id. Partitioned by business date (store's time zone) × store."
            ),
            tags={"domain": "orders"},
        ),
        dg.AssetSpec(
            "order_items",
            group_name=GROUP,
            kinds={"python", "sql"},
            owners=OWNERS,
            description="One row per order line (`order_items`), with listing, SKU and fee.",
            tags={"domain": "orders"},
        ),
    ],
    partitions_def=order_partitions,
    # Backfills run many days × stores per run instead of one run per partition.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=400),
    pool="marketplace_api",
)
def orders(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
):  # type: ignore[no-untyped-def]
    engine = warehouse.engine()
    totals: dict[str, int] = defaultdict(int)
    per_store = {}
    for store_id, dates in sorted(dates_by_store(context).items()):
        store = resolve_store(warehouse, store_id)
        client_class, app = marketplaces.client_parts(store)
        processes = backfill_processes() if is_postgres(engine) else 1
        shards = plan_shards(
            day_windows(store, dates), getattr(client_class, "max_window_days", 1), processes
        )
        stats = sync_orders_sharded(
            [
                ShardJob(
                    client_class=client_class,
                    app=app,
                    store=store,
                    warehouse_url=warehouse.url,
                    secret_key=warehouse.fernet_key(),
                    buyer_salt=warehouse.buyer_salt,
                    windows=tuple(shard),
                    by="created",
                )
                for shard in shards
            ]
        )
        context.log.info(
            f"{store_id}: {stats.orders} orders over {len(dates)} days, "
            f"{stats.orders_per_second:.0f} orders/s in {len(shards)} process(es), "
            f"{stats.rejected} quarantined"
        )
        report_partitions(context, store_id, dates, stats)
        totals["orders"] += stats.orders
        totals["items"] += stats.items
        totals["rejected"] += stats.rejected
        totals["orders_changed"] += stats.changed.get("orders", 0)
        totals["items_changed"] += stats.changed.get("order_items", 0)
        per_store[store_id] = {"orders": stats.orders, "days": len(dates)}
    # Run-wide figures under names that say so; each partition's own counts are its
    # `dagster/row_count` (report_partitions).
    common = {
        "warehouse": dg.MetadataValue.text(warehouse.display_url),
        "run_stores": dg.MetadataValue.json(per_store),
        "run_partitions": dg.MetadataValue.int(len(context.partition_keys)),
        "run_rejected_records": dg.MetadataValue.int(totals["rejected"]),
    }
    yield dg.MaterializeResult(
        asset_key="orders",
        metadata={
            **common,
            "run_orders": dg.MetadataValue.int(totals["orders"]),
            "run_rows_changed": dg.MetadataValue.int(totals["orders_changed"]),
        },
    )
    yield dg.MaterializeResult(
        asset_key="order_items",
        metadata={
            **common,
            "run_order_lines": dg.MetadataValue.int(totals["items"]),
            "run_rows_changed": dg.MetadataValue.int(totals["items_changed"]),
        },
    )


def report_partitions(
    context: dg.AssetExecutionContext, store_id: str, dates: list[date], stats: SyncStats
) -> None:
    """Each (date × store) partition's own figures: a day with no sale shows 0, not the
    run's total."""
    for day in dates:
        key = str(dg.MultiPartitionKey({"date": day.isoformat(), "store": store_id}))
        for asset, count in (
            ("orders", stats.orders_per_date.get(day, 0)),
            ("order_items", stats.items_per_date.get(day, 0)),
        ):
            context.add_asset_metadata(
                {"dagster/row_count": dg.MetadataValue.int(count)},
                asset_key=asset,
                partition_key=key,
            )
