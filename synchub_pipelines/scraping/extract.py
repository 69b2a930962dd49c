"""One product page's bytes → its canonical `Offer`, or `NoOffer` with the reason.

Sources, read in this order, each into the same partial shape:

1. schema.org JSON-LD (`<script type="application/ld+json">`, `@graph`, `mainEntity`);
2. schema.org microdata (`itemscope`/`itemprop`), then RDFa (`typeof`/`property`) — both
   turned into the JSON-LD shape first, so one reader interprets all three;
3. OpenGraph / product meta tags (`og:title`, `product:price:amount`…);
4. the site's recipe of CSS selectors (`targets.py`), applied with BeautifulSoup.

Merge: each field takes the first source that has it, so structured data wins and the
recipe fills gaps; fields the recipe lists in `override` take the recipe's value first.
`extracted_by` names the source of the price.

Prices: a schema.org `Offer` with a `priceSpecification` of type ListPrice or
StrikethroughPrice gives the list price; `AggregateOffer` gives its `lowPrice` (or its
own offers, when listed); meta tags' `product:sale_price` is the price and
`product:price` the list price when both are there.

Variations (a `ProductGroup` with `hasVariant`, several `Product` nodes of one group, or
several offers of one product — sizes, colours, marketplace sellers): one canonical offer
per page. The rule: the lowest price among the in-stock variations; when none is in stock,
the lowest price overall, reported out of stock. The offer then describes that variation
(its SKU, GTIN, seller, availability; the group's title, brand and images when it has
none), and every variation is listed in `attributes` as `"variation <label>"` →
`"<price> <availability>"`, with `"variations"` → their count.

A page without a price is classified before it is quarantined: a CAPTCHA, bot wall or login
wall is `blocked` (never worked around), a "página não encontrada" is a soft 404
(`not_found`), anything else is `no_offer` with what each source found.

Nothing personal is read: reviews, ratings' authors and Q&A are never looked at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag
from pydantic import ValidationError

from synchub_pipelines.scraping.decoding import decode_html
from synchub_pipelines.scraping.offer import (
    Availability,
    ExtractedBy,
    Installments,
    NoOffer,
    Offer,
    valid_gtin,
)
from synchub_pipelines.scraping.prices import (
    list_price_from_text,
    parse_installments,
    parse_structured_price,
    price_from_text,
)
from synchub_pipelines.scraping.targets import Recipe, split_selector

MAX_IMAGES = 20
MAX_DESCRIPTION = 5000
MAX_ATTRIBUTE = 500
PRODUCT_TYPES = {"product", "productgroup", "individualproduct", "productmodel", "someproducts"}
OFFER_TYPES = {"offer", "aggregateoffer"}
GTIN_KEYS = ("gtin13", "gtin", "gtin14", "gtin12", "gtin8", "ean", "isbn")
ATTRIBUTE_KEYS = (
    "color",
    "size",
    "material",
    "model",
    "pattern",
    "weight",
    "width",
    "height",
    "depth",
)
_SCHEMA_AVAILABILITY: dict[str, Availability] = {
    "instock": "in_stock",
    "instoreonly": "in_stock",
    "onlineonly": "in_stock",
    "limitedavailability": "in_stock",
    "outofstock": "out_of_stock",
    "soldout": "out_of_stock",
    "discontinued": "out_of_stock",
    "preorder": "preorder",
    "presale": "preorder",
    "backorder": "preorder",
}
_META_AVAILABILITY: dict[str, Availability] = {
    "instock": "in_stock",
    "in stock": "in_stock",
    "available for order": "in_stock",
    "oos": "out_of_stock",
    "out of stock": "out_of_stock",
    "outofstock": "out_of_stock",
    "discontinued": "out_of_stock",
    "preorder": "preorder",
    "pre-order": "preorder",
    "pending": "preorder",
    "backorder": "preorder",
}
_CAPTCHA_SELECTOR = (
    ".g-recaptcha, .h-captcha, .cf-turnstile, #captcha, [id*=captcha i], [class*=captcha i], "
    "iframe[src*=recaptcha], iframe[src*=hcaptcha], iframe[src*='challenges.cloudflare'], "
    "form[action*=captcha i], #challenge-form, #cf-challenge-running"
)
_BOT_WALL_PHRASES = (
    "não sou um robô",
    "nao sou um robo",
    "você é um robô",
    "voce e um robo",
    "not a robot",
    "are you a robot",
    "verify you are human",
    "você é humano",
    "voce e humano",
    "access denied",
    "acesso negado",
    "acesso bloqueado",
    "unusual traffic",
    "tráfego incomum",
    "trafego incomum",
    "checking your browser",
    "verificando seu navegador",
    "request blocked",
    "requisição bloqueada",
    "bot detected",
    "attention required",
)
_LOGIN_PHRASES = (
    "login",
    "log in",
    "sign in",
    "entrar",
    "faça login",
    "faca login",
    "acesse sua conta",
    "entre na sua conta",
    "entre com sua conta",
    "identifique-se",
    "identificação",
)
_NOT_FOUND_PHRASES = (
    "não encontrad",
    "nao encontrad",
    "not found",
    "404",
    "não existe",
    "nao existe",
    "página inexistente",
    "pagina inexistente",
)


@dataclass
class Found:
    """What one source read off the page (None/empty: the source does not say)."""

    source: ExtractedBy
    title: str | None = None
    brand: str | None = None
    gtin: str | None = None
    sku: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    list_price: Decimal | None = None
    availability: Availability | None = None
    seller: str | None = None
    installments: Installments | None = None
    images: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    note: str | None = None  # why this source has no price, for the quarantine reason


MERGED_FIELDS = (
    "title", "brand", "gtin", "sku", "currency", "list_price", "availability", "seller",
    "installments", "images", "attributes", "description",
)  # fmt: skip


def parse_html(body: bytes, content_type: str | None = None) -> BeautifulSoup:
    """The page as BeautifulSoup over lxml, decoded with the right charset."""
    text, _codec = decode_html(body, content_type)
    return BeautifulSoup(text, "lxml")


def extract_offer(
    body: bytes,
    url: str,
    *,
    site: str,
    recipe: Recipe | None,
    content_type: str | None,
    fetched_at: datetime,
) -> Offer | NoOffer:
    """The page's canonical offer (see the module docstring for the order and the rules)."""
    soup = parse_html(body, content_type)
    return extract_from_soup(soup, url, site=site, recipe=recipe, fetched_at=fetched_at)


