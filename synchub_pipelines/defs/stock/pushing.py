"""Asset: the stock push — every listing whose published quantity differs from its target
is written through its marketplace's stock endpoint (or, in a dry-run, only planned).

Bling follows the hub per tenant: each tenant whose catalog is a file and who has a Bling
account gets its own on-hand figures written to its own Bling company."""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from synchub_pipelines.defs.catalog.source import CatalogResource
from synchub_pipelines.defs.common import OWNERS, resolve_store
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.resources import WarehouseResource
from synchub_pipelines.defs.stock.bling_push import BlingPushReport, push_to_bling
from synchub_pipelines.defs.stock.locks import stock_lock
from synchub_pipelines.defs.stock.planning import (
    allocatable_stock_asset,
    stock_push_plan_asset,
)
from synchub_pipelines.defs.stock.push import PushOptions, PushRefused, markdown_table, run_push
from synchub_pipelines.defs.stock.writers import StockWriter, WriterFactory, writer_for_client
from synchub_pipelines.defs.stores.tenants import DEFAULT_TENANT, Tenant

GROUP = "stock"


class PushConfig(dg.Config):
    dry_run: bool = Field(
        default=False, description="plan only: audit rows marked planned, no API write"
    )
    force: bool = Field(
        default=False, description="push even when an unusual share of listings would be zeroed"
    )
    skus: list[str] = Field(
        default_factory=list, description="push only these SKUs (empty: every SKU)"
    )
    tenants: list[str] = Field(
        default_factory=list,
        description="push only these tenants' listings (empty: every tenant's); with skus, "
        "only those SKUs of these tenants",
    )
    read_back: bool = Field(
        default=False, description="drift sweep: read each listing's quantity from the API first"
    )
    reassert_zero_hours: float = Field(
        default=6.0, description="re-write a zero not confirmed for this long"
    )
    max_zero_share: float = Field(
        default=0.25, description="refuse a push that zeroes more than this share of listings"
    )
    bling: bool = Field(
        default=True,
        description="also keep Bling's balance at the hub's on hand when Bling is not the "
        "catalog source (and is connected)",
    )


def _push_bling(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    catalog: CatalogResource,
    options: PushOptions,
    now: datetime,
    tenant: Tenant | None = None,
) -> BlingPushReport | str:
    """Bling's balances follow the hub's on hand, when Bling is connected but not the source
    (of the default tenant, or of `tenant`)."""
    tenant = tenant or catalog.default_tenant()
    if tenant.catalog_source == "bling":
        return "Bling is the catalog source"
    if not catalog.bling.configured:
        return "Bling is not configured"
    if not tenant.bling_account:
        return "the tenant has no Bling account"
    try:
        client = catalog.bling_client(warehouse, tenant)
    except dg.Failure as exc:
        return str(exc.description or "Bling is not connected")
    try:
        return push_to_bling(
            warehouse.engine(),
            client,
            tenant.bling_account,
            options.skus,
            options.dry_run,
            context.run.run_id,
            context.retry_number,
            now,
            tenant=tenant.name,
        )
    finally:
        client.close()


def _push_bling_tenants(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    catalog: CatalogResource,
    options: PushOptions,
    now: datetime,
) -> dict[str, BlingPushReport | str]:
    """`_push_bling` for every tenant the push covers."""
    return {
        tenant.name: _push_bling(context, warehouse, catalog, options, now, tenant)
        for tenant in catalog.tenants()
        if options.tenants is None or tenant.name in options.tenants
    }


def _bling_summary(bling: BlingPushReport | str | None) -> dict[str, object]:
    if isinstance(bling, str) or bling is None:
        return {"skipped": bling}
    return {
        "account": bling.account,
        "planned": len(bling.planned),
        "written": bling.written,
        "failed": len(bling.failed),
        "api_calls": bling.calls,
    }


def writer_factory(
    warehouse: WarehouseResource, marketplaces: MarketplacesResource
) -> WriterFactory:
    def make(store_id: str) -> StockWriter:
        store = resolve_store(warehouse, store_id)
        return writer_for_client(marketplaces.client_for(store, warehouse))

    return make


