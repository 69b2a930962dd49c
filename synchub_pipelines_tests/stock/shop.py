"""A merchant on Mercado Livre, Shopee, TikTok Shop and Amazon at once, on one loopback
sandbox: connected through each marketplace's own flow, catalog from a file, warehouse given.

Used by the stock tests and by benchmarks/stock_push.py. Sales go through each simulator's
`/_sandbox/sales`; orders land in the warehouse the way the event sync lands them (fetched
by id, upserted), and quantities are read back through the clients, over HTTP.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import sqlalchemy as sa

from synchub_pipelines import settings
from synchub_pipelines.defs.catalog.assets import central_products, central_stock
from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.listings.assets import listing_links, listings
from synchub_pipelines.defs.marketplaces import BlingResource, MarketplacesResource
from synchub_pipelines.defs.orders.assets import orders
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stock.planning import (
    allocatable_stock_asset,
    published_within_allocatable,
    stock_push_plan_asset,
)
from synchub_pipelines.defs.stock.pushing import stock_pushes_asset
from synchub_pipelines.defs.stores.assets import stores, sync_store_partitions
from synchub_pipelines.demo.sandbox_accounts import (
    configure_sandbox_env,
    connect_bling_account,
    connect_sellers,
)
from synchub_pipelines.models import DEFAULT_TIMEZONE
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.sandbox.world import Seller, default_sellers
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.credentials import SqlTokenStore
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.rows import order_batches
from synchub_pipelines.warehouse.stores import load_store

STOCK_ASSETS = [
    allocatable_stock_asset,
    stock_push_plan_asset,
    stock_pushes_asset,
    published_within_allocatable,
]
MARKETPLACES = ("mercadolivre", "shopee", "tiktok", "amazon")

ListingKey = tuple[str, str, str]


def shop_sellers() -> list[Seller]:
    """One account on each marketplace that has a client with a stock write."""
    chosen: dict[str, Seller] = {}
    for seller in default_sellers():
        if seller.marketplace in MARKETPLACES:
            chosen.setdefault(seller.marketplace, seller)
    return list(chosen.values())


@contextmanager
def sandbox_environment(running: RunningSandbox) -> Iterator[None]:
    """The variables a merchant would set for these sandbox hosts, undone afterwards."""
    saved = dict(os.environ)
    configure_sandbox_env(running.url)
    os.environ["SYNCHUB_CATALOG_SOURCE"] = "file"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def write_catalog(running: RunningSandbox, path: Path) -> Path:
    rows = running.sandbox.world.catalog_rows()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


CORE_ASSETS = [central_products, central_stock, stores, listings, listing_links, orders]


def materialize_stock_inputs(
    store_ids: list[str],
    first: date,
    last: date,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
) -> None:
    """Catalog, stores, listings, links and orders: the stock domain's inputs, nothing more."""
    sync_store_partitions(instance, store_ids)

    def run(selection: list[str], **kw: Any) -> None:
        dg.materialize(
            CORE_ASSETS,
            selection=selection,
            instance=instance,
            resources=resources,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            **kw,
        )

    run(["central_products", "central_stock", "stores"])
    for store_id in store_ids:
        run(["listings"], partition_key=store_id)
    run(["listing_links"])
    start = dg.MultiPartitionKey({"date": first.isoformat(), "store": store_ids[0]})
    end = dg.MultiPartitionKey({"date": last.isoformat(), "store": store_ids[-1]})
    run(
        ["orders", "order_items"],
        tags={
            "dagster/asset_partition_range_start": str(start),
            "dagster/asset_partition_range_end": str(end),
        },
    )


