"""Assets: allocatable stock per tenant × SKU (with history) and the push plan per listing
variation, with the blocking check that keeps a plan publishing more than exists from being
pushed.

Every figure is computed inside one tenant: its stock on hand, the reservations of its
stores' orders, its kits; a listing takes its share of its own store's tenant's units, so a
sale in one merchant's store never moves another merchant's plan.
"""

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from synchub_pipelines.defs.common import OWNERS
from synchub_pipelines.defs.quality import no_rows_check
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stock import reads
from synchub_pipelines.defs.stock.allocation import (
    ListingKey,
    SkuStock,
    allocatable_stock,
    split,
)
from synchub_pipelines.defs.stock.locks import stock_lock
from synchub_pipelines.defs.stock.policy import POLICY_FILE_ENV, PolicyBook, tenant_policy_book
from synchub_pipelines.defs.stores.tenants import DEFAULT_TENANT, tenant_names
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.schema_stock import (
    allocatable_stock as allocatable_table,
)
from synchub_pipelines.warehouse.schema_stock import (
    allocatable_stock_history,
    stock_push_plan,
)
from synchub_pipelines.warehouse.stores import store_tenants

GROUP = "stock"


@dg.asset(
    name="allocatable_stock",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=["central_stock", "central_products", "orders", "order_items", "listing_links"],
    description=(
        "Per tenant × SKU, the units that may be offered now (`allocatable_stock`): on hand "
        "minus reserved (lines of pending or paid orders not yet shipped, from every store of "
        "the tenant); a kit offers min over its components of floor(allocatable / units per "
        "kit). Every change is kept in `allocatable_stock_history`."
    ),
    tags={"domain": "stock"},
)
def allocatable_stock_asset(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    engine = warehouse.engine()
    with stock_lock(engine):
        return _compute_allocatable(context, warehouse)


def _compute_allocatable(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every tenant's allocatable stock (the caller holds the stock lock)."""
    engine = warehouse.engine()
    now = datetime.now(UTC)
    stock: dict[tuple[str, str], SkuStock] = {}
    reserved_units = unmatched_units = 0
    with engine.connect() as conn:
        reserved = reads.reservations_by_tenant(conn)
        for tenant in reads.tenants(conn):
            mine = reserved.get(tenant, reads.Reservations({}, 0))
            computed = allocatable_stock(
                reads.on_hand(conn, tenant), mine.by_sku, reads.components(conn, tenant)
            )
            stock.update(((tenant, sku), figures) for sku, figures in computed.items())
            reserved_units += sum(mine.by_sku.values())
            unmatched_units += mine.unmatched_units
        current = {
            (r.tenant, r.sku): (r.on_hand, r.reserved, r.allocatable, r.is_kit)
            for r in conn.execute(sa.select(allocatable_table))
        }
    # Only SKUs whose figures moved are written, so a re-run changes nothing.
    moved = [
        (tenant, s)
        for (tenant, _), s in stock.items()
        if current.get((tenant, s.sku)) != (s.on_hand, s.reserved, s.allocatable, s.is_kit)
    ]
    rows = upsert.Batch.for_table(allocatable_table)
    rows.rows.extend(
        (tenant, s.sku, s.on_hand, s.reserved, s.allocatable, s.is_kit, now) for tenant, s in moved
    )
    history = upsert.Batch.for_table(allocatable_stock_history)
    history.rows.extend(
        (tenant, s.sku, now, s.on_hand, s.reserved, s.allocatable) for tenant, s in moved
    )
    gone: dict[str, list[str]] = defaultdict(list)
    for tenant, sku in sorted(set(current) - set(stock)):
        gone[tenant].append(sku)
    with engine.begin() as conn:
        changed = upsert.write(conn, [rows, history])
        for tenant, skus in gone.items():
            conn.execute(
                sa.delete(allocatable_table).where(
                    allocatable_table.c.tenant == tenant, allocatable_table.c.sku.in_(skus)
                )
            )
    if unmatched_units:
        context.log.warning(
            f"{unmatched_units} reserved unit(s) are on listings linked to no SKU: "
            "they reserve nothing until the listing is linked (see listing_links)"
        )
    figures = list(stock.values())
    tenants_seen = sorted({tenant for tenant, _ in stock})
    by_tenant: dict[str, Any] = {}
    if set(tenants_seen) - {DEFAULT_TENANT}:
        by_tenant["per_tenant"] = dg.MetadataValue.json(
            {
                tenant: {
                    "skus": sum(1 for (t, _) in stock if t == tenant),
                    "units_allocatable": sum(
                        s.allocatable for (t, _), s in stock.items() if t == tenant and not s.is_kit
                    ),
                }
                for tenant in tenants_seen
            }
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(stock)),
            "dagster/table_name": dg.MetadataValue.text("allocatable_stock"),
            "skus_changed": dg.MetadataValue.int(len(moved)),
            "skus_removed": dg.MetadataValue.int(sum(len(v) for v in gone.values())),
            "rows_changed": dg.MetadataValue.json(changed),
            "units_on_hand": dg.MetadataValue.int(sum(s.on_hand for s in figures if not s.is_kit)),
            "units_reserved": dg.MetadataValue.int(reserved_units),
            "reserved_units_unlinked": dg.MetadataValue.int(unmatched_units),
            "units_allocatable": dg.MetadataValue.int(
                sum(s.allocatable for s in figures if not s.is_kit)
            ),
            "skus_with_nothing_to_offer": dg.MetadataValue.int(
                sum(1 for s in figures if s.allocatable == 0)
            ),
            "kits": dg.MetadataValue.int(sum(1 for s in figures if s.is_kit)),
            "warehouse": dg.MetadataValue.text(warehouse.display_url),
            **by_tenant,
        }
    )


