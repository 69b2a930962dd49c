"""Sandbox shops for the scraper: five competitor sites of different make, on loopback.

`jsonld` (schema.org JSON-LD), `microdata` (microdata, ISO-8859-1), `metatags` (OpenGraph /
product meta tags only, windows-1252), `plainshop` (plain HTML that needs a CSS recipe, with a
switchable layout) and `marketplace` (variations, seller, instalments, a non-schema.org state
script and an AggregateOffer). Each serves robots.txt, sitemaps, paginated categories, ETags,
429s, a bot wall, soft and real 404s and redirects, and prices that move with the date.

Nothing here is shared with `synchub_pipelines.scraping`: the sandbox renders, the scraper
parses, so a mistake on either side shows up as a failing test instead of cancelling out.
"""

from synchub_pipelines.sandbox.shops.log import LoggedRequest, RequestLog
from synchub_pipelines.sandbox.shops.server import (
    SITES,
    ExpectedOffer,
    RunningShops,
    Shops,
    ShopsConfig,
    serve_forever,
)

__all__ = [
    "SITES",
    "ExpectedOffer",
    "LoggedRequest",
    "RequestLog",
    "RunningShops",
    "Shops",
    "ShopsConfig",
    "serve_forever",
]
