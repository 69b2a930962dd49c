"""The fast path and the sweep: a sensor pushes SKUs whose reservations or stock just changed;
a schedule reads every listing back from the APIs and fixes what drifted.

A change is a tenant's: an order line belongs to its store's tenant, a stock row to its
catalog's. The sensor asks for one run per tenant with changes, pushing that tenant's SKUs
only, so a sale of one merchant never re-plans another merchant's listings."""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stock.pushing import stock_push_job
from synchub_pipelines.defs.stock.reads import STORE_TENANT, as_utc
from synchub_pipelines.warehouse.schema import DEFAULT_TENANT, UtcTimestamp

# Rows committed by a slower transaction can carry a `synced_at` a little older than one
# already seen; look back this far and skip what the cursor remembers.
OVERLAP = timedelta(seconds=30)
MAX_SKUS_PER_RUN = 500
# Bound like the stored column, so SQLite compares like with like.
SINCE = sa.bindparam("since", type_=UtcTimestamp)


def _changes_since(conn: Connection, since: datetime) -> list[tuple[str, str, str, datetime]]:
    """(change key, tenant, SKU, synced_at) for order lines and stock rows changed after
    `since`."""
    lines = conn.execute(
        sa.text(
            f"SELECT 'o:' || o.store_id || ':' || o.order_id, {STORE_TENANT}, "
            "COALESCE(k.sku, p.sku), "
            "CASE WHEN o.synced_at > i.synced_at THEN o.synced_at ELSE i.synced_at END "
            "AS changed_at "
            "FROM orders o JOIN order_items i "
            "  ON i.store_id = o.store_id AND i.order_id = o.order_id "
            "LEFT JOIN stores s ON s.store_id = o.store_id "
            "LEFT JOIN listing_links k ON k.store_id = i.store_id "
            "  AND k.listing_id = i.listing_id AND k.variation_id = i.variation_id "
            f"  AND k.tenant = {STORE_TENANT} "
            f"LEFT JOIN central_products p ON p.tenant = {STORE_TENANT} "
            "  AND p.sku = i.seller_sku "
            "WHERE o.synced_at > :since OR i.synced_at > :since"
        )
        .bindparams(SINCE)
        .columns(changed_at=UtcTimestamp),
        {"since": since},
    )
    # The tenant is in the key only beyond the default tenant, so cursors written before
    # tenants existed still recognise what they have seen.
    stock = conn.execute(
        sa.text(
            f"SELECT 's:' || CASE WHEN tenant = '{DEFAULT_TENANT}' THEN '' ELSE tenant || ':' END "
            "|| sku || ':' || warehouse, tenant, sku, synced_at AS changed_at "
            "FROM central_stock WHERE synced_at > :since"
        )
        .bindparams(SINCE)
        .columns(changed_at=UtcTimestamp),
        {"since": since},
    )
    found = []
    for key, tenant, sku, synced_at in [*lines, *stock]:
        moment = as_utc(synced_at)
        if sku is not None and moment is not None:
            found.append((f"{key}@{moment.isoformat()}", tenant, sku, moment))
    return found


def _with_kin(conn: Connection, skus: Iterable[str], tenant: str = DEFAULT_TENANT) -> set[str]:
    """The SKUs plus every kit of the tenant sharing a component with them and every
    component of them."""
    wanted = set(skus)
    pairs = list(
        conn.execute(
            sa.text("SELECT kit_sku, component_sku FROM product_components WHERE tenant = :t"),
            {"t": tenant},
        )
    )
    touched_components = {c for k, c in pairs if k in wanted or c in wanted}
    return wanted | touched_components | {k for k, c in pairs if c in touched_components}


# Below the daemon's 5 s loop, so that no loop is skipped (see events/sensor.py).
@dg.sensor(
    job=stock_push_job,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Fast path: every few seconds, finds orders, order lines and stock rows written since "
        "the last tick (backfills, the event sync, catalog refreshes), and launches one push "
        "for the SKUs they touch (kits and components included), batched per tick, one run "
        "per tenant with changes."
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
        touched: dict[str, set[str]] = {}
        for _, tenant, sku, _ in changes:
            touched.setdefault(tenant, set()).add(sku)
        skus = {tenant: _with_kin(conn, found, tenant) for tenant, found in touched.items()}
    if not changes:
        return dg.SkipReason("no reservation or stock change since the last tick")
    newest = max([high_water, *(moment for _, _, _, moment in changes)])
    window_start = newest - OVERLAP
    kept = sorted(
        key
        for key in seen | {c[0] for c in changes}
        if datetime.fromisoformat(key.rsplit("@", 1)[1]) > window_start
    )
    cursor = json.dumps({"high_water": newest.isoformat(), "seen": kept})
    runs = []
    for tenant, tenant_skus in sorted(skus.items()):
        ordered = sorted(tenant_skus)
        for first in range(0, len(ordered), MAX_SKUS_PER_RUN):
            batch = ordered[first : first + MAX_SKUS_PER_RUN]
            digest = hashlib.sha256("\n".join([tenant, *batch]).encode()).hexdigest()[:12]
            runs.append(
                dg.RunRequest(
                    run_key=f"stock-fast:{newest.isoformat()}:{digest}",
                    run_config={
                        "ops": {"stock_pushes": {"config": {"skus": batch, "tenants": [tenant]}}}
                    },
                    tags={
                        "synchub/trigger": "reservations",
                        "synchub/skus": str(len(batch)),
                        "synchub/tenant": tenant,
                    },
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
