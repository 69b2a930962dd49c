"""`synchub demo`: the whole pipeline against the sandbox, into the embedded warehouse.

Starts the marketplace sandbox on loopback, connects its seller accounts through the real
OAuth flow, then materializes every asset (with its checks) in a persistent Dagster
instance, so `make ui` shows the same runs afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import dagster as dg
import sqlalchemy as sa

from synchub_pipelines import settings
from synchub_pipelines.dagster_home import prepare_dagster_home
from synchub_pipelines.models import DEFAULT_TIMEZONE
from synchub_pipelines.warehouse.engine import engine_for, redacted
from synchub_pipelines.warehouse.migrate import migrate

if TYPE_CHECKING:
    from synchub_pipelines.sandbox.world import Seller

DEMO_TABLES = (
    "stores",
    "categories",
    "central_products",
    "product_components",
    "central_stock",
    "listings",
    "listing_links",
    "orders",
    "order_items",
    "order_fees",
    "shipments",
    "order_status_history",
    "questions",
    "stock_snapshots",
    "mart_sales_daily",
    "mart_order_funnel",
    "mart_stock_coverage",
    "mart_listing_health",
    "mart_questions_sla",
    "mart_shipping_sla",
    "allocatable_stock",
    "stock_push_plan",
    "stock_pushes",
    "listing_publications",
    "price_pushes",
    "fulfilment_pushes",
    "answer_pushes",
    "marketplace_categories",
    "marketplace_required_attributes",
    "category_mappings",
    "bling_category_links",
    "bling_catalog_writes",
    "category_sync_log",
    "product_attributes_normalized",
    "listing_readiness",
    "ingest_errors",
    "scraped_pages",
    "competitor_offers",
    "offer_matches",
    "enrichment_suggestions",
    "price_positions",
)


# Enough for every order of the demo world in the first facts refresh.
FIRST_REFRESH_ORDERS = 1_000_000


def connect_sandbox_sellers(sellers: Sequence[Seller]) -> list[str]:
    """Connect every sandbox seller through its marketplace's connection flow."""
    from synchub_pipelines.demo.sandbox_accounts import connect_bling_account, connect_sellers
    from synchub_pipelines.warehouse.credentials import SqlTokenStore

    engine = engine_for(settings.warehouse_url())
    token_store = SqlTokenStore(engine, settings.secret_key())
    connect_bling_account(token_store)
    return [store.store_id for store in connect_sellers(sellers, engine, token_store)]


def table_counts(url: str) -> dict[str, int]:
    engine = engine_for(url)
    with engine.connect() as conn:
        return {
            t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in DEMO_TABLES
        }


def run_demo(size: str = "demo", seed: int = 7) -> dict[str, int]:
    from synchub_pipelines.sandbox.server import RunningSandbox, Sandbox, SandboxConfig

    started = time.perf_counter()
    prepare_dagster_home()
    set_aside_previous_demo_warehouse()
    url = settings.warehouse_url()
    print(f"warehouse: {redacted(url)}")
    migrate(engine_for(url))

    from synchub_pipelines.demo.sandbox_accounts import (
        AMAZON_QUOTA_SCALE,
        BLING_QUOTA_SCALE,
        configure_sandbox_env,
        sandbox_rate_limits,
    )

    sandbox = Sandbox(SandboxConfig(seed=seed, size=size, rate_limits=sandbox_rate_limits()))
    with RunningSandbox(sandbox) as running:
        print(f"sandbox:   {running.url} ({len(sandbox.world.orders)} orders in its world)")
        print(
            f"           Amazon quotas scaled x{AMAZON_QUOTA_SCALE:.0f}, Bling's "
            f"x{BLING_QUOTA_SCALE:.0f}, to keep the demo short"
        )
        configure_sandbox_env(running.url)
        store_ids = connect_sandbox_sellers(sandbox.world.sellers)
        print(f"connected: {', '.join(store_ids)}")
        oldest = min(o.created_at for o in sandbox.world.orders)
        first_day = (oldest.astimezone(ZoneInfo(DEFAULT_TIMEZONE)) - timedelta(days=1)).date()
        if not os.environ.get("SYNCHUB_ORDERS_START_DATE"):
            # The partitions start where the demo's sales do (also for `make ui` later).
            settings.record_orders_start_date(first_day.isoformat())
        materialize_everything(store_ids, first_day)
        from synchub_pipelines.demo.stock_sale import show_a_sale

        show_a_sale(running.url)
        # A second snapshot after the sale: stock over time has two instants per store.
        snapshot_again(store_ids)
        publish_the_catalog()  # listings, a price rule, fulfilment, an answer (docs/publishing.md)
        keep_bling_catalog(store_ids)  # Bling as the catalog of record (docs/publishing.md)
        build_marts()
        from synchub_pipelines.defs.enrichment.demo import scrape_the_shops

        scrape_the_shops()  # competitor prices vs the demo catalog (docs/enrichment.md)

    counts = table_counts(url)
    width = max(len(t) for t in counts)
    print("\nrows per table:")
    for table, count in counts.items():
        print(f"  {table:<{width}}  {count:>8}")
    print(f"\nwarehouse: {redacted(url)}")
    print("dashboard: synchub dashboard opens it (or --serve)")
    print(f"done in {time.perf_counter() - started:.1f}s. Browse the runs and assets: make ui")
    return counts


