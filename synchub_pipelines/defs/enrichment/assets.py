"""Competitor prices and catalog enrichment: the Dagster assets (docs/enrichment.md).

`scrape_targets` loads the targets file and keeps one `scrape_sites` partition per site.
`competitor_pages` crawls one site per partition into `scraped_pages` and
`competitor_offers`, in the `scrape` pool so that two runs never crawl at once (the
crawler itself keeps one request at a time per host within a run). `offer_matches`,
`enrichment_suggestions` and `price_positions` are recomputed whole after any crawl: they
read every site's current offers, and a run of another site in between changes nothing
they would not recompute themselves.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from synchub_pipelines.defs.common import OWNERS
from synchub_pipelines.defs.enrichment import collect, derive, store
from synchub_pipelines.defs.enrichment.matching import Thresholds, by_status, match_all
from synchub_pipelines.defs.resources import WarehouseResource

if TYPE_CHECKING:
    from synchub_pipelines.scraping.targets import ScrapeTarget

GROUP = "enrichment"
SCRAPE_SITES = "scrape_sites"
POOL = "scrape"
TAGS = {"domain": "enrichment"}

scrape_sites = dg.DynamicPartitionsDefinition(name=SCRAPE_SITES)


class ScrapingResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the targets file is, and the matching and monitoring thresholds."""

    targets_file: str = Field(
        default="",
        description="the targets TOML; empty: SYNCHUB_SCRAPE_TARGETS, else the packaged one",
    )
    match_high: float = Field(default=90.0, description="title score from which a match is auto")
    match_low: float = Field(default=70.0, description="title score from which one is pending")
    min_extraction_rate: float = Field(
        default=0.5, description="offers / product pages parsed below which the check fails"
    )
    drop_ratio: float = Field(
        default=0.5,
        description="the check fails when a site's rate falls below this share of its average",
    )

    def targets(self) -> "list[ScrapeTarget]":
        from synchub_pipelines.scraping.targets import TargetsError, load_targets

        try:
            return load_targets(self.targets_file or None)
        except TargetsError as exc:
            raise dg.Failure(str(exc)) from None

    def target(self, site: str) -> "ScrapeTarget":
        targets = self.targets()
        found = next((t for t in targets if t.site == site), None)
        if found is None:
            known = ", ".join(t.site for t in targets) or "none"
            raise dg.Failure(f"site {site!r} is not in the targets file (sites: {known})")
        return found

    def thresholds(self) -> Thresholds:
        return Thresholds(high=self.match_high, low=self.match_low)


def sync_site_partitions(instance: dg.DagsterInstance, sites: list[str]) -> list[str]:
    """Add a `scrape_sites` partition for every site that lacks one; returns the added."""
    existing = set(instance.get_dynamic_partitions(SCRAPE_SITES))
    added = [s for s in sites if s not in existing]
    if added:
        instance.add_dynamic_partitions(SCRAPE_SITES, added)
    return added


def _now() -> datetime:
    return datetime.now(UTC)


@dg.asset(
    name="scrape_targets",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    description=(
        "The competitor sites to collect, from the targets file (SYNCHUB_SCRAPE_TARGETS): "
        "start URLs, sitemaps, recipe, page budget, delay and schedule. Adds a `scrape_sites` "
        "partition per new site; a site removed from the file stays, disabled."
    ),
)
def scrape_targets_asset(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, scraping: ScrapingResource
) -> dg.MaterializeResult:
    targets = scraping.targets()
    changed = collect.load_targets_rows(warehouse.engine(), targets, _now())
    added = sync_site_partitions(context.instance, [t.site for t in targets])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(targets)),
            "sites": dg.MetadataValue.json([t.site for t in targets]),
            "partitions_added": dg.MetadataValue.json(added),
            "rows_changed": dg.MetadataValue.json(changed),
        }
    )


@dg.multi_asset(
    name="competitor_pages",
    specs=[
        dg.AssetSpec(
            "scraped_pages",
            group_name=GROUP,
            kinds={"python", "sql"},
            owners=OWNERS,
            tags=TAGS,
            deps=["scrape_targets"],
            description=(
                "Every fetch of the site's pages (status, bytes, ETag, outcome); pages "
                "without a valid offer are kept with the reason (the quarantine)."
            ),
        ),
        dg.AssetSpec(
            "competitor_offers",
            group_name=GROUP,
            kinds={"python", "sql"},
            owners=OWNERS,
            tags=TAGS,
            deps=["scrape_targets"],
            description=(
                "Competitors' offers over time: a row only when a page's offer changed, so a "
                "rerun that finds the same prices adds nothing."
            ),
        ),
    ],
    partitions_def=scrape_sites,
    pool=POOL,
    description=(
        "Crawl one site politely (robots.txt, crawl-delay, conditional GETs, page budget) and "
        "record every fetch and every changed offer."
    ),
)
def competitor_pages(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, scraping: ScrapingResource
) -> tuple[dg.MaterializeResult, dg.MaterializeResult]:
    site = context.partition_key
    target = scraping.target(site)
    summary = collect.crawl_site(warehouse.engine(), target, context.run.run_id)
    for url, reason in summary.quarantined[: collect.SAMPLE_SIZE]:
        context.log.warning(f"quarantined {url}: {reason}")
    facts = summary.metadata()
    pages_meta = {
        "dagster/row_count": dg.MetadataValue.int(summary.pages),
        **{k: _value(v) for k, v in facts.items()},
    }
    offers_meta = {
        "dagster/row_count": dg.MetadataValue.int(summary.new_offer_rows),
        "offers_extracted": dg.MetadataValue.int(summary.outcomes["offer"]),
        "offer_rows_written": dg.MetadataValue.int(summary.new_offer_rows),
        "offers_unchanged": dg.MetadataValue.int(summary.unchanged_offers),
        "extraction_rate": _value(facts["extraction_rate"]),
    }
    return (
        dg.MaterializeResult(asset_key="scraped_pages", metadata=pages_meta),
        dg.MaterializeResult(asset_key="competitor_offers", metadata=offers_meta),
    )


