"""Per-marketplace backfill benchmark: orders/s, and how much of each API's rate budget it used.

Two phases per store, each timed and charged to the budget on its own: the orders backfill
(order pages, plus the batched calls that ride along), then the first facts refresh — the
extra calls that read every order's fees, settlement and shipments (`get_order_facts`).

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
                                         [--only mercadolivre,tiktok,shopee] [--no-facts]
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
    "amazon": {
        "amazon.getOrders": (0.0167, 20.0),
        "amazon.getOrderItems": (0.5, 30.0),
        "amazon.getOrder2026": (0.5, 30.0),
        "amazon.listFinancialEventsByOrderId": (0.5, 30.0),
        "amazon.listFinancialEvents": (0.5, 30.0),
    },
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


def budget_lines(http: object, quotas: dict[str, tuple[float, float]], seconds: float,
                 before: dict[str, int]) -> str:  # fmt: skip
    """Each quota's share used by the calls made since `before` (a copy of the stats)."""
    stats = http.stats  # type: ignore[attr-defined]
    used = []
    for quota, (rate, burst) in quotas.items():
        operation = quota.split(".", 1)[1] if "." in quota else None
        key = f"calls.{operation}" if operation else "requests"
        calls = stats.get(key, 0) - before.get(key, 0)
        if operation and not calls:
            continue
        used.append(
            f"{quota} {budget_used(calls, rate, burst, seconds):.0%}"
            f" (sustained {calls / seconds / rate:.0%} of {rate:g}/s)"
        )
    return ", ".join(used)


def refresh_facts(client: object, engine: object, store: object) -> tuple[int, float]:
    """Every landed order's facts once, the way the first `order_facts` run reads them."""
    from synchub_pipelines.defs.marketplaces import settlement_days
    from synchub_pipelines.defs.orders.facts import FACTS_PER_CALL
    from synchub_pipelines.defs.orders.refresh import orders_to_refresh
    from synchub_pipelines.marketplaces.base import chunked
    from synchub_pipelines.warehouse.order_facts import write_order_facts

    started = time.perf_counter()
    now = datetime.now(UTC)
    refs = orders_to_refresh(
        engine, store.store_id, now, settlement_days(store.marketplace),  # type: ignore[arg-type, attr-defined]
        timedelta(hours=6), limit=10_000_000,
    )  # fmt: skip
    read = 0
    for chunk in chunked(refs, FACTS_PER_CALL):
        page = client.get_order_facts(chunk)  # type: ignore[attr-defined]
        write_order_facts(engine, page.records, datetime.now(UTC))  # type: ignore[arg-type]
        read += len(page.records)
    return read, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--size", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--only", default="mercadolivre,tiktok,shopee,amazon")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-facts", action="store_true", help="skip the facts refresh phase")
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
                # As an operator would: the pace and the burst the app was granted.
                os.environ[CLIENT_PACE[marketplace]] = str(rate)
                os.environ[CLIENT_PACE[marketplace].replace("REQUESTS_PER_SECOND", "BURST")] = str(
                    burst
                )
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
            quotas = QUOTAS[store.marketplace.value]
            print(
                f"{store.marketplace.value:<13}{stats.orders:>8}{seconds:>9.1f}"
                f"{stats.orders / seconds:>10,.0f}{http.stats.get('requests', 0):>10}"
                f"{http.stats.get('errors.RateLimitedError', 0):>6}{failed:>8}  "
                f"{budget_lines(http, quotas, seconds, {})}"
            )
            if args.no_facts:
                continue
            client = apis.client_for(store, warehouse)
            http = client.http  # type: ignore[attr-defined]
            try:
                read, seconds = refresh_facts(client, engine, store)
            except MarketplaceError as exc:
                print(f"{store.marketplace.value} facts: failed for good: {exc}")
                continue
            finally:
                client.close()
            print(
                f"{'  + facts':<13}{read:>8}{seconds:>9.1f}{read / seconds:>10,.0f}"
                f"{http.stats.get('requests', 0):>10}"
                f"{http.stats.get('errors.RateLimitedError', 0):>6}{0:>8}  "
                f"{budget_lines(http, quotas, seconds, {})}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
