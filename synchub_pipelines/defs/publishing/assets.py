"""Dagster assets of the publishing domain: plans with blocking checks, and the writes.

Every write asset is a dry-run unless its run config says `dry_run: false`: a dry run
writes nothing to any marketplace and audits what it would have written (`planned`).
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from synchub_pipelines.defs.common import OWNERS, resolve_store
from synchub_pipelines.defs.marketplaces import MarketplacesResource
from synchub_pipelines.defs.publishing import answers, fulfilment, listings, prices
from synchub_pipelines.defs.publishing.common import ClientFactory, RunScope
from synchub_pipelines.defs.publishing.rules import RULES_FILE_ENV, RuleBook, load_rules
from synchub_pipelines.defs.quality import no_rows_check
from synchub_pipelines.defs.resources import WarehouseResource

GROUP = "publishing"
TAGS = {"domain": "publishing"}
POOL = "marketplace_api"


class ScopeConfig(dg.Config):
    stores: list[str] = Field(default_factory=list, description="only these stores (empty: all)")
    tenants: list[str] = Field(
        default_factory=list, description="only these tenants' stores (empty: all)"
    )

    def scope(self) -> RunScope:
        return RunScope(
            frozenset(self.stores) if self.stores else None,
            frozenset(self.tenants) if self.tenants else None,
        )


class ListingPlanConfig(ScopeConfig):
    rules_file: str | None = Field(
        default=None, description=f"price rules for new listings' prices; default ${RULES_FILE_ENV}"
    )
    force: bool = Field(default=False, description="plan pauses/closes beyond the damage limit")
    max_pause_share: float = Field(
        default=0.10,
        description="refuse pausing/closing more than this share of a tenant's listings",
    )
    max_pause_count: int = Field(default=20, description="…or more than this many per run")

    def options(self, dry_run: bool = True) -> listings.ListingOptions:
        return listings.ListingOptions(
            dry_run=dry_run,
            force=self.force,
            scope=self.scope(),
            max_pause_share=self.max_pause_share,
            max_pause_count=self.max_pause_count,
        )


class ListingPushConfig(ListingPlanConfig):
    dry_run: bool = Field(default=True, description="plan only: audited as planned, no API write")


class PriceConfig(ScopeConfig):
    rules_file: str | None = Field(default=None, description=f"default ${RULES_FILE_ENV}")
    force: bool = Field(default=False, description="allow changes beyond each rule's max_change")


class PricePushConfig(PriceConfig):
    dry_run: bool = Field(default=True, description="plan only: audited as planned, no API write")


class FulfilmentConfig(ScopeConfig):
    dry_run: bool = Field(default=True, description="plan only: audited as planned, no API write")
    file: str | None = Field(
        default=None,
        description=f"CSV of invoices/trackings; default ${fulfilment.FULFILMENT_FILE_ENV}",
    )


class AnswersConfig(ScopeConfig):
    dry_run: bool = Field(default=True, description="plan only: audited as planned, no API write")
    file: str | None = Field(
        default=None, description=f"answers and templates; default ${answers.ANSWERS_FILE_ENV}"
    )


def client_factory(
    warehouse: WarehouseResource, marketplaces: MarketplacesResource
) -> ClientFactory:
    def make(store_id: str) -> Any:
        return marketplaces.client_for(resolve_store(warehouse, store_id), warehouse)

    return make


def _rules(path: str | None) -> RuleBook:
    try:
        return load_rules(path)
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None


def _problems(rows: list[tuple[str, str]]) -> str:
    return "; ".join(f"{what}: {why}" for what, why in rows[:5])


def _mode(dry_run: bool) -> dg.MetadataValue:
    return dg.MetadataValue.text("dry-run" if dry_run else "real")


@dg.asset(
    name="publication_plan",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[
        "central_products",
        "listing_readiness",  # also writes product_marketplace_attributes
        "listing_links",
        "allocatable_stock",
    ],
    description=(
        "Per store × listing SKU, the listing write the catalog asks for "
        "(`publication_plan`): create (ready on the store's marketplace, not listed there), "
        "update (title/description/attributes/pictures changed since last published), pause "
        "(inactive), close (discontinued), activate. Pauses and closes beyond the damage "
        "limit are held back (blocking check)."
    ),
    tags=TAGS,
)
def publication_plan_asset(
    context: dg.AssetExecutionContext, config: ListingPlanConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    now = datetime.now(UTC)
    engine = warehouse.engine()
    plan = listings.plan_listings(engine, _rules(config.rules_file), config.options(), now)
    changed = listings.store_plan(engine, plan, now)
    by_action: dict[str, int] = {}
    for w in plan.writes:
        by_action[w.action] = by_action.get(w.action, 0) + 1
    for why in plan.refused.values():
        context.log.warning(why)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(plan.writes) + len(plan.held_back)),
            "dagster/table_name": dg.MetadataValue.text("publication_plan"),
            "rows_changed": dg.MetadataValue.json(changed),
            "writes_by_action": dg.MetadataValue.json(by_action),
            "held_back": dg.MetadataValue.int(len(plan.held_back)),
            "listings_adopted": dg.MetadataValue.int(len(plan.adoptions)),
            "not_publishable": dg.MetadataValue.int(len(plan.unpublishable)),
            "not_publishable_sample": dg.MetadataValue.json(
                {f"{s} {g}": why for (s, g), why in list(plan.unpublishable.items())[:20]}
            ),
            "plan": dg.MetadataValue.md(listings.markdown_table(plan.writes + plan.held_back)),
        }
    )


publication_within_limits = no_rows_check(
    "publication_plan",
    "publication_within_limits",
    "SELECT store_id, seller_sku, listing_id, action, reason FROM publication_plan "
    "WHERE reason LIKE 'HELD BACK:%'",
    "No pause or close held back by the damage limit (a share or a count of a tenant's "
    "listings per run). Blocking: a plan that fails is not published; check the catalog's "
    "status column, then plan with force if it is right.",
    blocking=True,
)


@dg.asset(
    name="listing_publications",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[publication_plan_asset],
    pool=POOL,
    description=(
        "Writes the publication plan through each marketplace's listing API: looks the "
        "seller SKU up before creating (no duplicate after a crash), links a created listing "
        "to its SKUs (`listing_links`, method published) so the stock push keeps it. Every "
        "planned and real write is audited in `listing_publications`; a re-run writes "
        "nothing. Dry-run unless `dry_run: false`."
    ),
    tags=TAGS,
)
def listing_publications_asset(
    context: dg.AssetExecutionContext,
    config: ListingPushConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    now = datetime.now(UTC)
    report = listings.run_listings(
        warehouse.engine(),
        client_factory(warehouse, marketplaces),
        _rules(config.rules_file),
        config.options(config.dry_run),
        context.run.run_id,
        context.retry_number,
        now,
    )
    statuses: dict[str, int] = {}
    for _, outcome, _ in report.outcomes:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    metadata = {
        "mode": _mode(config.dry_run),
        "writes_planned": dg.MetadataValue.int(len(report.plan.writes)),
        "writes_done": dg.MetadataValue.int(report.written),
        "by_status": dg.MetadataValue.json(statuses),
        "held_back": dg.MetadataValue.int(len(report.plan.held_back)),
        "api_calls": dg.MetadataValue.json(report.calls),
        "dagster/table_name": dg.MetadataValue.text("listing_publications"),
        "writes": dg.MetadataValue.md(listings.markdown_table(report.plan.writes)),
    }
    problems = [
        (f"{p.store_id} {p.seller_sku} {p.action}", o.message or o.status)
        for p, o in report.problems
    ]
    if report.plan.refused:
        raise dg.Failure(
            "; ".join(report.plan.refused.values()), metadata=metadata, allow_retries=False
        )
    if problems:
        raise dg.Failure(
            f"{len(problems)} listing write(s) refused or failed ({_problems(problems)})",
            metadata=metadata,
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    name="price_plan",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=["listing_links", "listings", "central_products", "orders"],
    description=(
        "Per linked listing variation of a store with price rules (`price_plan`): the price "
        f"its rule gives (${RULES_FILE_ENV}: markup or target margin after the marketplace's "
        "fees from settled orders, rounding, min/max, promotion), the floor (cost + fees + "
        "minimum margin) and the change from the current price. Blocking check: nothing "
        "below the floor, no change beyond the damage limit unless forced."
    ),
    tags=TAGS,
)
def price_plan_asset(config: PriceConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    now = datetime.now(UTC)
    engine = warehouse.engine()
    report = prices.plan_prices(
        engine,
        _rules(config.rules_file),
        prices.PriceOptions(force=config.force, scope=config.scope()),
        now,
    )
    changed = prices.store_price_plan(engine, report.plan, now)
    moving = [p for p in report.plan if p.needs_write]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(report.plan)),
            "dagster/table_name": dg.MetadataValue.text("price_plan"),
            "rows_changed": dg.MetadataValue.json(changed),
            "prices_to_change": dg.MetadataValue.int(len(moving)),
            "breaking_rules": dg.MetadataValue.int(sum(1 for p in moving if p.breach())),
            "skipped": dg.MetadataValue.json(report.skipped),
            "plan": dg.MetadataValue.md(prices.markdown_table(moving)),
        }
    )


prices_within_rules = no_rows_check(
    "price_plan",
    "prices_within_rules",
    "SELECT store_id, listing_id, variation_id, sku, current_price, target_price, floor_price, "
    "change_share FROM price_plan WHERE target_price < floor_price "
    "OR (current_price IS NOT NULL AND target_price <> current_price AND NOT forced "
    "AND ABS(change_share) > max_change_share)",
    "No planned price below its floor (cost + the marketplace's fees + the minimum margin), "
    "and no change larger than the rule's max_change unless forced. Blocking: a plan that "
    "fails is not pushed.",
    blocking=True,
)


@dg.asset(
    name="price_pushes",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=[price_plan_asset],
    pool=POOL,
    description=(
        "Writes each planned price that differs from the listing's through the marketplace's "
        "price call; refuses (audits, never sends) a price below its floor or beyond the "
        "damage limit. Audited in `price_pushes`; a re-run writes nothing. Dry-run unless "
        "`dry_run: false`."
    ),
    tags=TAGS,
)
def price_pushes_asset(
    context: dg.AssetExecutionContext,
    config: PricePushConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    report = prices.run_prices(
        warehouse.engine(),
        client_factory(warehouse, marketplaces),
        _rules(config.rules_file),
        prices.PriceOptions(dry_run=config.dry_run, force=config.force, scope=config.scope()),
        context.run.run_id,
        context.retry_number,
        datetime.now(UTC),
    )
    statuses: dict[str, int] = {}
    for _, outcome in report.outcomes:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    metadata = {
        "mode": _mode(config.dry_run),
        "listings_in_plan": dg.MetadataValue.int(len(report.plan)),
        "writes_done": dg.MetadataValue.int(report.written),
        "by_status": dg.MetadataValue.json(statuses),
        "api_calls": dg.MetadataValue.json(report.calls),
        "dagster/table_name": dg.MetadataValue.text("price_pushes"),
    }
    problems = [
        (f"{p.store_id} {p.listing_id}/{p.variation_id or '-'} {p.sku}", o.message or o.status)
        for p, o in report.problems
    ]
    if problems:
        raise dg.Failure(
            f"{len(problems)} price write(s) refused or failed ({_problems(problems)})",
            metadata=metadata,
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    name="fulfilment_pushes",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=["orders", "shipments"],
    pool=POOL,
    description=(
        "Sends the merchant's invoices (NF-e) and trackings (`fulfilment_updates`, filled by "
        f"the ERP or loaded from ${fulfilment.FULFILMENT_FILE_ENV}) for orders the seller "
        "ships, once each; audited in `fulfilment_pushes`, reflected in `shipments` on the "
        "next read. Dry-run unless `dry_run: false`."
    ),
    tags=TAGS,
)
def fulfilment_pushes_asset(
    context: dg.AssetExecutionContext,
    config: FulfilmentConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    try:
        report = fulfilment.run_fulfilment(
            warehouse.engine(),
            client_factory(warehouse, marketplaces),
            config.dry_run,
            config.scope(),
            context.run.run_id,
            context.retry_number,
            datetime.now(UTC),
            config.file,
        )
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    statuses: dict[str, int] = {}
    for _, outcome in report.outcomes:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    metadata = {
        "mode": _mode(config.dry_run),
        "writes_planned": dg.MetadataValue.int(len(report.plan)),
        "writes_done": dg.MetadataValue.int(report.written),
        "by_status": dg.MetadataValue.json(statuses),
        "skipped": dg.MetadataValue.json(
            [f"{s} {o} {k}: {why}" for s, o, k, why in report.skipped[:30]]
        ),
        "api_calls": dg.MetadataValue.json(report.calls),
        "dagster/table_name": dg.MetadataValue.text("fulfilment_pushes"),
    }
    problems = [
        (f"{p.store_id} order {p.order_id} {p.kind}", o.message or o.status)
        for p, o in report.problems
    ]
    if problems:
        raise dg.Failure(
            f"{len(problems)} fulfilment write(s) refused or failed ({_problems(problems)})",
            metadata=metadata,
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    name="answer_pushes",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    deps=["questions"],
    pool=POOL,
    description=(
        "Answers open Mercado Livre questions from the merchant's answers (`question_answers`, "
        f"${answers.ANSWERS_FILE_ENV}) and keyword templates ({{title}}, {{stock}}, {{sku}}); "
        "each question once. Audited in `answer_pushes`; the questions SLA moves on the next "
        "questions read. Dry-run unless `dry_run: false`."
    ),
    tags=TAGS,
)
def answer_pushes_asset(
    context: dg.AssetExecutionContext,
    config: AnswersConfig,
    warehouse: WarehouseResource,
    marketplaces: MarketplacesResource,
) -> dg.MaterializeResult:
    try:
        book = answers.load_answers(config.file)
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    report = answers.run_answers(
        warehouse.engine(),
        client_factory(warehouse, marketplaces),
        book,
        config.dry_run,
        config.scope(),
        context.run.run_id,
        context.retry_number,
        datetime.now(UTC),
    )
    metadata = {
        "mode": _mode(config.dry_run),
        "answers_planned": dg.MetadataValue.int(len(report.plan)),
        "answers_posted": dg.MetadataValue.int(report.written),
        "open_questions_without_answer": dg.MetadataValue.int(report.unanswered),
        "api_calls": dg.MetadataValue.json(report.calls),
        "dagster/table_name": dg.MetadataValue.text("answer_pushes"),
    }
    problems = [
        (f"{p.store_id} question {p.question_id}", o.message or o.status)
        for p, o in report.problems
    ]
    if problems:
        raise dg.Failure(
            f"{len(problems)} answer(s) refused or failed ({_problems(problems)})",
            metadata=metadata,
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata=metadata)


LISTING_ASSETS = [publication_plan_asset, listing_publications_asset]
PRICE_ASSETS = [price_plan_asset, price_pushes_asset]
ASSETS = [*LISTING_ASSETS, *PRICE_ASSETS, fulfilment_pushes_asset, answer_pushes_asset]
CHECKS = [publication_within_limits, prices_within_rules]

_RUN_CONFIG_NOTE = " Dry-run by default: set `dry_run: false` in each write's op config."
publish_job = dg.define_asset_job(
    "publish_job",
    selection=dg.AssetSelection.assets(*ASSETS),
    description="Listings, prices, fulfilment and answers: plans (blocking checks) → writes."
    + _RUN_CONFIG_NOTE,
    tags={"synchub/domain": "publishing"},
    executor_def=dg.in_process_executor,
)
publish_listings_job = dg.define_asset_job(
    "publish_listings_job",
    selection=dg.AssetSelection.assets(*LISTING_ASSETS),
    description="Publication plan (blocking check) → listing writes." + _RUN_CONFIG_NOTE,
    tags={"synchub/domain": "publishing"},
    executor_def=dg.in_process_executor,
)
publish_prices_job = dg.define_asset_job(
    "publish_prices_job",
    selection=dg.AssetSelection.assets(*PRICE_ASSETS),
    description="Price plan (blocking check) → price writes." + _RUN_CONFIG_NOTE,
    tags={"synchub/domain": "publishing"},
    executor_def=dg.in_process_executor,
)
fulfilment_job = dg.define_asset_job(
    "fulfilment_job",
    selection=dg.AssetSelection.assets(fulfilment_pushes_asset),
    description="Invoices and trackings to the marketplaces." + _RUN_CONFIG_NOTE,
    tags={"synchub/domain": "publishing"},
)
answers_job = dg.define_asset_job(
    "answers_job",
    selection=dg.AssetSelection.assets(answer_pushes_asset),
    description="Answers to open buyers' questions." + _RUN_CONFIG_NOTE,
    tags={"synchub/domain": "publishing"},
)
JOBS = [publish_job, publish_listings_job, publish_prices_job, fulfilment_job, answers_job]
