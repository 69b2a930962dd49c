"""From the central catalog and normalization to a `ListingDraft` per product and store.

A product with a `parent_sku` is sold as one listing with variations: its siblings (the
SKUs sharing the parent) each become a `VariationDraft` whose options are the axes the
catalog has (colour, size), and the listing's seller SKU is the parent's. A product
without a parent is a listing of its own. Only SKUs that normalization says are ready on
the marketplace (`listing_readiness`) are drafted; the category and the attribute values
are normalization's (`product_marketplace_attributes`): drafting translates nothing.

The content hash covers what an update rewrites (title, description, category,
attributes, pictures, variations' axes and pictures) and never price or stock, so a price
or stock change never looks like a catalog change.

What the catalog does not say, the draft takes from normalization's attributes
(`product_attributes_normalized`, in g and cm):

- the package: weight = the heaviest variation's catalog `weight_g` (else its normalized
  `weight`); dimensions = the largest normalized `length`, `width`, `height` of the group,
  rounded up to whole centimetres (none unless all three are known);
- a description of at least `MIN_DESCRIPTION` characters (Shopee refuses shorter ones):
  the catalog's own when it is long enough, else a factual one made of the name, the brand,
  the variations' colours and sizes and the normalized facts (material, voltage, origin,
  package size and weight…), after the catalog's short text if any. Nothing is invented;
- Amazon, which normalization does not assess (its product types are not a category tree):
  the product type is the category tree's `amazon` column for the product's internal
  category, else the type the store's own Amazon listings of that category already carry;
  the draft's attributes are the normalized values under Amazon's attribute names
  (`AMAZON_ATTRIBUTE_NAMES`), only those the product type takes (`AMAZON_PRODUCT_TYPES`),
  and a product lacking a brand, a picture or an attribute its type requires is not
  ready, with the reason;
- pictures for Shopee and TikTok, which download each picture and upload its bytes, are
  fetched from `SYNCHUB_PICTURE_MIRROR` when set (`<catalog URL prefix>=<mirror prefix>`,
  several separated by `;`): the demo and the tests point it at the sandbox's picture host.
  The catalog keeps its https URLs, and Mercado Livre and Amazon, which take the URL
  itself, get them unchanged. A mirror must be https, or http on a loopback host (the
  sandbox's).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synchub_pipelines.marketplaces.publishing import ListingDraft, VariationDraft

# The axes' names in the drafts (the client maps them to the marketplace's own).
AXES = (("color", "Cor"), ("size", "Tamanho"))

MIN_DESCRIPTION = 20  # Shopee's minimum (error_desc_length_min_limit)
PICTURE_MIRROR_ENV = "SYNCHUB_PICTURE_MIRROR"
# Marketplaces whose clients download each picture and upload the bytes.
DOWNLOADS_PICTURES = frozenset({"shopee", "tiktok"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# Normalized attribute (canonical name, or the attributes file's folded name) → the
# description's label, in the order a buyer reads them.
DESCRIBED = (
    ("material", "Material"),
    ("voltagem", "Voltagem"),
    ("potencia", "Potência"),
    ("capacidade", "Capacidade"),
    ("conectividade", "Conectividade"),
    ("genero", "Gênero"),
    ("pais de origem", "País de origem"),
    ("prazo de garantia", "Garantia"),
)

# Amazon: our attribute → Amazon's attribute name (Product Type Definitions, BR).
AMAZON_ATTRIBUTE_NAMES = {
    "color": "color",
    "size": "size",
    "material": "material",
    "voltagem": "voltage",
    "potencia": "wattage",
    "capacidade": "capacity",
    "conectividade": "connectivity_technology",
}
# The product types this deployment maps to: (attributes they require beyond the
# listing's basics, attributes they take). Amazon refuses an attribute its type does not
# define, so only these are sent; another type gets color and size when it requires them
# (Amazon's refusal then names anything else). Source: each type's definition
# (getDefinitionsProductType, requirements LISTING, marketplace A2Q3Y263D00KWC).
AMAZON_PRODUCT_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "SHIRT": (("color", "size"), ("color", "size", "material")),
    "SWEATSHIRT": (("color", "size"), ("color", "size", "material")),
    "SHOES": (("color", "size"), ("color", "size", "material")),
    "SOCKS": (("color", "size"), ("color", "size", "material")),
    "BOTTLE": (("color",), ("color", "capacity")),
    "COOKWARE": (("material",), ("material", "color", "size")),
    "HEADPHONES": (("color",), ("color", "connectivity_technology")),
    "CHARGING_ADAPTER": ((), ("wattage", "color")),
    "BACKPACK": (("color",), ("color", "material")),
    "LAMP": ((), ("color",)),
    "EXERCISE_MAT": (("color",), ("color", "material")),
    "COFFEE_MAKER": (("voltage",), ("voltage", "color")),
}
AMAZON_AXES = {"Cor": "color", "Tamanho": "size"}


@dataclass(frozen=True)
class Product:
    sku: str
    parent_sku: str | None
    name: str
    brand: str | None
    color: str | None
    size: str | None
    gtin: str | None
    price: Decimal | None
    cost: Decimal | None
    currency: str
    description: str | None
    images: tuple[str, ...]
    status: str
    is_kit: bool
    weight_g: int | None = None
    category: str | None = None

    @property
    def group(self) -> str:
        return self.parent_sku or self.sku


@dataclass
class Catalog:
    """One tenant's catalog as publishing reads it."""

    products: dict[str, Product] = field(default_factory=dict)
    # (sku, marketplace) → leaf category, for the SKUs ready there.
    ready: dict[tuple[str, str], str] = field(default_factory=dict)
    # (sku, marketplace) → not ready: why.
    not_ready: dict[tuple[str, str], str] = field(default_factory=dict)
    # (sku, marketplace) → attribute id → value.
    attributes: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    allocatable: dict[str, int] = field(default_factory=dict)
    # sku → normalized attribute → (value, unit), the accepted ones.
    normalized: dict[str, dict[str, tuple[str, str | None]]] = field(default_factory=dict)
    # internal category (as products name it) → Amazon product type.
    amazon_types: dict[str, str] = field(default_factory=dict)
    # (catalog URL prefix, mirror prefix) for the marketplaces that download pictures.
    picture_mirror: tuple[tuple[str, str], ...] = ()

    def groups(self) -> dict[str, list[Product]]:
        grouped: dict[str, list[Product]] = defaultdict(list)
        for product in self.products.values():
            grouped[product.group].append(product)
        return {k: sorted(v, key=lambda p: p.sku) for k, v in grouped.items()}


