"""What matched offers tell about the catalog: suggestions for what a SKU lacks, and where
our price stands against the competitors'.

Suggestions only: nothing here writes to the catalog. A SKU "lacks" a field when:
- `gtin`: `central_products.gtin` is empty;
- `description`, `image`: `central_products.description` / `images` are empty (and, for a
  description, none was accepted yet); one image suggestion per distinct image URL, at most
  `MAX_IMAGES` per SKU;
- `attribute:<name>`: neither the catalog's own columns (brand, color, size) nor its
  normalized attributes have it.

Price positions compare, per tenant × SKU, our price on each channel — every store with an
active listing linked to the SKU (`listing_links`), at the lowest such listing's price, and
the catalog's own price as channel `catalog` — with the current offers of the matched
competitor pages (`auto` or `accepted`) that are not out of stock and in the same currency.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synchub_pipelines.defs.enrichment.matching import fold
from synchub_pipelines.defs.enrichment.store import CURRENT_OFFERS, Suggestion
from synchub_pipelines.warehouse.schema import Money
from synchub_pipelines.warehouse.schema_enrichment import price_positions

MAX_IMAGES = 5
CENT = Decimal("0.01")
# A page's attribute names that are columns of the catalog already.
CATALOG_COLUMNS = {
    "marca": "brand",
    "brand": "brand",
    "cor": "color",
    "color": "color",
    "tamanho": "size",
    "size": "size",
}

MATCHED_OFFERS = (
    "SELECT m.tenant, m.sku, o.* FROM offer_matches m "
    f"JOIN ({CURRENT_OFFERS}) o ON o.site = m.site AND o.url = m.url "
    "WHERE m.status IN ('auto', 'accepted')"
)


def matched_offers(conn: Connection) -> list[sa.Row[Any]]:
    sql = sa.text(MATCHED_OFFERS).columns(price=Money, list_price=Money)
    return list(conn.execute(sql))


def attribute_key(name: str) -> str:
    return " ".join(fold(name).split())


def suggestions(conn: Connection) -> list[Suggestion]:
    products = {
        (r.tenant, r.sku): r
        for r in conn.execute(
            sa.text(
                "SELECT tenant, sku, gtin, brand, color, size, description, images "
                "FROM central_products"
            )
        )
    }
    known_attributes: set[tuple[str, str, str]] = {
        (r.tenant, r.sku, attribute_key(r.attribute))
        for r in conn.execute(
            sa.text(
                "SELECT tenant, sku, attribute FROM product_attributes_normalized "
                "WHERE status = 'ok' AND value IS NOT NULL"
            )
        )
    }
    accepted: set[tuple[str, str, str]] = {
        (r.tenant, r.sku, r.field)
        for r in conn.execute(
            sa.text(
                "SELECT DISTINCT tenant, sku, field FROM enrichment_suggestions "
                "WHERE status = 'accepted'"
            )
        )
    }
    found: dict[str, Suggestion] = {}
    images: dict[tuple[str, str], int] = {}

    def add(tenant: str, sku: str, field: str, value: str | None, site: str, url: str) -> None:
        value = (value or "").strip()
        if value:
            s = Suggestion(tenant, sku, field, value, site, url)
            found.setdefault(s.id, s)

    for o in sorted(matched_offers(conn), key=lambda r: (r.tenant, r.sku, r.site, r.url)):
        product = products.get((o.tenant, o.sku))
        if product is None:
            continue
        if not product.gtin and o.gtin and (o.tenant, o.sku, "gtin") not in accepted:
            add(o.tenant, o.sku, "gtin", o.gtin, o.site, o.url)
        if not product.description and (o.tenant, o.sku, "description") not in accepted:
            add(o.tenant, o.sku, "description", o.description, o.site, o.url)
        for image in json.loads(o.images or "[]") if _no_images(product.images) else []:
            count = images.get((o.tenant, o.sku), 0)
            if count < MAX_IMAGES:
                images[(o.tenant, o.sku)] = count + 1
                add(o.tenant, o.sku, "image", image, o.site, o.url)
        for name, value in json.loads(o.attributes or "{}").items():
            key = attribute_key(name)
            column = CATALOG_COLUMNS.get(key)
            if column and getattr(product, column):
                continue
            if (o.tenant, o.sku, key) in known_attributes:
                continue
            field = f"attribute:{key}"
            if (o.tenant, o.sku, field) in accepted:
                continue
            add(o.tenant, o.sku, field, str(value), o.site, o.url)
    return list(found.values())


def _no_images(images: str | None) -> bool:
    return not images or images.strip() in ("", "[]")


# --- price positions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OurPrice:
    tenant: str
    sku: str
    channel: str
    price: Decimal
    currency: str


def our_prices(conn: Connection) -> list[OurPrice]:
    found = [
        OurPrice(r.tenant, r.sku, "catalog", r.price, r.currency)
        for r in conn.execute(
            sa.text(
                "SELECT tenant, sku, price, currency FROM central_products "
                "WHERE price IS NOT NULL AND price > 0"
            ).columns(price=Money)
        )
    ]
    listed = conn.execute(
        sa.text(
            "SELECT k.tenant, k.sku, l.store_id, l.currency, MIN(l.price) AS price "
            "FROM listing_links k JOIN listings l ON l.store_id = k.store_id "
            "AND l.listing_id = k.listing_id AND l.variation_id = k.variation_id "
            "WHERE l.status = 'active' AND l.price IS NOT NULL AND l.price > 0 "
            "GROUP BY k.tenant, k.sku, l.store_id, l.currency"
        ).columns(price=Money)
    )
    found.extend(OurPrice(r.tenant, r.sku, r.store_id, r.price, r.currency) for r in listed)
    return found


def positions(
    conn: Connection, now: datetime, previous: Mapping[tuple[str, str, str], Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One row per tenant × SKU × channel that has matched competitor offers to compare.

    `undercut_since_last_run` is true when a competitor is cheaper now and was not at the
    previous computation (or there was none); figures that did not change keep their
    `computed_at`."""
    offers: dict[tuple[str, str], list[sa.Row[Any]]] = {}
    for o in matched_offers(conn):
        if o.availability != "out_of_stock":
            offers.setdefault((o.tenant, o.sku), []).append(o)
    rows = []
    for ours in our_prices(conn):
        theirs = [o for o in offers.get((ours.tenant, ours.sku), []) if o.currency == ours.currency]
        if not theirs:
            continue
        prices = sorted(o.price for o in theirs)
        lowest = min(theirs, key=lambda o: (o.price, o.site, o.url))
        median = Decimal(statistics.median(prices)).quantize(CENT)
        undercut = prices[0] < ours.price
        key = (ours.tenant, ours.sku, ours.channel)
        before = previous.get(key)
        figures = {
            "our_price": ours.price,
            "currency": ours.currency,
            "lowest_price": prices[0].quantize(CENT),
            "median_price": median,
            "offers": len(theirs),
            "lowest_site": lowest.site,
            "lowest_url": lowest.url,
            "undercut": undercut,
        }
        same = before is not None and all(_same(before[k], v) for k, v in figures.items())
        rows.append(
            {
                "tenant": ours.tenant,
                "sku": ours.sku,
                "channel": ours.channel,
                **figures,
                "undercut_since_last_run": undercut
                and not (before is not None and bool(before["undercut"])),
                "computed_at": before["computed_at"] if same and before else now,
            }
        )
    return rows


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, Decimal):
        return a is not None and Decimal(a) == b
    if isinstance(b, bool):
        return bool(a) == b
    return bool(a == b)


def previous_positions(conn: Connection) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (r.tenant, r.sku, r.channel): dict(r._mapping)
        for r in conn.execute(sa.select(price_positions))
    }


def undercut_now(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["undercut_since_last_run"]]
