"""Per-marketplace backfill benchmark: orders/s, and how much of each API's rate budget it used.

Two phases per store, each timed and charged to the budget on its own: the orders backfill
(order pages, plus the batched calls that ride along), then the first facts refresh — the
extra calls that read every order's fees, settlement and shipments (`get_order_facts`).

The sandbox runs in its own process with each API's quota as published (Amazon's and
Bling's are documented; Mercado Livre, Shopee and TikTok publish none, so the sandbox's
quota stands in for the one an app is granted, and the client is configured to it, as an
operator would). Each store's orders of the last DAYS days are backfilled the way the
`orders` asset does it (the days split over one process per core, every process drawing
from the deployment's shared budget in PostgreSQL) into a throwaway database.

The calls are counted by the sandbox where each quota is enforced (`/_sandbox/quotas`), not
by the client: requests = calls served + calls refused, 429s = calls refused. Budget used =
calls served / calls the quota allowed while the phase was calling it (its burst plus rate ×
the time from its first to its last served call), so a worker process starting or the last
batch merging is not charged to the client. "Sustained" is the calls beyond the burst per
second, as a share of the quota's rate. Bling is the ERP: its catalog pull is measured.

A phase whose calls fit in the burst says little; a longer backfill (`--size large`) shows
where a client settles.

Usage: python benchmarks/marketplaces.py [--days 30] [--size demo|large]
                                         [--only mercadolivre,tiktok,shopee] [--no-facts]
                                         [--quota tiktok=25 ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
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
    # The demo paces Bling at a multiple of its quota against a sandbox scaled to match.
    "bling": "SYNCHUB_BLING_REQUESTS_PER_SECOND",
}


def quota_counts(api: str, restart: bool = False) -> dict[str, dict[str, float | None]]:
    """The sandbox's own count of each quota's calls: served, refused (429) and when."""
    answer = (httpx.post if restart else httpx.get)(f"{api}/_sandbox/quotas", timeout=30)
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def budget_used(counts: dict[str, float | None]) -> tuple[float, float]:
    """(share of the quota used, share of its sustained rate) while the phase called it."""
    rate, burst = float(counts["rate"] or 0), float(counts["burst"] or 0)
    served = float(counts["served"] or 0)
    calling = float(counts["last_served"] or 0) - float(counts["first_served"] or 0)
    allowed = burst + rate * calling
    sustained = (served - burst) / calling / rate if calling > 0 and rate > 0 else 0.0
    return (served / allowed if allowed else 0.0), max(0.0, sustained)


def phase_line(label: str, records: int, seconds: float, api: str, quotas: list[str],
               note: str = "") -> str:  # fmt: skip
    """One row: records, time, and per quota the calls the sandbox served and refused."""
    counts = quota_counts(api)
    mine = {name: counts[name] for name in quotas if name in counts}
    served = sum(int(c["served"] or 0) for c in mine.values())
    refused = sum(int(c["refused"] or 0) for c in mine.values())
    used = []
    for name, quota in mine.items():
        if not quota["served"]:
            continue
        share, sustained = budget_used(quota)
        used.append(f"{name} {share:.0%} (sustained {sustained:.0%} of {quota['rate']:g}/s)")
    return (
        f"{label:<13}{records:>8}{seconds:>9.1f}{records / seconds:>10,.0f}{served:>10}"
        f"{refused:>6}  {', '.join(used)}{note}"
    )


def report_bling_pull(api: str, tokens: object, warehouse: object) -> None:
    """Bling is the ERP, not a store: time a full catalog and stock pull instead."""
    from synchub_pipelines.defs.marketplaces import BlingResource

    client = BlingResource.from_environment(resolve=True).client(warehouse)  # type: ignore[arg-type]
    quota_counts(api, restart=True)
    started = time.perf_counter()
    try:
        products = sum(len(page.records) for page in client.iter_catalog())
        balances = sum(len(page.records) for page in client.iter_stock())
    finally:
        client.close()
    seconds = time.perf_counter() - started
    note = f"; {balances} stock balances (the 'orders' columns count products)"
    print(phase_line("bling", products, seconds, api, ["bling"], note))


def backfill(apis: object, warehouse: object, store: object, dates: list[date]) -> tuple[int, int]:
    """The store's orders of these days as the `orders` asset syncs them: the days split over
    one process per core, each drawing from the deployment's shared budget; (orders, shards)."""
    from synchub_pipelines.defs.orders.shards import (
        ShardJob,
        backfill_processes,
        plan_shards,
        sync_orders_sharded,
    )
    from synchub_pipelines.defs.orders.sync import day_windows

    client_class, app = apis.client_parts(store)  # type: ignore[attr-defined]
    shards = plan_shards(
        day_windows(store, dates),  # type: ignore[arg-type]
        getattr(client_class, "max_window_days", 1),
        backfill_processes(),
    )
    stats = sync_orders_sharded(
        [
            ShardJob(
                client_class=client_class,
                app=app,
                store=store,  # type: ignore[arg-type]
                warehouse_url=warehouse.url,  # type: ignore[attr-defined]
                secret_key=warehouse.fernet_key(),  # type: ignore[attr-defined]
                buyer_salt=warehouse.buyer_salt,  # type: ignore[attr-defined]
                windows=tuple(shard),
                by="created",
            )
            for shard in shards
        ]
    )
    return stats.orders, len(shards)


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
    parser.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=RATE",
        help="grant this quota (e.g. tiktok=25) instead of the default, its burst scaled alike:"
        " shows whether a phase under 95 %% is held back by the machine or by its pacing",
    )
    args = parser.parse_args()
    wanted = args.only.split(",")
    for granted in args.quota:
        name, _, rate = granted.partition("=")
        marketplace = name.split(".", 1)[0]
        if name not in QUOTAS.get(marketplace, {}):
            parser.error(f"--quota {granted}: no quota named {name!r}")
        old_rate, old_burst = QUOTAS[marketplace][name]
        QUOTAS[marketplace][name] = (float(rate), old_burst * float(rate) / old_rate)
    os.environ.setdefault("SYNCHUB_SECRET_KEY", Fernet.generate_key().decode())
    os.environ["SYNCHUB_DATA_DIR"] = "/tmp/synchub-bench"

    from synchub_pipelines.demo.sandbox_accounts import configure_sandbox_env, connect_sellers
    from synchub_pipelines.marketplaces.errors import MarketplaceError
    from synchub_pipelines.sandbox.world import default_sellers
    from synchub_pipelines.warehouse.credentials import SqlTokenStore
    from synchub_pipelines.warehouse.engine import engine_for
    from synchub_pipelines.warehouse.migrate import migrate

    limits = [f"{name}={rate}" for mp in wanted for name, (rate, _) in QUOTAS[mp].items()]
    print(f"{'marketplace':<13}{'orders':>8}{'seconds':>9}{'orders/s':>10}{'requests':>10}"
          f"{'429s':>6}  budget used while calling")  # fmt: skip
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
            report_bling_pull(api, tokens, warehouse)
        for store in stores:
            name = store.marketplace.value
            quotas = list(QUOTAS[name])
            quota_counts(api, restart=True)
            started = time.perf_counter()
            try:
                orders, shards = backfill(
                    apis, warehouse, store, [today - timedelta(days=d) for d in range(args.days)]
                )
            except MarketplaceError as exc:
                print(f"{name}: failed for good: {exc}")
                continue
            seconds = time.perf_counter() - started
            print(phase_line(name, orders, seconds, api, quotas, f"; {shards} process(es)"))
            if args.no_facts:
                continue
            client = apis.client_for(store, warehouse)
            quota_counts(api, restart=True)
            try:
                read, seconds = refresh_facts(client, engine, store)
            except MarketplaceError as exc:
                print(f"{name} facts: failed for good: {exc}")
                continue
            finally:
                client.close()
            print(phase_line("  + facts", read, seconds, api, quotas))
    return 0


if __name__ == "__main__":
    sys.exit(main())
