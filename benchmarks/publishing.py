"""Publishing benchmark: N products (500 by default) created on four marketplaces at once,
within each API's published budget; prints products/s and the budget used per store.

The sandbox runs in process with each API's quota as in benchmarks/marketplaces.py (and
Amazon's Listings Items quota: 5 requests/s, burst 10); each client is paced to its quota
as an operator would configure it. The products are new single-SKU products (a thermal
bottle, its leaf on each marketplace, its required attributes as normalization would fill
them), published through `listings.run_listings` — the same plan, lookup-before-create,
audit and links as the Dagster asset — into a throwaway PostgreSQL database. Shopee and
TikTok Shop take pictures as uploads: their clients fetch the pictures from the TikTok
sandbox's picture host (a loopback stand-in for the merchant's CDN); Mercado Livre and
Amazon take the https URLs as they are.

Budget used = calls made / calls the quota allowed over the run (burst + rate × elapsed).

Usage: python benchmarks/publishing.py [--count 500] [--only mercadolivre,shopee,tiktok,amazon]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill import throwaway_database
from marketplaces import QUOTAS, budget_used

# Amazon's Listings Items API: each operation its own bucket (5 requests/s, burst 10).
QUOTAS = {
    **QUOTAS,
    "amazon": {"amazon.getListingsItem": (5.0, 10.0), "amazon.putListingsItem": (5.0, 10.0)},
}
CLIENT_PACE = {
    "mercadolivre": "SYNCHUB_ML_REQUESTS_PER_SECOND",
    "tiktok": "SYNCHUB_TIKTOK_REQUESTS_PER_SECOND",
    "shopee": "SYNCHUB_SHOPEE_REQUESTS_PER_SECOND",
}
# Each marketplace's leaf for "Casa > Garrafas" and its required attributes in the sandbox.
READY: dict[str, tuple[str, dict[str, str]]] = {
    "mercadolivre": ("MLB264811", {"BRAND": "Stanley"}),
    "shopee": ("192522", {"100011": "Brasil"}),
    "tiktok": (
        "850005",
        {
            "100157": "Aço inoxidável",
            "package_dimension.weight": "420 g",
            "package_dimension.length": "28 cm",
            "package_dimension.width": "9 cm",
            "package_dimension.height": "9 cm",
        },
    ),
    "amazon": ("BOTTLE", {"color": "Preto"}),
}


def catalog_file(folder: Path, count: int, picture: str) -> Path:
    path = folder / "catalog.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "brand", "category", "price", "cost", "weight_g",
                         "on_hand", "description", "images"])  # fmt: skip
        for n in range(count):
            writer.writerow([
                f"BENCH-{n:04d}", f"Garrafa Térmica Inox {300 + n} ml", "Stanley",
                "Casa > Garrafas", "129.90", "52.00", "420", "25",
                "Garrafa térmica de aço inox: mantém a bebida quente por 12 horas.",
                picture.format(n),
            ])  # fmt: skip
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--only", default="mercadolivre,shopee,tiktok,amazon")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    wanted = args.only.split(",")
    os.environ.setdefault("SYNCHUB_SECRET_KEY", Fernet.generate_key().decode())
    os.environ["SYNCHUB_DATA_DIR"] = "/tmp/synchub-bench-publishing"
    Path(os.environ["SYNCHUB_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    for marketplace, variable in CLIENT_PACE.items():
        os.environ[variable] = str(QUOTAS[marketplace][marketplace][0])

    import httpx

    from synchub_pipelines import settings
    from synchub_pipelines.defs.catalog.catalog_file import load_catalog
    from synchub_pipelines.defs.marketplaces import MarketplacesResource
    from synchub_pipelines.defs.publishing import listings
    from synchub_pipelines.defs.publishing.common import RunScope
    from synchub_pipelines.defs.publishing.rules import RuleBook
    from synchub_pipelines.defs.resources import WarehouseResource
    from synchub_pipelines.demo.sandbox_accounts import configure_sandbox_env, connect_sellers
    from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
    from synchub_pipelines.warehouse import upsert
    from synchub_pipelines.warehouse.credentials import SqlTokenStore
    from synchub_pipelines.warehouse.rows import product_batches, stock_batch
    from synchub_pipelines.warehouse.schema_normalization import (
        listing_readiness,
        product_marketplace_attributes,
    )
    from synchub_pipelines.warehouse.schema_stock import allocatable_stock
    from synchub_pipelines.warehouse.stores import load_store

    rates = {m: QUOTAS[m][m][0] for m in ("mercadolivre", "shopee", "tiktok")}
    sandbox = Sandbox(SandboxConfig(size="tiny", rate_limits=rates))
    with RunningSandbox(sandbox) as running, throwaway_database(args.pg) as (url, _):
        configure_sandbox_env(running.url)
        # The demo's env scales Amazon's client pacing (for its scaled sandbox); this
        # sandbox keeps Amazon's published quotas, so the client must too.
        os.environ["SYNCHUB_AMAZON_RATE_SCALE"] = "1"
        warehouse = WarehouseResource(url=url)
        engine = warehouse.engine()
        token_store = SqlTokenStore(engine, settings.secret_key())
        sellers = {}
        for seller in sandbox.world.sellers:
            if seller.marketplace in wanted:
                sellers.setdefault(seller.marketplace, seller)
        stores = connect_sellers(list(sellers.values()), engine, token_store)
        picture_host = f"{running.base_url('tiktok')}/_sandbox/pictures/bench-{{}}-800x800.png"
        folder = Path(os.environ["SYNCHUB_DATA_DIR"])
        catalog = load_catalog(
            catalog_file(folder, args.count, "https://http2.mlstatic.com/D_NQ_NP_bench-{}-O.jpg")
        )
        products, components, prune = product_batches(catalog.products, catalog.components)
        readiness = upsert.Batch.for_table(listing_readiness)
        values = upsert.Batch.for_table(product_marketplace_attributes)
        for product in catalog.products:
            for marketplace, (category, attributes) in READY.items():
                readiness.rows.append(("default", product.sku, marketplace, True, category,
                                       "[]", "[]", "[]"))  # fmt: skip
                values.rows.extend(
                    ("default", product.sku, marketplace, aid, aid, None, value, "ok", None)
                    for aid, value in attributes.items()
                )
        # What the stock domain would have computed: every unit on hand is allocatable.
        allocatable = upsert.Batch.for_table(allocatable_stock)
        allocatable.rows.extend(
            ("default", s.sku, s.on_hand, 0, s.on_hand, False, datetime.now(UTC))
            for s in catalog.stock
        )
        upsert.write(engine, [products, components, stock_batch(catalog.stock), readiness,
                              values, allocatable], [prune])  # fmt: skip
        resource = MarketplacesResource.from_environment(resolve=True)
        png = httpx.get(picture_host.format(0), timeout=30).content

        def client_for(store_id: str) -> Any:
            store = load_store(engine, store_id)
            assert store is not None
            client = resource.client_for(store, warehouse)
            if hasattr(client, "fetch_picture"):
                # The merchant's CDN, on loopback: one real PNG for every picture.
                client.fetch_picture = lambda url: (png, "image/png")
            return client

        def publish(store: Any) -> tuple[Any, listings.ListingReport, float]:
            options = listings.ListingOptions(
                dry_run=False, scope=RunScope(stores=frozenset({store.store_id}))
            )
            started = time.perf_counter()
            report = listings.run_listings(engine, client_for, RuleBook(), options,
                                           "bench", 0, datetime.now(UTC))  # fmt: skip
            return store, report, time.perf_counter() - started

        print(f"{len(stores)} stores, {args.count} products each, in parallel\n")
        print(f"{'store':<34}{'created':>8}{'refused':>8}{'seconds':>9}{'prod/s':>8}"
              f"{'calls':>7}  budget used")  # fmt: skip
        started = time.perf_counter()
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(publish, stores))
        total = time.perf_counter() - started
        created = 0
        for store, report, seconds in results:
            statuses = Counter(o.status for _, o, _ in report.outcomes)
            made = report.calls.get(store.store_id, {})
            calls = sum(made.values())
            used = []
            for quota, (rate, burst) in QUOTAS[store.marketplace].items():
                operation = quota.split(".", 1)[1] if "." in quota else None
                n = made.get(operation, 0) if operation else calls
                used.append(
                    f"{quota} {budget_used(n, rate, burst, seconds):.0%} of {rate:g}/s "
                    f"+ burst {burst:g}"
                )
            created += statuses["written"]
            print(
                f"{store.store_id:<34}{statuses['written']:>8}"
                f"{statuses['refused'] + statuses['failed']:>8}{seconds:>9.1f}"
                f"{statuses['written'] / seconds:>8.1f}{calls:>7}  " + ", ".join(used)
            )
            for _, outcome in report.problems[:2]:
                print(f"    [{outcome.code}] {(outcome.message or '')[:110]}")
        print(f"\n{created} listings in {total:.1f}s: {created / total:.1f} products/s overall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