def extract_from_soup(
    soup: BeautifulSoup,
    url: str,
    *,
    site: str,
    recipe: Recipe | None,
    fetched_at: datetime,
    sources: Iterable[ExtractedBy] = ("json-ld", "microdata", "rdfa", "meta", "recipe"),
) -> Offer | NoOffer:
    """`extract_offer` on an already parsed page; `sources` limits the readers (benchmarks)."""
    base = _base_url(soup, url)
    wanted = set(sources)
    found: list[Found] = []
    if "json-ld" in wanted:
        found.append(_from_nodes(_json_ld_nodes(soup), "json-ld", base))
    if "microdata" in wanted:
        found.append(
            _from_nodes(_scoped_items(soup, "itemscope", "itemprop", "itemtype"), "microdata", base)
        )
    if "rdfa" in wanted:
        found.append(_from_nodes(_scoped_items(soup, "typeof", "property", "typeof"), "rdfa", base))
    if "meta" in wanted:
        found.append(_from_meta(soup, base))
    recipe_found = (
        _from_recipe(soup, recipe, base) if recipe is not None and "recipe" in wanted else None
    )
    if recipe_found is not None:
        found.append(recipe_found)
    return _merge(found, recipe, soup, url=url, site=site, fetched_at=fetched_at)


# --- merge and classification ----------------------------------------------------------


