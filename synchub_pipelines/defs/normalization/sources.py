"""Which marketplaces have category APIs here, and a client to reach each one.

Category trees are per site or region, not per store: any connected store's client will
do, so the first active store of each marketplace is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import dagster as dg

from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.marketplaces.categories import mercadolivre as ml_categories
from synchub_pipelines.marketplaces.categories import shopee as shopee_categories
from synchub_pipelines.marketplaces.categories import tiktok as tiktok_categories
from synchub_pipelines.models import Store
from synchub_pipelines.warehouse.stores import load_stores

# Each module offers fetch_tree(client), fetch_attributes(client, category_id) and
# suggest(client, text). Amazon has no category module: its product types are not a
# tree to map to (Product Type Definitions), so its stores get no readiness rows here.
MODULES: dict[str, ModuleType] = {
    "mercadolivre": ml_categories,
    "shopee": shopee_categories,
    "tiktok": tiktok_categories,
}


@dataclass(frozen=True)
class CategorySource:
    marketplace: str
    store: Store
    module: ModuleType


def category_sources(warehouse: WarehouseResource) -> list[CategorySource]:
    """One source per marketplace that has a connected store and a category module."""
    picked: dict[str, CategorySource] = {}
    for store in load_stores(warehouse.engine()):
        name = store.marketplace.value
        if name in MODULES and name not in picked:
            picked[name] = CategorySource(name, store, MODULES[name])
    return list(picked.values())


def tenant_marketplaces(warehouse: WarehouseResource) -> dict[str, list[str]]:
    """Per tenant, the marketplaces of `category_sources` its active stores are on: a
    product's readiness is judged where its own merchant sells."""
    order = [source.marketplace for source in category_sources(warehouse)]
    found: dict[str, set[str]] = {}
    for store in load_stores(warehouse.engine()):
        found.setdefault(store.tenant, set()).add(store.marketplace.value)
    return {tenant: [m for m in order if m in mine] for tenant, mine in found.items()}


@contextmanager
def client_of(
    source: CategorySource, marketplaces: MarketplacesResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    client: Any = marketplaces.client_for(source.store, warehouse)
    try:
        yield client
    finally:
        client.close()


def skipped(context: dg.AssetExecutionContext, source: CategorySource, exc: Exception) -> str:
    message = f"{source.marketplace} (via {source.store.store_id}): {exc}"
    context.log.warning(f"skipped {message}")
    return message
