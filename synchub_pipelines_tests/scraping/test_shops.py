"""The scraper against the sandbox shops over loopback HTTP: every layout reads right, and the
shops' request log proves the politeness (robots.txt, crawl-delay, 304s, no 429)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from protego import Protego

from synchub_pipelines.sandbox.shops import SITES, RunningShops, ShopsConfig
from synchub_pipelines.scraping import extract
from synchub_pipelines.scraping.crawl import CrawlStats, PageResult, crawl, fetch_page
from synchub_pipelines.scraping.fetch import PoliteFetcher
from synchub_pipelines.scraping.targets import ScrapeTarget, load_targets

pytestmark = pytest.mark.slow
TARGETS = Path(__file__).with_name("shops_targets.toml")
DELAY = 0.2
TRAPS = ("/carrinho", "/busca?q=geladeira")


@pytest.fixture(scope="module")
def shops() -> Iterator[RunningShops]:
    config = ShopsConfig(
        today=date(2026, 3, 14), crawl_delays={"microdata": DELAY, "plainshop": DELAY}
    )
    with RunningShops(config) as running:
        yield running


@pytest.fixture
def targets(shops: RunningShops) -> dict[str, ScrapeTarget]:
    shops.log.clear()
    shops.set_date(date(2026, 3, 14))
    for site in SITES:
        shops.set_bot_wall(site, False)
    shops.set_layout("plainshop", "v1")
    env = {f"SYNCHUB_SHOP_{site.upper()}": url for site, url in shops.base_urls.items()}
    return {t.site: t for t in load_targets(TARGETS, environ=env)}


def with_traps(target: ScrapeTarget, base: str) -> ScrapeTarget:
    return target.model_copy(
        update={"start_urls": (*target.start_urls, *(base + t for t in TRAPS))}
    )


def robots_of(base: str) -> Protego:
    return Protego.parse(httpx.get(f"{base}/robots.txt").text)


@pytest.mark.parametrize("site", SITES)
def test_every_layout_extracts_the_right_offer_politely(
    site: str, shops: RunningShops, targets: dict[str, ScrapeTarget]
) -> None:
    base = shops.base_urls[site]
    pages = list(crawl(with_traps(targets[site], base)))
    offers = {p.offer.url: p.offer for p in pages if p.offer is not None}
    expected = shops.expected_offers(site)
    assert expected and {e.url for e in expected} <= set(offers)
    for want in expected:
        got = offers[want.url]
        assert (got.price, got.currency, got.gtin, got.availability) == (
            want.price,
            want.currency,
            want.gtin,
            want.availability,
        ), want.url
        assert (got.title, got.list_price) == (want.title, want.list_price), want.url
        if site in ("plainshop", "marketplace") and want.installments > 1:
            assert got.installments is not None
            assert (got.installments.count, got.installments.amount) == (
                want.installments,
                want.installment_amount,
            )
            assert got.price != want.installment_amount
        if site == "marketplace":
            assert got.seller == want.seller and got.extracted_by == "recipe"
    # Politeness, from the shop's own log.
    log = shops.log.entries(site)
    rules = robots_of(base)
    assert all(rules.can_fetch(base + e.path, "SynchubBot") for e in log)
    disallowed = {p.url for p in pages if p.outcome == "disallowed"}
    assert {base + t for t in TRAPS} <= disallowed
    assert sum(e.path == "/robots.txt" for e in log) == 1
    assert all((e.user_agent or "").startswith("SynchubBot/") for e in log)
    assert shops.log.count(site, status=429) == 0
    assert min(shops.log.gaps(site)) >= DELAY * 0.95
    stats = CrawlStats.of(pages)
    assert stats.offers >= len(offers) and stats.disallowed == len(disallowed) and stats.errors == 0


def test_soft_404s_404s_and_walls_are_classified(
    shops: RunningShops, targets: dict[str, ScrapeTarget]
) -> None:
    pages = {p.url: p for p in crawl(targets["marketplace"])}
    base = shops.base_urls["marketplace"]
    assert pages[f"{base}/p/MT9990"].outcome == "blocked"  # login wall
    assert pages[f"{base}/p/MT9991"].outcome == "not_found"  # soft 404
    assert (
        pages[f"{base}/p/MT9992"].outcome == "not_found" and pages[f"{base}/p/MT9992"].status == 404
    )


def test_second_crawl_is_304s_that_cost_no_parse(
    shops: RunningShops, targets: dict[str, ScrapeTarget], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = targets["jsonld"]
    first = list(crawl(target))
    validators = {p.url: (p.etag, p.last_modified) for p in first if p.outcome == "offer"}
    assert validators and all(etag for etag, _ in validators.values())
    parsed: list[bytes] = []
    real = extract.parse_html
    monkeypatch.setattr(
        extract, "parse_html", lambda body, ct=None: parsed.append(body) or real(body, ct)
    )
    shops.log.clear()
    second = list(crawl(target, validators=validators))
    unchanged = [p for p in second if p.url in validators]
    assert unchanged and all(p.outcome == "not_modified" and p.offer is None for p in unchanged)
    # Parsed: listing pages (read for links, never sent validators) and the pages that had
    # no offer last time (the soft 404); not one of the 304s.
    assert len(parsed) == sum(1 for p in second if p.status == 200 and p.kind != "sitemap")
    assert len(parsed) < len(unchanged) and all(parsed)
    assert shops.log.count("jsonld", status=304) == len(unchanged)
    # The next day some prices move: those pages change ETag and are read again.
    shops.set_date(date(2026, 3, 15))
    third = list(crawl(target, validators=validators))
    changed = [p for p in third if p.outcome == "offer"]
    assert changed and all(p.url in validators for p in changed)
    moved = {e.url: e.price for e in shops.expected_offers("jsonld")}
    assert all(p.offer is not None and p.offer.price == moved[p.offer.url] for p in changed)


def test_layout_switch_breaks_the_recipe_with_a_reason(
    shops: RunningShops, targets: dict[str, ScrapeTarget]
) -> None:
    target = targets["plainshop"]
    want = shops.expected_offers("plainshop")[0]
    with PoliteFetcher(delay_seconds=DELAY) as fetcher:
        before = fetch_page(want.url, site="plainshop", recipe=target.recipe, fetcher=fetcher)
        shops.set_layout("plainshop", "v2")
        after = fetch_page(want.url, site="plainshop", recipe=target.recipe, fetcher=fetcher)
    assert before.offer is not None and before.offer.price == want.price
    assert after.outcome == "no_offer" and ".box-preco .preco-atual b" in (after.reason or "")


def test_bot_wall_is_skipped_and_ends_the_crawl(
    shops: RunningShops, targets: dict[str, ScrapeTarget]
) -> None:
    target = targets["plainshop"]
    shops.set_bot_wall("plainshop", True)
    pages = list(crawl(target))
    blocked = [p for p in pages if p.outcome == "blocked"]
    assert len(blocked) == 3 and pages[-1].outcome == "blocked"
    assert not [p for p in pages if p.outcome == "offer"]


def test_429_burst_is_waited_out(shops: RunningShops, targets: dict[str, ScrapeTarget]) -> None:
    want = shops.expected_offers("jsonld")[0]
    with PoliteFetcher(delay_seconds=0.0) as fetcher:
        fetcher.robots(want.url)
        shops.burst_429("jsonld", count=2, retry_after=1)
        page: PageResult = fetch_page(
            want.url, site="jsonld", recipe=targets["jsonld"].recipe, fetcher=fetcher
        )
    assert page.outcome == "offer" and page.retries == 2
    assert page.offer is not None and page.offer.price == Decimal(want.price)
    statuses = [e.status for e in shops.log.entries("jsonld") if e.path != "/robots.txt"]
    assert statuses == [429, 429, 200]
    gaps = shops.log.gaps("jsonld")
    assert min(gaps) >= 0.95  # Retry-After: 1, each time