def _merge(
    found: list[Found],
    recipe: Recipe | None,
    soup: BeautifulSoup,
    *,
    url: str,
    site: str,
    fetched_at: datetime,
) -> Offer | NoOffer:
    overrides = set(recipe.override) if recipe else set()
    recipe_found = next((f for f in found if f.source == "recipe"), None)

    def ordered(name: str) -> list[Found]:
        if name in overrides and recipe_found is not None:
            return [recipe_found, *(f for f in found if f is not recipe_found)]
        return found

    with_price = [f for f in ordered("price") if f.price is not None and f.price > 0]
    if not with_price:
        return _no_offer(soup, found)
    primary = with_price[0]
    values: dict[str, Any] = {"price": primary.price}
    used: dict[str, ExtractedBy] = {}
    for name in MERGED_FIELDS:
        # The currency and the list price belong with the price that was chosen.
        candidates = ordered(name)
        if name in ("currency", "list_price"):
            candidates = [primary, *(f for f in candidates if f is not primary)]
        for source in candidates:
            value = getattr(source, name)
            if value in (None, "", [], {}) or (name == "availability" and value == "unknown"):
                continue
            if name == "gtin" and valid_gtin(value) is None:
                continue
            values[name] = value
            if source.source != primary.source:
                used[name] = source.source
            break
    if "attributes" in values:
        # Attributes add up across sources; earlier sources win a shared name.
        merged: dict[str, str] = {}
        for source in reversed(found):
            merged.update(source.attributes)
        values["attributes"] = merged
    if not values.get("title"):
        heading = soup.find("h1") or soup.find("title")
        if isinstance(heading, Tag) and heading.get_text(strip=True):
            values["title"] = _text(heading)
    if not values.get("title"):
        return NoOffer(reason=f"price {primary.price} ({primary.source}) but no product title")
    values.setdefault("currency", (recipe.currency if recipe else "BRL"))
    try:
        return Offer(
            url=url,
            site=site,
            fetched_at=fetched_at,
            extracted_by=primary.source,
            sources=used,
            **values,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        return NoOffer(reason=f"invalid offer ({primary.source}): {problems}")


def _no_offer(soup: BeautifulSoup, found: list[Found]) -> NoOffer:
    blocked = blocked_reason(soup)
    if blocked:
        return NoOffer(reason=blocked, outcome="blocked")
    missing = soft_404_reason(soup)
    if missing:
        return NoOffer(reason=missing, outcome="not_found")
    notes = "; ".join(f"{f.source}: {f.note or 'no price'}" for f in found)
    return NoOffer(reason=f"no price on the page ({notes or 'no source read'})")


def _heading_text(soup: BeautifulSoup) -> str:
    parts = []
    for tag in soup.find_all(["title", "h1", "h2", "legend"], limit=8):
        parts.append(tag.get_text(" ", strip=True))
    return " ".join(parts).lower()


def blocked_reason(soup: BeautifulSoup) -> str | None:
    """Why the page is a wall in front of robots (CAPTCHA, bot wall, login), or None."""
    if soup.select_one(_CAPTCHA_SELECTOR) is not None:
        return "blocked: CAPTCHA on the page (not worked around)"
    for script in soup.find_all("script", src=True):
        source = str(script.get("src", "")).lower()
        if any(mark in source for mark in ("recaptcha", "hcaptcha", "turnstile", "captcha")):
            return "blocked: CAPTCHA script on the page (not worked around)"
    visible = _visible_text(soup)[:5000].lower()
    for phrase in _BOT_WALL_PHRASES:
        if phrase in visible:
            return f"blocked: bot wall ({phrase!r})"
    if soup.select_one("input[type=password]") is not None:
        headings = _heading_text(soup)
        if any(phrase in headings for phrase in _LOGIN_PHRASES):
            return "blocked: login wall (not worked around)"
    return None


def soft_404_reason(soup: BeautifulSoup) -> str | None:
    """Why a 200 page is really a "not found" page, or None."""
    headings = " ".join(
        tag.get_text(" ", strip=True) for tag in soup.find_all(["title", "h1"], limit=4)
    ).lower()
    for phrase in _NOT_FOUND_PHRASES:
        if phrase in headings:
            return f"soft 404: the page says {phrase!r}"
    return None


def _visible_text(soup: BeautifulSoup) -> str:
    body = soup.body or soup
    return " ".join(
        text
        for text in body.find_all(string=True)
        if text.parent is not None
        and text.parent.name not in ("script", "style", "noscript", "template")
    )


# --- JSON-LD, microdata, RDFa → one node shape ------------------------------------------


def _json_ld_nodes(soup: BeautifulSoup) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for script in soup.find_all("script"):
        kind = str(script.get("type") or "").split(";")[0].strip().lower()
        if kind != "application/ld+json":
            continue
        text = script.string if script.string is not None else script.get_text()
        text = re.sub(r"^\s*(<!--|//\s*<!\[CDATA\[)|(-->|//\s*\]\]>)\s*$", "", text.strip())
        try:
            # Decimal for every JSON number: 1299.9 stays 1299.9, never 1299.900000001.
            data = json.loads(text, parse_float=Decimal, strict=False)
        except ValueError:
            continue
        nodes.extend(_top_nodes(data))
    return nodes


def _top_nodes(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _top_nodes(item)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _top_nodes(data["@graph"])
        yield data
        # A WebPage/ItemPage whose main entity is the product.
        for key in ("mainEntity", "mainEntityOfPage"):
            if isinstance(data.get(key), dict | list):
                yield from _top_nodes(data[key])


def _local(name: str) -> str:
    return re.split(r"[/#:]", name.strip())[-1]


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type", [])
    values = raw if isinstance(raw, list) else str(raw).split()
    return {_local(str(value)).lower() for value in values}


def _scoped_items(soup: BeautifulSoup, scope: str, prop: str, kind: str) -> list[dict[str, Any]]:
    """Microdata (itemscope/itemprop/itemtype) or RDFa (typeof/property/typeof) items.

    Top-level items, and items reached through `mainEntity`. One walk over the tree with a
    plain attribute lookup: bs4's attribute filters cost more than the whole parse.
    """
    items: list[dict[str, Any]] = []
    for tag in soup.descendants:
        if not isinstance(tag, Tag) or scope not in tag.attrs:
            continue
        if prop in tag.attrs:
            names = str(tag[prop]).split()
            if not any(_local(n).lower() in ("mainentity", "mainentityofpage") for n in names):
                continue
        elif any(scope in parent.attrs for parent in tag.parents if isinstance(parent, Tag)):
            continue
        items.append(_item(tag, scope, prop, kind))
    return items


def _item(tag: Tag, scope: str, prop: str, kind: str) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": [_local(t) for t in str(tag.get(kind, "")).split()]}
    for child in _properties(tag, scope, prop):
        value = _item(child, scope, prop, kind) if child.has_attr(scope) else _value(child)
        for name in str(child[prop]).split():
            node.setdefault(_local(name), []).append(value)
    return {
        key: value[0] if len(value) == 1 and key != "@type" else value
        for key, value in node.items()
    }


def _properties(tag: Tag, scope: str, prop: str) -> Iterator[Tag]:
    for child in tag.children:
        if not isinstance(child, Tag):
            continue
        if child.has_attr(prop):
            yield child
            if child.has_attr(scope):
                continue
        elif child.has_attr(scope):
            continue
        if not child.has_attr(scope):
            yield from _properties(child, scope, prop)


def _value(tag: Tag) -> str:
    if tag.has_attr("content"):
        return str(tag["content"])
    name = tag.name
    for tags, attribute in (
        (("a", "link", "area"), "href"),
        (("img", "audio", "embed", "iframe", "source", "track", "video"), "src"),
        (("object",), "data"),
        (("time",), "datetime"),
        (("data", "meter"), "value"),
    ):
        if name in tags and tag.has_attr(attribute):
            return str(tag[attribute])
    for attribute in ("resource", "href", "src"):
        if tag.has_attr(attribute):
            return str(tag[attribute])
    return _text(tag)


# --- one reader for the three structured formats ----------------------------------------


@dataclass
class _Row:
    """One offer (or one variation's offer) read off structured data."""

    price: Decimal | None
    currency: str | None
    list_price: Decimal | None
    availability: Availability | None
    seller: str | None = None
    sku: str | None = None
    gtin: str | None = None
    label: str | None = None


def _from_nodes(nodes: list[dict[str, Any]], source: ExtractedBy, base: str) -> Found:
    products = [node for node in nodes if _types(node) & PRODUCT_TYPES]
    if not products:
        return Found(source, note="no Product")
    group = next((p for p in products if "productgroup" in _types(p) or "hasVariant" in p), None)
    if group is not None:
        variants = [v for v in _as_list(group.get("hasVariant")) if isinstance(v, dict)]
        return _product(group, variants, source, base)
    grouped = [p for p in products if p.get("isVariantOf") or p.get("inProductGroupWithID")]
    if len(grouped) > 1:
        parent = grouped[0].get("isVariantOf")
        head = parent if isinstance(parent, dict) else grouped[0]
        return _product(head, grouped, source, base)
    with_offers = [p for p in products if p.get("offers")]
    return _product((with_offers or products)[0], [], source, base)


def _product(
    node: dict[str, Any], variants: list[dict[str, Any]], source: ExtractedBy, base: str
) -> Found:
    found = Found(
        source,
        title=_string(node.get("name")),
        brand=_name_of(node.get("brand")) or _name_of(node.get("manufacturer")),
        gtin=_gtin_of(node),
        sku=_string(node.get("sku")),
        images=_images(node.get("image"), base),
        attributes=_attributes(node),
        description=_description(node.get("description")),
    )
    rows: list[_Row] = []
    if variants:
        group_name = found.title or ""
        for variant in variants:
            for row in _offer_rows(variant.get("offers")):
                row.sku = row.sku or _string(variant.get("sku"))
                row.gtin = row.gtin or _gtin_of(variant)
                row.label = _variant_label(variant, group_name) or row.sku
                rows.append(row)
            if not found.images:
                found.images = _images(variant.get("image"), base)
    else:
        rows = _offer_rows(node.get("offers"))
    priced = [row for row in rows if row.price is not None and row.price > 0]
    if not priced:
        found.note = "Product without a price" if rows else "Product without offers"
        return found
    chosen = _canonical(priced)
    found.price, found.currency, found.list_price = chosen.price, chosen.currency, chosen.list_price
    found.availability = chosen.availability
    found.seller = chosen.seller
    found.sku = chosen.sku or found.sku
    found.gtin = chosen.gtin or found.gtin
    if len(priced) > 1:
        found.attributes["variations" if variants else "offers"] = str(len(priced))
        for index, row in enumerate(priced, 1):
            label = row.label or row.seller or row.sku or str(index)
            key = f"{'variation' if variants else 'offer'} {label}"[:MAX_ATTRIBUTE]
            found.attributes[key] = f"{row.price} {row.availability or 'unknown'}"
    return found


def _canonical(rows: list[_Row]) -> _Row:
    """The lowest in-stock price; when nothing is in stock, the lowest price overall."""
    in_stock = [row for row in rows if row.availability in ("in_stock", None)]
    pool = in_stock or rows
    return min(pool, key=lambda row: cast(Decimal, row.price))


def _offer_rows(offers: Any) -> list[_Row]:
    rows: list[_Row] = []
    for offer in _as_list(offers):
        if not isinstance(offer, dict):
            continue
        types = _types(offer)
        if "aggregateoffer" in types:
            inner = _offer_rows(offer.get("offers"))
            if any(row.price for row in inner):
                rows.extend(inner)
                continue
            rows.append(
                _Row(
                    price=parse_structured_price(offer.get("lowPrice", offer.get("price"))),
                    currency=_string(offer.get("priceCurrency")),
                    list_price=None,
                    availability=_availability(offer.get("availability")),
                )
            )
            continue
        if types and not types & OFFER_TYPES:
            continue
        price = parse_structured_price(offer.get("price"))
        currency = _string(offer.get("priceCurrency"))
        list_price = None
        for spec in _as_list(offer.get("priceSpecification")):
            if not isinstance(spec, dict):
                continue
            spec_price = parse_structured_price(spec.get("price"))
            kind = _local(str(spec.get("priceType", ""))).lower()
            if kind in ("listprice", "strikethroughprice", "msrp", "srp"):
                list_price = spec_price
            elif price is None and not kind:
                price = spec_price
            currency = currency or _string(spec.get("priceCurrency"))
        rows.append(
            _Row(
                price=price,
                currency=currency,
                list_price=list_price,
                availability=_availability(offer.get("availability")),
                seller=_name_of(offer.get("seller")),
                sku=_string(offer.get("sku")),
                gtin=_gtin_of(offer),
            )
        )
    return rows


def _availability(value: Any) -> Availability | None:
    text = _string(value[0] if isinstance(value, list) and value else value)
    if not text:
        return None
    return _SCHEMA_AVAILABILITY.get(_local(text).lower().replace(" ", ""), "unknown")


def _variant_label(variant: dict[str, Any], group_name: str) -> str | None:
    parts = [_string(variant.get(key)) for key in ("color", "size", "material", "pattern")]
    label = " ".join(part for part in parts if part)
    if label:
        return label
    name = _string(variant.get("name")) or ""
    if group_name and name.startswith(group_name):
        name = name[len(group_name) :].strip(" -–|,")
    return name or None


def _gtin_of(node: dict[str, Any]) -> str | None:
    for key in GTIN_KEYS:
        gtin = valid_gtin(_string(node.get(key)))
        if gtin:
            return gtin
    return None


def _attributes(node: dict[str, Any]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for prop in _as_list(node.get("additionalProperty")):
        if isinstance(prop, dict):
            name, value = _string(prop.get("name")), _string(prop.get("value"))
            unit = _string(prop.get("unitText")) or _string(prop.get("unitCode"))
            if name and value:
                attributes[name[:MAX_ATTRIBUTE]] = (
                    f"{value} {unit}"[:MAX_ATTRIBUTE] if unit else value[:MAX_ATTRIBUTE]
                )
    for key in ATTRIBUTE_KEYS:
        value = _name_of(node.get(key))
        if value:
            attributes.setdefault(key, value[:MAX_ATTRIBUTE])
    mpn = _string(node.get("mpn"))
    if mpn:
        attributes.setdefault("mpn", mpn)
    return attributes


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _string(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((item for item in value if item not in (None, "")), None)
    if isinstance(value, dict):
        value = value.get("@value", value.get("@id"))
    if value is None or isinstance(value, dict | list):
        return None
    text = " ".join(str(value).split())
    return text or None


def _name_of(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return _string(value.get("name"))
    return _string(value)


def _images(value: Any, base: str) -> list[str]:
    urls: list[str] = []
    for item in _as_list(value):
        if isinstance(item, dict):
            item = item.get("contentUrl") or item.get("url")
        text = _string(item)
        if text and not text.startswith("data:"):
            absolute = urljoin(base, text)
            if absolute not in urls:
                urls.append(absolute)
    return urls[:MAX_IMAGES]


def _description(value: Any) -> str | None:
    text = _string(value)
    if text and "<" in text:
        text = BeautifulSoup(text, "lxml").get_text(" ", strip=True)
    return text[:MAX_DESCRIPTION] if text else None


# --- meta tags --------------------------------------------------------------------------


def _from_meta(soup: BeautifulSoup, base: str) -> Found:
    meta: dict[str, list[str]] = {}
    for tag in (soup.head or soup).find_all("meta"):
        key = str(tag.get("property") or tag.get("name") or "").strip().lower()
        content = tag.get("content")
        if key and content is not None and str(content).strip():
            meta.setdefault(key, []).append(str(content).strip())

    def first(*keys: str) -> str | None:
        return next((meta[key][0] for key in keys if key in meta), None)

    found = Found("meta")
    price = parse_structured_price(first("product:price:amount", "og:price:amount"))
    sale = parse_structured_price(first("product:sale_price:amount", "og:sale_price:amount"))
    kind = (first("og:type") or "").lower()
    if price is None and sale is None:
        found.note = "no product:price meta" if "product" in kind else "no product meta tags"
        return found
    if sale is not None and (price is None or sale < price):
        found.price, found.list_price = sale, price
        found.currency = first(
            "product:sale_price:currency", "product:price:currency", "og:price:currency"
        )
    else:
        found.price = price
        found.currency = first("product:price:currency", "og:price:currency")
        found.list_price = parse_structured_price(
            first("product:original_price:amount", "og:original_price:amount")
        )
    found.title = first("og:title", "twitter:title")
    found.brand = first("product:brand", "og:brand")
    found.gtin = valid_gtin(
        first("product:ean", "product:gtin", "product:gtin13", "product:upc", "product:isbn")
    )
    found.sku = first("product:retailer_item_id", "product:sku")
    raw = first("product:availability", "og:availability")
    found.availability = _META_AVAILABILITY.get(raw.lower(), "unknown") if raw else None
    images: list[str] = []
    for key in ("og:image", "og:image:url", "og:image:secure_url"):
        images.extend(meta.get(key, []))
    found.images = _images(images, base)
    found.description = _description(first("og:description", "description"))
    condition = first("product:condition", "og:condition")
    if condition:
        found.attributes["condition"] = condition
    return found


# --- the site's recipe ------------------------------------------------------------------


def _select(soup: BeautifulSoup, selector: str | None) -> list[str]:
    if not selector:
        return []
    css, attribute = split_selector(selector)
    values = []
    for tag in soup.select(css):
        value = str(tag.get(attribute) or "") if attribute else _text(tag)
        if value.strip():
            values.append(value.strip())
    return values


def _from_recipe(soup: BeautifulSoup, recipe: Recipe, base: str) -> Found:
    found = Found("recipe", currency=recipe.currency)
    found.title = next(iter(_select(soup, recipe.title)), None)
    price_texts = _select(soup, recipe.price)
    for text in price_texts:
        # Every element the selector matches is tried: an installment line ("10x de R$
        # 129,99") states no price, so the real price further on is found.
        price = _price(text, recipe.price)
        if price is not None:
            found.price = price
            if not recipe.list_price and re.search(r"\bde\b.*\bpor\b", text, re.I):
                found.list_price = list_price_from_text(text)
            break
    if found.price is None:
        found.note = (
            f"selector {recipe.price!r} matched nothing"
            if recipe.price and not price_texts
            else f"no price in {price_texts[:2]!r}"
            if recipe.price
            else "no price selector"
        )
    for text in _select(soup, recipe.list_price):
        list_price = _price(text, recipe.list_price, list_price=True)
        if list_price is not None:
            found.list_price = list_price
            break
    found.gtin = next(
        (g for g in (_gtin_in(text) for text in _select(soup, recipe.gtin)) if g), None
    )
    found.brand = next(iter(_select(soup, recipe.brand)), None)
    found.sku = next(iter(_select(soup, recipe.sku)), None)
    found.seller = next(iter(_select(soup, recipe.seller)), None)
    found.availability = _recipe_availability(soup, recipe)
    for text in _select(soup, recipe.installments):
        installments = parse_installments(text, found.price)
        if installments is not None:
            found.installments = installments
            break
    found.images = _recipe_images(soup, recipe.images, base)
    description = _select(soup, recipe.description)
    found.description = description[0][:MAX_DESCRIPTION] if description else None
    found.attributes = _attribute_table(soup, recipe.attributes)
    return found


def _price(text: str, selector: str | None, *, list_price: bool = False) -> Decimal | None:
    _css, attribute = split_selector(selector or "")
    if attribute:
        # An attribute (data-price="1299.90", content="1299.90") is machine-written.
        return parse_structured_price(text)
    return list_price_from_text(text) if list_price else price_from_text(text)


def _gtin_in(text: str) -> str | None:
    for match in re.finditer(r"\d[\d \-]{6,17}\d", text):
        gtin = valid_gtin(match.group(0))
        if gtin:
            return gtin
    return None


def _recipe_availability(soup: BeautifulSoup, recipe: Recipe) -> Availability | None:
    if recipe.out_of_stock and soup.select_one(split_selector(recipe.out_of_stock)[0]) is not None:
        return "out_of_stock"
    if not recipe.availability:
        return None
    texts = _select(soup, recipe.availability)
    if not texts:
        return None
    text = " ".join(texts).lower()
    # Out-of-stock markers first: "indisponível" contains "disponível".
    if any(marker in text for marker in recipe.out_of_stock_text):
        return "out_of_stock"
    if any(marker in text for marker in recipe.preorder_text):
        return "preorder"
    if any(marker in text for marker in recipe.in_stock_text):
        return "in_stock"
    schema = _SCHEMA_AVAILABILITY.get(_local(text).replace(" ", ""))
    return schema or "unknown"


def _recipe_images(soup: BeautifulSoup, selector: str | None, base: str) -> list[str]:
    if not selector:
        return []
    css, attribute = split_selector(selector)
    urls = []
    for tag in soup.select(css):
        keys = (
            (attribute,) if attribute else ("data-zoom-image", "data-src", "src", "href", "content")
        )
        value = next(
            (str(tag[key]) for key in keys if tag.has_attr(key) and str(tag[key]).strip()), None
        )
        if value:
            urls.append(value)
    return _images(urls, base)


def _attribute_table(soup: BeautifulSoup, selector: str | None) -> dict[str, str]:
    """Name → value from `<table>` rows (th/td or two tds), `<dl>` dt/dd, or "Name: value" items."""
    if not selector:
        return {}
    attributes: dict[str, str] = {}
    for container in soup.select(split_selector(selector)[0]):
        for row in container.find_all("tr"):
            cells = row.find_all(["th", "td"])
            if len(cells) >= 2:
                attributes.setdefault(_text(cells[0]).rstrip(":"), _text(cells[-1]))
        for term in container.find_all("dt"):
            definition = term.find_next_sibling("dd")
            if definition is not None:
                attributes.setdefault(_text(term).rstrip(":"), _text(definition))
        for item in container.find_all("li"):
            name, colon, value = _text(item).partition(":")
            if colon and name.strip() and value.strip():
                attributes.setdefault(name.strip(), value.strip())
    return {k[:MAX_ATTRIBUTE]: v[:MAX_ATTRIBUTE] for k, v in attributes.items() if k and v}


# --- helpers ----------------------------------------------------------------------------


def _text(tag: Tag) -> str:
    return " ".join(tag.get_text(" ", strip=True).split())


def _base_url(soup: BeautifulSoup, url: str) -> str:
    # <base> belongs in <head>; searching the whole tree costs as much as reading the page.
    base = (soup.head or soup).find("base", href=True)
    return urljoin(url, str(base["href"])) if isinstance(base, Tag) else url
