"""Scraper benchmark: pages parsed per second per extraction path, and politeness figures.

Part 1 (CPU): generated product pages of about 20 KB and 760 elements each (navigation,
filler, related products — as real shop pages carry), one set per extraction path:
JSON-LD, microdata, OpenGraph/product meta tags only, and plain HTML read by a CSS recipe.
Each page goes through
`extract_offer` (charset decoding, BeautifulSoup over lxml, every structured-data reader,
the merge, validation), as the pipeline runs it. Baselines measured in the same run on the
same bytes: a bare `lxml.html` parse (the floor: no tree for BeautifulSoup, no reading), and
a BeautifulSoup `html.parser` full-tree parse (what a naive scraper pays before reading
anything). Printed: pages/s and the ratio to each baseline.

Part 2 (politeness): a crawl of the five sandbox shops over loopback, as the pipeline runs
it (the shipped targets file, base URLs from the environment), then a second crawl with
the validators of the first. From the shops' own request log: requests per host, robots.txt
fetches per host, the smallest gap between two requests vs the gap the crawler had to
keep (max of configured delay and Crawl-delay), 429s received, disallowed URLs requested
(must be 0), and the share of 304s on the second crawl.

Usage: python benchmarks/scraping.py [--pages 200] [--delay 0.2] [--no-crawl]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FILLER = "".join(
    f'<li class="menu-item"><a href="/c/categoria-{i}">Categoria {i}</a>'
    f'<ul><li><a href="/c/categoria-{i}/sub-{j}">Subcategoria {j}</a></li></ul></li>'
    for i in range(40)
    for j in range(3)
)
RELATED = "".join(
    f'<div class="card"><a href="/p/relacionado-{i}"><img src="/img/r{i}.jpg" alt="">'
    f"<span>Produto relacionado {i}</span><b>R$ {100 + i},90</b></a></div>"
    for i in range(30)
)


def _frame(head: str, main: str) -> str:
    return (
        '<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8">'
        f"<title>Loja</title>{head}</head><body><header><nav><ul>{FILLER}</ul></nav></header>"
        f"<main>{main}</main><aside>{RELATED}</aside>"
        "<footer><p>Loja Exemplo Ltda — CNPJ 00.000.000/0001-00</p></footer></body></html>"
    )


def page_jsonld(n: int) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": f"Produto {n}",
        "sku": f"SKU-{n}",
        "brand": {"@type": "Brand", "name": "Marca"},
        "image": [f"/img/{n}.jpg"],
        "offers": {
            "@type": "Offer",
            "price": f"{n}.90",
            "priceCurrency": "BRL",
            "availability": "https://schema.org/InStock",
        },
    }
    return _frame(
        f'<script type="application/ld+json">{json.dumps(data)}</script>', f"<h1>Produto {n}</h1>"
    )


def page_microdata(n: int) -> str:
    return _frame(
        "",
        '<div itemscope itemtype="https://schema.org/Product">'
        f'<h1 itemprop="name">Produto {n}</h1><span itemprop="sku">SKU-{n}</span>'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        f'<span itemprop="price" content="{n}.90">R$ {n},90</span>'
        '<meta itemprop="priceCurrency" content="BRL">'
        '<link itemprop="availability" href="https://schema.org/InStock"></div></div>',
    )


def page_meta(n: int) -> str:
    return _frame(
        '<meta property="og:type" content="product">'
        f'<meta property="og:title" content="Produto {n}">'
        f'<meta property="product:price:amount" content="{n}.90">'
        '<meta property="product:price:currency" content="BRL">'
        '<meta property="product:availability" content="in stock">',
        f"<h1>Produto {n}</h1>",
    )


def page_recipe(n: int) -> str:
    return _frame(
        "",
        f'<h1 class="nome">Produto {n}</h1><div class="box-preco">'
        f'<p class="parcelado">10x de R$ {n // 10},99 sem juros</p>'
        f'<p class="atual">por <b>R$ {n},90</b> à vista</p></div>'
        '<button class="comprar">Comprar</button>',
    )


def measure_parsing(count: int) -> None:
    from bs4 import BeautifulSoup
    from lxml import html as lxml_html

    from synchub_pipelines.scraping.extract import extract_offer
    from synchub_pipelines.scraping.offer import Offer
    from synchub_pipelines.scraping.targets import Recipe

    recipe = Recipe(
        title="h1.nome", price=".box-preco p", installments=".box-preco .parcelado",
        availability="button.comprar",
    )  # fmt: skip
    makers = {
        "json-ld": (page_jsonld, None),
        "microdata": (page_microdata, None),
        "meta": (page_meta, None),
        "recipe": (page_recipe, recipe),
    }
    at = datetime.now(UTC)
    print(f"Part 1: {count} generated pages per path, extract_offer vs baselines on the same bytes")
    print(
        f"{'path':<11}{'KB/page':>8}{'ours p/s':>10}{'lxml p/s':>10}{'bs4 html.parser p/s':>21}"
        f"{'ours/lxml':>11}{'ours/bs4-hp':>13}"
    )
    for path, (make, path_recipe) in makers.items():
        pages = [make(100 + n).encode("utf-8") for n in range(count)]
        started = time.perf_counter()
        for n, body in enumerate(pages):
            offer = extract_offer(
                body, f"https://loja.example/p/{n}", site="loja", recipe=path_recipe,
                content_type="text/html; charset=utf-8", fetched_at=at,
            )  # fmt: skip
            assert isinstance(offer, Offer) and offer.extracted_by == path, offer
        ours = count / (time.perf_counter() - started)
        started = time.perf_counter()
        for body in pages:
            lxml_html.fromstring(body)
        floor = count / (time.perf_counter() - started)
        started = time.perf_counter()
        for body in pages:
            BeautifulSoup(body.decode("utf-8"), "html.parser")
        naive = count / (time.perf_counter() - started)
        size = sum(map(len, pages)) / count / 1024
        print(
            f"{path:<11}{size:>8.1f}{ours:>10.0f}{floor:>10.0f}{naive:>21.0f}"
            f"{ours / floor:>11.2f}{ours / naive:>13.2f}"
        )


def measure_politeness(delay: float) -> None:
    import httpx
    from protego import Protego

    from synchub_pipelines.sandbox.shops import SITES, RunningShops, ShopsConfig
    from synchub_pipelines.scraping.crawl import CrawlStats, crawl
    from synchub_pipelines.scraping.targets import DEFAULT_TARGETS, load_targets

    config = ShopsConfig(today=date(2026, 3, 14), crawl_delays={"microdata": 0.3, "plainshop": 0.3})
    print()
    print(f"Part 2: crawl of the sandbox shops (configured delay {delay}s; marketplace 0.3s,")
    print("its stated limit being 4 req/s), then a second crawl with the first's validators")
    print(
        f"{'site':<13}{'requests':>9}{'robots':>7}{'gap kept':>9}{'min gap':>9}{'429s':>6}"
        f"{'disallowed asked':>17}{'skipped':>8}{'offers':>7}{'304 share':>10}{'seconds':>8}"
    )
    with RunningShops(config) as shops:
        env = {f"SYNCHUB_SHOP_{site.upper()}": url for site, url in shops.base_urls.items()}
        targets = {t.site: t for t in load_targets(DEFAULT_TARGETS, environ=env)}
        # The shops' robots.txt, read by the benchmark to judge the log (then the log starts).
        rules = {
            site: Protego.parse(httpx.get(f"{url}/robots.txt").text)
            for site, url in shops.base_urls.items()
        }
        shops.log.clear()
        totals = {"requests": 0, "disallowed": 0}
        for site in SITES:
            target = targets[site].model_copy(
                update={"delay_seconds": 0.3 if site == "marketplace" else delay}
            )
            base = shops.base_urls[site]
            started = time.perf_counter()
            first = list(crawl(target))
            seconds = time.perf_counter() - started
            log = shops.log.entries(site)
            robots = rules[site]
            asked_disallowed = sum(
                1 for e in log if not robots.can_fetch(base + e.path, "SynchubBot")
            )
            crawl_delay = robots.crawl_delay("SynchubBot") or 0.0
            kept = max(target.delay_seconds, crawl_delay)
            gaps = shops.log.gaps(site)
            validators = {p.url: (p.etag, p.last_modified) for p in first if p.outcome == "offer"}
            second = list(crawl(target, validators=validators))
            revisited = [p for p in second if p.url in validators]
            share = sum(p.outcome == "not_modified" for p in revisited) / max(1, len(revisited))
            stats = CrawlStats.of(first)
            print(
                f"{site:<13}{len(log):>9}{sum(e.path == '/robots.txt' for e in log):>7}"
                f"{kept:>8.2f}s{min(gaps):>8.2f}s{shops.log.count(site, status=429):>6}"
                f"{asked_disallowed:>17}{stats.disallowed:>8}{stats.offers:>7}{share:>10.0%}"
                f"{seconds:>8.1f}"
            )
            totals["requests"] += len(log)
            totals["disallowed"] += asked_disallowed
        print(
            f"disallowed URLs requested over all shops: {totals['disallowed']} "
            f"(of {totals['requests']} requests in the first crawls)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="generated pages per path")
    parser.add_argument("--delay", type=float, default=0.2, help="configured delay, seconds")
    parser.add_argument("--no-crawl", action="store_true", help="parsing figures only")
    args = parser.parse_args()
    measure_parsing(args.pages)
    if not args.no_crawl:
        measure_politeness(args.delay)


if __name__ == "__main__":
    main()