def set_aside_previous_demo_warehouse(say: Callable[[str], None] = print) -> Path | None:
    """Start the embedded default warehouse empty, keeping the last one beside it.

    The sandbox starts from its seed every run and the demo publishes into it, so a
    warehouse left by an earlier demo links SKUs to listings this sandbox never had, and
    every stock write to them would get a 404. The embedded file is the demo's own; it is
    renamed, never deleted (the copy from two runs ago is replaced). A configured
    SYNCHUB_WAREHOUSE_URL is an operator's database and is left alone."""
    path = settings.data_dir() / "warehouse.sqlite"
    if settings.warehouse_url() != f"sqlite:///{path}" or not path.exists():
        return None
    kept = path.with_name("warehouse.previous.sqlite")
    for suffix in ("-wal", "-shm"):  # SQLite's side files go with their database
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(kept.with_name(kept.name + suffix))
    path.replace(kept)
    say(f"warehouse: the previous demo's is kept as {kept}; this run starts empty")
    return kept


def publish_the_catalog(say: Callable[[str], None] = print) -> None:
    """The publishing step: plan then real, each result read back (guarded: a marketplace
    whose writes are missing is reported, and the demo goes on)."""
    from synchub_pipelines.defs.marketplaces import MarketplacesResource
    from synchub_pipelines.defs.publishing.assets import client_factory
    from synchub_pipelines.defs.publishing.demo import publish_demo
    from synchub_pipelines.defs.resources import WarehouseResource

    warehouse = WarehouseResource(url=settings.warehouse_url())
    marketplaces = MarketplacesResource.from_environment(resolve=True)
    publish_demo(warehouse.engine(), client_factory(warehouse, marketplaces), say)


def keep_bling_catalog(store_ids: Sequence[str], say: Callable[[str], None] = print) -> None:
    """The Bling write-back (`bling_catalog_job`): the plan first, then for real, each store
    mapped to the loja id the Bling sandbox gives it. Guarded: a failure is reported and the
    demo goes on."""
    from synchub_pipelines.definitions import defs
    from synchub_pipelines.sandbox.bling_render import loja_id_for

    catalog = dict(defs.resources or {}).get("catalog")
    if not getattr(getattr(catalog, "bling", None), "configured", False):
        return  # the demo's Bling account is not configured: nothing to keep
    job = defs.resolve_job_def("bling_catalog_job")
    lojas = {store_id: loja_id_for(store_id) for store_id in store_ids}
    for dry_run in (True, False):
        config = {"dry_run": dry_run, "lojas": lojas}
        try:
            result = job.execute_in_process(
                instance=dg.DagsterInstance.get(),
                raise_on_error=True,
                run_config={
                    "ops": {"bling_catalog_writeback": {"config": config}},
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                },
            )
            (event,) = result.get_asset_materialization_events()
            writes = event.materialization.metadata["writes"].value
        except Exception as exc:  # the demo reports it and goes on
            say(f"  ✗ bling_catalog_job: {type(exc).__name__}: {str(exc)[:200]}")
            return
        note = " (dry run: the plan only)" if dry_run else ""
        say(f"  ✓ bling_catalog_job{note}: {writes}")


