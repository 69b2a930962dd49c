"""Polling by update time, for marketplaces whose push is not to be relied on (Shopee) or
that has no webhook route here (Amazon: its notifications come through SQS/EventBridge).

Every 5 minutes the schedule launches one run per polled store. The run reads the orders
updated since the store's cursor (`order_poll_cursors.polled_through`) minus an overlap —
late-indexed updates and clock skew between us and the API land inside it —, writes the
new and changed ones, and moves the cursor only once they are written: a failed poll is
simply covered by the next one.
"""

# No `from __future__ import annotations`: Dagster reads the op's config type at runtime.

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.events.changes import diff_orders, read_updated_orders
from synchub_pipelines.defs.events.reporting import report_order_partitions
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.orders.sync import upsert_orders
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.schema_events import order_poll_cursors
from synchub_pipelines.warehouse.stores import load_store, load_stores

POLL_CRON = "*/5 * * * *"


def polled_marketplaces() -> tuple[str, ...]:
    """SYNCHUB_POLL_MARKETPLACES (comma-separated), Shopee and Amazon by default."""
    raw = os.environ.get("SYNCHUB_POLL_MARKETPLACES", "shopee,amazon")
    return tuple(sorted({m.strip() for m in raw.split(",") if m.strip()}))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _cursor_in(conn: sa.Connection, store_id: str) -> datetime | None:
    value = conn.execute(
        sa.select(order_poll_cursors.c.polled_through).where(
            order_poll_cursors.c.store_id == store_id
        )
    ).scalar()
    return None if value is None else _utc(value)


def load_cursor(engine: Engine, store_id: str) -> datetime | None:
    with engine.connect() as conn:
        return _cursor_in(conn, store_id)


def save_cursor(engine: Engine, store_id: str, polled_through: datetime, run_id: str) -> None:
    now = datetime.now(UTC)
    values = {"polled_through": polled_through, "last_run_id": run_id, "updated_at": now}
    with engine.begin() as conn:
        # Never backwards: an older poll finishing late must not undo a newer one.
        updated = conn.execute(
            sa.update(order_poll_cursors)
            .where(
                order_poll_cursors.c.store_id == store_id,
                order_poll_cursors.c.polled_through <= polled_through,
            )
            .values(**values)
        ).rowcount
        if not updated and _cursor_in(conn, store_id) is None:
            conn.execute(sa.insert(order_poll_cursors).values(store_id=store_id, **values))


class PollConfig(dg.Config):
    store_id: str = Field(description="The store to poll")
    overlap_minutes: float = Field(
        default=5.0, description="How far before the cursor each poll starts reading again"
    )
    first_lookback_hours: float = Field(
        default=24.0, description="What a store's first poll reads (backfills cover older)"
    )


@dg.op(
    description=(
        "Reads the orders a store updated since its poll cursor (minus an overlap), writes "
        "the new and changed ones, reports their partitions, then moves the cursor."
    ),
    tags={"domain": "events"},
)
def poll_store_orders(
    context: dg.OpExecutionContext,
    config: PollConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.Output[None]:
    engine = warehouse.engine()
    try:
        store = load_store(engine, config.store_id)
    except (LookupError, ValueError) as exc:
        raise dg.Failure(str(exc)) from None
    assert store is not None
    end = datetime.now(UTC)
    cursor = load_cursor(engine, store.store_id)
    start = (
        cursor - timedelta(minutes=config.overlap_minutes)
        if cursor is not None
        else end - timedelta(hours=config.first_lookback_hours)
    )
    client = marketplaces.client_for(store, warehouse)
    try:
        records, rejects = read_updated_orders(client, start, end)
    finally:
        client.close()
    diff = diff_orders(engine, store.store_id, records)
    changed = upsert_orders(engine, diff.to_write, rejects)
    partitions = report_order_partitions(
        context, store.store_id, diff.to_write, source="polling by update time"
    )
    save_cursor(engine, store.store_id, end, context.run_id)
    context.log.info(
        f"{store.store_id}: {len(records)} order(s) updated in [{start:%H:%M:%S}, "
        f"{end:%H:%M:%S}) UTC, {len(diff.missing)} new, {len(diff.stale)} changed"
    )
    return dg.Output(
        None,
        metadata={
            "window_start": dg.MetadataValue.text(start.isoformat()),
            "window_end": dg.MetadataValue.text(end.isoformat()),
            "orders_listed": dg.MetadataValue.int(len(records)),
            "orders_new": dg.MetadataValue.int(len(diff.missing)),
            "orders_changed": dg.MetadataValue.int(len(diff.stale)),
            "rejected_records": dg.MetadataValue.int(len(rejects)),
            "rows_changed": dg.MetadataValue.json(changed),
            "order_partitions": dg.MetadataValue.json(partitions),
        },
    )


@dg.job(
    description="Polls one store's orders by update time (launched every 5 minutes).",
    executor_def=dg.in_process_executor,
    tags={"domain": "events"},
)
def order_polling_job() -> None:
    poll_store_orders()


@dg.schedule(
    job=order_polling_job,
    cron_schedule=POLL_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Every 5 minutes, one polling run per store of the polled marketplaces "
        "(SYNCHUB_POLL_MARKETPLACES, default shopee,amazon)."
    ),
)
def order_polling_schedule(
    context: dg.ScheduleEvaluationContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> list[dg.RunRequest] | dg.SkipReason:
    polled = polled_marketplaces()
    connected = [s for s in load_stores(warehouse.engine()) if s.marketplace.value in polled]
    # A store whose marketplace has no credentials here would fail every 5 minutes.
    stores = [s for s in connected if marketplaces.is_configured(s.marketplace)]
    if not stores:
        idle = sorted({s.marketplace.value for s in connected})
        why = f" ({', '.join(idle)} not configured here)" if idle else ""
        return dg.SkipReason(f"no connected store of {', '.join(polled)} to poll{why}")
    tick = context.scheduled_execution_time
    stamp = tick.isoformat() if tick else datetime.now(UTC).isoformat()
    return [
        dg.RunRequest(
            run_key=f"poll:{store.store_id}:{stamp}",
            run_config=dg.RunConfig(
                ops={"poll_store_orders": {"config": {"store_id": store.store_id}}}
            ),
            tags={"synchub/store": store.store_id, "synchub/marketplace": store.marketplace.value},
        )
        for store in stores
    ]
