"""The polite fetcher and the crawl against a loopback site whose request log is the witness."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from decimal import Decimal

import pytest

from synchub_pipelines.scraping import extract
from synchub_pipelines.scraping.crawl import CrawlStats, PageResult, crawl
from synchub_pipelines.scraping.fetch import PoliteFetcher
from synchub_pipelines.scraping.targets import Recipe, ScrapeTarget
from synchub_pipelines_tests.scraping.site_server import Site, page, product_html

ROBOTS = b"User-agent: *\nDisallow: /private\nCrawl-delay: 2\n\nUser-agent: BadBot\nDisallow: /\n"
RECIPE = Recipe(product_url=r"/p/\d+$")


class FakeClock:
    """Monotonic time that only moves when the fetcher sleeps: every wait is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as running:
        running.routes["/robots.txt"] = page(body=ROBOTS, Content_Type="text/plain")
        for n in range(1, 7):
            running.routes[f"/p/{n}"] = page(body=product_html(f"Produto {n}", f"{n}9.90"))
        yield running


def target(
    site: Site, *, starts: tuple[str, ...] = (), sitemaps: tuple[str, ...] = (), **fields: object
) -> ScrapeTarget:
    return ScrapeTarget(
        site="lojateste",
        start_urls=tuple(site.url(s) for s in starts),
        sitemaps=tuple(site.url(s) for s in sitemaps),
        recipe=fields.pop("recipe", RECIPE),  # type: ignore[arg-type]
        delay_seconds=fields.pop("delay_seconds", 0.5),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def run(t: ScrapeTarget, clock: FakeClock | None = None, **kwargs: object) -> list[PageResult]:
    clock = clock or FakeClock()
    return list(crawl(t, sleep=clock.sleep, clock=clock, **kwargs))  # type: ignore[arg-type]


def by_url(pages: list[PageResult]) -> dict[str, PageResult]:
    return {p.url: p for p in pages}


def test_disallowed_urls_are_reported_never_requested(site: Site) -> None:
    site.routes["/c/1"] = page(
        body=b'<a href="/p/1">1</a><a href="/private/p/9">9</a><a href="/p/2#x">2</a>'
    )
    pages = by_url(
        run(target(site, starts=("/c/1", "/private/p/8"), recipe=Recipe(product_url=r"/p/\d+$")))
    )
    assert pages[site.url("/private/p/8")].outcome == "disallowed"
    assert pages[site.url("/private/p/9")].outcome == "disallowed"
    assert not pages[site.url("/private/p/9")].requested
    assert pages[site.url("/p/2")].offer is not None
    assert not [p for p in site.paths() if p.startswith("/private")]
    assert site.paths().count("/robots.txt") == 1
    assert CrawlStats.of(pages.values()).disallowed == 2


def test_crawl_delay_wins_over_a_shorter_configured_delay(site: Site) -> None:
    clock = FakeClock()
    pages = run(target(site, starts=("/p/1", "/p/2", "/p/3"), delay_seconds=0.5), clock)
    assert [p.outcome for p in pages] == ["offer"] * 3
    # robots.txt, then three pages: every gap after robots.txt is the Crawl-delay (2 s).
    assert clock.sleeps == [pytest.approx(2.0)] * 3
    longer = FakeClock()
    run(target(site, starts=("/p/1", "/p/2"), delay_seconds=3.0), longer)
    assert longer.sleeps == [pytest.approx(3.0)] * 2


def test_real_gaps_between_requests_hold(site: Site) -> None:
    site.routes["/robots.txt"] = page(
        body=b"User-agent: *\nCrawl-delay: 0.3\n", Content_Type="text/plain"
    )
    pages = list(crawl(target(site, starts=("/p/1", "/p/2", "/p/3"), delay_seconds=0.05)))
    assert [p.outcome for p in pages] == ["offer"] * 3
    arrivals = [hit.mono for hit in site.hits if hit.path != "/robots.txt"]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(gaps) == 2 and min(gaps) >= 0.3


def test_user_agent_names_the_project_and_the_contact(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCHUB_SCRAPE_CONTACT", "scraping@merchant.example")
    run(target(site, starts=("/p/1",)))
    agents = {hit.headers["user-agent"] for hit in site.hits}
    assert len(agents) == 1
    agent = agents.pop()
    assert (
        agent.startswith("SynchubBot/")
        and "contact: scraping@merchant.example" in agent
        and "+http" in agent
    )


def test_conditional_get_304_costs_no_parse(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    body = product_html("Produto 1", "19.90")

    def conditional(headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return (
            200,
            {
                "Content-Type": "text/html",
                "ETag": '"v1"',
                "Last-Modified": "Sat, 14 Mar 2026 12:00:00 GMT",
            },
            body,
        )

    site.routes["/p/1"] = conditional
    t = target(site, starts=("/p/1",))
    first = run(t)[0]
    assert first.outcome == "offer" and first.etag == '"v1"' and first.content_sha256
    parses: list[bytes] = []
    real_parse = extract.parse_html
    monkeypatch.setattr(
        extract, "parse_html", lambda body, ct=None: parses.append(body) or real_parse(body, ct)
    )
    second = run(t, validators={first.url: (first.etag, first.last_modified)})[0]
    assert second.outcome == "not_modified" and second.status == 304 and second.bytes == 0
    assert parses == []
    assert site.hits[-1].headers["if-none-match"] == '"v1"'
    assert site.hits[-1].headers["if-modified-since"] == "Sat, 14 Mar 2026 12:00:00 GMT"
    assert CrawlStats.of([second]).not_modified == 1
    # A changed page (new ETag) is parsed again.
    site.routes["/p/1"] = page(body=product_html("Produto 1", "17.90"), ETag='"v2"')
    third = run(t, validators={first.url: (first.etag, first.last_modified)})[0]
    assert third.offer is not None and third.offer.price == Decimal("17.90") and len(parses) == 1


def test_429_with_retry_after_is_backed_off(site: Site) -> None:
    answers = iter([(429, {"Retry-After": "7"}, b""), (503, {"Retry-After": "3"}, b"")])
    site.routes["/p/1"] = lambda h: next(
        answers, (200, {"Content-Type": "text/html"}, product_html("P", "9.90"))
    )
    clock = FakeClock()
    result = run(target(site, starts=("/p/1",)), clock)[0]
    assert result.outcome == "offer" and result.retries == 2
    # The Crawl-delay after robots.txt, then each Retry-After.
    assert clock.sleeps == [pytest.approx(2.0), pytest.approx(7.0), pytest.approx(3.0)]
    assert site.paths().count("/p/1") == 3


def test_retries_are_bounded(site: Site) -> None:
    site.routes["/p/1"] = page(503, Retry_After="1")
    result = run(target(site, starts=("/p/1",)))[0]
    assert result.outcome == "error" and "HTTP 503 after 3 retries" in (result.reason or "")
    assert site.paths().count("/p/1") == 4
    site.routes["/p/2"] = page(429, Retry_After="86400")
    long_wait = run(target(site, starts=("/p/2",)))[0]
    assert long_wait.outcome == "error" and "not waited for" in (long_wait.reason or "")
    assert site.paths().count("/p/2") == 1


def test_redirects_followed_limited_and_checked_against_robots(site: Site) -> None:
    site.routes["/produto.asp?id=1"] = page(301, Location="/p/1")
    site.routes["/go"] = page(302, Location="/private/p/5")
    site.routes["/a"] = page(302, Location="/b")
    site.routes["/b"] = page(302, Location="/a")
    with PoliteFetcher(delay_seconds=0, sleep=lambda s: None) as fetcher:
        moved = fetcher.fetch(site.url("/produto.asp?id=1"))
        assert (moved.outcome, moved.final_url, moved.status) == ("ok", site.url("/p/1"), 200)
        hidden = fetcher.fetch(site.url("/go"))
        assert hidden.outcome == "disallowed" and "redirected from" in (hidden.reason or "")
        loop = fetcher.fetch(site.url("/a"))
        assert loop.outcome == "error" and "more than 5 redirects" in (loop.reason or "")
    assert "/private/p/5" not in site.paths()
    assert site.paths().count("/a") + site.paths().count("/b") == 6


def test_page_budget_stops_the_run(site: Site) -> None:
    urls = "".join(f"<url><loc>{site.url(f'/p/{n}')}</loc></url>" for n in range(1, 7))
    site.routes["/sitemap.xml"] = page(
        body=f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(),
        Content_Type="application/xml",
    )
    pages = run(target(site, sitemaps=("/sitemap.xml",), page_budget=4))
    # The sitemap and three product pages: four requests, then the run stops.
    assert [p.outcome for p in pages] == ["listing", "offer", "offer", "offer"]
    assert [p for p in site.paths() if p != "/robots.txt"] == [
        "/sitemap.xml",
        "/p/1",
        "/p/2",
        "/p/3",
    ]


def test_robots_404_allows_everything_and_5xx_disallows_everything(site: Site) -> None:
    del site.routes["/robots.txt"]
    assert run(target(site, starts=("/p/1", "/private/x")))[0].outcome == "offer"
    assert "/private/x" in site.paths()
    site.hits.clear()
    site.routes["/robots.txt"] = page(500)
    pages = run(target(site, starts=("/p/1", "/p/2")))
    assert [p.outcome for p in pages] == ["disallowed", "disallowed"]
    # robots.txt retried a bounded number of times, and no page asked for.
    assert set(site.paths()) == {"/robots.txt"} and len(site.paths()) <= 4


def test_discovery_through_sitemap_index_gzip_and_pagination(site: Site) -> None:
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    index = (
        f"<sitemapindex {ns}><sitemap><loc>{site.url('/sm-1.xml.gz')}</loc></sitemap>"
        "</sitemapindex>"
    )
    urlset = (
        f"<urlset {ns}><url><loc>{site.url('/p/1')}</loc></url>"
        f"<url><loc>{site.url('/c/1')}</loc></url></urlset>"
    )
    site.routes["/sitemap.xml"] = page(body=index.encode(), Content_Type="application/xml")
    site.routes["/sm-1.xml.gz"] = page(
        body=gzip.compress(urlset.encode()), Content_Type="application/gzip"
    )
    site.routes["/c/1"] = page(
        body=b'<a href="/p/2">2</a><a href="https://elsewhere.example/p/3">3</a>'
        b'<a rel="next" href="/c/1?page=2">+</a>'
    )
    site.routes["/c/1?page=2"] = page(body=b'<a href="/p/4">4</a><a href="/p/2">2 again</a>')
    pages = run(target(site, sitemaps=("/sitemap.xml",)))
    offers = sorted(p.offer.title for p in pages if p.offer)
    assert offers == ["Produto 1", "Produto 2", "Produto 4"]
    assert site.paths().count("/p/2") == 1
    assert not [p for p in pages if "elsewhere" in p.url]


def test_blocked_pages_end_the_sites_crawl(site: Site) -> None:
    wall = (
        b"<html><head><title>Verifique</title></head>"
        b'<body><div class="g-recaptcha"></div></body></html>'
    )
    for n in range(1, 6):
        site.routes[f"/p/{n}"] = page(body=wall)
    site.routes["/p/6"] = page(403)
    pages = run(target(site, starts=tuple(f"/p/{n}" for n in range(1, 7))))
    assert [p.outcome for p in pages] == ["blocked"] * 3
    assert "/p/4" not in site.paths()
    assert CrawlStats.of(pages).blocked == 3
