"""The extraction-rate check: a site whose layout changed stops yielding offers.

Per site partition, the latest crawl's rate is offers / product pages parsed (`offer` +
`no_offer`; a 304 is not parsed and does not count). It fails when the rate is below
`min_extraction_rate`, or below `drop_ratio` × the site's average over its previous
`HISTORY` crawls, and names sample URLs that yielded nothing with their reasons, so the
operator can open one and fix the recipe in the targets file.
"""

from dataclasses import dataclass
from typing import Any

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synchub_pipelines.defs.enrichment.assets import ScrapingResource, scrape_sites
from synchub_pipelines.defs.resources import WarehouseResource

HISTORY = 5
SAMPLE = 5


@dataclass(frozen=True)
class RunRate:
    run_id: str
    offers: int
    parsed: int

    @property
    def rate(self) -> float | None:
        return self.offers / self.parsed if self.parsed else None


def run_rates(conn: Connection, site: str, runs: int = HISTORY + 1) -> list[RunRate]:
    """The site's latest crawls, newest first, with their offers and parsed pages."""
    rows = conn.execute(
        sa.text(
            "SELECT run_id, MAX(fetched_at) AS last_at, "
            "SUM(CASE WHEN outcome = 'offer' THEN 1 ELSE 0 END) AS offers, "
            "SUM(CASE WHEN outcome IN ('offer', 'no_offer') THEN 1 ELSE 0 END) AS parsed "
            "FROM scraped_pages WHERE site = :site GROUP BY run_id "
            "ORDER BY last_at DESC LIMIT :n"
        ),
        {"site": site, "n": runs},
    ).all()
    return [RunRate(r.run_id, int(r.offers or 0), int(r.parsed or 0)) for r in rows]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    rate: float | None
    average: float | None
    why: str


def judge(rates: list[RunRate], minimum: float, drop_ratio: float) -> Verdict:
    if not rates:
        return Verdict(True, None, None, "the site has not been crawled yet")
    latest = rates[0].rate
    earlier = [r.rate for r in rates[1:] if r.rate is not None]
    average = sum(earlier) / len(earlier) if earlier else None
    if latest is None:
        return Verdict(True, None, average, "no product page was parsed (all unchanged: 304)")
    if latest < minimum:
        return Verdict(
            False,
            latest,
            average,
            f"extraction rate {latest:.0%} is below the minimum {minimum:.0%}",
        )
    if average is not None and latest < drop_ratio * average:
        return Verdict(
            False,
            latest,
            average,
            f"extraction rate {latest:.0%} fell below {drop_ratio:.0%} of the site's recent "
            f"average {average:.0%}",
        )
    return Verdict(True, latest, average, f"extraction rate {latest:.0%}")


def failing_samples(conn: Connection, site: str, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT url, reason FROM scraped_pages WHERE site = :site AND run_id = :run "
            "AND outcome = 'no_offer' ORDER BY url LIMIT :n"
        ),
        {"site": site, "run": run_id, "n": SAMPLE},
    ).all()
    return [{"url": r.url, "reason": r.reason} for r in rows]


@dg.asset_check(
    asset="competitor_offers",
    name="extraction_rate",
    partitions_def=scrape_sites,
    description=(
        "Fails when the site's latest crawl read offers from too few of the product pages it "
        "parsed (below the minimum, or well below its recent average): a layout changed. "
        "Names sample URLs and why they yielded nothing."
    ),
)
def extraction_rate(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    scraping: ScrapingResource,
) -> dg.AssetCheckResult:
    site = context.partition_key
    with warehouse.engine().connect() as conn:
        rates = run_rates(conn, site)
        verdict = judge(rates, scraping.min_extraction_rate, scraping.drop_ratio)
        samples = failing_samples(conn, site, rates[0].run_id) if rates else []
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{site}: {verdict.why}",
        metadata={
            "site": dg.MetadataValue.text(site),
            "extraction_rate": dg.MetadataValue.float(verdict.rate)
            if verdict.rate is not None
            else dg.MetadataValue.text("n/a"),
            "recent_average": dg.MetadataValue.float(verdict.average)
            if verdict.average is not None
            else dg.MetadataValue.text("n/a"),
            "offers": dg.MetadataValue.int(rates[0].offers if rates else 0),
            "product_pages_parsed": dg.MetadataValue.int(rates[0].parsed if rates else 0),
            "sample_urls": dg.MetadataValue.json(samples),
        },
    )