def _value(value: object) -> dg.MetadataValue:  # type: ignore[type-arg]
    if value is None:
        return dg.MetadataValue.text("n/a (no product page parsed)")
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return dg.MetadataValue.json(value)  # type: ignore[arg-type]


def run_matching(engine: sa.Engine, thresholds: Thresholds, now: datetime) -> dict[str, int]:
    with engine.begin() as conn:
        offers = store.current_offers(conn)
        candidates = match_all(
            store.offer_refs(offers),
            store.catalog_products(conn),
            store.decisions(conn),
            thresholds,
        )
        changed = store.write_matches(conn, candidates, now)
    return {"offers": len(offers), "rows_changed": changed, **by_status(candidates)}


@dg.asset(
    name="offer_matches",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    deps=["competitor_offers", "central_products"],
    description=(
        "Competitor offers matched to central SKUs: same GTIN first, then brand and title "
        "similarity (rapidfuzz). Uncertain matches are `pending` until a person decides "
        "(`synchub scrape matches` / `accept` / `reject`); decisions are never overwritten."
    ),
)
def offer_matches_asset(
    warehouse: WarehouseResource, scraping: ScrapingResource
) -> dg.MaterializeResult:
    engine = warehouse.engine()
    facts = run_matching(engine, scraping.thresholds(), _now())
    with engine.connect() as conn:
        statuses: dict[str, int] = dict(
            conn.execute(
                sa.text("SELECT status, COUNT(*) FROM offer_matches GROUP BY status")
            ).all()
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(sum(statuses.values())),
            "by_status": dg.MetadataValue.json({k: int(v) for k, v in statuses.items()}),
            "this_run": dg.MetadataValue.json(facts),
            "pending_for_review": dg.MetadataValue.int(int(statuses.get("pending", 0))),
        }
    )


def run_suggestions(engine: sa.Engine, now: datetime) -> int:
    with engine.begin() as conn:
        return store.write_suggestions(conn, derive.suggestions(conn), now)


@dg.asset(
    name="enrichment_suggestions",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    deps=["offer_matches", "product_attributes_normalized"],
    description=(
        "Images, descriptions, attributes and GTINs that matched competitor pages could fill "
        "in for SKUs that lack them. Suggestions only: the catalog changes when a person "
        "accepts one (`synchub scrape accept-suggestion`)."
    ),
)
def enrichment_suggestions_asset(warehouse: WarehouseResource) -> dg.MaterializeResult:
    engine = warehouse.engine()
    added = run_suggestions(engine, _now())
    with engine.connect() as conn:
        by_field = conn.execute(
            sa.text(
                "SELECT CASE WHEN field LIKE 'attribute:%' THEN 'attribute' ELSE field END AS f, "
                "status, COUNT(*) FROM enrichment_suggestions GROUP BY 1, 2"
            )
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for f, status, n in by_field:
        counts.setdefault(f, {})[status] = int(n)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(
                sum(sum(c.values()) for c in counts.values())
            ),
            "new_suggestions": dg.MetadataValue.int(added),
            "by_field_and_status": dg.MetadataValue.json(counts),
        }
    )


def run_positions(engine: sa.Engine, now: datetime) -> list[dict[str, object]]:
    with engine.begin() as conn:
        rows = derive.positions(conn, now, derive.previous_positions(conn))
        store.write_positions(conn, rows, now)
    return rows


@dg.asset(
    name="price_positions",
    group_name=GROUP,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags=TAGS,
    deps=["offer_matches", "listings", "listing_links", "central_products"],
    description=(
        "Per SKU and channel (each store's listing price, and the catalog price): our price "
        "against the lowest and median current price of the matched competitor offers, and "
        "the SKUs undercut since the last run."
    ),
)
def price_positions_asset(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    rows = run_positions(warehouse.engine(), _now())
    newly = derive.undercut_now(rows)
    for row in newly[:10]:
        context.log.warning(
            f"undercut: {row['tenant']}/{row['sku']} on {row['channel']}: ours "
            f"{row['our_price']} vs {row['lowest_price']} at {row['lowest_site']}"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "undercut": dg.MetadataValue.int(sum(1 for r in rows if r["undercut"])),
            "undercut_since_last_run": dg.MetadataValue.int(len(newly)),
            "newly_undercut_sample": dg.MetadataValue.json(
                [
                    {
                        "tenant": r["tenant"],
                        "sku": r["sku"],
                        "channel": r["channel"],
                        "our_price": str(r["our_price"]),
                        "lowest_price": str(r["lowest_price"]),
                        "lowest_url": r["lowest_url"],
                    }
                    for r in newly[:10]
                ]
            ),
        }
    )
