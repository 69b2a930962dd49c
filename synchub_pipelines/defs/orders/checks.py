"""Checks on the sales facts: money that adds up, fees that arrive, shipments that exist."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from synchub_pipelines.defs.marketplaces import settlement_days
from synchub_pipelines.defs.partitions import store_partitions
from synchub_pipelines.defs.quality import no_rows_check
from synchub_pipelines.models import Marketplace

PAID = "('paid', 'shipped', 'delivered', 'returned')"


def _settled_before() -> Mapping[str, Any]:
    """Per marketplace, the instant before which every sale should be settled by now."""
    now = datetime.now(UTC)
    return {f"cut_{m.value}": now - timedelta(days=settlement_days(m)) for m in Marketplace}


_CUTOFF = (
    "CASE s.marketplace "
    + " ".join(f"WHEN '{m.value}' THEN :cut_{m.value}" for m in Marketplace)
    + " END"
)

order_fact_checks: list[dg.AssetChecksDefinition] = [
    no_rows_check(
        "orders",
        "order_lines_add_up",
        # ROUND: SQLite keeps NUMERIC as binary floating point, whose sums drift in the
        # last digits; PostgreSQL's NUMERIC is exact either way.
        "SELECT o.store_id, o.order_id, o.items_amount, SUM(i.line_amount) AS lines "
        "FROM orders o JOIN order_items i ON i.store_id = o.store_id AND i.order_id = o.order_id "
        "GROUP BY o.store_id, o.order_id, o.items_amount "
        "HAVING ROUND(SUM(i.line_amount), 2) <> ROUND(o.items_amount, 2)",
        "Every order's lines add up to its items_amount, to the cent.",
    ),
    no_rows_check(
        "orders",
        "orders_have_status_history",
        "SELECT o.store_id, o.order_id, o.status FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM order_status_history h WHERE h.store_id = o.store_id "
        "AND h.order_id = o.order_id)",
        "Every order has at least one row in order_status_history.",
    ),
    no_rows_check(
        "orders",
        "order_status_reached_is_recorded",
        "SELECT o.store_id, o.order_id, o.status FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM order_status_history h WHERE h.store_id = o.store_id "
        "AND h.order_id = o.order_id AND h.status = o.status)",
        "Every order's current status has its instant in order_status_history.",
        severity=dg.AssetCheckSeverity.WARN,
    ),
    no_rows_check(
        "order_fees",
        "settled_age_orders_have_fees",
        "SELECT o.store_id, o.order_id, o.status, o.created_at FROM orders o "
        "JOIN stores s ON s.store_id = o.store_id "
        f"WHERE o.store_id = :store_id AND o.status IN {PAID} "
        "AND (o.fee_amount IS NULL OR o.payout_amount IS NULL) "
        f"AND o.created_at < {_CUTOFF}",
        "Every paid order of the store older than its marketplace's settlement period has "
        "its fees and payout (else the facts refresh is behind or failing: see its runs).",
        params=_settled_before,
        partitions_def=store_partitions,
    ),
    no_rows_check(
        "order_fees",
        "fee_breakdown_adds_up",
        "SELECT o.store_id, o.order_id, o.fee_amount, SUM(f.amount) AS breakdown "
        "FROM orders o JOIN order_fees f ON f.store_id = o.store_id AND f.order_id = o.order_id "
        "WHERE o.store_id = :store_id GROUP BY o.store_id, o.order_id, o.fee_amount "
        "HAVING o.fee_amount IS NULL OR ROUND(SUM(f.amount), 2) <> ROUND(o.fee_amount, 2)",
        "An order's fee breakdown (order_fees) adds up to its fee_amount.",
        partitions_def=store_partitions,
    ),
    no_rows_check(
        "shipments",
        "shipped_orders_have_shipments",
        "SELECT o.store_id, o.order_id, o.status FROM orders o "
        "WHERE o.store_id = :store_id AND o.status IN ('shipped', 'delivered') AND NOT EXISTS "
        "(SELECT 1 FROM shipments sh WHERE sh.store_id = o.store_id "
        "AND sh.order_id = o.order_id)",
        "Every shipped or delivered order of the store has a shipment.",
        partitions_def=store_partitions,
    ),
    no_rows_check(
        "shipments",
        "shipments_belong_to_orders",
        "SELECT sh.store_id, sh.shipment_id, sh.order_id FROM shipments sh "
        "WHERE sh.store_id = :store_id AND NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.store_id = sh.store_id AND o.order_id = sh.order_id)",
        "Every shipment's order is in the warehouse (else a backfill of its days is missing).",
        severity=dg.AssetCheckSeverity.WARN,
        partitions_def=store_partitions,
    ),
]