class StorePolicyConfig(dg.Config):
    """One store's allocation policy in run config (overrides the policy file)."""

    share: float = Field(default=1.0, description="fraction of allocatable to offer (0..1)")
    buffer: int = Field(default=0, description="units kept back before sharing")
    max: int | None = Field(default=None, description="never offer more than this")
    exclude: bool = Field(default=False, description="offer nothing on this store")


class PlanConfig(dg.Config):
    policy_file: str | None = Field(
        default=None,
        description=(
            f"YAML/JSON allocation policies of the default tenant; default ${POLICY_FILE_ENV} "
            "(other tenants: stock_policy_file in the tenants file)"
        ),
    )
    store_policies: dict[str, StorePolicyConfig] = Field(
        default_factory=dict, description="per store id, overrides the file for this run"
    )


@dg.asset(
    name="stock_push_plan",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[allocatable_stock_asset, "listing_links"],
    description=(
        "Per linked listing variation, the quantity it should publish (`stock_push_plan`; "
        "a listing the publishing domain paused or closed, or the marketplace reports "
        "closed or no longer lists, is left out): "
        "each store's allocation policy (all, a share, a buffer, a maximum, or exclude — "
        f"its tenant's file, ${POLICY_FILE_ENV} for the default tenant, overridable in run "
        "config) asks for units of its tenant's SKU, and when the asks exceed the SKU's "
        "allocatable units they are split in proportion, the same way every run. Never more "
        "than allocatable per tenant × SKU across all listings (blocking check)."
    ),
    tags={"domain": "stock"},
)
def stock_push_plan_asset(
    context: dg.AssetExecutionContext, config: PlanConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    engine = warehouse.engine()
    owners = store_tenants(engine)
    try:
        book = tenant_policy_book(owners, config.policy_file).overridden(
            {store: knobs.model_dump() for store, knobs in config.store_policies.items()}
        )
        configured = set(tenant_names())
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    strays = sorted({tenant for tenant in owners.values() if tenant not in configured})
    if strays:
        context.log.warning(
            f"stores of tenant(s) {', '.join(strays)} are planned with publish-all: no "
            "tenant of that name is configured (SYNCHUB_TENANTS_FILE)"
        )
    with stock_lock(engine):
        return _plan(book, warehouse)


def _plan(book: PolicyBook, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The plan of every tenant; `book` holds each store's policy (`tenant_policy_book`)."""
    engine = warehouse.engine()
    now = datetime.now(UTC)
    with engine.connect() as conn:
        states = reads.publishing_states(conn)
        linked = reads.linked_listings(conn)
        allocatable = reads.allocatable_by_tenant(conn)
        current = {
            (r.store_id, r.listing_id, r.variation_id): (
                r.tenant,
                r.sku,
                r.marketplace,
                r.policy,
                r.allocatable,
                r.desired_quantity,
                r.target_quantity,
            )
            for r in conn.execute(sa.select(stock_push_plan))
        }
    # A listing publishing paused or closed is off sale by the merchant's catalog: it gets
    # no plan row (the push never writes it) and its units go to the SKU's other listings.
    links = [link for link in linked if not states.holds(link.key)]
    held = [link for link in linked if states.holds(link.key)]
    by_sku: dict[tuple[str, str], list[reads.LinkedListing]] = defaultdict(list)
    for link in links:
        by_sku[(link.tenant, link.sku)].append(link)
    rows = upsert.Batch.for_table(stock_push_plan)
    published_units = 0
    per_store: dict[str, dict[str, object]] = {}
    for (tenant, sku), listings in sorted(by_sku.items()):
        units = allocatable.get((tenant, sku), 0)
        asks: dict[ListingKey, int] = {}
        for listing in listings:
            asks[listing.key] = book.for_store(listing.key[0]).desired(units)
        targets = split(units, asks)
        for listing in listings:
            store_id = listing.key[0]
            policy = book.for_store(store_id)
            figures = (
                tenant,
                sku,
                listing.marketplace,
                policy.describe(),
                units,
                asks[listing.key],
                targets[listing.key],
            )
            published_units += targets[listing.key]
            summary = per_store.setdefault(
                store_id,
                {"tenant": tenant, "policy": policy.describe(), "listings": 0, "units": 0},
            )
            summary["listings"] = int(summary["listings"]) + 1  # type: ignore[call-overload]
            summary["units"] = int(summary["units"]) + targets[listing.key]  # type: ignore[call-overload]
            if current.get(listing.key) != figures:
                rows.rows.append((*listing.key, *figures, now))
    gone = set(current) - {link.key for link in links}
    with engine.begin() as conn:
        changed = upsert.write(conn, [rows])
        for store_id, listing_id, variation_id in sorted(gone):
            conn.execute(
                sa.delete(stock_push_plan).where(
                    stock_push_plan.c.store_id == store_id,
                    stock_push_plan.c.listing_id == listing_id,
                    stock_push_plan.c.variation_id == variation_id,
                )
            )
    several = {str(s["tenant"]) for s in per_store.values()} - {DEFAULT_TENANT}
    header = ["| store | tenant | policy | listings | units published |", "|---|---|---|---:|---:|"]
    if not several:
        # A single-tenant deployment's table reads as it always has.
        header = ["| store | policy | listings | units published |", "|---|---|---:|---:|"]
    store_table = "\n".join(
        header
        + [
            f"| {store} | {s['tenant']} | {s['policy']} | {s['listings']} | {s['units']} |"
            if several
            else f"| {store} | {s['policy']} | {s['listings']} | {s['units']} |"
            for store, s in sorted(per_store.items())
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(links)),
            "dagster/table_name": dg.MetadataValue.text("stock_push_plan"),
            "listings_changed": dg.MetadataValue.int(len(rows.rows)),
            "listings_removed": dg.MetadataValue.int(len(gone)),
            "listings_held_by_publishing": dg.MetadataValue.int(len(held)),
            "rows_changed": dg.MetadataValue.json(changed),
            "skus": dg.MetadataValue.int(len(by_sku)),
            "units_published": dg.MetadataValue.int(published_units),
            "stores": dg.MetadataValue.md(store_table),
        }
    )


published_within_allocatable = no_rows_check(
    "stock_push_plan",
    "published_within_allocatable",
    "SELECT p.tenant, p.sku, SUM(p.target_quantity) AS published, "
    "MIN(p.target_quantity) AS lowest, COALESCE(MAX(a.allocatable), 0) AS allocatable "
    "FROM stock_push_plan p "
    "LEFT JOIN allocatable_stock a ON a.tenant = p.tenant AND a.sku = p.sku "
    "GROUP BY p.tenant, p.sku "
    "HAVING SUM(p.target_quantity) > COALESCE(MAX(a.allocatable), 0) "
    "OR MIN(p.target_quantity) < 0",
    "For each tenant's SKU, the quantities planned across its listings add up to at most "
    "its allocatable units (and none is negative). Blocking: a plan that fails is never "
    "pushed.",
    blocking=True,
)
