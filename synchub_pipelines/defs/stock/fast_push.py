"""Push stock from the run that lands a sale, instead of waiting for the next sensor tick
and a second run to start (most of a sale's way to the other channels).

The events run calls `push_after_sale` with the orders it just wrote: the SKUs their lines
are linked to (with the kits and components that share units with them) are re-allocated
and re-planned, and only those SKUs' listings are written, the same way `stock_pushes`
writes them — audited, refusing a plan that publishes more than exists, and under the
same lock, so it never races a sweep or the fast-path sensor's run. It writes to live
marketplaces, so it is off until the operator turns it on (SYNCHUB_PUSH_STOCK_ON_SALE),
like the fast-path sensor.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stock.automation import _with_kin
from synchub_pipelines.defs.stock.locks import stock_lock
from synchub_pipelines.defs.stock.planning import _compute_allocatable, _plan
from synchub_pipelines.defs.stock.policy import tenant_policy_book
from synchub_pipelines.defs.stock.push import PushOptions, PushReport, run_push
from synchub_pipelines.defs.stock.pushing import writer_factory
from synchub_pipelines.defs.stores.tenants import tenant_names
from synchub_pipelines.warehouse.schema import listing_links, order_items
from synchub_pipelines.warehouse.stores import store_tenants

SETTING = "SYNCHUB_PUSH_STOCK_ON_SALE"


def enabled() -> bool:
    return os.environ.get(SETTING, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class SalePush:
    skus: dict[str, set[str]]  # tenant → SKUs pushed
    report: PushReport | None


def sold_skus(
    warehouse: WarehouseResource, store_id: str, order_ids: Sequence[str]
) -> dict[str, set[str]]:
    """Per tenant, the SKUs the orders' lines are linked to, with their kits' kin."""
    if not order_ids:
        return {}
    links, items = listing_links, order_items
    query = (
        sa.select(links.c.tenant, links.c.sku)
        .select_from(
            items.join(
                links,
                sa.and_(
                    links.c.store_id == items.c.store_id,
                    links.c.listing_id == items.c.listing_id,
                    links.c.variation_id == items.c.variation_id,
                ),
            )
        )
        .where(items.c.store_id == store_id, items.c.order_id.in_(sorted(set(order_ids))))
        .distinct()
    )
    found: dict[str, set[str]] = defaultdict(set)
    with warehouse.engine().connect() as conn:
        for tenant, sku in conn.execute(query):
            found[tenant].add(sku)
        return {tenant: _with_kin(conn, skus, tenant) for tenant, skus in found.items()}


def push_after_sale(
    context: dg.OpExecutionContext,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
    store_id: str,
    order_ids: Sequence[str],
) -> SalePush:
    """Allocate, plan and write the sold SKUs' listings now (see the module docstring)."""
    by_tenant = sold_skus(warehouse, store_id, order_ids)
    if not by_tenant:
        return SalePush({}, None)
    engine = warehouse.engine()
    book = tenant_policy_book(store_tenants(engine), None)
    options = PushOptions(
        skus=frozenset(sku for skus in by_tenant.values() for sku in skus),
        tenants=frozenset(by_tenant),
    )
    with stock_lock(engine):
        _compute_allocatable(context, warehouse)  # type: ignore[arg-type]
        _plan(book, warehouse)
        report = run_push(
            engine,
            writer_factory(warehouse, marketplaces),
            options,
            context.run.run_id,
            context.retry_number,
            datetime.now(UTC),
        )
    unknown = set(by_tenant) - set(tenant_names())
    if unknown:
        context.log.warning(f"tenant(s) {', '.join(sorted(unknown))} are not configured")
    return SalePush(by_tenant, report)