def read_catalog(conn: Connection, tenant: str) -> Catalog:
    catalog = Catalog()
    rows = conn.execute(
        sa.text(
            "SELECT sku, parent_sku, name, brand, color, size, gtin, price, cost, currency, "
            "description, images, status, is_kit, weight_g, category "
            "FROM central_products WHERE tenant = :t"
        ),
        {"t": tenant},
    )
    for r in rows:
        catalog.products[r.sku] = Product(
            sku=r.sku,
            parent_sku=r.parent_sku,
            name=r.name,
            brand=r.brand,
            color=r.color,
            size=r.size,
            gtin=r.gtin,
            price=None if r.price is None else Decimal(r.price),
            cost=None if r.cost is None else Decimal(r.cost),
            currency=r.currency,
            description=r.description,
            images=tuple(u for u in (r.images or "").split("|") if u),
            status=r.status or "active",
            is_kit=bool(r.is_kit),
            weight_g=r.weight_g,
            category=r.category,
        )
    for r in conn.execute(
        sa.text(
            "SELECT sku, marketplace, ready, marketplace_category_id, missing, invalid "
            "FROM listing_readiness WHERE tenant = :t"
        ),
        {"t": tenant},
    ):
        if r.ready and r.marketplace_category_id:
            catalog.ready[(r.sku, r.marketplace)] = r.marketplace_category_id
        else:
            why = []
            if not r.marketplace_category_id:
                why.append("no marketplace category")
            for label, raw in (("missing", r.missing), ("invalid", r.invalid)):
                values = json.loads(raw or "[]")
                if values:
                    why.append(f"{label}: {', '.join(map(str, values))}")
            catalog.not_ready[(r.sku, r.marketplace)] = "; ".join(why) or "not ready"
    for r in conn.execute(
        sa.text(
            "SELECT sku, marketplace, attribute_id, value_id, value_name "
            "FROM product_marketplace_attributes WHERE tenant = :t AND status = 'ok' "
            "ORDER BY sku, marketplace, attribute_id"
        ),
        {"t": tenant},
    ):
        value = r.value_name or r.value_id
        if value:
            catalog.attributes.setdefault((r.sku, r.marketplace), {})[r.attribute_id] = value
    for r in conn.execute(
        sa.text("SELECT sku, allocatable FROM allocatable_stock WHERE tenant = :t"),
        {"t": tenant},
    ):
        catalog.allocatable[r.sku] = int(r.allocatable)
    for r in conn.execute(
        sa.text(
            "SELECT sku, attribute, value, unit FROM product_attributes_normalized "
            "WHERE tenant = :t AND status = 'ok' AND value IS NOT NULL"
        ),
        {"t": tenant},
    ):
        catalog.normalized.setdefault(r.sku, {})[r.attribute] = (r.value, r.unit)
    catalog.amazon_types = amazon_product_types(conn, tenant)
    catalog.picture_mirror = picture_mirror()
    return catalog


