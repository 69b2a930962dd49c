"""A merchant connected to the sandbox's marketplaces, with products not listed anywhere yet.

The catalog file is the sandbox world's plus a few new products (a bottle on its own, a
T-shirt in two sizes) with descriptions and pictures; normalization's verdict for them
(`listing_readiness`, `product_marketplace_attributes`) is written as normalization would,
with the sandbox's leaf categories and required attributes, so these tests exercise
publishing and nothing upstream of it.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines import settings
from synchub_pipelines.defs.catalog.assets import central_products, central_stock
from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.listings.assets import listing_links, listings
from synchub_pipelines.defs.marketplaces import BlingResource, MarketplacesResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stores.assets import stores, sync_store_partitions
from synchub_pipelines.demo.sandbox_accounts import configure_sandbox_env, connect_sellers
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines.warehouse import upsert
from synchub_pipelines.warehouse.credentials import SqlTokenStore
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.migrate import migrate
from synchub_pipelines.warehouse.schema_normalization import (
    listing_readiness,
    product_marketplace_attributes,
)
from synchub_pipelines.warehouse.stores import load_store

PICTURES = "https://http2.mlstatic.com/D_NQ_NP_{}-O.jpg"
NEW_PRODUCTS = [
    {
        "sku": "PUB-GAR01",
        "parent_sku": "",
        "name": "Garrafa Térmica Inox 500ml",
        "brand": "Stanley",
        "category": "Casa > Garrafas",
        "color": "",
        "size": "",
        "gtin": "",
        "price": "129.90",
        "cost": "52.00",
        "currency": "BRL",
        "weight_g": "420",
        "on_hand": "30",
        "components": "",
        "description": "Garrafa térmica de aço inox, mantém a bebida quente por 12 horas.",
        "images": PICTURES.format("gar01a") + "|" + PICTURES.format("gar01b"),
        "status": "",
    },
    *[
        {
            "sku": f"PUB-CAM01-AZL-{size}",
            "parent_sku": "PUB-CAM01",
            "name": f"Camiseta Dry Fit Azul {size}",
            "brand": "Malwee",
            "category": "Moda > Camisetas",
            "color": "Azul",
            "size": size,
            "gtin": "",
            "price": "79.90",
            "cost": "28.00",
            "currency": "BRL",
            "weight_g": "180",
            "on_hand": "12",
            "components": "",
            "description": "Camiseta dry fit para treino, tecido leve e respirável.",
            "images": PICTURES.format(f"cam01{size.lower()}"),
            "status": "",
        }
        for size in ("P", "M")
    ],
]
# Normalization's verdict on Mercado Livre: the sandbox's leaves and required attributes.
ML_READY = {
    "PUB-GAR01": ("MLB264811", {"BRAND": "Stanley"}),
    "PUB-CAM01-AZL-P": ("MLB31447", {"BRAND": "Malwee", "SIZE": "P"}),
    "PUB-CAM01-AZL-M": ("MLB31447", {"BRAND": "Malwee", "SIZE": "M"}),
}


@contextmanager
def sandbox_environment(running: RunningSandbox) -> Iterator[None]:
    saved = dict(os.environ)
    configure_sandbox_env(running.url)
    os.environ["SYNCHUB_CATALOG_SOURCE"] = "file"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Merchant:
    def __init__(
        self, running: RunningSandbox, url: str, folder: Path, marketplaces: tuple[str, ...]
    ) -> None:
        self.running = running
        self.url = url
        self.folder = folder
        self.engine = engine_for(url)
        migrate(self.engine)
        self.catalog = folder / "catalog.csv"
        rows = [
            {**row, "description": "", "images": "", "status": ""}
            for row in running.sandbox.world.catalog_rows()
        ]
        self.write_catalog(rows + [dict(p) for p in NEW_PRODUCTS])
        token_store = SqlTokenStore(self.engine, settings.secret_key())
        sellers = {}
        for seller in running.sandbox.world.sellers:
            if seller.marketplace in marketplaces:
                sellers.setdefault(seller.marketplace, seller)
        self.store_ids = [
            s.store_id for s in connect_sellers(list(sellers.values()), self.engine, token_store)
        ]

    # --- the catalog -----------------------------------------------------------------

    def rows(self) -> list[dict[str, str]]:
        with self.catalog.open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def write_catalog(self, rows: list[dict[str, str]]) -> None:
        with self.catalog.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def edit(self, sku: str, **changes: str) -> None:
        rows = self.rows()
        for row in rows:
            if row["sku"] == sku:
                row.update(changes)
        self.write_catalog(rows)
        self.materialize([central_products])

    def resources(self) -> dict[str, Any]:
        return {
            "warehouse": WarehouseResource(url=self.url),
            "catalog": CatalogResource(
                file_path=str(self.catalog), bling=BlingResource.from_environment(resolve=True)
            ),
            "marketplaces": MarketplacesResource.from_environment(resolve=True),
        }

    def materialize(self, assets: list[Any], partition_key: str | None = None) -> None:
        # No other instance's state storage may be current (see the root conftest): a
        # client or run may have made and dropped one since the test started.
        from dagster._core.storage.defs_state.base import set_defs_state_storage

        with set_defs_state_storage(None):
            result = dg.materialize(
                assets,
                instance=self.instance,
                resources=self.resources(),
                partition_key=partition_key,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        assert result.success

    def start(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        sync_store_partitions(instance, self.store_ids)
        self.materialize([central_products, central_stock, stores])
        for store_id in self.store_ids:
            self.materialize([listings], partition_key=store_id)
        self.materialize([listing_links])
        self.declare_ready("mercadolivre", ML_READY)

    def declare_ready(self, marketplace: str, ready: dict[str, tuple[str, dict[str, str]]]) -> None:
        readiness = upsert.Batch.for_table(listing_readiness)
        values = upsert.Batch.for_table(product_marketplace_attributes)
        for sku, (category, attributes) in ready.items():
            readiness.rows.append(("default", sku, marketplace, True, category, "[]", "[]", "[]"))
            values.rows.extend(
                ("default", sku, marketplace, aid, aid.title(), None, value, "ok", None)
                for aid, value in attributes.items()
            )
        upsert.write(self.engine, [readiness, values])

    # --- the marketplaces --------------------------------------------------------------

    def client(self, store_id: str) -> Any:
        store = load_store(self.engine, store_id)
        assert store is not None
        return self.resources()["marketplaces"].client_for(store, WarehouseResource(url=self.url))

    def store(self, marketplace: str) -> str:
        return next(s for s in self.store_ids if s.startswith(marketplace))

    def live_listings(self, store_id: str) -> dict[tuple[str, str], Any]:
        client = self.client(store_id)
        try:
            return {
                (x.listing_id, x.variation_id): x
                for page in client.iter_listings()
                for x in page.records
            }
        finally:
            client.close()

    # --- the warehouse -----------------------------------------------------------------

    def query(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))


def skus_of(request: str) -> list[str]:
    return [v["sku"] for v in json.loads(request).get("variations", [])]
