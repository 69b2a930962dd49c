"""Daily reconciliation: what the API lists against what the warehouse holds, per store.

Webhooks get lost (the marketplace gives up retrying, a subscription is disabled, the
receiver was down); polls can miss an update indexed late. Once a day each store's orders
updated in the last 48 hours (or more) are listed by the API and compared with the
warehouse; the missing and the stale are written, and every repair is recorded in
`reconciliation_repairs`. Repairs mean the incremental paths lost something: the asset
check turns yellow so an operator sees it.
"""

# No `from __future__ import annotations`: Dagster reads the asset's config type at runtime.

from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.common import OWNERS, resolve_store
from synchub_pipelines.defs.events.changes import OrderDiff, diff_orders, read_updated_orders
from synchub_pipelines.defs.events.reporting import report_order_partitions
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.orders.sync import upsert_orders
from synchub_pipelines.defs.partitions import store_partitions
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.store_schedules import per_store_schedule
from synchub_pipelines.models import Marketplace, Store
from synchub_pipelines.warehouse.schema_events import reconciliation_repairs, reconciliation_runs

CHECK_NAME = "no_orders_lost"

# How far behind "now" an API's listing is complete. Amazon's getOrders refuses bounds
# later than two minutes ago.
WINDOW_END_LAG = {Marketplace.AMAZON: timedelta(minutes=2)}


def reconciliation_window(
    store: Store, now: datetime, lookback: timedelta
) -> tuple[datetime, datetime]:
    end = now - WINDOW_END_LAG.get(store.marketplace, timedelta(0))
    return end - lookback, end


class ReconciliationConfig(dg.Config):
    lookback_hours: float = Field(
        default=48.0, ge=48.0, description="Orders updated this far back are compared (≥ 48 h)"
    )


def record(
    engine: Engine,
    run_id: str,
    store_id: str,
    window: tuple[datetime, datetime],
    listed: int,
    diff: OrderDiff,
    rejected: int,
    at: datetime,
) -> None:
    """The run's summary and one row per repaired order, replacing what a re-execution of
    the same run wrote."""
    repairs = [
        {
            "run_id": run_id,
            "store_id": store_id,
            "order_id": order.order_id,
            "reason": reason,
            "api_updated_at": order.updated_at,
            "warehouse_updated_at": diff.warehouse_updated_at.get(order.order_id),
            "business_date": order.business_date,
            "repaired_at": at,
        }
        for reason, orders in (("missing", diff.missing), ("stale", diff.stale))
        for order in orders
    ]
    mine = {"run_id": run_id, "store_id": store_id}
    with engine.begin() as conn:
        for table in (reconciliation_repairs, reconciliation_runs):
            conn.execute(
                sa.delete(table).where(table.c.run_id == run_id, table.c.store_id == store_id)
            )
        conn.execute(
            sa.insert(reconciliation_runs).values(
                **mine,
                window_start=window[0],
                window_end=window[1],
                api_orders=listed,
                missing_orders=len(diff.missing),
                stale_orders=len(diff.stale),
                rejected_orders=rejected,
                reconciled_at=at,
            )
        )
        if repairs:
            conn.execute(sa.insert(reconciliation_repairs), repairs)


@dg.asset(
    group_name="events",
    kinds={"python", "sql"},
    owners=OWNERS,
    partitions_def=store_partitions,
    pool="marketplace_api",
    deps=["orders"],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset="order_reconciliation",
            description=(
                "Warns when reconciliation had to write orders: webhooks or polls lost them."
            ),
        )
    ],
    description=(
        "Per store, daily: the orders the API lists as updated in the last 48 h compared "
        "with `orders`; missing and stale ones are written and recorded in "
        "`reconciliation_runs` / `reconciliation_repairs`. Partitioned by store."
    ),
    tags={"domain": "events"},
)
def order_reconciliation(
    context: dg.AssetExecutionContext,
    config: ReconciliationConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
):  # type: ignore[no-untyped-def]
    engine = warehouse.engine()
    store = resolve_store(warehouse, context.partition_key)
    started = datetime.now(UTC)
    window = reconciliation_window(store, started, timedelta(hours=config.lookback_hours))
    client = marketplaces.client_for(store, warehouse)
    try:
        listed, rejects = read_updated_orders(client, *window)
    finally:
        client.close()
    diff = diff_orders(engine, store.store_id, listed)
    changed = upsert_orders(engine, diff.to_write, rejects)
    record(
        engine, context.run.run_id, store.store_id, window, len(listed), diff, len(rejects), started
    )
    partitions = report_order_partitions(
        context, store.store_id, diff.to_write, source="reconciliation"
    )
    repaired = len(diff.to_write)
    if repaired:
        context.log.warning(
            f"{store.store_id}: reconciliation wrote {len(diff.missing)} missing and "
            f"{len(diff.stale)} stale order(s) that webhooks and polls did not deliver"
        )
    sample = [o.order_id for o in diff.to_write[:20]]
    yield dg.MaterializeResult(
        metadata={
            "window_start": dg.MetadataValue.text(window[0].isoformat()),
            "window_end": dg.MetadataValue.text(window[1].isoformat()),
            "api_orders": dg.MetadataValue.int(len(listed)),
            "missing_orders": dg.MetadataValue.int(len(diff.missing)),
            "stale_orders": dg.MetadataValue.int(len(diff.stale)),
            "rejected_records": dg.MetadataValue.int(len(rejects)),
            "rows_changed": dg.MetadataValue.json(changed),
            "order_partitions": dg.MetadataValue.json(partitions),
        }
    )
    yield dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=repaired == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "nothing to repair"
            if not repaired
            else f"{repaired} order(s) had been lost by the incremental sync"
        ),
        metadata={
            "missing_orders": dg.MetadataValue.int(len(diff.missing)),
            "stale_orders": dg.MetadataValue.int(len(diff.stale)),
            "repaired_order_ids_sample": dg.MetadataValue.json(sample),
        },
    )


order_reconciliation_job = dg.define_asset_job(
    "order_reconciliation_job",
    selection=dg.AssetSelection.assets(order_reconciliation),
    description="Reconciles one store's recent orders with its API.",
)


order_reconciliation_schedule = per_store_schedule(
    "order_reconciliation_schedule",
    order_reconciliation_job,
    "0 4 * * *",
    "Every night at 04:00 (São Paulo), one reconciliation run per connected store.",
    execution_timezone="America/Sao_Paulo",
)
