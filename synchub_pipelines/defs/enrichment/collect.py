"""One site's crawl into the warehouse: the code the asset, the CLI and the demo share.

The crawl itself (robots.txt, crawl-delay, conditional GETs, budgets) is the scraper's
(`synchub_pipelines.scraping.crawl`); this module gives it the validators of each URL's last
fetch, and turns what it yields into `scraped_pages` and `competitor_offers` rows in one
transaction: a crawl that fails half-way writes nothing, and the next run starts over with
the same validators.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from synchub_pipelines.defs.enrichment import store
from synchub_pipelines.defs.enrichment.store import OfferRow, PageRow, TargetRow

if TYPE_CHECKING:
    from synchub_pipelines.scraping.offer import Offer
    from synchub_pipelines.scraping.targets import ScrapeTarget

# Outcomes of a product page that was parsed (a 304 is not: it costs no parse).
PARSED = ("offer", "no_offer")
SAMPLE_SIZE = 5


def target_row(target: ScrapeTarget, enabled: bool = True) -> TargetRow:
    return TargetRow(
        site=target.site,
        start_urls=tuple(target.start_urls),
        sitemaps=tuple(target.sitemaps),
        recipe=target.recipe.model_dump(mode="json", exclude_defaults=True)
        if target.recipe
        else None,
        page_budget=target.page_budget,
        delay_seconds=float(target.delay_seconds),
        schedule=target.schedule,
        enabled=enabled,
    )


def offer_row(offer: Offer) -> OfferRow:
    installments = offer.installments
    return OfferRow(
        site=offer.site,
        url=offer.url,
        fetched_at=offer.fetched_at,
        title=offer.title,
        brand=offer.brand,
        gtin=offer.gtin,
        site_sku=offer.sku,
        seller=offer.seller,
        price=offer.price,
        list_price=offer.list_price,
        currency=offer.currency,
        availability=offer.availability,
        installments_count=installments.count if installments else None,
        installment_amount=installments.amount if installments else None,
        images=tuple(offer.images),
        attributes=dict(offer.attributes),
        description=offer.description,
        extracted_by=offer.extracted_by,
    )


def page_row(result: Any) -> PageRow:
    fetched_at = result.fetched_at
    if fetched_at.tzinfo is None:
        raise ValueError(f"{result.url}: fetched_at has no time zone")
    return PageRow(
        site=result.site,
        url=result.url,
        fetched_at=fetched_at.astimezone(UTC),
        status=result.status,
        bytes=int(result.bytes or 0),
        etag=result.etag,
        last_modified=result.last_modified,
        outcome=result.outcome,
        reason=result.reason,
        elapsed_ms=int(result.elapsed_ms or 0),
        content_sha256=result.content_sha256,
    )


@dataclass
class CrawlSummary:
    site: str
    outcomes: Counter[str] = field(default_factory=Counter)
    new_offer_rows: int = 0
    unchanged_offers: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return sum(self.outcomes.values())

    @property
    def fetched(self) -> int:
        """Requests made (a page robots.txt forbids is logged, never requested)."""
        return self.pages - self.outcomes["disallowed"]

    @property
    def extraction_rate(self) -> float | None:
        parsed = sum(self.outcomes[o] for o in PARSED)
        return self.outcomes["offer"] / parsed if parsed else None

    def metadata(self) -> dict[str, Any]:
        rate = self.extraction_rate
        return {
            "pages_fetched": self.fetched,
            "not_modified_304": self.outcomes["not_modified"],
            "offers_extracted": self.outcomes["offer"],
            "offer_rows_written": self.new_offer_rows,
            "offers_unchanged": self.unchanged_offers,
            "quarantined": self.outcomes["no_offer"],
            "blocked": self.outcomes["blocked"],
            "disallowed": self.outcomes["disallowed"],
            "not_found": self.outcomes["not_found"],
            "errors": self.outcomes["error"],
            "listing_pages": self.outcomes["listing"],
            "extraction_rate": None if rate is None else round(rate, 3),
            "quarantine_sample": [
                {"url": url, "reason": reason} for url, reason in self.quarantined[:SAMPLE_SIZE]
            ],
        }


def record_crawl(engine: Engine, site: str, results: Iterable[Any], run_id: str) -> CrawlSummary:
    """Write one crawl's results: every fetch to `scraped_pages`, changed offers to
    `competitor_offers` (one transaction)."""
    summary = CrawlSummary(site)
    pages: list[PageRow] = []
    offers: list[OfferRow] = []
    not_modified: list[tuple[str, datetime]] = []
    for result in results:
        page = page_row(result)
        if page.site != site:
            raise ValueError(f"the crawl of {site} returned a page of {page.site}: {page.url}")
        pages.append(page)
        summary.outcomes[page.outcome] += 1
        if page.outcome == "offer" and result.offer is not None:
            offers.append(offer_row(result.offer))
        elif page.outcome == "not_modified":
            not_modified.append((page.url, page.fetched_at))
        elif page.outcome == "no_offer":
            summary.quarantined.append((page.url, page.reason or "no valid offer"))
    with engine.begin() as conn:
        store.record_pages(conn, pages, run_id)
        written = store.record_offers(conn, site, offers, not_modified, run_id)
    summary.new_offer_rows = written.new_rows
    summary.unchanged_offers = written.unchanged
    return summary


def crawl_site(engine: Engine, target: ScrapeTarget, run_id: str) -> CrawlSummary:
    from synchub_pipelines.scraping.crawl import crawl

    validators = store.last_validators(engine, target.site)
    return record_crawl(engine, target.site, crawl(target, validators=validators), run_id)


def load_targets_rows(
    engine: Engine, targets: Iterable[ScrapeTarget], now: datetime | None = None
) -> dict[str, int]:
    """The file's targets into `scrape_targets`; sites no longer in it are kept, disabled."""
    now = now or datetime.now(UTC)
    rows = [target_row(t) for t in targets]
    listed = {r.site for r in rows}
    with engine.connect() as conn:
        gone = [
            r
            for r in conn.execute(sa.select(store.scrape_targets)).mappings()
            if r["site"] not in listed
        ]
    for r in gone:
        rows.append(
            TargetRow(
                site=r["site"],
                start_urls=json.loads(r["start_urls"]),
                sitemaps=json.loads(r["sitemaps"]),
                recipe=json.loads(r["recipe"]) if r["recipe"] else None,
                page_budget=r["page_budget"],
                delay_seconds=r["delay_seconds"],
                schedule=r["schedule"],
                enabled=False,
            )
        )
    return store.write_targets(engine, rows, now)