def snapshot_again(store_ids: Sequence[str], say: Callable[[str], None] = print) -> None:
    from synchub_pipelines.definitions import defs

    listings_job = defs.resolve_job_def("listings_job")
    instance = dg.DagsterInstance.get()
    for store_id in store_ids:
        result = listings_job.execute_in_process(
            instance=instance,
            partition_key=store_id,
            raise_on_error=True,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        assert result.success
    say(f"  ✓ listings, stock_snapshots again for {len(store_ids)} stores (after the sale)")


def build_marts(say: Callable[[str], None] = print) -> list[str]:
    """The marts from the landed facts (dbt build, its tests as checks), then their files."""
    import contextlib
    import io

    from synchub_pipelines.definitions import defs

    # dagster-dbt echoes dbt's own log on stdout; the demo prints its summary instead.
    with contextlib.redirect_stdout(io.StringIO()):
        result = defs.resolve_job_def("marts_job").execute_in_process(
            instance=dg.DagsterInstance.get(),
            raise_on_error=True,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    keys = [
        (m.asset_key.path[-1], m.materialization.metadata)
        for m in result.get_asset_materialization_events()
        if m.asset_key is not None
    ]
    folder = next(meta["folder"].value for name, meta in keys if name == "mart_exports")
    built = [name for name, _ in keys if name.startswith("mart_") and name != "mart_exports"]
    # The marts job also draws the merchant's dashboard from them.
    say(
        f"  ✓ marts_job: {len(built)} marts, CSV and XLSX in {folder}"
        + (f"  (failed checks: {failed})" if failed else "")
    )
    page = next(meta for name, meta in keys if name == "merchant_dashboard")["path"].value
    say(f"  ✓ merchant dashboard: {page}  (open it: synchub dashboard)")
    return failed


def materialize_everything(
    store_ids: list[str],
    first_day: date,
    last_day: date | None = None,
    instance: dg.DagsterInstance | None = None,
    resources: dict[str, object] | None = None,
    say: Callable[[str], None] = print,
    normalize: bool = True,
) -> list[str]:
    """Run the code location's own jobs in dependency order, each with the checks of its
    assets; returns the ERROR checks that failed. The runs carry the jobs' names, so the UI
    shows what an operator would launch.

    `normalize=False` stops after the ingestion domains (the normalization files describe
    the demo world; other worlds have their own tests).
    """
    # Imported here: the definitions read the environment configured by the caller.
    from synchub_pipelines.definitions import defs
    from synchub_pipelines.defs.partitions import order_date_partitions
    from synchub_pipelines.defs.stores.assets import sync_store_partitions

    instance = instance or dg.DagsterInstance.get()
    sync_store_partitions(instance, store_ids)
    # The caller's resources (tests bring their own) over the location's (dbt, alerts…).
    resources = {**dict(defs.resources or {}), **(resources or {})}
    # The same assets, checks and jobs, with those resources.
    located = dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs, resources=resources
    )
    failed_checks: list[str] = []

    def run(
        job_name: str,
        ops: dict[str, object] | None = None,
        note: str = "",
        partition_key: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        job = located.resolve_job_def(job_name)
        result = job.execute_in_process(
            instance=instance,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=True,
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                **({"ops": ops} if ops else {}),
            },
        )
        failed = [
            e.check_name
            for e in result.get_asset_check_evaluations()
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
        ]
        failed_checks.extend(failed)
        label = job_name + (f" [{partition_key}]" if partition_key else "") + note
        say(f"  ✓ {label}" + (f"  (failed checks: {failed})" if failed else ""))

    say("materializing:")
    run("catalog_job")
    for store_id in store_ids:
        run("listings_job", partition_key=store_id)
    run("listing_links_job")
    end_day = last_day or date.fromisoformat(order_date_partitions.get_last_partition_key() or "")
    start = dg.MultiPartitionKey({"date": first_day.isoformat(), "store": store_ids[0]})
    end = dg.MultiPartitionKey({"date": end_day.isoformat(), "store": store_ids[-1]})
    run(
        "orders_job",
        tags={
            "dagster/asset_partition_range_start": str(start),
            "dagster/asset_partition_range_end": str(end),
        },
        note=f" ({first_day} to {end_day}, every store)",
    )
    for store_id in store_ids:
        # The first refresh reads every order once (later ones stay within the budget).
        run(
            "order_facts_job",
            ops={"order_facts": {"config": {"max_orders": FIRST_REFRESH_ORDERS}}},
            partition_key=store_id,
        )
        run("questions_job", partition_key=store_id)
        run("order_reconciliation_job", partition_key=store_id)
    if not normalize:
        return failed_checks
    run("category_tree_job")
    run("marketplace_trees_job")
    run("normalization_nightly_job")
    # The ERP follows the internal tree: the plan first (nothing written), then for real.
    catalog = resources.get("catalog")
    bling = getattr(catalog, "bling", None)
    if bling is not None and bling.configured:
        run("bling_category_plan_job", note=" (dry run: the plan only)")
        run("bling_category_sync_job")
    return failed_checks
