"""Publishing: listing, price, fulfilment and answer writes (schema_publishing), and the
catalog's description, pictures and status.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MONEY = sa.Numeric(14, 2)
DEFAULT_TENANT = "default"

# Frozen here rather than imported: a migration must keep meaning what it meant.
LISTING_ACTIONS = ("create", "update", "pause", "close", "activate")
WRITE_STATUSES = ("planned", "written", "refused", "failed", "skipped")
LISTING_STATES = ("active", "paused", "closed")
FULFILMENT_KINDS = ("invoice", "tracking")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant", sa.Text, nullable=False, server_default=DEFAULT_TENANT)


def _audit_tail() -> list[sa.Column[object]]:
    return [
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("message", sa.Text),
    ]


def upgrade() -> None:
    op.add_column("central_products", sa.Column("description", sa.Text))
    op.add_column("central_products", sa.Column("images", sa.Text))
    # Every product stored before this revision is on sale: active.
    op.add_column(
        "central_products",
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
    )
    op.create_table(
        "publication_plan",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("seller_sku", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("action", sa.Text, primary_key=True),
        _tenant(),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("skus", sa.Text, nullable=False),
        sa.Column("category_id", sa.Text),
        sa.Column("content_hash", sa.Text),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("planned_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(_in("action", LISTING_ACTIONS), name="ck_publication_plan_action"),
    )
    op.create_table(
        "published_listings",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        _tenant(),
        sa.Column("seller_sku", sa.Text, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("written_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(_in("state", LISTING_STATES), name="ck_published_listings_state"),
    )
    op.create_index("ix_published_listings_sku", "published_listings", ["store_id", "seller_sku"])
    op.create_table(
        "listing_publications",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("seller_sku", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("action", sa.Text, primary_key=True),
        _tenant(),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        *_audit_tail(),
        sa.Column("result_listing_id", sa.Text),
        sa.Column("at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(_in("action", LISTING_ACTIONS), name="ck_listing_publications_action"),
        sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_listing_publications_status"),
    )
    op.create_index("ix_listing_publications_at", "listing_publications", ["at"])
    op.create_index(
        "ix_listing_publications_sku", "listing_publications", ["store_id", "seller_sku"]
    )
    op.create_table(
        "price_plan",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        _tenant(),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("cost", MONEY, nullable=False),
        sa.Column("fee_rate", sa.Numeric(6, 4), nullable=False),
        sa.Column("fee_rate_source", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("current_price", MONEY),
        sa.Column("target_price", MONEY, nullable=False),
        sa.Column("floor_price", MONEY, nullable=False),
        sa.Column("change_share", sa.Numeric(10, 4)),
        sa.Column("max_change_share", sa.Numeric(6, 4), nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("planned_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "price_state",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        _tenant(),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("written_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "price_pushes",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        _tenant(),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("price_before", MONEY),
        sa.Column("price_after", MONEY, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        *_audit_tail(),
        sa.Column("at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_price_pushes_status"),
    )
    op.create_index("ix_price_pushes_at", "price_pushes", ["at"])
    op.create_table(
        "fulfilment_updates",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("invoice_key", sa.Text),
        sa.Column("invoice_number", sa.Text),
        sa.Column("invoice_series", sa.Text),
        sa.Column("invoice_issued_at", TS),
        sa.Column("invoice_amount", MONEY),
        sa.Column("invoice_xml_path", sa.Text),
        sa.Column("carrier", sa.Text),
        sa.Column("tracking_number", sa.Text),
        sa.Column("tracking_url", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "fulfilment_pushes",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        _tenant(),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        *_audit_tail(),
        sa.Column("at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(_in("kind", FULFILMENT_KINDS), name="ck_fulfilment_pushes_kind"),
        sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_fulfilment_pushes_status"),
    )
    op.create_index("ix_fulfilment_pushes_order", "fulfilment_pushes", ["store_id", "order_id"])
    op.create_table(
        "question_answers",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("question_id", sa.Text, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "answer_pushes",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("question_id", sa.Text, primary_key=True),
        _tenant(),
        sa.Column("listing_id", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        *_audit_tail(),
        sa.Column("at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_answer_pushes_status"),
    )


def downgrade() -> None:
    for table in (
        "answer_pushes",
        "question_answers",
        "fulfilment_pushes",
        "fulfilment_updates",
        "price_pushes",
        "price_state",
        "price_plan",
        "listing_publications",
        "published_listings",
        "publication_plan",
    ):
        op.drop_table(table)
    with op.batch_alter_table("central_products") as batch:
        batch.drop_column("status")
        batch.drop_column("images")
        batch.drop_column("description")
