"""The scrape-targets file for the sandbox shops, in the scraper's TOML format.

The scraper reads `[defaults]` and `[[sites]]` tables (site, start_urls, sitemaps, recipe,
page_budget, delay_seconds, schedule; see scraping/targets.py). This module writes that file
for shops whose ports are only known once they run, from what the sandbox knows about its
own pages — written here, by the side that renders the pages, not copied from the scraper,
so a wrong selector on either side fails a test. `SHOP_ENV` names the environment variables
the demo exports the base URLs under, for a file that uses `${SYNCHUB_SHOP_…}`.
"""

from __future__ import annotations

import json
from pathlib import Path

from synchub_pipelines.sandbox.shops.server import SITES

SHOP_ENV = {site: f"SYNCHUB_SHOP_{site.upper()}" for site in SITES}

# Where discovery starts on each shop (paths under its base URL).
START_PATHS: dict[str, tuple[str, ...]] = {
    "jsonld": ("/",),
    "microdata": ("/",),
    "metatags": ("/",),
    "plainshop": ("/",),
    "marketplace": ("/",),
}
PRODUCT_URL_PATTERNS: dict[str, str] = {
    "jsonld": r"/p/[a-z0-9-]+-\d+$",
    "microdata": r"/produto/[a-z0-9-]+\.html$",
    "metatags": r"/item/\d+/[a-z0-9-]+$",
    "plainshop": r"/produtos/[a-z0-9-]+$",
    "marketplace": r"/p/MT\d+(\?variacao=\d+)?$",
}
NEXT_PAGE: dict[str, str] = {site: "a[rel=next]@href" for site in SITES}

# CSS recipes for the shops without (complete) structured data. Selectors follow the
# scraper's syntax: text of the element, or `@attribute`.
RECIPES: dict[str, dict[str, str]] = {
    "plainshop": {
        "title": "h1.produto-nome",
        "brand": ".produto-marca a",
        "sku": ".produto-codigo span",
        "price": ".box-preco .preco-atual b",
        "list_price": ".box-preco .preco-antigo del",
        "installments": ".box-preco .parcelado",
        "out_of_stock": ".selo-esgotado",
        "availability": "button.btn-comprar",
        "gtin": "table.ficha-tecnica tr.spec-ean td",
        "attributes": "table.ficha-tecnica tr",
        "images": ".galeria img@src",
        "description": ".produto-descricao",
    },
    "marketplace": {
        "title": "h1.ui-pdp-title",
        "price": ".ui-pdp-price .ui-pdp-price__current",
        "list_price": ".ui-pdp-price s.ui-pdp-price__original",
        "installments": ".ui-pdp-price .ui-pdp-installments",
        "seller": ".ui-pdp-seller a.ui-pdp-seller__link",
        "availability": ".ui-pdp-stock",
        "gtin": "table.ui-pdp-specs tr.spec-gtin td",
        "brand": "table.ui-pdp-specs tr.spec-marca td",
        "attributes": "table.ui-pdp-specs tr",
        "images": ".ui-pdp-gallery img@src",
        "description": ".ui-pdp-description",
    },
}
# Layout v2 of plainshop, for a test that fixes the recipe after the switch.
PLAINSHOP_V2_PRICE = {
    "price": "div.price-box span.price-box__value",
    "list_price": "div.price-box s.price-box__old",
    "installments": "div.price-box p.price-box__installments",
}


def targets_for(
    base_urls: dict[str, str], *, delay_seconds: float = 1.0, page_budget: int = 200
) -> list[dict[str, object]]:
    """One `[[sites]]` table per shop, as plain data (base URLs absolute)."""
    sites: list[dict[str, object]] = []
    for site in SITES:
        base = base_urls[site].rstrip("/")
        recipe: dict[str, str] = {
            "product_url": PRODUCT_URL_PATTERNS[site],
            "next_page": NEXT_PAGE[site],
            **RECIPES.get(site, {}),
        }
        sites.append(
            {
                "site": site,
                "start_urls": [base + path for path in START_PATHS[site]],
                "sitemaps": [f"{base}/sitemap.xml"],
                "page_budget": page_budget,
                "delay_seconds": delay_seconds,
                "schedule": "0 4 * * *",
                "recipe": recipe,
            }
        )
    return sites


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (same escapes).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def targets_toml(
    base_urls: dict[str, str], *, delay_seconds: float = 1.0, page_budget: int = 200
) -> str:
    lines = ["# Scrape targets for the sandbox shops (written by synchub_pipelines.sandbox.shops)."]
    for table in targets_for(base_urls, delay_seconds=delay_seconds, page_budget=page_budget):
        recipe = table.pop("recipe")
        lines += ["", "[[sites]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
        if isinstance(recipe, dict):
            lines.append("[sites.recipe]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in recipe.items()]
    return "\n".join(lines) + "\n"


def write_targets(
    path: Path, base_urls: dict[str, str], *, delay_seconds: float = 1.0, page_budget: int = 200
) -> Path:
    """Write the targets file for running shops; returns the path."""
    text = targets_toml(base_urls, delay_seconds=delay_seconds, page_budget=page_budget)
    path.write_text(text, encoding="utf-8")
    return path
