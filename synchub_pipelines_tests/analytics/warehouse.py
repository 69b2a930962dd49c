"""A demo-shaped warehouse for the analyst guide's tests, built by the real pipeline.

Every marketplace of a sandbox world (about 100 days of sales) is connected through its own
flow and `materialize_everything` lands catalog, stores, listings, links, orders, fees,
shipments, status history, questions, a stock snapshot and the normalization tables; then
allocatable stock and a (real, sandbox) stock push, a second snapshot, one reconciliation
per store, a few webhook events and the dbt marts, so that every table the README and docs
query holds rows. Like `make demo`, the world ends now (and the sandbox's clock is the real
one): there are open orders, unsettled fees, unanswered questions and packages waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines.demo.run import materialize_everything
from synchub_pipelines.demo.sandbox_accounts import (
    connect_bling_account,
    connect_sellers,
    sandbox_rate_limits,
)
from synchub_pipelines.models import DEFAULT_TIMEZONE
from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig
from synchub_pipelines.sandbox.world import WorldSize
from synchub_pipelines.warehouse.engine import engine_for
from synchub_pipelines.warehouse.schema import webhook_events
from synchub_pipelines.warehouse.schema_budgets import circuit_breakers
from synchub_pipelines_tests.stock.shop import MARKETPLACES, Shop, sandbox_environment

# About a hundred days of sales on every marketplace: old enough to be settled, and not.
WORLD = WorldSize(families=6, orders_per_seller=150, days=100)
# One "now" for every warehouse built in a test session (the world's anchor).
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Built:
    url: str
    store_ids: list[str]
    failed_checks: list[str]
    # The business date the guide's questions are asked on ("today" in the sandbox).
    as_of: date
    # The instant they are asked at (UTC), for "still waiting past a deadline".
    now: datetime
    # Why the dbt marts are not in this warehouse (None: they are).
    marts_problem: str | None = None


def build_warehouse(url: str, folder: Path, say: Callable[[str], None] = lambda _: None) -> Built:
    """Run the pipeline against a fresh loopback sandbox into the (migrated) warehouse."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    running = RunningSandbox(
        Sandbox(SandboxConfig(seed=7, size=WORLD, anchor=NOW, rate_limits=sandbox_rate_limits()))
    ).start()
    try:
        with (
            set_defs_state_storage(None),
            sandbox_environment(running),
            dg.DagsterInstance.ephemeral() as instance,
        ):
            shop = Shop(running, url, folder)
            world = running.sandbox.world
            sellers = [s for s in world.sellers if s.marketplace in MARKETPLACES]
            connect_bling_account(shop.token_store)
            store_ids = [
                s.store_id for s in connect_sellers(sellers, shop.engine, shop.token_store)
            ]
            zone = ZoneInfo(DEFAULT_TIMEZONE)
            first = min(o.created_at for o in world.orders).astimezone(zone).date()
            last = max(o.created_at for o in world.orders).astimezone(zone).date()
            # The shop's resources (this sandbox, this warehouse, the catalog file) and, for
            # what it does not configure (dbt…), the code location's own.
            from synchub_pipelines.definitions import defs

            resources = {**(defs.resources or {}), **shop.resources()}
            failed = materialize_everything(
                store_ids,
                first - timedelta(days=1),
                last,
                instance=instance,
                resources=resources,
                say=say,
            )
            _materialize_the_rest(instance, shop, store_ids, resources)
            _collect_competitor_prices(instance, resources, folder)
            _record_some_webhook_events(shop.engine, store_ids)
            _record_an_open_breaker(shop.engine)
            marts_problem = _build_marts(instance, shop, resources)
        return Built(url, store_ids, failed, NOW.astimezone(zone).date(), NOW, marts_problem)
    finally:
        running.stop()


def _materialize_the_rest(
    instance: dg.DagsterInstance, shop: Shop, store_ids: list[str], resources: dict[str, Any]
) -> None:
    from synchub_pipelines.definitions import defs

    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    # Allocatable stock, the plan and its (real) push to the sandbox's listings.
    pushed = shop.push(instance)
    assert pushed.success, "the stock push failed"
    for store_id in store_ids:
        # A second snapshot (stock over time) and a reconciliation run per store.
        dg.materialize(
            assets,
            selection=["stock_snapshots", "order_reconciliation"],
            partition_key=store_id,
            instance=instance,
            resources=resources,
            run_config=quiet,
        )


