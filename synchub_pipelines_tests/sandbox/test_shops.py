"""The sandbox shops over real HTTP on loopback: layouts, politeness knobs and the log.

These tests read the pages with the standard library (json, re, xml.etree, html.parser),
never with the scraper, so the shops are checked independently of the code they test.
"""

from __future__ import annotations

import json
import re
import time
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from synchub_pipelines.sandbox.shops import SITES, RunningShops, ShopsConfig
from synchub_pipelines.sandbox.shops.catalog import load_catalog
from synchub_pipelines.sandbox.shops.targets import targets_toml, write_targets

DAY = date(2025, 3, 2)
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(scope="module")
def shops() -> Iterator[RunningShops]:
    # Limits off for the layout tests; the politeness tests start their own shops.
    with RunningShops(ShopsConfig(today=DAY, enforce_limits=False)) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, headers={"User-Agent": "SynchubBot/test"}) as c:
        yield c


VOID = {"img", "meta", "link", "input", "br", "hr"}


class _Tags(HTMLParser):
    """Start tags with their attributes, and the text under each class, for assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text_by_class: dict[str, str] = {}
        self._stack: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        classes = attributes.get("class", "").split()
        for cls in classes:
            self.text_by_class.setdefault(cls, "")
        if tag not in VOID:
            self._stack.append((tag, classes))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, classes in self._stack:
            for cls in classes:
                self.text_by_class[cls] += data


def parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    return parser


def first_in_stock(shops: RunningShops, site: str, **want: object):  # type: ignore[no-untyped-def]
    for offer in shops.expected_offers(site):
        if all(
            getattr(offer, k) == v if not callable(v) else v(getattr(offer, k))
            for k, v in want.items()
        ):
            return offer
    raise AssertionError(f"{site}: no product with {want}")


def test_every_shop_serves_on_its_own_host(shops: RunningShops, client: httpx.Client) -> None:
    hosts = {httpx.URL(url).netloc for url in shops.base_urls.values()}
    assert len(hosts) == len(SITES) == 5
    for site, base in shops.base_urls.items():
        home = client.get(base + "/")
        assert home.status_code == 200, site


def test_products_come_from_the_demo_catalog(shops: RunningShops) -> None:
    catalog = {row.sku: row for row in load_catalog()}
    for site in SITES:
        offers = shops.expected_offers(site)
        matched = [o for o in offers if o.catalog_sku is not None]
        assert len(offers) - len(matched) >= 2, f"{site}: products outside the catalog"
        for offer in matched:
            row = catalog[offer.catalog_sku]  # type: ignore[index]
            assert offer.gtin in (None, row.gtin)
            assert offer.brand == row.brand
            # A competitive position around the catalog price, both sides of it.
            assert row.price * Decimal("0.8") < offer.price < row.price * Decimal("1.2")
        assert any(o.gtin is None and o.catalog_sku for o in offers) or site == "marketplace"
    every = [o for s in SITES for o in shops.expected_offers(s) if o.catalog_sku]
    assert any(o.price < catalog[o.catalog_sku].price for o in every)  # type: ignore[index]
    assert any(o.price > catalog[o.catalog_sku].price for o in every)  # type: ignore[index]


def test_jsonld_shop_states_the_offer_in_json_ld(shops: RunningShops, client: httpx.Client) -> None:
    offer = first_in_stock(shops, "jsonld", availability="in_stock", gtin=lambda g: g is not None)
    page = client.get(offer.url)
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    blocks = re.findall(
        r'<script type="application/ld\+json">(.*?)</script>', page.text, flags=re.S
    )
    graph = json.loads(blocks[0])["@graph"]
    product = next(node for node in graph if node["@type"] == "Product")
    assert product["gtin13"] == offer.gtin
    assert product["brand"]["name"] == offer.brand
    assert product["sku"] == offer.sku
    assert product["image"] == list(offer.images)
    assert Decimal(product["offers"]["price"]) == offer.price
    assert product["offers"]["priceCurrency"] == "BRL"
    assert product["offers"]["availability"] == "https://schema.org/InStock"


def test_microdata_shop_is_latin_1(shops: RunningShops, client: httpx.Client) -> None:
    offer = next(
        o
        for o in shops.expected_offers("microdata")
        if re.search("[à-ü]", o.title) or re.search("[À-Ü]", o.title)
    )
    page = client.get(offer.url)
    assert page.headers["content-type"] == "text/html; charset=ISO-8859-1"
    raw = page.content
    assert offer.title.encode("latin-1") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("latin-1")
    assert 'content="text/html; charset=iso-8859-1"' in text
    assert f'itemprop="price" content="{offer.price:.2f}"' in text
    assert '<meta itemprop="priceCurrency" content="BRL">' in text
    assert 'itemtype="https://schema.org/Offer"' in text


def test_metatags_shop_is_windows_1252_with_meta_tags_only(
    shops: RunningShops, client: httpx.Client
) -> None:
    offer = next(o for o in shops.expected_offers("metatags") if o.gtin)
    page = client.get(offer.url)
    assert page.headers["content-type"] == "text/html; charset=windows-1252"
    raw = page.content
    # “ ” – … exist in windows-1252 at 0x93 0x94 0x96 0x85, not in Latin-1.
    assert b"\x93" in raw and b"\x94" in raw and b"\x96" in raw
    text = raw.decode("cp1252")
    meta = {
        a["property"]: a["content"] for t, a in parse(text).tags if t == "meta" and "property" in a
    }
    assert meta["og:title"] == offer.title
    assert Decimal(meta["product:price:amount"]) == offer.price
    assert meta["product:price:currency"] == "BRL"
    assert meta["product:ean"] == offer.gtin
    assert meta["product:retailer_item_id"] == offer.sku
    assert "application/ld+json" not in text and "itemprop" not in text


def test_plainshop_price_box_has_the_traps(shops: RunningShops, client: httpx.Client) -> None:
    offer = first_in_stock(shops, "plainshop", list_price=lambda lp: lp is not None)
    page = parse(client.get(offer.url).text)
    price = f"R$ {offer.price:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    assert page.text_by_class["preco-atual"].strip() == f"por {price} à vista"
    assert "de R$" in page.text_by_class["preco-antigo"]
    assert re.fullmatch(r"ou \d+x de R\$ [\d.]+,\d\d sem juros", page.text_by_class["parcelado"])
    assert "R$" in page.text_by_class["box-preco"]
    # The instalment amount is in the same box, and is not the price.
    assert str(offer.installments) + "x" in page.text_by_class["box-preco"]
    out = first_in_stock(shops, "plainshop", availability="out_of_stock")
    sold_out = parse(client.get(out.url).text)
    assert sold_out.text_by_class["selo-esgotado"] == "Esgotado"


def test_marketplace_has_variations_state_and_aggregate_offer(
    shops: RunningShops, client: httpx.Client
) -> None:
    offer = next(o for o in shops.expected_offers("marketplace") if "variacao=2" in o.url)
    text = client.get(offer.url).text
    state = json.loads(
        re.search(
            r'<script id="__PRELOADED_STATE__" type="application/json">(.*?)</script>', text
        ).group(1)  # type: ignore[union-attr]
    )["item"]
    assert state["selected_variation"] == 2
    assert len(state["variations"]) >= 2
    selected = next(v for v in state["variations"] if v["id"] == 2)
    assert Decimal(str(selected["price"]["amount"])) == offer.price
    assert state["seller"]["nickname"] == offer.seller
    ld = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', text).group(1)  # type: ignore[union-attr]
    )
    aggregate = ld["offers"]
    assert aggregate["@type"] == "AggregateOffer"
    amounts = [Decimal(str(v["price"]["amount"])) for v in state["variations"]]
    assert Decimal(aggregate["lowPrice"]) == min(amounts)
    assert Decimal(aggregate["highPrice"]) == max(amounts)
    assert "gtin13" not in ld
    page = parse(text)
    assert page.text_by_class["ui-pdp-seller__link"] == offer.seller
    assert "sem juros" in page.text_by_class["ui-pdp-installments"]


def test_robots_and_sitemaps_are_well_formed(shops: RunningShops, client: httpx.Client) -> None:
    delays = {}
    for site, base in shops.base_urls.items():
        robots = client.get(base + "/robots.txt").text
        assert "User-agent: *" in robots and "Disallow: /carrinho" in robots
        assert f"Sitemap: {base}/sitemap.xml" in robots
        delays[site] = re.search(r"Crawl-delay: ([\d.]+)", robots)
        root = ET.fromstring(client.get(base + "/sitemap.xml").content)
        locs = [e.text or "" for e in root.iter(f"{SITEMAP_NS}loc")]
        if root.tag == f"{SITEMAP_NS}sitemapindex":
            children = [ET.fromstring(client.get(loc).content) for loc in locs]
            locs = [e.text or "" for child in children for e in child.iter(f"{SITEMAP_NS}loc")]
        assert locs and all(loc.startswith(base + "/") for loc in locs), site
        product_urls = {o.url for o in shops.expected_offers(site)}
        assert product_urls <= set(locs) | {u.split("?")[0] for u in locs}, site
    assert delays["microdata"] and delays["plainshop"]
    assert delays["jsonld"] is None
    assert (
        ET.fromstring(client.get(shops.base_urls["jsonld"] + "/sitemap.xml").content).tag
        == f"{SITEMAP_NS}sitemapindex"
    )


def test_categories_paginate_to_every_listed_product(
    shops: RunningShops, client: httpx.Client
) -> None:
    base = shops.base_urls["plainshop"]
    home = parse(client.get(base + "/").text)
    categories = [
        a["href"] for t, a in home.tags if t == "a" and a.get("href", "").startswith("/categorias/")
    ]
    seen: set[str] = set()
    pages = 0
    for category in categories:
        url: str | None = base + category
        while url:
            page = parse(client.get(url).text)
            pages += 1
            seen |= {
                a["href"] for t, a in page.tags if t == "a" and "item-link" in a.get("class", "")
            }
            nxt = [a["href"] for t, a in page.tags if t == "a" and a.get("rel") == "next"]
            url = base + nxt[0] if nxt else None
    assert pages > len(categories)  # some category runs over a page
    expected = {httpx.URL(o.url).path for o in shops.expected_offers("plainshop")}
    assert expected <= seen
    assert client.get(base + categories[0] + "?page=99").status_code == 404


def test_odd_urls_answer_like_real_shops(shops: RunningShops, client: httpx.Client) -> None:
    jsonld, plain, market = (shops.base_urls[s] for s in ("jsonld", "plainshop", "marketplace"))
    wall = client.get(jsonld + "/ofertas-do-dia")
    assert wall.status_code == 403 and "captcha" in wall.text.lower()
    interstitial = client.get(plain + "/produtos/oferta-relampago-secreta")
    assert interstitial.status_code == 200 and "captcha" in interstitial.text.lower()
    login = client.get(market + "/p/MT9990")
    assert login.status_code == 200 and 'type="password"' in login.text
    soft = client.get(jsonld + "/p/produto-descontinuado-9001")
    assert soft.status_code == 200 and "Produto não encontrado" in soft.text
    assert client.get(jsonld + "/p/item-removido-9002").status_code == 404
    offer = shops.expected_offers("jsonld")[0]
    old = client.get(jsonld + f"/produto/{offer.sku.split('-')[1]}")
    assert old.status_code == 301 and old.headers["location"] == offer.url
    loop = client.get(plain + "/promo/a")
    assert loop.status_code == 302 and loop.headers["location"].endswith("/promo/b")


def test_conditional_get_answers_304(shops: RunningShops, client: httpx.Client) -> None:
    offer = shops.expected_offers("jsonld")[1]
    first = client.get(offer.url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get(offer.url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    by_date = client.get(offer.url, headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    stale = client.get(offer.url, headers={"If-None-Match": '"not-it"'})
    assert stale.status_code == 200 and stale.headers["etag"] == etag
    entries = [e for e in shops.log.entries("jsonld") if e.path == httpx.URL(offer.url).path]
    assert [e.status for e in entries[-4:]] == [200, 304, 304, 200]
    assert entries[-3].if_none_match == etag


def test_prices_move_with_the_date(shops: RunningShops, client: httpx.Client) -> None:
    product = next(p for p in shops.shops.shop("metatags").products if p.change_every == 1)
    url = shops.base_urls["metatags"] + shops.shops.shop("metatags").product_path(product)
    try:
        today = client.get(url)
        shops.set_date(DAY + timedelta(days=1))
        tomorrow = client.get(url)
        changed = client.get(url, headers={"If-None-Match": today.headers["etag"]})
    finally:
        shops.set_date(DAY)
    assert tomorrow.headers["etag"] != today.headers["etag"]
    assert changed.status_code == 200
    price = re.compile(r'product:price:amount" content="([\d.]+)"')
    before = Decimal(price.search(today.text).group(1))  # type: ignore[union-attr]
    after = Decimal(price.search(tomorrow.text).group(1))  # type: ignore[union-attr]
    assert before == product.price_on(DAY) and after == product.price_on(DAY + timedelta(days=1))
    assert before != after


def test_layout_switch_moves_the_price(shops: RunningShops, client: httpx.Client) -> None:
    offer = shops.expected_offers("plainshop")[0]
    control = shops.base_urls["plainshop"] + "/_sandbox/layout"
    try:
        v1 = client.get(offer.url).text
        assert client.post(control, json={"variant": "v2"}).json()["layout"] == "v2"
        v2 = client.get(offer.url).text
        assert client.post(control, json={"variant": "v9"}).status_code == 400
    finally:
        shops.set_layout("plainshop", "v1")
    assert 'class="preco-atual"' in v1 and "price-box__value" not in v1
    assert 'class="preco-atual"' not in v2 and 'class="price-box__value"' in v2
    assert parse(v2).text_by_class["produto-nome"] == parse(v1).text_by_class["produto-nome"]
    with pytest.raises(ValueError, match="no layout"):
        shops.set_layout("jsonld", "v2")


def test_bot_wall_switch(shops: RunningShops, client: httpx.Client) -> None:
    offer = shops.expected_offers("plainshop")[2]
    try:
        shops.set_bot_wall("plainshop", True)
        walled = client.get(offer.url)
    finally:
        shops.set_bot_wall("plainshop", False)
    assert "captcha" in walled.text.lower() and "etag" not in walled.headers
    assert "captcha" not in client.get(offer.url).text.lower()


def test_crawl_delay_is_enforced_with_429(client: httpx.Client) -> None:
    config = ShopsConfig(
        today=DAY, crawl_delays={"plainshop": 0.9}, rate_limits={"marketplace": 2.0}
    )
    with RunningShops(config) as shops:
        base = shops.base_urls["plainshop"]
        assert "Crawl-delay: 0.9" in client.get(base + "/robots.txt").text
        assert client.get(base + "/").status_code == 200
        hurried = client.get(base + "/")
        assert hurried.status_code == 429 and hurried.headers["retry-after"] == "1"
        time.sleep(0.9)
        assert client.get(base + "/").status_code == 200
        # A burst over a rate-limited shop without Crawl-delay.
        statuses = [client.get(shops.base_urls["marketplace"] + "/").status_code for _ in range(12)]
        assert statuses[0] == 200 and 429 in statuses
        shops.burst_429("jsonld", count=2, retry_after=3)
        forced = [client.get(shops.base_urls["jsonld"] + "/") for _ in range(3)]
        assert [r.status_code for r in forced] == [429, 429, 200]
        assert forced[0].headers["retry-after"] == "3"
        log = shops.log
        assert [e.status for e in log.entries("plainshop")] == [200, 200, 429, 200]
        assert log.count("marketplace", status=429) == statuses.count(429)
        assert len(log.gaps("plainshop")) == 2


def test_request_log_over_http(shops: RunningShops, client: httpx.Client) -> None:
    base = shops.base_urls["metatags"]
    before = len(client.get(base + "/_sandbox/requests").json()["requests"])
    client.get(base + "/carrinho", headers={"User-Agent": "Curious/1.0"})
    logged = client.get(base + "/_sandbox/requests").json()["requests"]
    assert len(logged) == before + 1  # control calls are not crawling and not counted
    last = logged[-1]
    assert last["path"] == "/carrinho" and last["user_agent"] == "Curious/1.0"
    assert last["status"] == 200 and last["method"] == "GET"
    expected = client.get(base + "/_sandbox/expected").json()["offers"]
    assert len(expected) == len(shops.expected_offers("metatags"))
    date_now = client.get(base + "/_sandbox/date").json()["date"]
    assert date_now == DAY.isoformat()


def test_targets_file_describes_every_shop(shops: RunningShops, tmp_path: Path) -> None:
    text = targets_toml(shops.base_urls, delay_seconds=0.5, page_budget=50)
    parsed = tomllib.loads(text)["sites"]
    assert [s["site"] for s in parsed] == list(SITES)
    plain = next(s for s in parsed if s["site"] == "plainshop")
    assert plain["sitemaps"] == [shops.base_urls["plainshop"] + "/sitemap.xml"]
    assert plain["recipe"]["price"] == ".box-preco .preco-atual b"
    for site in parsed:
        pattern = re.compile(site["recipe"]["product_url"])
        for offer in shops.expected_offers(site["site"]):
            assert pattern.search(offer.url), (site["site"], offer.url)


def test_targets_file_loads_in_the_scrapers_format(shops: RunningShops, tmp_path: Path) -> None:
    scraping_targets = pytest.importorskip("synchub_pipelines.scraping.targets")
    path = write_targets(tmp_path / "targets.toml", shops.base_urls, delay_seconds=0.5)
    loaded = scraping_targets.load_targets(path, environ={})
    assert [t.site for t in loaded] == list(SITES)
    market = next(t for t in loaded if t.site == "marketplace")
    assert market.recipe.seller == ".ui-pdp-seller a.ui-pdp-seller__link"
    assert market.delay_seconds == 0.5


def test_robots_forbids_the_trap_links_and_allows_the_products(
    shops: RunningShops, client: httpx.Client
) -> None:
    """Read with protego, as a crawler would: every trap on the pages is disallowed."""
    protego = pytest.importorskip("protego")
    traps = ("/carrinho", "/conta", "/minha-conta", "/busca", "ordem=", "/perguntas/")
    for site, base in shops.base_urls.items():
        robots = protego.Protego.parse(client.get(base + "/robots.txt").text)
        home = parse(client.get(base + "/").text)
        hrefs = [a["href"] for t, a in home.tags if t == "a" and "href" in a]
        category = next(h for h in hrefs if h.count("/") == 2 and not h.startswith(traps))
        listing = parse(client.get(base + category).text)
        hrefs += [a["href"] for t, a in listing.tags if t == "a" and "href" in a]
        trapped = [h for h in hrefs if any(trap in h for trap in traps)]
        assert trapped, site
        for href in trapped:
            assert not robots.can_fetch(base + href, "SynchubBot"), (site, href)
        for offer in shops.expected_offers(site):
            assert robots.can_fetch(offer.url, "SynchubBot"), (site, offer.url)
        assert not robots.can_fetch(base + "/", "BadBot")
