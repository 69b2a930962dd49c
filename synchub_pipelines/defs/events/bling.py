"""Bling notifications → a refresh of the central catalog and stock.

Bling is the catalog of record, not a store: its events (`stock.*`, `product.*`,
`order.*` — an ERP order moves stock) say that the central catalog or its stock changed.
One refresh reads the whole of it (a few requests a second under Bling's 3/s quota), so a
tick's events, however many, become at most one run: `central_stock` alone for stock and
order events, `central_products` with it when a product changed.

Events are marked processed when their run is requested. The refresh is a full,
idempotent read of the catalog, so a run that fails loses no information: the next
event's run, or the hourly catalog schedule, reads the same state again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.schema import webhook_events as events

MAX_EVENTS_PER_TICK = 20_000

catalog_refresh_job = dg.define_asset_job(
    "catalog_refresh_job",
    selection=dg.AssetSelection.assets("central_products", "central_stock"),
    description="Re-read the central catalog and its stock from their source (Bling or file).",
    tags={"synchub/marketplace": "bling"},
    # Launched every few seconds while Bling notifies: its steps share the run's process
    # rather than each starting an interpreter that imports the code location again.
    executor_def=dg.in_process_executor,
)


def _pending_bling_events(engine: sa.Engine, after_seq: int) -> list[tuple[int, str]]:
    query = (
        sa.select(events.c.seq, events.c.topic)
        .where(
            events.c.marketplace == "bling",
            events.c.state == "pending",
            events.c.seq > after_seq,
        )
        .order_by(events.c.seq)
        .limit(MAX_EVENTS_PER_TICK)
    )
    with engine.connect() as conn:
        return [(int(seq), str(topic)) for seq, topic in conn.execute(query)]


def _settle(engine: sa.Engine, first: int, last: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(events)
            .where(
                events.c.marketplace == "bling",
                events.c.state == "pending",
                events.c.seq.between(first, last),
            )
            .values(state="processed", processed_at=datetime.now(UTC), last_error=None)
        )


@dg.sensor(
    job=catalog_refresh_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Turns Bling's webhook events (stock, product, order changes) into one refresh of "
        "`central_stock` (and `central_products` when a product changed) per tick. With the "
        "catalog kept in a file, Bling events are settled without a run."
    ),
)
def bling_events_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, catalog: CatalogResource
) -> dg.SensorResult | dg.SkipReason:
    engine = warehouse.engine()
    cursor = int(context.cursor) if context.cursor else 0
    pending = _pending_bling_events(engine, cursor)
    if not pending:
        return dg.SkipReason(f"no pending Bling events past seq {cursor}")
    seqs = [seq for seq, _ in pending]
    first, last = seqs[0], seqs[-1]
    requests = []
    if catalog.source == "bling":
        selection = [dg.AssetKey("central_stock")]
        if any(topic.startswith("product.") for _, topic in pending):
            selection.insert(0, dg.AssetKey("central_products"))
        requests.append(
            dg.RunRequest(
                run_key=f"bling-events:{first}-{last}",
                asset_selection=selection,
                tags={"synchub/bling_events": f"{first}-{last}"},
            )
        )
        context.log.info(
            f"{len(seqs)} Bling event(s) → refresh "
            + ", ".join(k.to_user_string() for k in selection)
        )
    else:
        context.log.info(f"{len(seqs)} Bling event(s) settled: the catalog source is a file")
    _settle(engine, first, last)
    return dg.SensorResult(run_requests=requests, cursor=str(last))


@dg.schedule(
    job=catalog_refresh_job,
    cron_schedule="17 * * * *",
    execution_timezone="America/Sao_Paulo",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        "Hourly re-read of the central catalog and stock: the floor under Bling's webhooks "
        "(and the only refresh when the catalog is a file)."
    ),
)
def catalog_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat())
