"""Warehouse tables of competitor prices and catalog enrichment, on the shared `schema.metadata`.

Imported at the end of schema.py so that every table is known wherever the schema is;
each table registers its natural key in `schema.KEYS` itself.

What is observed on other shops' pages is the deployment's (`scrape_targets`,
`scraped_pages`, `competitor_offers`: a competitor's page is the same page for every
merchant); what links an observation to a product — matches, suggestions, price
positions — belongs to the product's tenant and is keyed by tenant first.

- `scraped_pages`: every fetch, appended, with its outcome (pages without a valid offer
  stay here with `outcome` and `reason`: the domain's quarantine).
- `competitor_offers`: price history; a row only when an observed offer changed.
- `offer_matches`: offer → SKU candidates, automatic or decided by a person.
"""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, Money, UtcTimestamp, metadata, tenant_column


def _key(table: sa.Table) -> sa.Table:
    KEYS[table.name] = tuple(c.name for c in table.primary_key.columns)
    return table


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
MATCH_METHODS = ("gtin", "title", "manual")
MATCH_STATUSES = ("auto", "pending", "accepted", "rejected")
SUGGESTION_STATUSES = ("pending", "accepted", "rejected")

scrape_targets = _key(
    sa.Table(
        "scrape_targets",
        metadata,
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("start_urls", sa.Text, nullable=False, comment="JSON [url]"),
        sa.Column("sitemaps", sa.Text, nullable=False, comment="JSON [url]"),
        sa.Column("recipe", sa.Text, comment="JSON CSS selector recipe, when the site needs one"),
        sa.Column("page_budget", sa.Integer, nullable=False, comment="pages per run"),
        sa.Column("delay_seconds", sa.Float, nullable=False, comment="between two requests"),
        sa.Column("schedule", sa.Text, nullable=False, comment="cron, the site's time zone"),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="The sites to collect, as the targets file configures them.",
    )
)

scraped_pages = _key(
    sa.Table(
        "scraped_pages",
        metadata,
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("fetched_at", UtcTimestamp, primary_key=True),
        sa.Column("status", sa.Integer, comment="HTTP status; NULL when nothing was requested"),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text, comment="the Last-Modified header, verbatim"),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("elapsed_ms", sa.Integer, nullable=False),
        sa.Column("content_sha256", sa.Text),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o}'" for o in PAGE_OUTCOMES) + ")",
            name="ck_scraped_pages_outcome",
        ),
        sa.Index("ix_scraped_pages_run_id", "run_id"),
        sa.Index("ix_scraped_pages_site_fetched_at", "site", "fetched_at"),
        comment="Every page fetch of the collection, with its outcome.",
    )
)

competitor_offers = _key(
    sa.Table(
        "competitor_offers",
        metadata,
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("observed_at", UtcTimestamp, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("brand", sa.Text),
        sa.Column("gtin", sa.Text),
        sa.Column("site_sku", sa.Text, comment="the site's own product code"),
        sa.Column("seller", sa.Text),
        sa.Column("price", Money, nullable=False),
        sa.Column("list_price", Money),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("availability", sa.Text, nullable=False),
        sa.Column("installments_count", sa.Integer),
        sa.Column("installment_amount", Money),
        sa.Column("images", sa.Text, nullable=False, comment="JSON [url]"),
        sa.Column("attributes", sa.Text, nullable=False, comment="JSON {name: value}"),
        sa.Column("description", sa.Text),
        sa.Column("extracted_by", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False, comment="sha256 of the offer's content"),
        sa.Column("last_seen_at", UtcTimestamp, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        comment="Competitors' offers over time: one row each time an observed offer changed.",
    )
)

offer_matches = _key(
    sa.Table(
        "offer_matches",
        metadata,
        tenant_column(),
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", UtcTimestamp),
        sa.Column("matched_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        sa.CheckConstraint(
            "method IN (" + ", ".join(f"'{m}'" for m in MATCH_METHODS) + ")",
            name="ck_offer_matches_method",
        ),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in MATCH_STATUSES) + ")",
            name="ck_offer_matches_status",
        ),
        sa.Index("ix_offer_matches_tenant_sku", "tenant", "sku"),
        comment="Competitor offers matched to central SKUs, automatically or by a person.",
    )
)

enrichment_suggestions = _key(
    sa.Table(
        "enrichment_suggestions",
        metadata,
        tenant_column(),
        sa.Column("suggestion_id", sa.Text, primary_key=True),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("source_site", sa.Text, nullable=False),
        sa.Column("source_url", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", UtcTimestamp, nullable=False),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", UtcTimestamp),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in SUGGESTION_STATUSES) + ")",
            name="ck_enrichment_suggestions_status",
        ),
        sa.Index("ix_enrichment_suggestions_tenant_sku", "tenant", "sku"),
        comment="What competitors' pages could fill in a SKU that lacks it; never applied alone.",
    )
)

price_positions = _key(
    sa.Table(
        "price_positions",
        metadata,
        tenant_column(),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("channel", sa.Text, primary_key=True, comment="store_id, or 'catalog'"),
        sa.Column("our_price", Money, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("lowest_price", Money, nullable=False),
        sa.Column("median_price", Money, nullable=False),
        sa.Column("offers", sa.Integer, nullable=False),
        sa.Column("lowest_site", sa.Text, nullable=False),
        sa.Column("lowest_url", sa.Text, nullable=False),
        sa.Column("undercut", sa.Boolean, nullable=False),
        sa.Column("undercut_since_last_run", sa.Boolean, nullable=False),
        sa.Column("computed_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Per tenant × SKU × channel: our price against the competitors' offers.",
    )
)