class Shop:
    def __init__(self, running: RunningSandbox, warehouse_url: str, folder: Path) -> None:
        self.running = running
        self.url = warehouse_url
        self.engine = engine_for(warehouse_url)
        migrate(self.engine)
        self.catalog = write_catalog(running, folder / "catalog.csv")
        self.token_store = SqlTokenStore(self.engine, settings.secret_key())
        self.store_ids: list[str] = []

    def resources(self) -> dict[str, Any]:
        return {
            "warehouse": WarehouseResource(url=self.url),
            # The catalog comes from the file; Bling, connected too, follows its stock.
            "catalog": CatalogResource(
                file_path=str(self.catalog), bling=BlingResource.from_environment(resolve=True)
            ),
            "marketplaces": MarketplacesResource.from_environment(resolve=True),
        }

    def start(self, instance: dg.DagsterInstance) -> list[str]:
        """Connect every seller and land the stock domain's inputs; returns the store ids."""
        sellers = [s for s in self.running.sandbox.world.sellers if s.marketplace in MARKETPLACES]
        connect_bling_account(self.token_store)
        stores = connect_sellers(sellers, self.engine, self.token_store)
        self.store_ids = [s.store_id for s in stores]
        zone = ZoneInfo(DEFAULT_TIMEZONE)
        orders = self.running.sandbox.world.orders
        first = min(o.created_at for o in orders).astimezone(zone).date() - timedelta(days=1)
        last = max(date.today(), max(o.created_at for o in orders).astimezone(zone).date())
        materialize_stock_inputs(self.store_ids, first, last, instance, self.resources())
        return self.store_ids

    # --- the stock job ---------------------------------------------------------------

    def push(self, instance: dg.DagsterInstance, **config: Any) -> dg.ExecuteInJobResult:
        return dg.materialize(
            STOCK_ASSETS,
            instance=instance,
            resources=self.resources(),
            run_config={
                "ops": {"stock_pushes": {"config": config}},
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
            raise_on_error=False,
        )

    def set_on_hand(self, instance: dg.DagsterInstance, quantities: dict[str, int]) -> None:
        rows = list(csv.DictReader(self.catalog.open(encoding="utf-8")))
        for row in rows:
            if row["sku"] in quantities:
                row["on_hand"] = str(quantities[row["sku"]])
        with self.catalog.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        dg.materialize(
            [central_products, central_stock],
            selection=[central_stock],
            instance=instance,
            resources=self.resources(),
        )

    # --- the marketplaces ------------------------------------------------------------

    def client(self, store_id: str) -> Any:
        store = load_store(self.engine, store_id)
        assert store is not None
        resources = self.resources()
        return resources["marketplaces"].client_for(store, resources["warehouse"])

    def sell(self, key: ListingKey, quantity: int = 1) -> str:
        """A buyer pays for a listing variation on its marketplace; returns the order id."""
        store_id, listing_id, variation_id = key
        marketplace, _, seller_id = store_id.partition("-")
        base = self.running.base_url(marketplace)
        body: dict[str, Any]
        if marketplace == "mercadolivre":
            body = {"item_id": listing_id, "quantity": quantity}
            if variation_id:
                body["variation_id"] = int(variation_id)
        elif marketplace == "shopee":
            model = int(variation_id) if variation_id else 0
            body = {"item_id": int(listing_id), "model_id": model, "quantity": quantity}
        elif marketplace == "tiktok":
            body = {"product_id": listing_id, "sku_id": variation_id, "quantity": quantity}
        else:
            body = {"sku": listing_id, "quantity": quantity, "seller_id": seller_id}
        answer = httpx.post(f"{base}/_sandbox/sales", json=body, timeout=30)
        if answer.status_code not in (200, 201):
            raise SaleRefused(answer.text)
        payload = answer.json()
        for field in ("id", "order_id", "order_sn", "AmazonOrderId"):
            if payload.get(field):
                return str(payload[field])
        raise AssertionError(f"no order id in the sale's answer: {payload}")

    def ingest(self, store_id: str, order_ids: list[str]) -> None:
        """Land orders the way the event sync does: fetch them by id, upsert them."""
        client = self.client(store_id)
        try:
            page = client.get_orders(order_ids)
        finally:
            client.close()
        assert not page.rejects, page.rejects
        assert {o.order_id for o in page.records} == set(order_ids)
        batches, prunes = order_batches(page.records)
        upsert.write(self.engine, batches, prunes)

    def bling_on_hand(self, sku: str) -> int:
        """Bling's physical balance of a SKU in its default deposit, read from the API."""
        client = BlingResource.from_environment(resolve=True).client(self.resources()["warehouse"])
        try:
            default = next(d.id for d in client.deposits() if d.padrao)
            rows = [r for page in client.iter_stock([sku]) for r in page.records]
        finally:
            client.close()
        return sum(r.on_hand for r in rows if r.warehouse == str(default))

    def published(self, store_ids: list[str] | None = None) -> dict[ListingKey, int | None]:
        seen: dict[ListingKey, int | None] = {}
        for store_id in store_ids or self.store_ids:
            client = self.client(store_id)
            try:
                for page in client.iter_listings():
                    for x in page.records:
                        seen[(x.store_id, x.listing_id, x.variation_id)] = x.available_quantity
            finally:
                client.close()
        return seen

    # --- the warehouse ---------------------------------------------------------------

    def rows(self, sql: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))

    def plan(self) -> dict[ListingKey, tuple[str, int]]:
        return {
            (r[0], r[1], r[2]): (r[3], r[4])
            for r in self.rows(
                "SELECT store_id, listing_id, variation_id, sku, target_quantity "
                "FROM stock_push_plan"
            )
        }

    def allocatable(self) -> dict[str, tuple[int, int]]:
        """sku → (reserved, allocatable)."""
        return {
            r[0]: (r[1], r[2])
            for r in self.rows("SELECT sku, reserved, allocatable FROM allocatable_stock")
        }

    def sku_on_every_store(self) -> tuple[str, list[ListingKey]]:
        """A SKU listed exactly once on each store."""
        by_sku: dict[str, list[ListingKey]] = defaultdict(list)
        for key, (sku, _) in self.plan().items():
            by_sku[sku].append(key)
        for sku, keys in sorted(by_sku.items()):
            if len(keys) == len(self.store_ids) and {k[0] for k in keys} == set(self.store_ids):
                return sku, sorted(keys)
        raise AssertionError("no SKU is listed once on every store")


class SaleRefused(Exception):
    """The marketplace refused the sale (nothing left on offer)."""
