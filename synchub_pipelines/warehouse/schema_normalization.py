"""Warehouse tables of the normalization domain, on the shared `schema.metadata`.

Imported at the end of schema.py so that every table is known wherever the schema is;
each table registers its natural key in `schema.KEYS` itself.

The internal category tree itself lands in `categories` (source = 'internal'); these
tables hold what is built around it: its sync to Bling, the marketplaces' own trees and
attribute rules, the mappings between them, normalized product attributes and readiness.

The tree, its mappings and the marketplaces' rules are the deployment's (one tree file);
what is about a product — its normalized attributes, per-marketplace values and readiness —
belongs to the product's tenant and is keyed by tenant and SKU.
"""

from __future__ import annotations

import sqlalchemy as sa

from synchub_pipelines.warehouse.schema import KEYS, UtcTimestamp, metadata, tenant_column


def _key(table: sa.Table) -> sa.Table:
    KEYS[table.name] = tuple(c.name for c in table.primary_key.columns)
    return table


bling_category_links = _key(
    sa.Table(
        "bling_category_links",
        metadata,
        sa.Column("category_id", sa.Text, primary_key=True, comment="internal tree id"),
        sa.Column("bling_id", sa.BigInteger, nullable=False, comment="Bling's category id"),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Which Bling category each internal category is (survives renames and moves).",
    )
)

category_sync_log = _key(
    sa.Table(
        "category_sync_log",
        metadata,
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("category_id", sa.Text, primary_key=True, comment="internal tree id"),
        sa.Column("action", sa.Text, nullable=False, comment="create | rename | move | adopt"),
        sa.Column("bling_id", sa.BigInteger, nullable=False),
        sa.Column("before_name", sa.Text),
        sa.Column("before_parent_bling_id", sa.BigInteger),
        sa.Column("after_name", sa.Text, nullable=False),
        sa.Column("after_parent_bling_id", sa.BigInteger),
        sa.Column("changed_at", UtcTimestamp, nullable=False),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Every change the Bling category sync made, with the category before and after.",
    )
)

marketplace_categories = _key(
    sa.Table(
        "marketplace_categories",
        metadata,
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("category_id", sa.Text, primary_key=True, comment="the marketplace's id"),
        sa.Column("site", sa.Text, nullable=False, comment="MLB, BR… (trees are per site)"),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("parent_id", sa.Text),
        sa.Column("path", sa.Text, nullable=False, comment='"Moda > Camisetas"'),
        sa.Column("is_leaf", sa.Boolean, nullable=False, comment="products are listed in leaves"),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Each marketplace's category tree, as its API publishes it.",
    )
)

marketplace_required_attributes = _key(
    sa.Table(
        "marketplace_required_attributes",
        metadata,
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("category_id", sa.Text, primary_key=True),
        sa.Column("attribute_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column(
            "requirement",
            sa.Text,
            nullable=False,
            comment="required | conditional | catalog_required | optional",
        ),
        sa.Column("condition", sa.Text, comment="when a conditional attribute is required"),
        sa.Column(
            "required_when",
            sa.Text,
            nullable=False,
            comment="JSON [{attribute_id, value_id}]: required if another attribute has it",
        ),
        sa.Column("value_type", sa.Text, nullable=False, comment="string|list|number_unit|…"),
        sa.Column("closed_list", sa.Boolean, nullable=False, comment="only listed values allowed"),
        sa.Column("allowed_values", sa.Text, nullable=False, comment="JSON [{id, name}]"),
        sa.Column("allowed_units", sa.Text, nullable=False, comment="JSON [unit]"),
        sa.Column("default_unit", sa.Text),
        sa.Column("canonical", sa.Text, comment="our attribute it is filled from (brand…)"),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment=(
            "Attribute rules of the marketplace categories the merchant's categories map to: "
            "whether each is required, closed value lists, units."
        ),
    )
)

category_mappings = _key(
    sa.Table(
        "category_mappings",
        metadata,
        sa.Column("category_id", sa.Text, primary_key=True, comment="internal tree id"),
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("marketplace_category_id", sa.Text),
        sa.Column("marketplace_category_path", sa.Text),
        sa.Column("status", sa.Text, nullable=False, comment="manual | suggested | invalid | none"),
        sa.Column("based_on", sa.Text, nullable=False, comment="why this category"),
        sa.Column("reason", sa.Text, comment="why the mapping cannot be used"),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Internal category → each marketplace's category (manual, or suggested).",
    )
)

product_attributes_normalized = _key(
    sa.Table(
        "product_attributes_normalized",
        metadata,
        tenant_column(),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("attribute", sa.Text, primary_key=True, comment="brand|color|size|weight…"),
        sa.Column("value", sa.Text, comment="normalized; NULL when rejected"),
        sa.Column("unit", sa.Text, comment="g for weights, cm for dimensions"),
        sa.Column("raw_value", sa.Text, nullable=False, comment="as the merchant gave it"),
        sa.Column("source", sa.Text, nullable=False, comment="catalog | attributes_file"),
        sa.Column("status", sa.Text, nullable=False, comment="ok | rejected"),
        sa.Column("reason", sa.Text, comment="why it was rejected"),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Central products' attributes in one vocabulary and one unit each.",
    )
)

product_marketplace_attributes = _key(
    sa.Table(
        "product_marketplace_attributes",
        metadata,
        tenant_column(),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("attribute_id", sa.Text, primary_key=True),
        sa.Column("attribute_name", sa.Text, nullable=False),
        sa.Column("value_id", sa.Text, comment="the marketplace's value id (closed lists)"),
        sa.Column("value_name", sa.Text),
        sa.Column("status", sa.Text, nullable=False, comment="ok | missing | invalid"),
        sa.Column("reason", sa.Text),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Each product's value for each attribute of its marketplace category.",
    )
)

listing_readiness = _key(
    sa.Table(
        "listing_readiness",
        metadata,
        tenant_column(),
        sa.Column("sku", sa.Text, primary_key=True),
        sa.Column("marketplace", sa.Text, primary_key=True),
        sa.Column("ready", sa.Boolean, nullable=False),
        sa.Column("marketplace_category_id", sa.Text),
        sa.Column("missing", sa.Text, nullable=False, comment="JSON [attribute name]"),
        sa.Column("invalid", sa.Text, nullable=False, comment="JSON [attribute: reason]"),
        sa.Column("notes", sa.Text, nullable=False, comment="JSON [conditional requirements]"),
        sa.Column("synced_at", UtcTimestamp, nullable=False),
        comment="Per product × marketplace: can it be listed, and if not, exactly why.",
    )
)
