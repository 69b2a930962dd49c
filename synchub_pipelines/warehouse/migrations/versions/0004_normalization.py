"""Category and attribute normalization tables (schema_normalization).

Bling category links and the sync's change log, marketplace category trees and attribute
rules, internal → marketplace category mappings, normalized product attributes, their
per-marketplace values and listing readiness.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

TABLES = (
    "bling_category_links",
    "category_sync_log",
    "marketplace_categories",
    "marketplace_required_attributes",
    "category_mappings",
    "product_attributes_normalized",
    "product_marketplace_attributes",
    "listing_readiness",
)


def upgrade() -> None:
    op.create_table(
        "bling_category_links",
        sa.Column("category_id", sa.Text, primary_key=True),
        sa.Column("bling_id", sa.BigInteger, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "category_sync_log",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("category_id", sa.Text, primary_key=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("bling_id", sa.BigInteger, nullable=False),
        sa.Column("before_name", sa.Text),
        sa.Column("before_parent_bling_id", sa.BigInteger),
        sa.Column("after_name", sa.Text, nullable=False),
        sa.Column("after_parent_bling_id", sa.BigInteger),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "marketplace_categories",
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("category_id", sa.Text, primary_key=True),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("parent_id", sa.Text),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("is_leaf", sa.Boolean, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "marketplace_required_attributes",
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("category_id", sa.Text, primary_key=True),
        sa.Column("attribute_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("requirement", sa.Text, nullable=False),
        sa.Column("condition", sa.Text),
        sa.Column("required_when", sa.Text, nullable=False),
        sa.Column("value_type", sa.Text, nullable=False),
        sa.Column("closed_list", sa.Boolean, nullable=False),
        sa.Column("allowed_values", sa.Text, nullable=False),
        sa.Column("allowed_units", sa.Text, nullable=False),
        sa.Column("default_unit", sa.Text),
        sa.Column("canonical", sa.Text),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "category_mappings",
        sa.Column("category_id", sa.Text, primary_key=True),
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("marketplace_category_id", sa.Text),
        sa.Column("marketplace_category_path", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("based_on", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "product_attributes_normalized",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("attribute", sa.Text, primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("unit", sa.Text),
        sa.Column("raw_value", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "product_marketplace_attributes",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("attribute_id", sa.Text, primary_key=True),
        sa.Column("attribute_name", sa.Text, nullable=False),
        sa.Column("value_id", sa.Text),
        sa.Column("value_name", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "listing_readiness",
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("ready", sa.Boolean, nullable=False),
        sa.Column("marketplace_category_id", sa.Text),
        sa.Column("missing", sa.Text, nullable=False),
        sa.Column("invalid", sa.Text, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
