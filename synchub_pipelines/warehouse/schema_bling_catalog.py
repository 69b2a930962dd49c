"""Warehouse table of the Bling catalog write-back, on the shared `schema.metadata`.

Imported at the end of schema.py so that every table is known wherever the schema is.

The write-back keeps Bling (the catalog of record) right: each central product's normalized
category, brand and attributes (as Bling custom fields), and its link to every store it is
listed in (produtos/lojas, the marketplace listing id per store). Bling itself is the
state: each run reads it, plans only what differs and audits every planned and real write
here, so a rerun that finds Bling right writes nothing and records nothing.
"""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, UtcTimestamp, metadata, tenant_column

BLING_CATALOG_ACTIONS = ("update_product", "create_link", "update_link")
WRITE_STATUSES = ("planned", "written", "refused", "failed", "skipped")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


bling_catalog_writes = sa.Table(
    "bling_catalog_writes",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    tenant_column(),
    sa.Column("sku", sa.Text, primary_key=True, comment="the central SKU written"),
    sa.Column("store_id", sa.Text, primary_key=True, comment="'' for a product write"),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("bling_product_id", sa.BigInteger, nullable=False),
    sa.Column("loja_id", sa.BigInteger, comment="Bling's id of the store (links)"),
    sa.Column("listing_id", sa.Text, comment="the linked listing (links)"),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("before", sa.Text, nullable=False, comment="JSON: what Bling held"),
    sa.Column("request", sa.Text, nullable=False, comment="JSON: the body sent"),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("code", sa.Text, comment="Bling's error type"),
    sa.Column("message", sa.Text, comment="Bling's refusal, or why it was skipped"),
    sa.Column("result_id", sa.BigInteger, comment="the link Bling created"),
    sa.Column("at", UtcTimestamp, nullable=False),
    sa.Column("synced_at", UtcTimestamp, nullable=False),
    sa.CheckConstraint(_in("action", BLING_CATALOG_ACTIONS), name="ck_bling_catalog_writes_action"),
    sa.CheckConstraint(_in("status", WRITE_STATUSES), name="ck_bling_catalog_writes_status"),
    sa.Index("ix_bling_catalog_writes_at", "at"),
    comment="Audit of every write (and dry-run plan) of the catalog to Bling.",
)
KEYS[bling_catalog_writes.name] = tuple(c.name for c in bling_catalog_writes.primary_key.columns)
