"""Warehouse tables of the events domain, on the shared `schema.metadata`.

Imported at the end of schema.py so that every table is known wherever the schema is;
each table registers its natural key in `schema.KEYS` itself.

- `order_poll_cursors`: how far each polled store's orders have been read by update time.
  It lives here, not in the Dagster cursor, so that a poll run that fails does not move it.
- `reconciliation_runs`: one row per daily reconciliation of a store (what the API listed,
  what the warehouse lacked or had stale).
- `reconciliation_repairs`: each order reconciliation had to write — every row is an order
  that no webhook, poll or backfill had delivered (or delivered in an older state).
"""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, UtcTimestamp, metadata

order_poll_cursors = sa.Table(
    "order_poll_cursors",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("polled_through", UtcTimestamp, nullable=False),
    sa.Column("last_run_id", sa.Text),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    comment="Per polled store: orders updated before polled_through have been read.",
)
KEYS[order_poll_cursors.name] = ("store_id",)

reconciliation_runs = sa.Table(
    "reconciliation_runs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("window_start", UtcTimestamp, nullable=False),
    sa.Column("window_end", UtcTimestamp, nullable=False),
    sa.Column("api_orders", sa.Integer, nullable=False),
    sa.Column("missing_orders", sa.Integer, nullable=False),
    sa.Column("stale_orders", sa.Integer, nullable=False),
    sa.Column("rejected_orders", sa.Integer, nullable=False),
    sa.Column("reconciled_at", UtcTimestamp, nullable=False),
    sa.Index("ix_reconciliation_runs_store_reconciled_at", "store_id", "reconciled_at"),
    comment="One row per store reconciliation: orders listed by the API vs the warehouse.",
)
KEYS[reconciliation_runs.name] = ("run_id", "store_id")

reconciliation_repairs = sa.Table(
    "reconciliation_repairs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("api_updated_at", UtcTimestamp, nullable=False),
    sa.Column("warehouse_updated_at", UtcTimestamp),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("repaired_at", UtcTimestamp, nullable=False),
    sa.Index("ix_reconciliation_repairs_store_repaired_at", "store_id", "repaired_at"),
    comment="Orders reconciliation wrote: missing (no row) or stale (older update time).",
)
KEYS[reconciliation_repairs.name] = ("run_id", "store_id", "order_id")
