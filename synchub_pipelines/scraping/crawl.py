"""One site's crawl: discovery through sitemaps and listing pages, one `PageResult` per URL.

Order: the target's sitemaps (a sitemap index's sitemaps, then their URLs), then its start
URLs (category and search pages) with their pagination, then the product pages found, in
the order found. Discovery stays on the origins of the target's own URLs.

- A sitemap's URLs are product pages, except those that do not match the recipe's
  `product_url` (when it has one): those are read as listing pages. On a start or
  pagination page, product links are those the recipe's `product_links` selector or
  `product_url` regex picks, and pagination links are the recipe's `next_page` plus
  `rel="next"`. Product pages are not crawled further. Validators sent for a URL that
  redirects go with every hop (they came from the page at the end).
- A start URL that yields an offer is reported as one (a target may list product pages);
  one that does not is a listing (outcome "listing"), never quarantined.
- The page budget counts requests for pages, sitemaps included (robots.txt not); when it
  is spent the crawl stops. Disallowed URLs cost nothing: they are reported, never requested.
- Validators (ETag, Last-Modified) are sent for product pages only: a listing page must be
  read to find links, and a 304 on it would hide them. A 304 is reported `not_modified`
  and never parsed.
- Three blocked pages in a row (CAPTCHA, bot wall, login, 401/403) end the site's crawl:
  the site does not want a robot there today, and asking more would be working around it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Literal
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup, Tag
from lxml import etree
from pydantic import BaseModel, ConfigDict

from synchub_pipelines.scraping import extract
from synchub_pipelines.scraping.fetch import FetchResult, PoliteFetcher, utc_now
from synchub_pipelines.scraping.offer import Offer
from synchub_pipelines.scraping.robots import origin_of
from synchub_pipelines.scraping.targets import Recipe, ScrapeTarget, split_selector

log = logging.getLogger("synchub.scraping")

Outcome = Literal[
    "offer", "not_modified", "no_offer", "blocked", "disallowed", "not_found", "error", "listing"
]
PageKind = Literal["sitemap", "page", "product"]
BLOCKED_STATUSES = frozenset({401, 403, 407, 451})
NOT_FOUND_STATUSES = frozenset({404, 410})
MAX_BLOCKED_IN_A_ROW = 3
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
MAX_SITEMAP_URLS = 50_000
_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")


class PageResult(BaseModel):
    """One URL of a crawl: what was requested, what came back, what was read."""

    model_config = ConfigDict(frozen=True)

    url: str
    site: str
    status: int | None
    bytes: int
    etag: str | None
    last_modified: str | None
    outcome: Outcome
    offer: Offer | None
    reason: str | None
    fetched_at: datetime
    elapsed_ms: float
    content_sha256: str | None
    kind: PageKind = "product"
    final_url: str | None = None
    retries: int = 0
    requested: bool = True


@dataclass
class CrawlStats:
    """A run's figures, for the asset's metadata."""

    pages_fetched: int = 0
    not_modified: int = 0
    offers: int = 0
    quarantined: int = 0
    not_found: int = 0
    blocked: int = 0
    disallowed: int = 0
    errors: int = 0
    listings: int = 0
    retries: int = 0
    bytes: int = 0

    def add(self, page: PageResult) -> None:
        if page.requested:
            self.pages_fetched += 1
        self.retries += page.retries
        self.bytes += page.bytes
        counter = {
            "offer": "offers",
            "not_modified": "not_modified",
            "no_offer": "quarantined",
            "not_found": "not_found",
            "blocked": "blocked",
            "disallowed": "disallowed",
            "error": "errors",
            "listing": "listings",
        }[page.outcome]
        setattr(self, counter, getattr(self, counter) + 1)

    @classmethod
    def of(cls, pages: Iterable[PageResult]) -> CrawlStats:
        stats = cls()
        for page in pages:
            stats.add(page)
        return stats

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def crawl(
    target: ScrapeTarget,
    *,
    validators: Mapping[str, tuple[str | None, str | None]] | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = utc_now,
    clock: Callable[[], float] = time.monotonic,
    stats: CrawlStats | None = None,
    fetcher: PoliteFetcher | None = None,
) -> Iterator[PageResult]:
    """Every page of one site's run, as it is fetched (see the module docstring)."""
    known = dict(validators or {})
    own = fetcher is None
    polite = fetcher or PoliteFetcher(
        delay_seconds=target.delay_seconds, client=client, sleep=sleep, clock=clock, now=now
    )
    recipe = target.recipe
    origins = {origin_of(url) for url in (*target.sitemaps, *target.start_urls)}
    queue: deque[tuple[str, PageKind]] = deque()
    seen: set[str] = set()

    def push(url: str, kind: PageKind) -> None:
        url = urldefrag(url)[0]
        if url in seen or origin_of(url) not in origins or not url.startswith("http"):
            return
        seen.add(url)
        queue.append((url, kind))

    for sitemap in target.sitemaps:
        push(sitemap, "sitemap")
    for start in target.start_urls:
        push(start, "product" if recipe is not None and recipe.is_product_url(start) else "page")
    spent = 0
    blocked_in_a_row = 0
    try:
        while queue:
            url, kind = queue.popleft()
            if spent >= target.page_budget and polite.allowed(url):
                log.info(
                    "%s: page budget of %d spent; %d URL(s) left for the next run",
                    target.site, target.page_budget, len(queue) + 1,
                )  # fmt: skip
                return
            etag, last_modified = (
                known.get(url, (None, None)) if kind == "product" else (None, None)
            )
            fetched = polite.fetch(url, etag=etag, last_modified=last_modified)
            if fetched.requested:
                spent += 1
            # A redirect's target is not asked for again when discovery finds it later.
            seen.add(urldefrag(fetched.final_url)[0])
            page, links = _read(fetched, kind, target.site, recipe)
            for link, link_kind in links:
                push(link, link_kind)
            if stats is not None:
                stats.add(page)
            yield page
            blocked_in_a_row = blocked_in_a_row + 1 if page.outcome == "blocked" else 0
            if blocked_in_a_row >= MAX_BLOCKED_IN_A_ROW:
                log.warning(
                    "%s: %d blocked pages in a row; the crawl stops (%d URL(s) not asked for)",
                    target.site, blocked_in_a_row, len(queue),
                )  # fmt: skip
                return
    finally:
        if own:
            polite.close()


