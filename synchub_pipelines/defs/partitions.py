"""Partitions: stores are dynamic (connecting an account adds one); orders are date × store."""

from __future__ import annotations

import dagster as dg

from synchub_pipelines import settings
from synchub_pipelines.models import DEFAULT_TIMEZONE

STORES = "stores"

store_partitions = dg.DynamicPartitionsDefinition(name=STORES)

# Business dates in the merchants' time zone; today's partition is open (end_offset=1) so
# the incremental sync can land today's orders in it.
order_date_partitions = dg.DailyPartitionsDefinition(
    start_date=settings.orders_start_date(),
    timezone=DEFAULT_TIMEZONE,
    end_offset=1,
)

order_partitions = dg.MultiPartitionsDefinition(
    {"date": order_date_partitions, "store": store_partitions}
)
