"""The webhook sensor: new events by cursor → one run per store per tick."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.events.event_log import due_events, group_by_store, new_events
from synchub_pipelines.defs.events.process import store_events_job
from synchub_pipelines.defs.partitions import STORES, store_partitions
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.warehouse.schema import webhook_events
from synchub_pipelines.warehouse.stores import load_stores
from synchub_pipelines.webhooks.store import release_quarantined

# Bounds one tick's work (and a run's config); a larger backlog drains over a few ticks.
MAX_EVENTS_PER_TICK = 20_000
# Dagster's sensor daemon loops every 5 s and skips a sensor whose last tick began less than
# its minimum ago. A minimum equal to the loop skips every other loop (ticks ~10 s apart, as
# measured by benchmarks/e2e_latency.py), so the default sits below it: a tick every loop.
SENSOR_INTERVAL_SECONDS = int(os.environ.get("SYNCHUB_EVENTS_SENSOR_INTERVAL", "").strip() or "1")


def _cursor(raw: str | None) -> int:
    return int(raw) if raw else 0


@dg.sensor(
    job=store_events_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Reads webhook events past its cursor (the last `seq` handed out) and due retries, "
        "and launches one `store_events_job` run per store for its batch. Run keys name the "
        "store and seq range, so a re-evaluated tick launches nothing twice. Adds a `stores` "
        "partition for a connected store seen here first."
    ),
)
def webhook_events_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    engine = warehouse.engine()
    cursor = _cursor(context.cursor)
    marketplace_of = {s.store_id: s.marketplace.value for s in load_stores(engine)}
    _release_connected(context, engine, set(marketplace_of))
    new = new_events(engine, cursor, MAX_EVENTS_PER_TICK)
    due = due_events(engine, cursor, datetime.now(UTC), MAX_EVENTS_PER_TICK)
    if not new and not due:
        return dg.SkipReason(f"no pending webhook events past seq {cursor}")
    batches = group_by_store(new, due)

    partitioned = set(context.instance.get_dynamic_partitions(STORES))
    unpartitioned = sorted(
        b.store_id
        for b in batches
        if b.store_id in marketplace_of and b.store_id not in partitioned
    )
    requests = []
    for batch in batches:
        tags = {"synchub/store": batch.store_id}
        if batch.store_id in marketplace_of:
            tags["synchub/marketplace"] = marketplace_of[batch.store_id]
        requests.append(
            dg.RunRequest(
                run_key=batch.run_key,
                run_config=dg.RunConfig(
                    ops={
                        "process_store_events": {
                            "config": {"store_id": batch.store_id, "seqs": batch.seqs}
                        }
                    }
                ),
                tags=tags,
            )
        )
    context.log.info(
        f"{len(new)} new and {len(due)} due event(s) → {len(requests)} run(s): "
        + ", ".join(f"{b.store_id}×{len(b.seqs)}" for b in batches)
    )
    return dg.SensorResult(
        run_requests=requests,
        cursor=str(max([cursor] + [e.seq for e in new])),
        dynamic_partitions_requests=(
            [store_partitions.build_add_request(unpartitioned)] if unpartitioned else []
        ),
    )


def _release_connected(
    context: dg.SensorEvaluationContext, engine: sa.Engine, connected: set[str]
) -> None:
    """Events quarantined while their store was not connected yet become pending now.

    Marketplaces notify from the moment a seller grants access, often before `synchub
    connect` has written the store; the receiver keeps those events quarantined rather
    than refusing them. Released events draw new seqs, so this tick's read picks them up.
    """
    with engine.connect() as conn:
        waiting = set(
            conn.execute(
                sa.select(webhook_events.c.store_id)
                .where(webhook_events.c.state == "quarantined")
                .distinct()
            ).scalars()
        )
    for store_id in sorted(waiting & connected):
        released = release_quarantined(engine, store_id)
        context.log.info(f"{store_id} is connected now: released {released} quarantined event(s)")
