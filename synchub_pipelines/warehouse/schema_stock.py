"""Warehouse tables of the stock domain, on the shared `schema.metadata`.

Imported at the end of schema.py so that every table is known wherever the schema is;
each table registers its natural key in `schema.KEYS` itself.

Everything here belongs to one tenant: figures per SKU are keyed by tenant and SKU (two
merchants with a common SKU never pool a unit), and rows per listing carry the tenant of
the listing's store, so each merchant's plan, push state and audit are one WHERE away.

- `allocatable_stock`: per tenant × SKU, what may be offered now (on hand − reserved; kits from
  their components), and `allocatable_stock_history` with one row per change.
- `stock_push_plan`: per linked listing variation, the quantity it should publish.
- `stock_listing_state`: what we last know a listing publishes (written or read back).
- `stock_pushes`: the audit of every write to a marketplace, and of every dry-run plan.
"""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, UtcTimestamp, metadata, tenant_column

allocatable_stock = sa.Table(
    "allocatable_stock",
    metadata,
    tenant_column(),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False, comment="Σ central_stock over warehouses"),
    sa.Column("reserved", sa.Integer, nullable=False, comment="units in open, unshipped orders"),
    sa.Column("allocatable", sa.Integer, nullable=False, comment="max(0, on_hand − reserved)"),
    sa.Column("is_kit", sa.Boolean, nullable=False),
    sa.Column("computed_at", UtcTimestamp, nullable=False, comment="when these figures changed"),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="Per tenant × SKU: units that may be offered on the marketplaces now.",
)
KEYS[allocatable_stock.name] = ("tenant", "sku")

allocatable_stock_history = sa.Table(
    "allocatable_stock_history",
    metadata,
    tenant_column(),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("computed_at", UtcTimestamp, primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False),
    sa.Column("allocatable", sa.Integer, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="Allocatable stock over time: one row per tenant × SKU each time its figures changed.",
)
KEYS[allocatable_stock_history.name] = ("tenant", "sku", "computed_at")

stock_push_plan = sa.Table(
    "stock_push_plan",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("listing_id", sa.Text, primary_key=True),
    sa.Column("variation_id", sa.Text, primary_key=True),
    tenant_column(primary_key=False),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("marketplace", sa.Text, nullable=False),
    sa.Column("policy", sa.Text, nullable=False, comment="the store's allocation policy"),
    sa.Column("allocatable", sa.Integer, nullable=False, comment="the SKU's, when planned"),
    sa.Column("desired_quantity", sa.Integer, nullable=False, comment="what the policy asks"),
    sa.Column("target_quantity", sa.Integer, nullable=False, comment="what it should publish"),
    sa.Column("planned_at", UtcTimestamp, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    sa.Index("ix_stock_push_plan_sku", "tenant", "sku"),
    comment="Per linked listing variation: the quantity it should publish.",
)
KEYS[stock_push_plan.name] = ("store_id", "listing_id", "variation_id")

stock_listing_state = sa.Table(
    "stock_listing_state",
    metadata,
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("listing_id", sa.Text, primary_key=True),
    sa.Column("variation_id", sa.Text, primary_key=True),
    tenant_column(primary_key=False),
    sa.Column("published_quantity", sa.Integer, nullable=False),
    sa.Column("observed_at", UtcTimestamp, nullable=False, comment="written or read back then"),
    sa.Column("last_written_at", UtcTimestamp, comment="our last accepted write"),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    comment="What each listing publishes, as our last write or read-back saw it.",
)
KEYS[stock_listing_state.name] = ("store_id", "listing_id", "variation_id")

PUSH_MODES = ("real", "dry_run")
PUSH_STATUSES = ("planned", "written", "failed")

stock_pushes = sa.Table(
    "stock_pushes",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, comment="the step's retry number"),
    sa.Column("store_id", sa.Text, primary_key=True),
    sa.Column("listing_id", sa.Text, primary_key=True),
    sa.Column("variation_id", sa.Text, primary_key=True),
    tenant_column(primary_key=False),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("marketplace", sa.Text, nullable=False),
    sa.Column("quantity_before", sa.Integer, comment="what the listing published, as known"),
    sa.Column("quantity_after", sa.Integer, nullable=False, comment="what was (to be) written"),
    sa.Column("reason", sa.Text, nullable=False, comment="changed | drift | reassert_zero"),
    sa.Column("mode", sa.Text, nullable=False, comment="real | dry_run"),
    sa.Column("status", sa.Text, nullable=False, comment="planned | written | failed"),
    sa.Column("response", sa.Text, comment="the marketplace's answer, or the error"),
    sa.Column("pushed_at", UtcTimestamp, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    sa.CheckConstraint("mode IN ('real', 'dry_run')", name="ck_stock_pushes_mode"),
    sa.CheckConstraint("status IN ('planned', 'written', 'failed')", name="ck_stock_pushes_status"),
    sa.Index("ix_stock_pushes_listing", "store_id", "listing_id", "variation_id"),
    sa.Index("ix_stock_pushes_pushed_at", "pushed_at"),
    sa.Index("ix_stock_pushes_tenant_pushed_at", "tenant", "pushed_at"),
    comment="Audit of every stock write to a marketplace (and of dry-run plans).",
)
KEYS[stock_pushes.name] = ("run_id", "attempt", "store_id", "listing_id", "variation_id")
