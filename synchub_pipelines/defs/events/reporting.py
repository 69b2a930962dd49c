"""Tells the asset catalog which `orders` partitions a run outside the asset wrote.

Event, poll and reconciliation runs are op jobs (one cheap step, no partition fan-out),
so they log an `AssetMaterialization` per (business date × store) they touched: the UI
then shows each partition with its latest write and the run that made it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

from synchub_pipelines.defs.partitions import order_date_partitions
from synchub_pipelines.defs.stores.assets import sync_store_partitions
from synchub_pipelines.models import Order

ORDER_ASSETS = ("orders", "order_items")


def report_order_partitions(
    context: dg.OpExecutionContext | dg.AssetExecutionContext,
    store_id: str,
    orders: Iterable[Order],
    source: str,
    extra: Mapping[str, Any] | None = None,
) -> list[str]:
    """Log a materialization of `orders` and `order_items` for each partition touched;
    returns the partition keys. Days before the partitions' start are written but have
    no partition to show."""
    per_day = Counter(o.business_date.isoformat() for o in orders if o.store_id == store_id)
    if not per_day:
        return []
    first_day = order_date_partitions.get_first_partition_key()
    days = sorted(d for d in per_day if first_day is None or d >= first_day)
    # The run may be the first to see this store (a webhook before any backfill).
    sync_store_partitions(context.instance, [store_id])
    keys = []
    for day in days:
        key = dg.MultiPartitionKey({"date": day, "store": store_id})
        keys.append(str(key))
        for asset in ORDER_ASSETS:
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=asset,
                    partition=key,
                    description=f"{per_day[day]} order(s) written by {source}",
                    metadata={
                        "source": dg.MetadataValue.text(source),
                        "orders_written": dg.MetadataValue.int(per_day[day]),
                        **(extra or {}),
                    },
                )
            )
    return keys
