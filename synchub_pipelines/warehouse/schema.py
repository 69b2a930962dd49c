"""Warehouse tables (grain → key). Names and columns are the analysts' contract (README).

Marketplace data always carries `store_id`; central data is keyed by `tenant` and `sku`
(a SKU means something only inside its tenant, the merchant a store belongs to); money is
NUMERIC beside a `currency`; `*_at` are UTC instants, `*_date` local business dates.
`synced_at` says when a row's content last changed (not when it was last seen), so a
re-run that finds nothing new leaves every row as it was.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

UtcTimestamp = sa.DateTime(timezone=True)
Money = sa.Numeric(14, 2)
DEFAULT_TENANT = "default"
TENANT_COMMENT = "the merchant the row belongs to (stores.tenant)"


def tenant_column(primary_key: bool = True) -> sa.Column[str]:
    """`tenant`, first in the key of every table whose rows belong to one merchant.

    The server default lets rows written without it (and every row from before tenants
    existed, see migration 0010) belong to the default tenant."""
    return sa.Column(
        "tenant",
        sa.Text,
        primary_key=primary_key,
        nullable=False,
        server_default=DEFAULT_TENANT,
        comment=TENANT_COMMENT,
    )


stores = sa.Table(
    "stores",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True, comment="<marketplace>-<seller id>"),
    sa.Column("marketplace", sa.Text, nullable=False),
    sa.Column("seller_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("tenant", sa.Text, nullable=False, server_default=DEFAULT_TENANT),
    sa.Column("timezone", sa.Text, nullable=False, server_default="America/Sao_Paulo"),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("connected_at", UtcTimestamp, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="One row per connected marketplace account.",
)

store_credentials = sa.Table(
    "store_credentials",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("access_token_enc", sa.Text, nullable=False),
    sa.Column("refresh_token_enc", sa.Text),
    sa.Column("access_expires_at", UtcTimestamp, nullable=False),
    sa.Column("refresh_expires_at", UtcTimestamp),
    sa.Column("extra_enc", sa.Text),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    comment="OAuth tokens per store, encrypted at rest (Fernet). Not for analysts.",
)

central_products = sa.Table(
    "central_products",
    metadata,
    tenant_column(),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("parent_sku", sa.Text),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("brand", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("color", sa.Text),
    sa.Column("size", sa.Text),
    sa.Column("gtin", sa.Text),
    sa.Column("price", Money),
    sa.Column("cost", Money),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("weight_g", sa.Integer),
    sa.Column("is_kit", sa.Boolean, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("images", sa.Text, comment="picture URLs, | separated"),
    sa.Column(
        "status",
        sa.Text,
        nullable=False,
        server_default="active",
        comment="active | inactive (listings paused) | discontinued (listings closed)",
    ),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="The central catalog: one row per tenant × SKU, variation-level SKUs included.",
)

product_components = sa.Table(
    "product_components",
    metadata,
    tenant_column(),
    sa.Column("kit_sku", sa.Text, primary_key=True),
    sa.Column("component_sku", sa.Text, primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="Kit compositions: how many of each component SKU one kit uses.",
)

central_stock = sa.Table(
    "central_stock",
    metadata,
    tenant_column(),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("warehouse", sa.Text, primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="Physical stock on hand per tenant × SKU × warehouse, from the catalog source.",
)

categories = sa.Table(
    "categories",
    metadata,
    tenant_column(),
    sa.Column("category_id", sa.Text, primary_key=True, comment="the source's id, or the path"),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("parent_id", sa.Text),
    sa.Column("path", sa.Text, nullable=False, comment='e.g. "Moda > Camisetas"'),
    sa.Column("source", sa.Text, nullable=False, comment="internal | bling"),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment=(
        "Each tenant's category trees: its catalog source's (Bling) and the internal tree "
        "(SYNCHUB_CATEGORY_TREE_FILE, the same for every tenant)."
    ),
)

listings = sa.Table(
    "listings",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("listing_id", sa.Text, primary_key=True),
    sa.Column("variation_id", sa.Text, primary_key=True, comment="'' when no variations"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("seller_sku", sa.Text),
    sa.Column("gtin", sa.Text),
    sa.Column(
        "status",
        sa.Text,
        nullable=False,
        comment="active | paused | under_review | suppressed | closed | draft",
    ),
    sa.Column("raw_status", sa.Text, comment="the marketplace's own status word"),
    sa.Column("status_reason", sa.Text, comment="why it is not active, as the API says"),
    sa.Column("price", Money),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("available_quantity", sa.Integer),
    sa.Column("category_id", sa.Text),
    sa.Column("permalink", sa.Text),
    sa.Column("updated_at", UtcTimestamp),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="One row per store × listing × variation.",
)

listing_links = sa.Table(
    "listing_links",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("listing_id", sa.Text, primary_key=True),
    sa.Column("variation_id", sa.Text, primary_key=True),
    tenant_column(primary_key=False),
    sa.Column("sku", sa.Text, nullable=False, comment="a SKU of the store's tenant"),
    sa.Column("method", sa.Text, nullable=False, comment="seller_sku | gtin | manual"),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="Each listing variation bound to exactly one central SKU, with how it matched.",
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column(
        "status",
        sa.Text,
        nullable=False,
        comment="pending | paid | shipped | delivered | cancelled | returned (docs/orders.md)",
    ),
    sa.Column("raw_status", sa.Text, nullable=False),
    sa.Column("created_at", UtcTimestamp, nullable=False),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    sa.Column("business_date", sa.Date, nullable=False, comment="local date of creation"),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("items_amount", Money, nullable=False, comment="Σ order_items.line_amount"),
    sa.Column("discount_amount", Money, comment="every discount on the order"),
    sa.Column("seller_discount_amount", Money, comment="the seller-funded share"),
    sa.Column("marketplace_discount_amount", Money, comment="the marketplace-funded share"),
    sa.Column("shipping_paid_by_buyer", Money),
    sa.Column("tax_amount", Money, comment="taxes the buyer paid on top of the prices"),
    sa.Column("total_amount", Money, nullable=False, comment="what the buyer paid"),
    sa.Column("fee_amount", Money, comment="every marketplace charge, rebates net"),
    sa.Column("seller_shipping_cost", Money, comment="what shipping cost the seller"),
    sa.Column("refund_amount", Money, comment="refunded to the buyer"),
    sa.Column("payout_amount", Money, comment="what the marketplace pays the seller"),
    sa.Column(
        "fees_final",
        sa.Boolean,
        nullable=False,
        server_default=sa.false(),
        comment="the marketplace has settled the order: its money no longer changes",
    ),
    sa.Column("settled_at", UtcTimestamp, comment="when the marketplace settled it"),
    sa.Column("buyer_hash", sa.Text),
    sa.Column("buyer_city", sa.Text),
    sa.Column("buyer_state", sa.Text),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    sa.Index("ix_orders_store_business_date", "store_id", "business_date"),
    sa.Index("ix_orders_store_updated_at", "store_id", "updated_at"),
    comment="One row per store × order.",
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("line_ref", sa.Text, comment="the marketplace's own id of the line"),
    sa.Column("listing_id", sa.Text),
    sa.Column("variation_id", sa.Text, nullable=False),
    sa.Column("seller_sku", sa.Text),
    sa.Column("title", sa.Text),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", Money, nullable=False),
    sa.Column(
        "line_amount", Money, nullable=False, comment="the line's amount as the API states it"
    ),
    sa.Column("discount_amount", Money),
    sa.Column("tax_amount", Money),
    sa.Column("fee", Money, comment="marketplace charges on this line, where the API says"),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="One row per order line.",
)

stock_snapshots = sa.Table(
    "stock_snapshots",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("listing_id", sa.Text, primary_key=True),
    sa.Column("variation_id", sa.Text, primary_key=True),
    sa.Column("snapshot_at", UtcTimestamp, primary_key=True),
    sa.Column("seller_sku", sa.Text),
    sa.Column("available_quantity", sa.Integer, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="Published quantity per store × listing × variation at each snapshot time.",
)

ingest_errors = sa.Table(
    "ingest_errors",
    metadata,
    sa.Column("source", sa.Text, primary_key=True, comment="e.g. mercadolivre.orders"),
    sa.Column("store_id", sa.Text, primary_key=True, comment="'' when not store-bound"),
    sa.Column("record_key", sa.Text, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("first_seen_at", UtcTimestamp, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="Records that failed validation, kept with the reason (never dropped).",
)

# Columns that identify a row, per table: the conflict target of every upsert.
KEYS: dict[str, tuple[str, ...]] = {
    t.name: tuple(c.name for c in t.primary_key.columns) for t in metadata.sorted_tables
}

# The receiver's log of accepted notifications, read by the event sensors in `seq` order.
# `seq` has no database default on purpose: PostgreSQL takes it from the sequence below
# (SQLAlchemy renders nextval() in every INSERT), SQLite from MAX(seq) + 1 inside the
# writing statement (synchub_pipelines.webhooks.store) — SQLite's AUTOINCREMENT needs an
# INTEGER PRIMARY KEY, and the key here is `event_key`. Rows are never deleted by the
# pipeline, so a number is never handed out twice.
WEBHOOK_EVENT_STATES = ("pending", "processing", "processed", "failed", "quarantined")
webhook_events_seq = sa.Sequence("webhook_events_seq", metadata=metadata)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column(
        "event_key",
        sa.Text,
        primary_key=True,
        comment="<marketplace>:<the marketplace's event id> (Shopee: sha256 of the body)",
    ),
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        webhook_events_seq,
        nullable=False,
        comment="increasing arrival order; the sensors' cursor (gaps are normal)",
    ),
    sa.Column("marketplace", sa.Text, nullable=False),
    sa.Column("store_id", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False, comment="ML topic, Shopee code, TikTok type…"),
    sa.Column("resource_id", sa.Text, comment="the order/listing the event is about"),
    sa.Column("payload", sa.Text, nullable=False, comment="the raw body, as received"),
    sa.Column("received_at", UtcTimestamp, nullable=False),
    sa.Column("state", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcTimestamp),
    sa.Column("last_error", sa.Text, comment="why it failed, or why it was quarantined"),
    sa.Column("processed_at", UtcTimestamp),
    sa.CheckConstraint(
        "state IN ('pending', 'processing', 'processed', 'failed', 'quarantined')",
        name="ck_webhook_events_state",
    ),
    sa.Index("ux_webhook_events_seq", "seq", unique=True),
    sa.Index("ix_webhook_events_state_seq", "state", "seq"),
    sa.Index("ix_webhook_events_store_state", "store_id", "state"),
    comment="Every accepted marketplace notification, with its processing state.",
)
KEYS[webhook_events.name] = ("event_key",)

# Each domain keeps its tables in its own module; importing them here puts every table on
# `metadata` (and in KEYS) whichever module is imported first.
from synchub_pipelines.warehouse import schema_alerts as schema_alerts  # noqa: E402
from synchub_pipelines.warehouse import schema_bling_catalog as schema_bling_catalog  # noqa: E402
from synchub_pipelines.warehouse import schema_budgets as schema_budgets  # noqa: E402
from synchub_pipelines.warehouse import schema_enrichment as schema_enrichment  # noqa: E402
from synchub_pipelines.warehouse import schema_events as schema_events  # noqa: E402
from synchub_pipelines.warehouse import schema_normalization as schema_normalization  # noqa: E402
from synchub_pipelines.warehouse import schema_orders as schema_orders  # noqa: E402
from synchub_pipelines.warehouse import schema_publishing as schema_publishing  # noqa: E402
from synchub_pipelines.warehouse import schema_stock as schema_stock  # noqa: E402
