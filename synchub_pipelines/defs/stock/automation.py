"""The fast path and the sweep: a sensor pushes SKUs whose reservations or stock just changed;
a schedule reads every listing back from the APIs and fixes what drifted."""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stock.pushing import stock_push_job
from synchub_pipelines.defs.stock.reads import as_utc
from synchub_pipelines.warehouse.schema import UtcTimestamp

# Rows committed by a slower transaction can carry a `synced_at` a little older than one
# already seen; look back this far and skip what the cursor remembers.
OVERLAP = timedelta(seconds=30)
MAX_SKUS_PER_RUN = 500
# Bound like the stored column, so SQLite compares like with like.
SINCE = sa.bindparam("since", type_=UtcTimestamp)


def _changes_since(conn: Connection, since: datetime) -> list[tuple[str, str, datetime]]:
    """(change key, SKU, synced_at) for order lines and stock rows changed after `since`."""
    lines = conn.execute(
        sa.text(
            "SELECT 'o:' || o.store_id || ':' || o.order_id, COALESCE(k.sku, p.sku), "
            "CASE WHEN o.synced_at > i.synced_at THEN o.synced_at ELSE i.synced_at END "
            "AS changed_at "
            "FROM orders o JOIN order_items i "
            "  ON i.store_id = o.store_id AND i.order_id = o.order_id "
            "LEFT JOIN listing_links k ON k.store_id = i.store_id "
            "  AND k.listing_id = i.listing_id AND k.variation_id = i.variation_id "
            "LEFT JOIN central_products p ON p.sku = i.seller_sku "
            "WHERE o.synced_at > :since OR i.synced_at > :since"
        )
        .bindparams(SINCE)
        .columns(changed_at=UtcTimestamp),
        {"since": since},
    )
    stock = conn.execute(
        sa.text(
            "SELECT 's:' || sku || ':' || warehouse, sku, synced_at AS changed_at "
            "FROM central_stock WHERE synced_at > :since"
        )
        .bindparams(SINCE)
        .columns(changed_at=UtcTimestamp),
        {"since": since},
    )
    found = []
    for key, sku, synced_at in [*lines, *stock]:
        moment = as_utc(synced_at)
        if sku is not None and moment is not None:
            found.append((f"{key}@{moment.isoformat()}", sku, moment))
    return found


def _with_kin(conn: Connection, skus: Iterable[str]) -> set[str]:
    """The SKUs plus every kit sharing a component with them and every component of them."""
    wanted = set(skus)
    pairs = list(conn.execute(sa.text("SELECT kit_sku, component_sku FROM product_components")))
    touched_components = {c for k, c in pairs if k in wanted or c in wanted}
    return wanted | touched_components | {k for k, c in pairs if c in touched_components}


@dg.sensor(
    job=stock_push_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Fast path: every few seconds, finds orders, order lines and stock rows written since "
        "the last tick (backfills, the event sync, catalog refreshes), and launches one push "
        "for the SKUs they touch (kits and components included), batched per tick."
    ),
)
def stock_reservation_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    state = json.loads(context.cursor) if context.cursor else {}
    engine = warehouse.engine()
    if "high_water" not in state:
        # First tick: start from now; the schedule's sweep covers what came before.
        with engine.connect() as conn:
            newest = conn.execute(
                sa.text(
                    "SELECT MAX(t) AS newest FROM (SELECT MAX(synced_at) AS t FROM orders "
                    "UNION ALL SELECT MAX(synced_at) FROM order_items "
                    "UNION ALL SELECT MAX(synced_at) FROM central_stock) latest"
                ).columns(newest=UtcTimestamp)
            ).scalar_one()
            start = as_utc(newest) or datetime.now(UTC)
            # What is already inside the overlap window counts as seen.
            seen_now = sorted(c[0] for c in _changes_since(conn, start - OVERLAP))
        cursor = json.dumps({"high_water": start.isoformat(), "seen": seen_now})
        return dg.SensorResult(skip_reason="cursor initialised", cursor=cursor)
    high_water = datetime.fromisoformat(state["high_water"])
    seen = set(state.get("seen", []))
    with engine.connect() as conn:
        changes = [c for c in _changes_since(conn, high_water - OVERLAP) if c[0] not in seen]
        skus = _with_kin(conn, {sku for _, sku, _ in changes}) if changes else set()
    if not changes:
        return dg.SkipReason("no reservation or stock change since the last tick")
    newest = max([high_water, *(moment for _, _, moment in changes)])
    window_start = newest - OVERLAP
    kept = sorted(
        key
        for key in seen | {c[0] for c in changes}
        if datetime.fromisoformat(key.rsplit("@", 1)[1]) > window_start
    )
    cursor = json.dumps({"high_water": newest.isoformat(), "seen": kept})
    ordered = sorted(skus)
    runs = []
    for first in range(0, len(ordered), MAX_SKUS_PER_RUN):
        batch = ordered[first : first + MAX_SKUS_PER_RUN]
        digest = hashlib.sha256("\n".join(batch).encode()).hexdigest()[:12]
        runs.append(
            dg.RunRequest(
                run_key=f"stock-fast:{newest.isoformat()}:{digest}",
                run_config={"ops": {"stock_pushes": {"config": {"skus": batch}}}},
                tags={"synchub/trigger": "reservations", "synchub/skus": str(len(batch))},
            )
        )
    return dg.SensorResult(run_requests=runs, cursor=cursor)


stock_drift_sweep_schedule = dg.ScheduleDefinition(
    name="stock_drift_sweep",
    job=stock_push_job,
    cron_schedule="17 * * * *",
    run_config={"ops": {"stock_pushes": {"config": {"read_back": True}}}},
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "Hourly full sweep: recompute allocation, read every listing's quantity back from "
        "its marketplace, and write what differs (drift) or is an old zero."
    ),
    tags={"synchub/trigger": "drift_sweep"},
)
