"""The facts the order pages do not carry: settled money (fees, payouts, refunds) and
shipments, re-read per store until each order settles (see `refresh.py`)."""

# No `from __future__ import annotations`: Dagster reads the config type at runtime.

from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from synchub_pipelines.defs.common import OWNERS, quarantine, resolve_store, write_metadata
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.orders.refresh import (
    DEFAULT_FACTS_PER_RUN,
    DEFAULT_SETTLEMENT_DAYS,
    orders_to_refresh,
    refresh_backlog,
)
from synchub_pipelines.defs.partitions import store_partitions
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.marketplaces.base import chunked
from synchub_pipelines.models import OrderStatus
from synchub_pipelines.warehouse.order_facts import write_order_facts
from synchub_pipelines.warehouse.schema import orders as orders_table

GROUP = "orders"
FACTS_PER_CALL = 50
ORDERS_BY_STORE = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="store")


class OrderFactsConfig(dg.Config):
    max_orders: int | None = Field(
        default=None,
        description="Orders to re-read in this run (default: the marketplace's budget per run)",
    )
    reread_hours: float = Field(
        default=6.0, description="An unsettled order is re-read at most this often"
    )


def _settled_share(warehouse: WarehouseResource, store_id: str) -> dict[str, int]:
    o = orders_table
    query = sa.select(
        sa.func.count().label("paid"),
        sa.func.count(o.c.fee_amount).label("with_fees"),
        sa.func.count(o.c.payout_amount).label("with_payout"),
        sa.func.sum(sa.case((o.c.fees_final, 1), else_=0)).label("settled"),
    ).where(o.c.store_id == store_id, o.c.status != OrderStatus.PENDING.value)
    with warehouse.engine().connect() as conn:
        row = conn.execute(query).one()
    return {k: int(v or 0) for k, v in row._mapping.items()}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "shipments",
            group_name=GROUP,
            kinds={"python", "sql"},
            owners=OWNERS,
            deps=[dg.AssetDep("orders", partition_mapping=ORDERS_BY_STORE)],
            description=(
                "One row per store × shipment (package) (`shipments`): carrier, tracking, "
                "logistic mode, normalized and raw status, ship-by deadline, shipped and "
                "delivered instants, buyer city/state. Order pages fill what they carry; "
                "this refresh reads the rest until every package has arrived."
            ),
            tags={"domain": "orders"},
        ),
        dg.AssetSpec(
            "order_fees",
            group_name=GROUP,
            kinds={"python", "sql"},
            owners=OWNERS,
            deps=[dg.AssetDep("orders", partition_mapping=ORDERS_BY_STORE)],
            description=(
                "Settled money per order: every marketplace charge by its own name "
                "(`order_fees`), and on `orders` the fee, seller shipping cost, refund, "
                "payout and `fees_final`. Unsettled orders are re-read until they settle."
            ),
            tags={"domain": "orders"},
        ),
    ],
    partitions_def=store_partitions,
    pool="marketplace_api",
)
def order_facts(
    context: dg.AssetExecutionContext,
    config: OrderFactsConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
):  # type: ignore[no-untyped-def]
    store = resolve_store(warehouse, context.partition_key)
    engine = warehouse.engine()
    client = marketplaces.client_for(store, warehouse)
    settlement_days = int(getattr(client, "settlement_days", DEFAULT_SETTLEMENT_DAYS))
    budget = config.max_orders or int(getattr(client, "facts_per_run", DEFAULT_FACTS_PER_RUN))
    now = datetime.now(UTC)
    refs = orders_to_refresh(
        engine,
        store.store_id,
        now,
        settlement_days,
        timedelta(hours=config.reread_hours),
        budget,
    )
    changed: Counter[str] = Counter()
    read = rejected = settled = 0
    shipment_states: Counter[str] = Counter()
    try:
        for chunk in chunked(refs, FACTS_PER_CALL):
            page = client.get_order_facts(chunk)
            never_ship = {r.order_id for r in chunk if r.status == OrderStatus.CANCELLED}
            changed.update(write_order_facts(engine, page.records, datetime.now(UTC), never_ship))
            rejected += quarantine(warehouse, page.rejects, context)
            read += len(page.records)
            settled += sum(
                1 for f in page.records if f.settlement is not None and f.settlement.fees_final
            )
            shipment_states.update(s.status.value for f in page.records for s in f.shipments)
    finally:
        client.close()
    backlog = refresh_backlog(engine, store.store_id, datetime.now(UTC), settlement_days)
    share = _settled_share(warehouse, store.store_id)
    context.log.info(
        f"{store.store_id}: {read} of {len(refs)} orders re-read, {settled} settled; "
        f"{backlog} still waiting (budget {budget} per run)"
    )
    common = {
        "store": dg.MetadataValue.text(store.store_id),
        "orders_reread": dg.MetadataValue.int(read),
        "orders_asked": dg.MetadataValue.int(len(refs)),
        "budget_per_run": dg.MetadataValue.int(budget),
        "settlement_days": dg.MetadataValue.int(settlement_days),
        "still_waiting": dg.MetadataValue.int(backlog),
    }
    yield dg.MaterializeResult(
        asset_key="shipments",
        metadata=write_metadata(
            warehouse,
            "shipments",
            sum(shipment_states.values()),
            {"shipments": changed.get("shipments", 0), "orders": changed.get("orders", 0)},
            rejected,
            **common,
            shipments_by_status=dg.MetadataValue.json(dict(shipment_states)),
        ),
    )
    yield dg.MaterializeResult(
        asset_key="order_fees",
        metadata=write_metadata(
            warehouse,
            "order_fees",
            read,
            {k: v for k, v in changed.items() if k in {"order_fees", "orders", "order_items"}},
            rejected,
            **common,
            settled_in_this_run=dg.MetadataValue.int(settled),
            paid_orders=dg.MetadataValue.int(share["paid"]),
            with_fee_amount=dg.MetadataValue.int(share["with_fees"]),
            with_payout_amount=dg.MetadataValue.int(share["with_payout"]),
            fees_final=dg.MetadataValue.int(share["settled"]),
        ),
    )
