"""Event sync and reconciliation tables (schema_events).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "order_poll_cursors",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("polled_through", TS, nullable=False),
        sa.Column("last_run_id", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
        comment="Per polled store: orders updated before polled_through have been read.",
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("api_orders", sa.Integer, nullable=False),
        sa.Column("missing_orders", sa.Integer, nullable=False),
        sa.Column("stale_orders", sa.Integer, nullable=False),
        sa.Column("rejected_orders", sa.Integer, nullable=False),
        sa.Column("reconciled_at", TS, nullable=False),
        comment="One row per store reconciliation: orders listed by the API vs the warehouse.",
    )
    op.create_index(
        "ix_reconciliation_runs_store_reconciled_at",
        "reconciliation_runs",
        ["store_id", "reconciled_at"],
    )
    op.create_table(
        "reconciliation_repairs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("api_updated_at", TS, nullable=False),
        sa.Column("warehouse_updated_at", TS),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("repaired_at", TS, nullable=False),
        comment="Orders reconciliation wrote: missing (no row) or stale (older update time).",
    )
    op.create_index(
        "ix_reconciliation_repairs_store_repaired_at",
        "reconciliation_repairs",
        ["store_id", "repaired_at"],
    )


def downgrade() -> None:
    op.drop_table("reconciliation_repairs")
    op.drop_table("reconciliation_runs")
    op.drop_table("order_poll_cursors")