def _collect_competitor_prices(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: Path
) -> None:
    """The sandbox shops scraped and matched, so `price_positions` (docs/enrichment.md)
    holds rows; one site is enough for a position per matched SKU and channel."""
    from synchub_pipelines.definitions import defs
    from synchub_pipelines.defs.enrichment.assets import ScrapingResource, sync_site_partitions
    from synchub_pipelines.defs.enrichment.demo import DEMO_CRAWL_DELAYS
    from synchub_pipelines.sandbox.shops import RunningShops, ShopsConfig
    from synchub_pipelines.sandbox.shops.targets import write_targets

    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    with RunningShops(ShopsConfig(crawl_delays=DEMO_CRAWL_DELAYS)) as shops:
        targets = write_targets(folder / "scrape_targets.toml", shops.base_urls, delay_seconds=0.1)
        sync_site_partitions(instance, ["jsonld"])
        result = dg.materialize(
            assets,
            selection=dg.AssetSelection.groups("enrichment"),
            partition_key="jsonld",
            instance=instance,
            resources={**resources, "scraping": ScrapingResource(targets_file=str(targets))},
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
    assert result.success, "the enrichment run failed"


def _build_marts(instance: dg.DagsterInstance, shop: Shop, resources: dict[str, Any]) -> str | None:
    """The dbt marts over these facts (docs/marts.md queries them), as of the world's now."""
    try:
        from synchub_pipelines.defs.marts.assets import marts_dbt
        from synchub_pipelines.defs.marts.resources import dbt_resource
    except ImportError as exc:
        return f"the marts cannot be loaded: {exc}"
    try:
        dg.materialize(
            [marts_dbt],
            instance=instance,
            resources={"dbt": dbt_resource(), **resources},
            run_config={
                "ops": {"marts_dbt": {"config": {"as_of": NOW.strftime("%Y-%m-%d %H:%M:%S")}}},
                "loggers": {"console": {"config": {"log_level": "ERROR"}}},
            },
            raise_on_error=False,
        )
    except Exception as exc:  # the marts' own tests say what is wrong with them
        return f"dbt build failed: {exc}"
    built = {t for t in sa.inspect(shop.engine).get_table_names() if t.startswith("mart_")}
    return None if built else "dbt build made no mart table"


def _record_an_open_breaker(engine: sa.Engine) -> None:
    """One marketplace endpoint family failing, as the circuit breakers record it."""
    opened = NOW - timedelta(minutes=3)
    with engine.begin() as conn:
        conn.execute(
            sa.delete(circuit_breakers).where(circuit_breakers.c.scope == "amazon:finances")
        )
        conn.execute(
            sa.insert(circuit_breakers),
            {
                "scope": "amazon:finances",
                "state": "open",
                "failures": 8,
                "opened_at": opened,
                "probe_at": opened + timedelta(seconds=30),
                "last_error": "HTTP 503 from the API",
                "updated_at": opened,
            },
        )


def _record_some_webhook_events(engine: sa.Engine, store_ids: list[str]) -> None:
    """A few notifications in each state, the way the receiver and the sensor leave them."""
    received = NOW - timedelta(hours=2)
    rows = []
    for n, store_id in enumerate(store_ids):
        marketplace = store_id.split("-")[0]
        for k, state in enumerate(("processed", "pending", "failed")):
            rows.append(
                {
                    "seq": 1 + 3 * n + k,
                    "event_key": f"{marketplace}:{store_id}:{k}",
                    "marketplace": marketplace,
                    "store_id": store_id,
                    "topic": "orders",
                    "resource_id": f"order-{k}",
                    "payload": "{}",
                    "received_at": received + timedelta(minutes=5 * k),
                    "state": state,
                    "attempts": 5 if state == "failed" else 0,
                    "last_error": "HTTP 500 from the API" if state == "failed" else None,
                }
            )
    with engine.begin() as conn:
        conn.execute(sa.insert(webhook_events), rows)


def connect(url: str) -> sa.Connection:
    """A connection whose session reads timestamps in UTC on PostgreSQL too (as the analyst
    guide advises), so that date bounds and timestamp text mean the same on both backends."""
    conn = engine_for(url).connect()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TIME ZONE 'UTC'")
        conn.commit()
    return conn
