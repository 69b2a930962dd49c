"""Sales facts: money on orders, exact line amounts, fees, shipments, status history,
questions and the listing's verdict (schema.py and schema_orders).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MONEY = sa.Numeric(14, 2)

# The raw statuses earlier versions stored in listings.status, as the normalized status.
_LISTING_STATUS = """
CASE
  WHEN lower(status) IN ('active', 'normal', 'activate', 'live', 'buyable') THEN 'active'
  WHEN lower(status) IN ('paused', 'unlist', 'inactive', 'seller_deactivated') THEN 'paused'
  WHEN lower(status) IN ('closed', 'deleted') THEN 'closed'
  WHEN lower(status) IN ('under_review', 'reviewing', 'pending') THEN 'under_review'
  WHEN lower(status) IN ('draft') THEN 'draft'
  ELSE 'suppressed'
END
"""


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("raw_status", sa.Text))
        batch.add_column(sa.Column("status_reason", sa.Text))
    op.execute(f"UPDATE listings SET raw_status = status, status = {_LISTING_STATUS}")

    with op.batch_alter_table("orders") as batch:
        batch.alter_column("shipping_cost", new_column_name="shipping_paid_by_buyer")
        for name in (
            "discount_amount",
            "seller_discount_amount",
            "marketplace_discount_amount",
            "tax_amount",
            "seller_shipping_cost",
            "refund_amount",
            "payout_amount",
        ):
            batch.add_column(sa.Column(name, MONEY))
        batch.add_column(
            sa.Column("fees_final", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("settled_at", TS))

    with op.batch_alter_table("order_items") as batch:
        batch.add_column(sa.Column("line_ref", sa.Text))
        batch.add_column(sa.Column("line_amount", MONEY))
        batch.add_column(sa.Column("discount_amount", MONEY))
        batch.add_column(sa.Column("tax_amount", MONEY))
    # Lines stored before 0007 carried an exact unit price (the clients read it as given).
    op.execute("UPDATE order_items SET line_amount = unit_price * quantity")
    with op.batch_alter_table("order_items") as batch:
        batch.alter_column("line_amount", existing_type=MONEY, nullable=False)

    op.create_table(
        "order_fees",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("fee_type", sa.Text, primary_key=True),
        sa.Column("line_ref", sa.Text, primary_key=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "shipments",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("shipment_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("raw_status", sa.Text, nullable=False),
        sa.Column("logistic_mode", sa.Text),
        sa.Column("logistic_type", sa.Text),
        sa.Column("carrier", sa.Text),
        sa.Column("tracking_number", sa.Text),
        sa.Column("ship_by", TS),
        sa.Column("shipped_at", TS),
        sa.Column("delivered_at", TS),
        sa.Column("buyer_city", sa.Text),
        sa.Column("buyer_state", sa.Text),
        sa.Column("updated_at", TS),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_index("ix_shipments_store_order", "shipments", ["store_id", "order_id"])
    op.create_table(
        "order_status_history",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, primary_key=True),
        sa.Column("raw_status", sa.Text),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_index(
        "ix_order_status_history_store_changed_at",
        "order_status_history",
        ["store_id", "changed_at"],
    )
    # Orders stored before 0007: their current status, first seen when last updated.
    op.execute(
        "INSERT INTO order_status_history "
        "(store_id, order_id, status, raw_status, changed_at, source, synced_at) "
        "SELECT store_id, order_id, status, raw_status, updated_at, 'observed', synced_at "
        "FROM orders"
    )
    op.create_table(
        "questions",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("question_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("asked_at", TS, nullable=False),
        sa.Column("answered_at", TS),
        sa.Column("answer_length", sa.Integer),
        sa.Column("answer_status", sa.Text),
        sa.Column("deleted_from_listing", sa.Boolean, nullable=False),
        sa.Column("hold", sa.Boolean, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_index("ix_questions_store_asked_at", "questions", ["store_id", "asked_at"])
    op.create_table(
        "order_fact_reads",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("first_read_at", TS, nullable=False),
        sa.Column("last_read_at", TS, nullable=False),
        sa.Column("reads", sa.Integer, nullable=False),
        sa.Column("fees_final", sa.Boolean, nullable=False),
        sa.Column("shipments_final", sa.Boolean, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("order_fact_reads", "questions", "order_status_history", "shipments"):
        op.drop_table(table)
    op.drop_table("order_fees")
    with op.batch_alter_table("order_items") as batch:
        for name in ("tax_amount", "discount_amount", "line_amount", "line_ref"):
            batch.drop_column(name)
    with op.batch_alter_table("orders") as batch:
        for name in (
            "settled_at",
            "fees_final",
            "payout_amount",
            "refund_amount",
            "seller_shipping_cost",
            "tax_amount",
            "marketplace_discount_amount",
            "seller_discount_amount",
            "discount_amount",
        ):
            batch.drop_column(name)
        batch.alter_column("shipping_paid_by_buyer", new_column_name="shipping_cost")
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("status_reason")
        batch.drop_column("raw_status")
