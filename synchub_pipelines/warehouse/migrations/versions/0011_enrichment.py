"""Competitor prices and catalog enrichment (schema_enrichment).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MONEY = sa.Numeric(14, 2)
DEFAULT_TENANT = "default"

# Frozen here rather than imported: a migration must keep meaning what it meant.
PAGE_OUTCOMES = (
    "offer",
    "not_modified",
    "no_offer",
    "blocked",
    "disallowed",
    "not_found",
    "error",
    "listing",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant", sa.Text, primary_key=True, nullable=False, server_default=DEFAULT_TENANT
    )


def upgrade() -> None:
    op.create_table(
        "scrape_targets",
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("start_urls", sa.Text, nullable=False),
        sa.Column("sitemaps", sa.Text, nullable=False),
        sa.Column("recipe", sa.Text),
        sa.Column("page_budget", sa.Integer, nullable=False),
        sa.Column("delay_seconds", sa.Float, nullable=False),
        sa.Column("schedule", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )
    op.create_table(
        "scraped_pages",
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("fetched_at", TS, primary_key=True),
        sa.Column("status", sa.Integer),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("elapsed_ms", sa.Integer, nullable=False),
        sa.Column("content_sha256", sa.Text),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.CheckConstraint(_in("outcome", PAGE_OUTCOMES), name="ck_scraped_pages_outcome"),
    )
    op.create_index("ix_scraped_pages_run_id", "scraped_pages", ["run_id"])
    op.create_index("ix_scraped_pages_site_fetched_at", "scraped_pages", ["site", "fetched_at"])
    op.create_table(
        "competitor_offers",
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("observed_at", TS, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("brand", sa.Text),
        sa.Column("gtin", sa.Text),
        sa.Column("site_sku", sa.Text),
        sa.Column("seller", sa.Text),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("list_price", MONEY),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("availability", sa.Text, nullable=False),
        sa.Column("installments_count", sa.Integer),
        sa.Column("installment_amount", MONEY),
        sa.Column("images", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("extracted_by", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
    )
    op.create_table(
        "offer_matches",
        _tenant(),
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", TS),
        sa.Column("matched_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(
            _in("method", ("gtin", "title", "manual")), name="ck_offer_matches_method"
        ),
        sa.CheckConstraint(
            _in("status", ("auto", "pending", "accepted", "rejected")),
            name="ck_offer_matches_status",
        ),
    )
    op.create_index("ix_offer_matches_tenant_sku", "offer_matches", ["tenant", "sku"])
    op.create_table(
        "enrichment_suggestions",
        _tenant(),
        sa.Column("suggestion_id", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("source_site", sa.Text, nullable=False),
        sa.Column("source_url", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", TS),
        sa.Column("synced_at", TS, nullable=False),
        sa.CheckConstraint(
            _in("status", ("pending", "accepted", "rejected")),
            name="ck_enrichment_suggestions_status",
        ),
    )
    op.create_index(
        "ix_enrichment_suggestions_tenant_sku", "enrichment_suggestions", ["tenant", "sku"]
    )
    op.create_table(
        "price_positions",
        _tenant(),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("our_price", MONEY, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("lowest_price", MONEY, nullable=False),
        sa.Column("median_price", MONEY, nullable=False),
        sa.Column("offers", sa.Integer, nullable=False),
        sa.Column("lowest_site", sa.Text, nullable=False),
        sa.Column("lowest_url", sa.Text, nullable=False),
        sa.Column("undercut", sa.Boolean, nullable=False),
        sa.Column("undercut_since_last_run", sa.Boolean, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.Column("synced_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "price_positions",
        "enrichment_suggestions",
        "offer_matches",
        "competitor_offers",
        "scraped_pages",
        "scrape_targets",
    ):
        op.drop_table(table)
