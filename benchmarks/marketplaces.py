"""Per-marketplace backfill benchmark: orders/s, and how much of each API's rate budget it used.

The sandbox runs in its own process with each API's quota as published (Amazon's and
Bling's are documented; Mercado Livre, Shopee and TikTok publish none, so the sandbox's
quota stands in for the one an app is granted, and the client is configured to it, as an
operator would). Each store's orders of the last DAYS days are synced through the real
client into a throwaway PostgreSQL database. Budget used = calls made / calls the quota
allowed over the run (its burst plus rate × elapsed); a well-paced client uses most of it
with no request failing for good. Bling is the ERP: its catalog pull is measured instead.

A short run is dominated by the quota's burst (a client may spend it at once), so the
rate is also printed as a share of the quota's sustained rate: a longer backfill
(`--size large --days 120`) shows where a client settles.

Usage: python benchmarks/marketplaces.py [--days 30] [--size demo|large]
                                         [--only mercadolivre,tiktok,shopee]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backfill import sandbox_process, throwaway_database

# quota name in the sandbox → (rate per second, burst) granted to our app in this run
QUOTAS: dict[str, dict[str, tuple[float, float]]] = {
    "mercadolivre": {"mercadolivre": (100.0, 200.0)},
    "tiktok": {"tiktok": (50.0, 100.0)},
    "shopee": {"shopee": (50.0, 100.0)},
    # Amazon's published per-operation buckets (the sandbox defaults to the same numbers).
    "amazon": {"amazon.getOrders": (0.0167, 20.0), "amazon.getOrderItems": (0.5, 30.0)},
    "bling": {"bling": (3.0, 3.0)},
}
CLIENT_PACE = {
    "mercadolivre": "SYNCHUB_ML_REQUESTS_PER_SECOND",
    "tiktok": "SYNCHUB_TIKTOK_REQUESTS_PER_SECOND",
    "shopee": "SYNCHUB_SHOPEE_REQUESTS_PER_SECOND",
}


def budget_used(calls: int, rate: float, burst: float, seconds: float) -> float:
    allowed = burst + rate * seconds
    return calls / allowed if allowed else 0.0


def report_bling_pull(tokens: object, warehouse: object) -> None:
    """Bling is the ERP, not a store: time a full catalog and stock pull instead."""
    from synchub_pipelines.defs.marketplaces import BlingResource

    rate, burst = QUOTAS["bling"]["bling"]
    client = BlingResource.from_environment(resolve=True).client(warehouse)  # type: ignore[arg-type]
    started = time.perf_counter()
    try:
        products = sum(len(page.records) for page in client.iter_catalog())
        balances = sum(len(page.records) for page in client.iter_stock())
    finally:
        client.close()
    seconds = time.perf_counter() - started
    calls = client.http.stats.get("requests", 0)
    print(
        f"{'bling':<13}{products:>8}{seconds:>9.1f}{products / seconds:>10,.0f}{calls:>10}"
        f"{client.http.stats.get('errors.RateLimitedError', 0):>6}{0:>8}  "
        f"bling {budget_used(calls, rate, burst, seconds):.0%}"
        f" (sustained {calls / seconds / rate:.0%} of {rate:g}/s; {balances} stock balances;"
        " the 'orders' columns count products)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--size", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--only", default="mercadolivre,tiktok,shopee,amazon")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    wanted = args.only.split(",")
    os.environ.setdefault("SYNCHUB_SECRET_KEY", Fernet.generate_key().decode())
    os.environ["SYNCHUB_DATA_DIR"] = "/tmp/synchub-bench"

    from synchub_pipelines.defs.orders.sync import day_windows, sync_orders
    from synchub_pipelines.demo.sandbox_accounts import configure_sandbox_env, connect_sellers
    from synchub_pipelines.marketplaces.errors import MarketplaceError
    from synchub_pipelines.sandbox.world import default_sellers
    from synchub_pipelines.warehouse.credentials import SqlTokenStore
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    limits = [f"{name}={rate}" for mp in wanted for name, (rate, _) in QUOTAS[mp].items()]
    print(f"{'marketplace':<13}{'orders':>8}{'seconds':>9}{'orders/s':>10}{'requests':>10}"
          f"{'429s':>6}{'failed':>8}  budget used")  # fmt: skip
    with (
        sandbox_process(args.size, ",".join(wanted), limits) as api,
        throwaway_database(args.pg) as (url, _),
    ):
        configure_sandbox_env(api)
        for marketplace in wanted:
            rate, burst = next(iter(QUOTAS[marketplace].values()))
            if marketplace in CLIENT_PACE:
                os.environ[CLIENT_PACE[marketplace]] = str(rate)
        os.environ["SYNCHUB_AMAZON_RATE_SCALE"] = "1"
        engine = engine_for(url)
        migrate(engine)
        tokens = SqlTokenStore(engine, os.environ["SYNCHUB_SECRET_KEY"].encode())
        sellers = [s for s in default_sellers() if s.marketplace in wanted]
        if "bling" in wanted:
            from synchub_pipelines.demo.sandbox_accounts import connect_bling_account

            connect_bling_account(tokens)
        sellers = [s for i, s in enumerate(sellers) if s.marketplace not in
                   {x.marketplace for x in sellers[:i]}]  # fmt: skip
        stores = connect_sellers(sellers, engine, tokens)
        from synchub_pipelines.defs.marketplaces import MarketplacesResource
        from synchub_pipelines.defs.resources import WarehouseResource

        apis = MarketplacesResource.from_environment(resolve=True)
        warehouse = WarehouseResource(url=url, secret_key=os.environ["SYNCHUB_SECRET_KEY"])
        today = datetime.now(UTC).date()
        if "bling" in wanted:
            report_bling_pull(tokens, warehouse)
        for store in stores:
            client = apis.client_for(store, warehouse)
            windows = day_windows(store, [today - timedelta(days=d) for d in range(args.days)])
            started = time.perf_counter()
            failed = 0
            try:
                stats = sync_orders(client, engine, windows)
            except MarketplaceError as exc:
                failed = 1
                print(f"{store.marketplace.value}: failed for good: {exc}")
                continue
            finally:
                client.close()
            seconds = time.perf_counter() - started
            http = client.http  # type: ignore[attr-defined]
            used = []
            for quota, (rate, burst) in QUOTAS[store.marketplace.value].items():
                operation = quota.split(".", 1)[1] if "." in quota else None
                calls = (
                    http.stats.get(f"calls.{operation}", 0)
                    if operation
                    else http.stats.get("requests", 0)
                )
                used.append(
                    f"{quota} {budget_used(calls, rate, burst, seconds):.0%}"
                    f" (sustained {calls / seconds / rate:.0%} of {rate:g}/s)"
                )
            print(
                f"{store.marketplace.value:<13}{stats.orders:>8}{seconds:>9.1f}"
                f"{stats.orders / seconds:>10,.0f}{http.stats.get('requests', 0):>10}"
                f"{http.stats.get('errors.RateLimitedError', 0):>6}{failed:>8}  {', '.join(used)}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