def picture_mirror(value: str | None = None) -> tuple[tuple[str, str], ...]:
    """SYNCHUB_PICTURE_MIRROR as (catalog prefix, mirror prefix) pairs."""
    raw = os.environ.get(PICTURE_MIRROR_ENV, "") if value is None else value
    pairs = []
    for chunk in raw.split(";"):
        if not chunk.strip():
            continue
        source, sep, target = (part.strip() for part in chunk.partition("="))
        if not sep or not source or not target:
            raise ValueError(
                f"{PICTURE_MIRROR_ENV}: {chunk.strip()!r} is not <catalog prefix>=<mirror prefix>"
            )
        parts = urlsplit(target)
        loopback = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS
        if parts.scheme != "https" and not loopback:
            raise ValueError(
                f"{PICTURE_MIRROR_ENV}: the mirror {target!r} must be https "
                "(http only on a loopback host, for the sandbox)"
            )
        pairs.append((source, target))
    return tuple(pairs)


def _mirrored(url: str, mirror: tuple[tuple[str, str], ...]) -> str:
    for source, target in mirror:
        if url.startswith(source):
            return target + url[len(source) :]
    return url


def amazon_product_types(conn: Connection, tenant: str) -> dict[str, str]:
    """Internal category → Amazon product type: the category tree's `amazon` column, else
    the type most of the tenant's linked Amazon listings of that category carry."""
    learned: dict[str, Counter[str]] = defaultdict(Counter)
    for r in conn.execute(
        sa.text(
            "SELECT p.category, l.category_id, COUNT(*) AS n FROM listing_links k "
            "JOIN stores s ON s.store_id = k.store_id AND s.marketplace = 'amazon' "
            "JOIN listings l ON l.store_id = k.store_id AND l.listing_id = k.listing_id "
            "AND l.variation_id = k.variation_id "
            "JOIN central_products p ON p.tenant = k.tenant AND p.sku = k.sku "
            "WHERE k.tenant = :t AND p.category IS NOT NULL AND l.category_id IS NOT NULL "
            "AND l.category_id <> 'PRODUCT' "
            "GROUP BY p.category, l.category_id"
        ),
        {"t": tenant},
    ):
        learned[r.category][r.category_id] += int(r.n)
    types = {category: counts.most_common(1)[0][0] for category, counts in learned.items()}
    types.update(_tree_amazon_types({c for c, _ in learned.items()}, conn, tenant))
    return types


def _tree_amazon_types(known: set[str], conn: Connection, tenant: str) -> dict[str, str]:
    """The tree file's manual `amazon` mappings, under each name the products use."""
    from synchub_pipelines.defs.normalization.assets import tree_file
    from synchub_pipelines.defs.normalization.tree_file import CategoryTreeError, load_tree

    try:
        tree = load_tree(tree_file())
    except (CategoryTreeError, OSError):
        return {}  # normalization reports a broken tree; Amazon then uses learned types
    names = {
        r.category
        for r in conn.execute(
            sa.text(
                "SELECT DISTINCT category FROM central_products "
                "WHERE tenant = :t AND category IS NOT NULL"
            ),
            {"t": tenant},
        )
    } | known
    out = {}
    for name in names:
        node = tree.resolve(name)
        if node is not None and node.mappings.get("amazon"):
            out[name] = node.mappings["amazon"]
    return out


def _strip_suffix(name: str, value: str | None) -> str:
    if not value:
        return name
    return re.sub(rf"\s+{re.escape(value)}\s*$", "", name, flags=re.IGNORECASE)


def group_title(members: Iterable[Product]) -> str:
    """The listing's title: the variations' names without their axis values (the most
    common result, so one odd name does not win)."""
    bases = Counter(_strip_suffix(_strip_suffix(p.name, p.size), p.color) for p in members)
    return bases.most_common(1)[0][0]


def group_status(members: Iterable[Product]) -> str:
    """The listing's state the catalog asks for: active while any variation is on sale;
    closed when every one is discontinued; else paused."""
    statuses = {p.status for p in members}
    if "active" in statuses:
        return "active"
    return "closed" if statuses == {"discontinued"} else "paused"


