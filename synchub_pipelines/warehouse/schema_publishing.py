"""Warehouse tables of the publishing domain, on the shared `schema.metadata`.

Imported at the end of schema.py so that every table is known wherever the schema is;
each table registers its natural key in `schema.KEYS` itself.

Publishing writes the central catalog *to* the marketplaces: listings, prices, an order's
invoice and tracking, answers to buyers' questions. Each kind of write has what the stock
push has: a plan (listings, prices) with a blocking check, a state of what we last wrote
(so a re-run writes nothing), and an audit row for every planned and real write.

- `publication_plan`: per store × listing SKU, the listing write it needs (create, update,
  pause, close, activate) with the draft's summary.
- `published_listings`: what we last published on each listing (content hash, state).
- `listing_publications`: the audit of listing writes.
- `price_plan` / `price_state` / `price_pushes`: the same for prices, per listing variation.
- `fulfilment_updates`: the merchant's invoices and trackings to send (its ERP fills it).
- `fulfilment_pushes`: the audit of invoice and tracking writes.
- `question_answers`: the merchant's answers to questions, by question id.
- `answer_pushes`: the audit of answers posted.
"""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, Money, UtcTimestamp, metadata, tenant_column


def _key(table: sa.Table) -> sa.Table:
    KEYS[table.name] = tuple(c.name for c in table.primary_key.columns)
    return table


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


LISTING_ACTIONS = ("create", "update", "pause", "close", "activate")
WRITE_STATUSES = ("planned", "written", "refused", "failed", "skipped")
LISTING_STATES = ("active", "paused", "closed")
FULFILMENT_KINDS = ("invoice", "tracking")

publication_plan = _key(
    sa.Table(
        "publication_plan",
        metadata,
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("seller_sku", sa.Text, primary_key=True, comment="the listing's SKU"),
        sa.Column("listing_id", sa.Text, primary_key=True, comment="'' for a create"),
        sa.Column("action", sa.Text, primary_key=True),
        tenant_column(primary_key=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("skus", sa.Text, nullable=False, comment="JSON [central SKU]"),
        sa.Column("category_id", sa.Text),
        sa.Column("content_hash", sa.Text),
        sa.Column("request", sa.Text, nullable=False, comment="JSON summary of the write"),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("planned_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        sa.CheckConstraint(_in("action", LISTING_ACTIONS), name="ck_publication_plan_action"),
        comment="Per store × listing SKU: the listing write the catalog asks for.",
    )
)

published_listings = _key(
    sa.Table(
        "published_listings",
        metadata,
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        tenant_column(primary_key=False),
        sa.Column("seller_sku", sa.Text, nullable=False, comment="the listing's SKU"),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False, comment="published | adopted"),
        sa.Column("written_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        sa.CheckConstraint(_in("state", LISTING_STATES), name="ck_published_listings_state"),
        sa.Index("ix_published_listings_sku", "store_id", "seller_sku"),
        comment="What we last published on each listing: its content hash and state.",
    )
)

listing_publications = _key(
    sa.Table(
        "listing_publications",
        metadata,
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("seller_sku", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True, comment="'' for a create"),
        sa.Column("action", sa.Text, primary_key=True),
        tenant_column(primary_key=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("request", sa.Text, nullable=False, comment="JSON summary, no secrets"),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("code", sa.Text, comment="the marketplace's refusal code"),
        sa.Column("message", sa.Text, comment="its answer or refusal message"),
        sa.Column("result_listing_id", sa.Text, comment="the listing written (created)"),
        sa.Column("at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        sa.CheckConstraint(_in("action", LISTING_ACTIONS), name="ck_listing_publications_action"),
        sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_listing_publications_status"),
        sa.Index("ix_listing_publications_at", "at"),
        sa.Index("ix_listing_publications_sku", "store_id", "seller_sku"),
        comment="Audit of every listing write (and dry-run plan) to a marketplace.",
    )
)

price_plan = _key(
    sa.Table(
        "price_plan",
        metadata,
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        tenant_column(primary_key=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("cost", Money, nullable=False),
        sa.Column("fee_rate", sa.Numeric(6, 4), nullable=False),
        sa.Column("fee_rate_source", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("current_price", Money),
        sa.Column("target_price", Money, nullable=False),
        sa.Column("floor_price", Money, nullable=False),
        sa.Column("change_share", sa.Numeric(10, 4)),
        sa.Column("max_change_share", sa.Numeric(6, 4), nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("planned_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Per linked listing variation of a store with price rules: the price it "
        "should have.",
    )
)

price_state = _key(
    sa.Table(
        "price_state",
        metadata,
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        tenant_column(primary_key=False),
        sa.Column("price", Money, nullable=False),
        sa.Column("written_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="The price we last wrote on each listing variation.",
    )
)

price_pushes = _key(
    sa.Table(
        "price_pushes",
        metadata,
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("listing_id", sa.Text, primary_key=True),
        sa.Column("variation_id", sa.Text, primary_key=True),
        tenant_column(primary_key=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("price_before", Money),
        sa.Column("price_after", Money, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_price_pushes_status"),
        sa.Index("ix_price_pushes_at", "at"),
        comment="Audit of every price write (and dry-run plan) to a marketplace.",
    )
)

fulfilment_updates = _key(
    sa.Table(
        "fulfilment_updates",
        metadata,
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("invoice_key", sa.Text, comment="NF-e access key, 44 digits"),
        sa.Column("invoice_number", sa.Text),
        sa.Column("invoice_series", sa.Text),
        sa.Column("invoice_issued_at", UtcTimestamp),
        sa.Column("invoice_amount", Money),
        sa.Column("invoice_xml_path", sa.Text, comment="the authorized NF-e XML (Amazon needs it)"),
        sa.Column("carrier", sa.Text),
        sa.Column("tracking_number", sa.Text),
        sa.Column("tracking_url", sa.Text),
        sa.Column("source", sa.Text, nullable=False, comment="file | erp"),
        sa.Column("updated_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Invoices and trackings the merchant's side provides, per order, to send.",
    )
)

fulfilment_pushes = _key(
    sa.Table(
        "fulfilment_pushes",
        metadata,
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        tenant_column(primary_key=False),
        sa.Column("marketplace", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        sa.CheckConstraint(_in("kind", FULFILMENT_KINDS), name="ck_fulfilment_pushes_kind"),
        sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_fulfilment_pushes_status"),
        sa.Index("ix_fulfilment_pushes_order", "store_id", "order_id"),
        comment="Audit of every invoice and tracking write (and dry-run plan) to a marketplace.",
    )
)

question_answers = _key(
    sa.Table(
        "question_answers",
        metadata,
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("question_id", sa.Text, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False, comment="file | table"),
        sa.Column("updated_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="The merchant's answers to buyers' questions, by question.",
    )
)

answer_pushes = _key(
    sa.Table(
        "answer_pushes",
        metadata,
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Text, primary_key=True),
        sa.Column("question_id", sa.Text, primary_key=True),
        tenant_column(primary_key=False),
        sa.Column("listing_id", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("rule", sa.Text, nullable=False, comment="question | template:<name>"),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_answer_pushes_status"),
        comment="Audit of every answer posted (and dry-run plan) to a buyer's question.",
    )
)
