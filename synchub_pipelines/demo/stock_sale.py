"""The demo's stock story: a sale on one marketplace lowers the quantity on the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
import httpx
import sqlalchemy as sa

from synchub_pipelines import settings
from synchub_pipelines.warehouse.engine import engine_for

STOCK_ASSETS = ["allocatable_stock", "stock_push_plan", "stock_pushes"]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def show_a_sale(sandbox_url: str, say: Callable[[str], None] = print) -> None:
    """Push stock everywhere, sell on Mercado Livre one unit per channel the SKU is on (so
    every channel's share drops by one), land the order, push again, and print the SKU's
    quantity on every channel before and after."""
    from synchub_pipelines.definitions import defs
    from synchub_pipelines.defs.partitions import order_date_partitions
    from synchub_pipelines.defs.stock.planning import published_within_allocatable

    instance = dg.DagsterInstance.get()
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]

    def materialize(selection: list[str], push: dict[str, Any] | None = None, **kw: Any) -> None:
        run_config = dict(QUIET)
        if push is not None:
            run_config["ops"] = {"stock_pushes": {"config": push}}
        dg.materialize(
            [*assets, published_within_allocatable],
            selection=selection,
            instance=instance,
            resources=dict(defs.resources or {}),
            raise_on_error=True,
            run_config=run_config,
            **kw,
        )

    engine = engine_for(settings.warehouse_url())
    store_ids = list(instance.get_dynamic_partitions("stores"))

    def published(sku: str) -> dict[tuple[str, str, str], int]:
        """What each listing of the SKU publishes, read back from the marketplaces now."""
        for store_id in store_ids:
            materialize(["stock_snapshots"], partition_key=store_id)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT s.store_id, s.listing_id, s.variation_id, s.available_quantity "
                    "FROM stock_snapshots s JOIN stock_push_plan p ON p.store_id = s.store_id "
                    "AND p.listing_id = s.listing_id AND p.variation_id = s.variation_id "
                    "WHERE p.sku = :sku AND s.snapshot_at = (SELECT MAX(snapshot_at) FROM "
                    "stock_snapshots x WHERE x.store_id = s.store_id)"
                ),
                {"sku": sku},
            ).all()
        return {row[:3]: row[3] for row in rows}

    materialize(STOCK_ASSETS)  # every listing gets its share of what is allocatable
    plan_sql = sa.text(
        "SELECT store_id, listing_id, variation_id, target_quantity FROM stock_push_plan "
        "WHERE sku = :sku ORDER BY store_id"
    )
    with engine.connect() as conn:
        sku = conn.execute(
            sa.text(
                "SELECT p.sku FROM stock_push_plan p JOIN stock_push_plan q ON q.sku = p.sku "
                "WHERE p.store_id LIKE 'mercadolivre-%' AND p.target_quantity > 0 "
                "GROUP BY p.sku ORDER BY COUNT(DISTINCT q.store_id) DESC, p.sku LIMIT 1"
            )
        ).scalar_one()
        before = conn.execute(plan_sql, {"sku": sku}).all()
    shown_before = published(sku)
    seller = next(row for row in before if row[0].startswith("mercadolivre-"))
    units = len(before)
    sale: dict[str, Any] = {"item_id": seller[1], "quantity": units}
    if seller[2]:
        sale["variation_id"] = int(seller[2])
    order = httpx.post(f"{sandbox_url}/mercadolivre/_sandbox/sales", json=sale, timeout=30)
    order.raise_for_status()
    say(f"\nstock: sold {units} × {sku} on {seller[0]} (order {order.json()['id']})")
    # The order lands: the event sync does it from the webhook; here, today's partition.
    today = order_date_partitions.get_last_partition_key()
    materialize(
        ["orders", "order_items"],
        partition_key=dg.MultiPartitionKey({"date": today or "", "store": seller[0]}),
    )
    materialize(STOCK_ASSETS, push={"skus": [sku]})
    shown_after = published(sku)
    say("  published on each marketplace, read back from its API (before → after):")
    for key in sorted(shown_before):
        say(f"  {key[0]:<34} {shown_before[key]:>4} → {shown_after.get(key, 0):>4}")
    say("  (every write is audited in stock_pushes)")