PriceOf = Callable[[Product], Decimal | None]


@dataclass(frozen=True)
class Drafted:
    draft: ListingDraft | None
    skus: tuple[str, ...]
    reason: str  # why there is no draft, or what the draft holds


def draft_for(
    catalog: Catalog,
    group: str,
    members: list[Product],
    marketplace: str,
    price_of: PriceOf,
) -> Drafted:
    """The draft of one group on one marketplace; `price_of` gives each SKU's price there."""
    if marketplace == "amazon" and not any(
        (p.sku, marketplace) in catalog.ready or (p.sku, marketplace) in catalog.not_ready
        for p in members
    ):
        # Normalization does not assess Amazon: the drafts judge it (module docstring).
        _amazon_readiness(catalog, members)
    ready = [p for p in members if (p.sku, marketplace) in catalog.ready and p.status == "active"]
    if not ready:
        reasons = {
            catalog.not_ready.get((p.sku, marketplace), "not assessed by normalization")
            for p in members
        }
        return Drafted(None, tuple(p.sku for p in members), "; ".join(sorted(reasons)))
    first = ready[0]
    category = catalog.ready[(first.sku, marketplace)]
    attributes = dict(catalog.attributes.get((first.sku, marketplace), {}))
    pictures = first.images
    variations: list[VariationDraft] = []
    sellable = ready
    mirror = catalog.picture_mirror if marketplace in DOWNLOADS_PICTURES else ()
    if first.parent_sku is not None:
        # Variations of one listing share its category: a sibling normalization put
        # elsewhere is left out (and said so) rather than listed in the wrong place.
        sellable = [p for p in ready if catalog.ready[(p.sku, marketplace)] == category]
        axes = [(col, label) for col, label in AXES if any(getattr(p, col) for p in sellable)]
        for p in sellable:
            price = price_of(p)
            if price is None:
                return Drafted(None, tuple(p.sku for p in members), f"{p.sku} has no price")
            variations.append(
                VariationDraft(
                    seller_sku=p.sku,
                    options={label: getattr(p, col) or "-" for col, label in axes},
                    price=price,
                    quantity=max(0, catalog.allocatable.get(p.sku, 0)),
                    gtin=p.gtin,
                    pictures=tuple(_mirrored(u, mirror) for u in p.images),
                )
            )
        pictures = tuple(dict.fromkeys(u for p in sellable for u in p.images))
    price = price_of(first)
    if price is None:
        return Drafted(None, tuple(p.sku for p in members), f"{first.sku} has no price")
    if marketplace == "amazon" and variations:
        # The axes travel on each child (its options); the rest is shared by the family.
        for label in variations[0].options:
            attributes.pop(AMAZON_AXES.get(label, ""), None)
    title = group_title(sellable) if variations else first.name
    draft = ListingDraft(
        seller_sku=group,
        title=title,
        description=describe(catalog, sellable, title, variations),
        category_id=category,
        attributes=attributes,
        pictures=tuple(_mirrored(u, mirror) for u in pictures),
        price=min((v.price for v in variations), default=price),
        currency=first.currency,
        quantity=(
            sum(v.quantity for v in variations)
            if variations
            else max(0, catalog.allocatable.get(first.sku, 0))
        ),
        brand=first.brand,
        gtin=None if variations else first.gtin,
        variations=tuple(variations),
        package_weight_kg=_package_kg(catalog, sellable),
        package_dimensions_cm=_package_cm(catalog, sellable),
    )
    return Drafted(draft, tuple(p.sku for p in sellable), "ready")


def _amazon_readiness(catalog: Catalog, members: list[Product]) -> None:
    """Amazon's verdict per SKU, in `catalog.ready` / `not_ready` / `attributes` (what
    normalization writes for the other marketplaces)."""
    for p in members:
        key = (p.sku, "amazon")
        product_type = catalog.amazon_types.get(p.category or "")
        if product_type is None:
            catalog.not_ready[key] = (
                f"no Amazon product type for category {p.category or '(none)'}: map it in the "
                "category tree's amazon column"
            )
            continue
        required, takes = AMAZON_PRODUCT_TYPES.get(product_type, (("color", "size"), ()))
        takes = takes or required
        values = catalog.normalized.get(p.sku, {})
        attributes = {
            AMAZON_ATTRIBUTE_NAMES[ours]: value
            for ours, (value, _) in values.items()
            if AMAZON_ATTRIBUTE_NAMES.get(ours) in takes
        }
        # A family's axes come from the catalog's colour and size columns.
        for axis, column in (("color", p.color), ("size", p.size)):
            if column and axis in takes:
                attributes[axis] = column
        missing = [a for a in required if a not in attributes]
        if not p.brand:
            missing.insert(0, "brand")
        if not p.images:
            missing.append("main_product_image_locator (a picture)")
        if missing:
            catalog.not_ready[key] = f"missing: {', '.join(missing)} (Amazon {product_type})"
            continue
        catalog.ready[key] = product_type
        catalog.attributes[key] = attributes


