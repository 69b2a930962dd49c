"""Stock allocation and push audit tables (schema_stock).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "allocatable_stock",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Integer, nullable=False),
        sa.Column("allocatable", sa.Integer, nullable=False),
        sa.Column("is_kit", sa.Boolean, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "allocatable_stock_history",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("computed_at", TS, primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Integer, nullable=False),
        sa.Column("allocatable", sa.Integer, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "stock_push_plan",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("allocatable", sa.Integer, nullable=False),
        sa.Column("desired_quantity", sa.Integer, nullable=False),
        sa.Column("target_quantity", sa.Integer, nullable=False),
        sa.Column("planned_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_index("ix_stock_push_plan_sku", "stock_push_plan", ["sku"])
    op.create_table(
        "stock_listing_state",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        sa.Column("published_quantity", sa.Integer, nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("last_written_at", TS),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "stock_pushes",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("quantity_before", sa.Integer),
        sa.Column("quantity_after", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("response", sa.Text),
        sa.Column("pushed_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint("mode IN ('real', 'dry_run')", name="ck_stock_pushes_mode"),
        sa.CheckConstraint(
            "status IN ('planned', 'written', 'failed')", name="ck_stock_pushes_status"
        ),
    )
    op.create_index(
        "ix_stock_pushes_listing", "stock_pushes", ["store_id", "listing_id", "variation_id"]
    )
    op.create_index("ix_stock_pushes_pushed_at", "stock_pushes", ["pushed_at"])


def downgrade() -> None:
    for table in (
        "stock_pushes",
        "stock_listing_state",
        "stock_push_plan",
        "allocatable_stock_history",
        "allocatable_stock",
    ):
        op.drop_table(table)