@dg.asset(
    name="stock_pushes",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[stock_push_plan_asset],
    pool="marketplace_api",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    description=(
        "Writes each planned quantity that differs from what the listing publishes through "
        "its marketplace's stock endpoint (Mercado Livre item/variation, TikTok inventory, "
        "Amazon listings PATCH, Shopee update_stock); re-asserts old zeros; stops before "
        "zeroing an unusual share of listings unless forced; a dry-run only plans. Every "
        "write and plan is audited in `stock_pushes`; a retry repeats only what failed."
    ),
    tags={"domain": "stock"},
)
def stock_pushes_asset(
    context: dg.AssetExecutionContext,
    config: PushConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    options = PushOptions(
        dry_run=config.dry_run,
        force=config.force,
        skus=frozenset(config.skus) if config.skus else None,
        tenants=frozenset(config.tenants) if config.tenants else None,
        read_back=config.read_back,
        reassert_zero_after=timedelta(hours=config.reassert_zero_hours),
        max_zero_share=config.max_zero_share,
    )
    attempt = context.retry_number
    engine = warehouse.engine()
    now = datetime.now(UTC)
    try:
        with stock_lock(engine):
            report = run_push(
                engine,
                writer_factory(warehouse, marketplaces),
                options,
                context.run.run_id,
                attempt,
                now,
            )
            blings = (
                _push_bling_tenants(context, warehouse, catalog, options, now)
                if config.bling
                else {}
            )
    except PushRefused as exc:
        refused: dict[str, dg.MetadataValue] = {
            "refused_writes": dg.MetadataValue.md(markdown_table(exc.writes, 50))
        }
        if exc.report is not None and exc.report.planned:
            refused["writes_done"] = dg.MetadataValue.int(exc.report.written)
            refused["writes"] = dg.MetadataValue.md(markdown_table(exc.report.planned))
        raise dg.Failure(str(exc), metadata=refused, allow_retries=False) from None
    bling = blings.get(DEFAULT_TENANT)
    other_blings = {name: b for name, b in blings.items() if name != DEFAULT_TENANT}
    reasons: dict[str, int] = {}
    for write in report.planned:
        reasons[write.reason] = reasons.get(write.reason, 0) + 1
    metadata: dict[str, Any] = {
        "mode": dg.MetadataValue.text("dry-run" if options.dry_run else "real"),
        "listings_in_plan": dg.MetadataValue.int(report.listings_in_plan),
        "listings_considered": dg.MetadataValue.int(report.listings_considered),
        "listings_held_by_publishing": dg.MetadataValue.int(report.held_by_publishing),
        "writes_planned": dg.MetadataValue.int(len(report.planned)),
        "writes_by_reason": dg.MetadataValue.json(reasons),
        "writes_done": dg.MetadataValue.int(report.written),
        "writes_failed": dg.MetadataValue.int(len(report.failed)),
        "listings_gone": dg.MetadataValue.int(len(report.gone)),
        "listings_read_back": dg.MetadataValue.int(report.read_back),
        "listings_drifted": dg.MetadataValue.int(report.drifted),
        "api_calls": dg.MetadataValue.json(report.calls),
        "skus": dg.MetadataValue.text(", ".join(sorted(options.skus)) if options.skus else "all"),
        "plan" if options.dry_run else "writes": dg.MetadataValue.md(
            markdown_table(report.planned)
        ),
        "dagster/table_name": dg.MetadataValue.text("stock_pushes"),
        "bling": dg.MetadataValue.json(_bling_summary(bling)),
    }
    if other_blings:
        metadata["bling_tenants"] = dg.MetadataValue.json(
            {name: _bling_summary(b) for name, b in other_blings.items()}
        )
    tenants_pushed = sorted({w.tenant for w in report.planned})
    if set(tenants_pushed) - {DEFAULT_TENANT}:
        metadata["writes_by_tenant"] = dg.MetadataValue.json(
            {t: sum(1 for w in report.planned if w.tenant == t) for t in tenants_pushed}
        )
    if report.gone:
        sample = ", ".join(f"{p.key[0]} {p.key[1]}" for p, _ in report.gone[:5])
        context.log.warning(
            f"{len(report.gone)} listing(s) the marketplace no longer has were closed and "
            f"will not be planned again ({sample})"
        )
    problems = [
        f"{p.key[0]} {p.key[1]}/{p.key[2] or '-'}: {o.answer[:120]}" for p, o in report.failed
    ]
    for pushed in blings.values():
        if isinstance(pushed, BlingPushReport):
            problems += [f"{p.key[0]} {p.sku}: {answer[:120]}" for p, answer in pushed.failed]
    if problems:
        # Retried by the step's retry policy; the writes that succeeded are not repeated.
        raise dg.Failure(
            f"{len(problems)} stock write(s) failed ({'; '.join(problems[:5])})",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


stock_push_job = dg.define_asset_job(
    "stock_push_job",
    selection=dg.AssetSelection.assets(
        allocatable_stock_asset, stock_push_plan_asset, stock_pushes_asset
    ),
    description=(
        "Allocatable stock → push plan (blocking invariant check) → writes to every "
        "marketplace. Run config `ops.stock_pushes.config` chooses dry-run, SKUs, drift sweep."
    ),
    tags={"synchub/domain": "stock"},
    # Three short steps: one process saves the seconds a subprocess per step costs, which
    # is most of the fast path's latency.
    executor_def=dg.in_process_executor,
)