def describe(
    catalog: Catalog,
    products: list[Product],
    title: str,
    variations: Iterable[VariationDraft] = (),
) -> str:
    """The catalog's description when it is long enough; else a factual one (module
    docstring), after the catalog's short text if there is one."""
    own = (products[0].description or "").strip()
    if len(own) >= MIN_DESCRIPTION:
        return own
    facts: list[str] = []
    if own:
        facts.append(own.rstrip(".") + ".")
    facts.append(f"{title}.")
    brand = products[0].brand
    if brand:
        facts.append(f"Marca: {brand}.")
    for column, one, many in (("color", "Cor", "Cores"), ("size", "Tamanho", "Tamanhos")):
        axis = list(dict.fromkeys(getattr(p, column) for p in products if getattr(p, column)))
        if axis:
            facts.append(f"{many if len(axis) > 1 else one}: {', '.join(axis)}.")
    known = catalog.normalized.get(products[0].sku, {})
    for key, label in DESCRIBED:
        if key in known:
            value, unit = known[key]
            facts.append(f"{label}: {value}{' ' + unit if unit else ''}.")
    size = _package_cm(catalog, products)
    if size is not None:
        facts.append(f"Embalagem: {size[0]} x {size[1]} x {size[2]} cm.")
    weight = _package_kg(catalog, products)
    if weight is not None:
        facts.append(f"Peso com embalagem: {str(weight).replace('.', ',')} kg.")
    facts.append("Produto novo.")
    return " ".join(facts)


def _grams(catalog: Catalog, product: Product) -> Decimal | None:
    if product.weight_g:
        return Decimal(product.weight_g)
    value, unit = catalog.normalized.get(product.sku, {}).get("weight", (None, None))
    if value is None or unit != "g":
        return None
    try:
        return Decimal(value.replace(",", "."))
    except InvalidOperation:
        return None


def _package_kg(catalog: Catalog, products: Iterable[Product]) -> Decimal | None:
    """The heaviest variation's weight: a package has to fit every one of them."""
    grams = max((g for p in products if (g := _grams(catalog, p))), default=None)
    if grams is None or grams <= 0:
        return None
    return (grams / 1000).quantize(Decimal("0.001"))


def _package_cm(catalog: Catalog, products: Iterable[Product]) -> tuple[int, int, int] | None:
    """The largest length, width and height among the variations, in whole cm (rounded
    up: a package a centimetre short does not close); None unless all three are known."""
    sides: list[int] = []
    for dimension in ("length", "width", "height"):
        found = []
        for p in products:
            value, unit = catalog.normalized.get(p.sku, {}).get(dimension, (None, None))
            if value is None or unit != "cm":
                continue
            try:
                found.append(Decimal(value.replace(",", ".")))
            except InvalidOperation:
                continue
        if not found or max(found) <= 0:
            return None
        sides.append(max(1, math.ceil(max(found))))
    return sides[0], sides[1], sides[2]


def content_hash(draft: ListingDraft) -> str:
    content = {
        "title": draft.title,
        "description": draft.description,
        "category": draft.category_id,
        "attributes": draft.attributes,
        "pictures": list(draft.pictures),
        "brand": draft.brand,
        "gtin": draft.gtin,
        "variations": [
            {"sku": v.seller_sku, "options": v.options, "gtin": v.gtin, "pictures": v.pictures}
            for v in draft.variations
        ],
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def request_summary(draft: ListingDraft) -> dict[str, object]:
    """What the audit keeps of a draft: everything but long texts (no secrets in drafts)."""
    return {
        "seller_sku": draft.seller_sku,
        "title": draft.title,
        "category_id": draft.category_id,
        "attributes": draft.attributes,
        "pictures": len(draft.pictures),
        "description_chars": len(draft.description),
        "price": str(draft.price),
        "quantity": draft.quantity,
        "variations": [
            {"sku": v.seller_sku, "options": v.options, "price": str(v.price), "qty": v.quantity}
            for v in draft.variations
        ],
    }
