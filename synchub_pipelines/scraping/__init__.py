"""Product pages of other shops read politely into canonical offers (no Dagster import here).

- `offer.py`: the canonical `Offer` one product page yields, or `NoOffer` with the reason.
- `prices.py`: Brazilian money and installment text.
- `extract.py`: bytes → `Offer`, structured data first (JSON-LD, microdata, RDFa, meta tags),
  then the site's recipe of CSS selectors.
- `targets.py`: the sites to scrape and their recipes, from a TOML file (not code).
- `robots.py`, `fetch.py`, `crawl.py`: the polite fetcher (robots.txt, crawl-delay, one
  request at a time per host, conditional GETs, bounded retries) and the crawl of one site.
- `cli.py`: `synchub scrape extract`, through the same code as the pipeline.

The sandbox shops (`synchub_pipelines/sandbox/shops/`) share no code with this package.
"""
