"""Bling catalog write-back: the audit of category, attribute and store-link writes
(schema_bling_catalog).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
DEFAULT_TENANT = "default"
# Frozen here rather than imported: a migration must keep meaning what it meant.
ACTIONS = ("update_product", "create_link", "update_link")
STATUSES = ("planned", "written", "refused", "failed", "skipped")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "bling_catalog_writes",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column(
            "tenant", sa.Text, primary_key=True, nullable=False, server_default=DEFAULT_TENANT
        ),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("bling_product_id", sa.BigInteger, nullable=False),
        sa.Column("loja_id", sa.BigInteger),
        sa.Column("listing_id", sa.Text),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("result_id", sa.BigInteger),
        sa.Column("at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(_in("action", ACTIONS), name="ck_bling_catalog_writes_action"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_bling_catalog_writes_status"),
    )
    op.create_index("ix_bling_catalog_writes_at", "bling_catalog_writes", ["at"])


def downgrade() -> None:
    op.drop_index("ix_bling_catalog_writes_at", "bling_catalog_writes")
    op.drop_table("bling_catalog_writes")
