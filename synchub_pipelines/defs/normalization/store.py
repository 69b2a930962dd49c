"""Warehouse reads and whole-table writes of the normalization domain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from synchub_pipelines.marketplaces.categories.models import (
    AllowedValue,
    AttributeRule,
    MarketplaceCategory,
    ValueCondition,
)
from synchub_pipelines.warehouse import schema, upsert
from synchub_pipelines.warehouse import schema_normalization as tables


def replace(
    conn: Connection, batch: upsert.Batch, scope: sa.ColumnElement[bool] | None = None
) -> dict[str, int]:
    """Upsert the batch, then delete the rows (within `scope`) it no longer has.

    Unchanged rows keep their `synced_at`, so a second run with the same input changes
    nothing.
    """
    changed = upsert.write(conn, [batch])
    table = batch.table
    keys = schema.KEYS[table.name]
    index = [batch.columns.index(k) for k in keys]
    present = {tuple(row[i] for i in index) for row in batch.rows}
    query = sa.select(*(table.c[k] for k in keys))
    if scope is not None:
        query = query.where(scope)
    stale = [tuple(r) for r in conn.execute(query) if tuple(r) not in present]
    for key in stale:
        conn.execute(
            sa.delete(table).where(*(table.c[k] == v for k, v in zip(keys, key, strict=True)))
        )
    changed[f"{table.name}_deleted"] = len(stale)
    return changed


def batch_of(table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> upsert.Batch:
    batch = upsert.Batch.for_table(table)
    batch.rows.extend(rows)
    return batch


def category_rows(categories: Sequence[MarketplaceCategory]) -> upsert.Batch:
    return batch_of(
        tables.marketplace_categories,
        [
            (c.marketplace, c.category_id, c.site, c.name, c.parent_id, c.path, c.is_leaf)
            for c in categories
        ],
    )


def load_marketplace_categories(engine: Engine) -> dict[str, dict[str, MarketplaceCategory]]:
    t = tables.marketplace_categories
    out: dict[str, dict[str, MarketplaceCategory]] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.select(t)).mappings():
            out.setdefault(r["marketplace"], {})[r["category_id"]] = MarketplaceCategory(
                r["marketplace"],
                r["site"],
                r["category_id"],
                r["name"],
                r["parent_id"],
                r["path"],
                bool(r["is_leaf"]),
            )
    return out


def rule_rows(rules: Sequence[AttributeRule]) -> upsert.Batch:
    return batch_of(
        tables.marketplace_required_attributes,
        [
            (
                r.marketplace,
                r.category_id,
                r.attribute_id,
                r.name,
                r.requirement,
                r.condition,
                json.dumps(
                    [{"attribute_id": c.attribute_id, "value_id": c.value_id} for c in r.when_any]
                ),
                r.value_type,
                r.closed_list,
                json.dumps(
                    [{"id": v.value_id, "name": v.name} for v in r.allowed_values],
                    ensure_ascii=False,
                ),
                json.dumps(list(r.allowed_units), ensure_ascii=False),
                r.default_unit,
                r.canonical,
            )
            for r in rules
        ],
    )


def load_rules(engine: Engine) -> dict[tuple[str, str], list[AttributeRule]]:
    """(marketplace, category id) → its attribute rules."""
    t = tables.marketplace_required_attributes
    out: dict[tuple[str, str], list[AttributeRule]] = {}
    query = sa.select(t).order_by(t.c.marketplace, t.c.category_id, t.c.attribute_id)
    with engine.connect() as conn:
        for r in conn.execute(query).mappings():
            out.setdefault((r["marketplace"], r["category_id"]), []).append(
                AttributeRule(
                    marketplace=r["marketplace"],
                    category_id=r["category_id"],
                    attribute_id=r["attribute_id"],
                    name=r["name"],
                    requirement=r["requirement"],
                    value_type=r["value_type"],
                    closed_list=bool(r["closed_list"]),
                    allowed_values=tuple(
                        AllowedValue(v["id"], v["name"]) for v in json.loads(r["allowed_values"])
                    ),
                    allowed_units=tuple(json.loads(r["allowed_units"])),
                    default_unit=r["default_unit"],
                    canonical=r["canonical"],
                    condition=r["condition"],
                    when_any=tuple(
                        ValueCondition(c["attribute_id"], c["value_id"])
                        for c in json.loads(r["required_when"])
                    ),
                )
            )
    return out


def load_products(engine: Engine) -> list[sa.RowMapping]:
    """Every tenant's products (each row says its `tenant`)."""
    t = schema.central_products
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t).order_by(t.c.sku, t.c.tenant)).mappings())