def fetch_page(
    url: str,
    *,
    site: str,
    recipe: Recipe | None,
    fetcher: PoliteFetcher,
    validators: tuple[str | None, str | None] = (None, None),
) -> PageResult:
    """One product page, fetched politely and read: `synchub scrape extract URL`'s path."""
    fetched = fetcher.fetch(url, etag=validators[0], last_modified=validators[1])
    return _read(fetched, "product", site, recipe)[0]


def _read(
    fetched: FetchResult, kind: PageKind, site: str, recipe: Recipe | None
) -> tuple[PageResult, list[tuple[str, PageKind]]]:
    base = {
        "url": fetched.url,
        "site": site,
        "status": fetched.status,
        "bytes": len(fetched.body),
        "etag": fetched.etag,
        "last_modified": fetched.last_modified,
        "fetched_at": fetched.fetched_at,
        "elapsed_ms": fetched.elapsed_ms,
        "content_sha256": hashlib.sha256(fetched.body).hexdigest() if fetched.body else None,
        "kind": kind,
        "final_url": fetched.final_url if fetched.final_url != fetched.url else None,
        "retries": fetched.retries,
        "requested": fetched.requested,
    }

    def result(
        outcome: Outcome, reason: str | None = None, offer: Offer | None = None
    ) -> PageResult:
        return PageResult(**base, outcome=outcome, reason=reason, offer=offer)

    status = fetched.status
    if fetched.outcome == "disallowed":
        return result("disallowed", fetched.reason), []
    if fetched.outcome == "not_modified":
        return result("not_modified", "304: unchanged since the stored validators"), []
    if status in BLOCKED_STATUSES:
        return result("blocked", f"blocked: HTTP {status} (not worked around)"), []
    if status in NOT_FOUND_STATUSES:
        return result("not_found", f"HTTP {status}"), []
    if fetched.outcome == "error" or status is None or not 200 <= status < 300:
        return result("error", fetched.reason or f"HTTP {status}"), []
    content_type = (fetched.content_type or "").split(";")[0].strip().lower()
    if kind == "sitemap":
        try:
            links = sitemap_links(fetched.body, recipe)
        except ValueError as exc:
            return result("error", f"sitemap unreadable: {exc}"), []
        return result("listing", f"sitemap: {len(links)} URL(s)"), links
    if content_type and not content_type.startswith(_HTML_TYPES):
        return result("no_offer", f"not an HTML page ({content_type})"), []
    if kind == "product" and _path(fetched.final_url) == "/" and _path(fetched.url) != "/":
        return result("not_found", "soft 404: redirected to the home page"), []
    soup = extract.parse_html(fetched.body, fetched.content_type)
    read = extract.extract_from_soup(
        soup, fetched.final_url, site=site, recipe=recipe, fetched_at=fetched.fetched_at
    )
    if isinstance(read, Offer):
        return result("offer", offer=read), []
    if kind == "page" and read.outcome == "no_offer":
        # A start or pagination page without an offer is a listing, not a broken product page.
        links = listing_links(soup, fetched.final_url, recipe)
        return result("listing", f"listing: {len(links)} link(s)"), links
    return result(read.outcome, read.reason), []


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def listing_links(
    soup: BeautifulSoup, url: str, recipe: Recipe | None
) -> list[tuple[str, PageKind]]:
    """Product links and pagination links of a category or search page."""
    base_tag = soup.find("base", href=True)
    base = urljoin(url, str(base_tag["href"])) if isinstance(base_tag, Tag) else url
    links: list[tuple[str, PageKind]] = []
    if recipe is not None and recipe.product_links:
        css, attribute = split_selector(recipe.product_links)
        for tag in soup.select(css):
            href = tag.get(attribute or "href")
            if href:
                links.append((urljoin(base, str(href)), "product"))
    elif recipe is not None and recipe.product_url:
        for tag in soup.find_all("a", href=True):
            absolute = urldefrag(urljoin(base, str(tag["href"])))[0]
            if recipe.is_product_url(absolute):
                links.append((absolute, "product"))
    pagination = list(soup.select("a[rel~=next][href], link[rel~=next][href]"))
    if recipe is not None and recipe.next_page:
        css, attribute = split_selector(recipe.next_page)
        pagination.extend(soup.select(css))
    for tag in pagination:
        href = tag.get("href")
        if href:
            links.append((urljoin(base, str(href)), "page"))
    return links


