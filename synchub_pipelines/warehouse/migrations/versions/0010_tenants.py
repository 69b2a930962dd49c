"""Tenants: the central catalog, normalization per product, allocation and pushes per tenant.

Before this revision `stores.tenant` was a label and a SKU meant the same product for every
store, so the whole deployment was one merchant. Existing rows therefore all move into the
`default` tenant, stores included: a store left under another label would lose its catalog
and stop being pushed to. Tables keyed by SKU get `tenant` first in their key; tables keyed
by listing (links, plan, push state, audit) get the listing's store's tenant as a column.

SQLite cannot alter a primary key: those tables are rebuilt (batch mode) from their
reflected definition with the new key, the data copied across. PostgreSQL swaps the
constraint in place.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DEFAULT = "default"

# Table → its key without the tenant; the tenant goes first.
REKEYED: dict[str, tuple[str, ...]] = {
    "central_products": ("sku",),
    "product_components": ("kit_sku", "component_sku"),
    "central_stock": ("sku", "warehouse"),
    "categories": ("category_id",),
    "allocatable_stock": ("sku",),
    "allocatable_stock_history": ("sku", "computed_at"),
    "product_attributes_normalized": ("sku", "attribute"),
    "product_marketplace_attributes": ("sku", "marketplace", "attribute_id"),
    "listing_readiness": ("sku", "marketplace"),
}
# Keyed by listing: the tenant is the listing's store's, kept beside the key.
TENANT_COLUMN_ONLY = ("listing_links", "stock_push_plan", "stock_listing_state", "stock_pushes")


def _tenant_column() -> sa.Column[str]:
    return sa.Column("tenant", sa.Text, nullable=False, server_default=DEFAULT)


def upgrade() -> None:
    # Existing data is the default tenant's (see the docstring), stores included.
    op.execute(sa.text("UPDATE stores SET tenant = :t WHERE tenant <> :t").bindparams(t=DEFAULT))
    for table, key in REKEYED.items():
        # NOT NULL with a default: every existing row lands in `default` as it is added.
        op.add_column(table, _tenant_column())
        _set_primary_key(table, ("tenant", *key))
    for table in TENANT_COLUMN_ONLY:
        op.add_column(table, _tenant_column())
    op.drop_index("ix_stock_push_plan_sku", table_name="stock_push_plan")
    op.create_index("ix_stock_push_plan_sku", "stock_push_plan", ["tenant", "sku"])
    op.create_index("ix_stock_pushes_tenant_pushed_at", "stock_pushes", ["tenant", "pushed_at"])


def downgrade() -> None:
    bind = op.get_bind()
    for table in (*REKEYED, *TENANT_COLUMN_ONLY):
        other = bind.execute(
            sa.text(f"SELECT tenant FROM {table} WHERE tenant <> :t LIMIT 1"), {"t": DEFAULT}
        ).scalar()
        if other is not None:
            # One tenant's SKUs would collide with another's under the old keys.
            raise RuntimeError(
                f"cannot go below revision 0010: {table} holds rows of tenant {other!r}, "
                "and the older schema has room for one tenant only"
            )
    op.drop_index("ix_stock_pushes_tenant_pushed_at", table_name="stock_pushes")
    op.drop_index("ix_stock_push_plan_sku", table_name="stock_push_plan")
    op.create_index("ix_stock_push_plan_sku", "stock_push_plan", ["sku"])
    for table in TENANT_COLUMN_ONLY:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tenant")
    for table, key in REKEYED.items():
        _set_primary_key(table, key, drop_tenant=True)


def _set_primary_key(table: str, key: tuple[str, ...], drop_tenant: bool = False) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        current = sa.inspect(bind).get_pk_constraint(table)["name"] or f"{table}_pkey"
        op.drop_constraint(current, table, type_="primary")
        if drop_tenant:
            op.drop_column(table, "tenant")
        op.create_primary_key(f"{table}_pkey", table, list(key))
        return
    # SQLite: rebuild the table from its reflected definition with the new key. Letting
    # batch mode swap the key on the reflected table would leave the old key's columns
    # flagged as primary (SQLAlchemy warns, and a later release refuses).
    reflected = sa.Table(table, sa.MetaData(), autoload_with=bind)
    target = sa.MetaData()
    columns = [
        sa.Column(
            c.name,
            c.type,
            nullable=c.nullable,
            server_default=c.server_default.arg if c.server_default is not None else None,  # type: ignore[attr-defined]
        )
        for c in reflected.columns
        if not (drop_tenant and c.name == "tenant")
    ]
    checks = [
        sa.CheckConstraint(c.sqltext, name=c.name)
        for c in reflected.constraints
        if isinstance(c, sa.CheckConstraint)
    ]
    rebuilt = sa.Table(table, target, *columns, sa.PrimaryKeyConstraint(*key), *checks)
    for index in reflected.indexes:
        sa.Index(index.name, *(rebuilt.c[c.name] for c in index.columns), unique=index.unique)
    with op.batch_alter_table(table, recreate="always", copy_from=rebuilt):
        pass
