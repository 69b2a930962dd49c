"""Initial warehouse: stores, credentials, catalog, listings, links, orders, stock, errors.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "stores",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("seller_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tenant", sa.Text, nullable=False, server_default="default"),
        sa.Column("timezone", sa.Text, nullable=False, server_default="America/Sao_Paulo"),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("connected_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "store_credentials",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("access_token_enc", sa.Text, nullable=False),
        sa.Column("refresh_token_enc", sa.Text),
        sa.Column("access_expires_at", TS, nullable=False),
        sa.Column("refresh_expires_at", TS),
        sa.Column("extra_enc", sa.Text),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "central_products",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("parent_sku", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("brand", sa.Text),
        sa.Column("category", sa.Text),
        sa.Column("color", sa.Text),
        sa.Column("size", sa.Text),
        sa.Column("gtin", sa.Text),
        sa.Column("price", MONEY),
        sa.Column("cost", MONEY),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("weight_g", sa.Integer),
        sa.Column("is_kit", sa.Boolean, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "product_components",
        sa.Column("kit_sku", sa.Text, primary_key=True),
        sa.Column("component_sku", sa.Text, primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "central_stock",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("warehouse", sa.Text, primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "listings",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("seller_sku", sa.Text),
        sa.Column("gtin", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("price", MONEY),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("available_quantity", sa.Integer),
        sa.Column("category_id", sa.Text),
        sa.Column("permalink", sa.Text),
        sa.Column("updated_at", TS),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "listing_links",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("raw_status", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("items_amount", MONEY, nullable=False),
        sa.Column("shipping_cost", MONEY),
        sa.Column("fee_amount", MONEY),
        sa.Column("total_amount", MONEY, nullable=False),
        sa.Column("buyer_hash", sa.Text),
        sa.Column("buyer_city", sa.Text),
        sa.Column("buyer_state", sa.Text),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_index("ix_orders_store_business_date", "orders", ["store_id", "business_date"])
    op.create_index("ix_orders_store_updated_at", "orders", ["store_id", "updated_at"])
    op.create_table(
        "order_items",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("listing_id", sa.Text),
        sa.Column("variation_id", sa.Text, nullable=False),
        sa.Column("seller_sku", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("fee", MONEY),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "stock_snapshots",
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        sa.Column("snapshot_at", TS, primary_key=True),
        sa.Column("seller_sku", sa.Text),
        sa.Column("available_quantity", sa.Integer, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "ingest_errors",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("record_key", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "ingest_errors",
        "stock_snapshots",
        "order_items",
        "orders",
        "listing_links",
        "listings",
        "central_stock",
        "product_components",
        "central_products",
        "store_credentials",
        "stores",
    ):
        op.drop_table(table)