def sitemap_links(body: bytes, recipe: Recipe | None) -> list[tuple[str, PageKind]]:
    """A sitemap index's sitemaps, or a urlset's page URLs (gzip or plain XML)."""
    if body[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as unzipped:
            body = unzipped.read(MAX_SITEMAP_BYTES + 1)
        if len(body) > MAX_SITEMAP_BYTES:
            raise ValueError("larger than 50 MB unzipped")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(str(exc)) from None
    if root is None:
        raise ValueError("empty document")
    kind = etree.QName(root).localname
    entries = "sitemap" if kind == "sitemapindex" else "url"
    if kind not in ("sitemapindex", "urlset"):
        raise ValueError(f"root element <{kind}> is neither <urlset> nor <sitemapindex>")
    links: list[tuple[str, PageKind]] = []
    for element in root:
        if not isinstance(element.tag, str) or etree.QName(element).localname != entries:
            continue
        loc = next(
            (
                c.text
                for c in element
                if isinstance(c.tag, str) and etree.QName(c).localname == "loc"
            ),
            None,
        )
        if not loc or not loc.strip():
            continue
        target = loc.strip()
        if entries == "sitemap":
            links.append((target, "sitemap"))
        elif recipe is None or recipe.product_url is None or recipe.is_product_url(target):
            links.append((target, "product"))
        else:
            # Category pages listed in the sitemap: read for their product links.
            links.append((target, "page"))
        if len(links) >= MAX_SITEMAP_URLS:
            break
    return links
