"""Mercado Livre shapes of the World: the MLB category tree, items, orders and shipments.

Package-private to the Mercado Livre simulator. Shapes follow the saved payloads in
`shared/reference/payloads/mercadolivre/`; only the World decides the values.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring
from typing import Any
from zoneinfo import ZoneInfo

from synchub_pipelines.sandbox.world import (
    Listing,
    ListingVariation,
    Order,
    OrderLine,
    Product,
    World,
)

SITE_ID = "MLB"
CURRENCY = "BRL"
MARKETPLACE = "mercadolivre"

# Per-unit sale fee by listing type (classic and premium).
FEE_RATES = {"gold_special": Decimal("0.14"), "gold_pro": Decimal("0.19")}

# Id spaces derived from the order number, so every id is stable for a seed.
_ORDER_BASE = 2_000_000_000_000
_SHIPMENT_BASE = 40_000_000_000
_PAYMENT_BASE = 20_000_000_000
_PACK_BASE = 2_000_000_000_000_000
_MEDIATION_BASE = 5_000_000_000

# World status → (ML order status, tags). Shipping progress lives on the shipment.
_ORDER_STATUS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pending": ("payment_required", ("not_delivered",)),
    "paid": ("paid", ("paid", "not_delivered")),
    "shipped": ("paid", ("paid", "not_delivered")),
    "delivered": ("paid", ("paid", "delivered")),
    "cancelled": ("cancelled", ("not_delivered",)),
    "returned": ("paid", ("paid", "delivered")),
}
ML_ORDER_STATUSES = frozenset(
    {
        "confirmed",
        "payment_required",
        "payment_in_process",
        "partially_paid",
        "paid",
        "partially_refunded",
        "pending_cancel",
        "cancelled",
        "invalid",
    }
)
_SHIPMENT_STATUS = {
    "pending": "pending",
    "paid": "ready_to_ship",
    "shipped": "shipped",
    "delivered": "delivered",
    "returned": "delivered",
    "cancelled": "cancelled",
}
_STATE_NAMES = {
    "SP": "São Paulo",
    "RJ": "Rio de Janeiro",
    "MG": "Minas Gerais",
    "PR": "Paraná",
    "RS": "Rio Grande do Sul",
    "BA": "Bahia",
    "PE": "Pernambuco",
    "CE": "Ceará",
    "GO": "Goiás",
}

# ML-shaped category ids and names for the World's internal categories. The ids are stable
# inventions in ML's format, not a copy of ML's real taxonomy; unknown categories get
# hash-derived ids. Several internal parents share one ML parent on purpose: the two trees
# do not line up one to one, which is what category mapping has to cope with.
_TOP_LEVEL: dict[str, tuple[str, str]] = {
    "Moda": ("MLB1430", "Calçados, Roupas e Bolsas"),
    "Calçados": ("MLB1430", "Calçados, Roupas e Bolsas"),
    "Acessórios": ("MLB1430", "Calçados, Roupas e Bolsas"),
    "Casa": ("MLB1574", "Casa, Móveis e Decoração"),
    "Eletrônicos": ("MLB1000", "Eletrônicos, Áudio e Vídeo"),
    "Esporte": ("MLB1276", "Esportes e Fitness"),
}
_LEAVES: dict[str, tuple[str, str, str]] = {
    "Moda > Camisetas": ("MLB31447", "Camisetas e Regatas", "MLB-T_SHIRTS"),
    "Moda > Moletons": ("MLB31448", "Moletons", "MLB-SWEATSHIRTS_AND_HOODIES"),
    "Moda > Meias": ("MLB108791", "Meias", "MLB-SOCKS"),
    "Calçados > Tênis": ("MLB23332", "Tênis", "MLB-SNEAKERS"),
    "Casa > Garrafas": ("MLB264811", "Garrafas Térmicas", "MLB-THERMAL_BOTTLES"),
    "Casa > Cozinha": ("MLB1625", "Panelas", "MLB-COOKING_POTS"),
    "Casa > Iluminação": ("MLB1582", "Luminárias de Mesa", "MLB-DESK_LAMPS"),
    "Casa > Eletroportáteis": ("MLB1646", "Cafeteiras", "MLB-COFFEE_MAKERS"),
    "Eletrônicos > Fones": ("MLB3697", "Fones de Ouvido", "MLB-HEADPHONES"),
    "Eletrônicos > Carregadores": ("MLB5605", "Carregadores", "MLB-CELLPHONE_CHARGERS"),
    "Acessórios > Mochilas": ("MLB26538", "Mochilas", "MLB-BACKPACKS"),
    "Esporte > Yoga": ("MLB437542", "Tapetes de Yoga", "MLB-YOGA_MATS"),
}
_COLOR_IDS = {
    "Preto": "52049",
    "Branco": "52055",
    "Azul": "52028",
    "Vermelho": "51993",
    "Cinza": "283165",
    "Verde": "52014",
    "Rosa": "51994",
    "Bege": "283163",
}
_CLOTHING_SIZES = ("PP", "P", "M", "G", "GG", "XG")
_SHOE_SIZES = tuple(str(n) for n in range(34, 45))
_ATTRIBUTE_NAMES = {
    "BRAND": "Marca",
    "MODEL": "Modelo",
    "COLOR": "Cor",
    "SIZE": "Tamanho",
    "GTIN": "Código universal de produto",
    "SELLER_SKU": "SKU",
    "MATERIAL": "Material",
    "PACKAGE_WEIGHT": "Peso da embalagem",
    "ITEM_CONDITION": "Condição do item",
    "IS_KIT": "É kit",
    "UNITS_PER_PACK": "Unidades por kit",
}
_GROUP = {"attribute_group_id": "OTHERS", "attribute_group_name": "Outros"}
_BOOLEAN_VALUES = [
    {"id": "242084", "name": "Não", "metadata": {"value": False}},
    {"id": "242085", "name": "Sim", "metadata": {"value": True}},
]
# The tags array of each (status tags, pack order?) pair, ready to splice into an order.
_TAGS_JSON = {
    (tags, pack): json.dumps([*tags, "pack_order"] if pack else list(tags))
    for _, tags in _ORDER_STATUS.values()
    for pack in (False, True)
}
# JSON string literal (quotes and escapes) of free text, by json's C encoder.
_string = encode_basestring


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=4096)
def money(value: Decimal) -> int | float:
    """A JSON number the way ML writes amounts: 50 and 129.9, not "50.00"."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def iso_local(moment: datetime, tz: ZoneInfo) -> str:
    """ML order dates: local offset, milliseconds (2022-04-08T17:01:30.000-03:00)."""
    return moment.astimezone(tz).isoformat(timespec="milliseconds")


def iso_utc(moment: datetime) -> str:
    """ML item dates: UTC with a Z (2019-02-06T13:53:29.000Z)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def item_id(listing_number: int) -> str:
    return f"{SITE_ID}{listing_number}"


def shipment_id(order_number: int) -> int:
    return _SHIPMENT_BASE + order_number - _ORDER_BASE


def order_number_of_shipment(shipment: int) -> int:
    return shipment - _SHIPMENT_BASE + _ORDER_BASE


def listing_type(listing: Listing) -> str:
    return "gold_pro" if listing.listing_number % 3 == 0 else "gold_special"


def sale_fee(unit_price: Decimal, listing_type_id: str) -> Decimal:
    return (unit_price * FEE_RATES[listing_type_id]).quantize(Decimal("0.01"), ROUND_HALF_UP)


def order_status(world_status: str) -> str:
    return _ORDER_STATUS[world_status][0]


def _stable_number(text: str, low: int, span: int) -> int:
    return low + zlib.crc32(text.encode()) % span


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens_of(text: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", _fold(text)) if len(t) > 1}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _fold(text)).strip("-") or "item"


def _value_id(attribute: str, value: str) -> str:
    if attribute == "COLOR" and value in _COLOR_IDS:
        return _COLOR_IDS[value]
    return str(_stable_number(f"{attribute}:{value}", 1_000_000, 9_000_000))


def _attribute(
    attr_id: str, value_name: str, value_id: str | None = None, struct: Any = None
) -> dict[str, Any]:
    return {
        "id": attr_id,
        "name": _ATTRIBUTE_NAMES[attr_id],
        "value_id": value_id,
        "value_name": value_name,
        "value_struct": struct,
        "values": [{"id": value_id, "name": value_name, "struct": struct}],
        **_GROUP,
    }


@dataclass
class MLCategory:
    id: str
    name: str
    parent_id: str | None
    domain_id: str | None = None  # leaves only
    children: list[str] = field(default_factory=list)
    keywords: set[str] = field(default_factory=set)
    total_items: int = 0
    has_sizes: bool = False
    shoes: bool = False


class CategoryTree:
    """The MLB categories the World's internal categories land in, built deterministically."""

    def __init__(self, world: World) -> None:
        self.by_id: dict[str, MLCategory] = {}
        self.leaf_of_internal: dict[str, str] = {}
        for path in sorted({p.category for p in world.products}):
            parent_name, _, leaf_name = path.partition(" > ")
            top_id, top_name = _TOP_LEVEL.get(parent_name) or (
                f"MLB{_stable_number(parent_name, 1000, 9000)}",
                parent_name,
            )
            top = self.by_id.setdefault(top_id, MLCategory(top_id, top_name, None))
            leaf_id, name, domain = _LEAVES.get(path) or (
                f"MLB{_stable_number(path, 100_000, 900_000)}",
                leaf_name or parent_name,
                "MLB-" + "_".join(sorted(tokens_of(leaf_name or parent_name))).upper(),
            )
            leaf = MLCategory(leaf_id, name, top_id, domain)
            leaf.keywords = tokens_of(f"{path} {name}")
            leaf.shoes = parent_name == "Calçados"
            self.by_id[leaf_id] = leaf
            top.children.append(leaf_id)
            self.leaf_of_internal[path] = leaf_id
        for product in world.products:
            leaf = self.by_id[self.leaf_of_internal[product.category]]
            leaf.keywords |= tokens_of(product.name)
            leaf.has_sizes = leaf.has_sizes or product.size is not None
        for listing in world.listings:
            if listing.seller.marketplace == MARKETPLACE:
                self.by_id[self.leaf_of_internal[listing.category]].total_items += 1
        for top in self.top_level():
            top.total_items = sum(self.by_id[c].total_items for c in top.children)

    def top_level(self) -> list[MLCategory]:
        return sorted((c for c in self.by_id.values() if c.parent_id is None), key=lambda c: c.name)

    def render(self, category: MLCategory) -> dict[str, Any]:
        parent = self.by_id.get(category.parent_id or "")
        path = [parent, category] if parent else [category]
        leaf = not category.children
        return {
            "id": category.id,
            "name": category.name,
            "picture": None,
            "permalink": None,
            "total_items_in_this_category": category.total_items,
            "path_from_root": [{"id": c.id, "name": c.name} for c in path],
            "children_categories": [
                {
                    "id": self.by_id[c].id,
                    "name": self.by_id[c].name,
                    "total_items_in_this_category": self.by_id[c].total_items,
                }
                for c in category.children
            ],
            "attribute_types": "variations" if leaf else "none",
            "settings": {
                "adult_content": False,
                "buying_allowed": leaf,
                "buying_modes": ["buy_it_now"],
                "catalog_domain": category.domain_id,
                "coverage_areas": "not_allowed",
                "currencies": [CURRENCY],
                "fragile": False,
                "immediate_payment": "required",
                "item_conditions": ["new", "used", "not_specified"],
                "items_reviews_allowed": False,
                "listing_allowed": leaf,
                "max_description_length": 50000,
                "max_pictures_per_item": 12,
                "max_pictures_per_item_var": 10,
                "max_sub_title_length": 70,
                "max_title_length": 60,
                "max_variations_allowed": 250 if category.has_sizes else 100,
                "maximum_price": None,
                "minimum_price": 8,
                "mirror_category": None,
                "price": "required",
                "seller_contact": "not_allowed",
                "shipping_options": ["custom", "me2"],
                "shipping_profile": "optional",
                "show_contact_information": False,
                "simple_shipping": "optional",
                "stock": "required",
                "status": "enabled",
                "tags": [],
                "vip_subdomain": "produto",
            },
            "channels_settings": [],
            "meta_categ_id": None,
            "attributable": False,
            "date_created": "2018-04-25T08:12:56.000Z",
        }

    def attributes(self, category: MLCategory) -> list[dict[str, Any]]:
        """The attribute list ML publishes for a leaf, in the fixture's shape."""
        colors = [{"id": _value_id("COLOR", c), "name": c} for c in _COLOR_IDS]
        size_names = _SHOE_SIZES if category.shoes else _CLOTHING_SIZES
        sizes = [{"id": _value_id("SIZE", s), "name": s} for s in size_names]
        size_tags: dict[str, bool] = {"allow_variations": True}
        if category.has_sizes:
            size_tags["required"] = True

        def spec(
            attr_id: str, tags: dict[str, bool], hierarchy: str, relevance: int, **kw: Any
        ) -> dict[str, Any]:
            return {
                "id": attr_id,
                "name": _ATTRIBUTE_NAMES[attr_id],
                "tags": tags,
                "hierarchy": hierarchy,
                "relevance": relevance,
                **kw,
                **_GROUP,
            }

        return [
            spec(
                "BRAND",
                {"required": True, "catalog_required": True},
                "PARENT_PK",
                1,
                value_type="string",
                value_max_length=255,
            ),
            spec(
                "MODEL",
                {"catalog_required": True},
                "PARENT_PK",
                1,
                value_type="string",
                value_max_length=255,
            ),
            spec(
                "COLOR",
                {"allow_variations": True, "defines_picture": True},
                "CHILD_PK",
                1,
                value_type="list",
                values=colors,
            ),
            spec("SIZE", size_tags, "CHILD_PK", 1, value_type="list", values=sizes),
            spec(
                "GTIN",
                {"conditional_required": True, "multivalued": True, "variation_attribute": True},
                "PRODUCT_IDENTIFIER",
                1,
                type="product_identifier",
                value_type="string",
                value_max_length=14,
            ),
            spec(
                "SELLER_SKU",
                {"variation_attribute": True},
                "ITEM",
                1,
                value_type="string",
                value_max_length=255,
            ),
            spec("MATERIAL", {}, "FAMILY", 2, value_type="string", value_max_length=255),
            spec(
                "PACKAGE_WEIGHT",
                {},
                "FAMILY",
                2,
                value_type="number_unit",
                value_max_length=255,
                allowed_units=[{"id": "g", "name": "g"}, {"id": "kg", "name": "kg"}],
                default_unit="g",
            ),
            spec("IS_KIT", {}, "ITEM", 2, value_type="boolean", values=_BOOLEAN_VALUES),
            spec(
                "UNITS_PER_PACK",
                {"hidden": True},
                "FAMILY",
                2,
                value_type="number",
                value_max_length=18,
            ),
        ]

    def discover(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Leaves ranked by how many of the query's words their names and products share."""
        words = tokens_of(query)
        scored = []
        for category in self.by_id.values():
            if category.children or category.domain_id is None:
                continue
            score = len(words & category.keywords)
            if score:
                scored.append((-score, category.id, category))
        scored.sort(key=lambda s: (s[0], s[1]))
        return [
            {
                "domain_id": c.domain_id,
                "domain_name": c.name,
                "category_id": c.id,
                "category_name": c.name,
                "attributes": [],
            }
            for _, _, c in scored[:limit]
        ]


class Renderer:
    """Renders items, orders and shipments of the World's Mercado Livre sellers."""

    def __init__(self, world: World, tree: CategoryTree) -> None:
        self.world = world
        self.tree = tree
        by_parent: dict[str, list[Product]] = {}
        for product in world.products:
            by_parent.setdefault(product.parent_sku, []).append(product)
        self.products_of_parent = by_parent
        # The catalog product behind each variation, found by its colour/size (the seller
        # SKU may be blank or stale on purpose).
        self.product_of_variation: dict[int, Product] = {}
        self.variation_index: dict[int, tuple[Listing, ListingVariation]] = {}
        for listing in world.listings:
            if listing.seller.marketplace != MARKETPLACE:
                continue
            for variation in listing.variations:
                self.variation_index[variation.variation_number] = (listing, variation)
                wanted = dict(variation.attributes)
                for product in by_parent.get(listing.parent_sku, []):
                    if wanted == {
                        k: v for k, v in (("COLOR", product.color), ("SIZE", product.size)) if v
                    }:
                        self.product_of_variation[variation.variation_number] = product
                        break
        self._lines: dict[OrderLine, str] = {}
        self.sold: dict[int, int] = {}
        self.item_updated: dict[int, datetime] = {}

    def count_sale(self, order: Order) -> None:
        if order.timeline[-1][0] == "cancelled":
            return
        for line in order.lines:
            self.sold[line.variation_number] = (
                self.sold.get(line.variation_number, 0) + line.quantity
            )

    # --- items ---------------------------------------------------------------------------

    def _gtin(self, variation: ListingVariation) -> str | None:
        # Sellers who left the SKU blank or stale did not fill the GTIN either: those
        # listings stay unmatched unless someone links them by hand.
        if variation.sku is None or variation.sku not in self.world.products_by_sku:
            return None
        product = self.product_of_variation.get(variation.variation_number)
        return product.gtin if product else None

    def _variation_attributes(self, variation: ListingVariation) -> list[dict[str, Any]]:
        attrs = []
        if variation.sku is not None:
            attrs.append(_attribute("SELLER_SKU", variation.sku))
        gtin = self._gtin(variation)
        if gtin:
            attrs.append(_attribute("GTIN", gtin))
        return attrs

    @staticmethod
    def _combinations(variation: ListingVariation) -> list[dict[str, Any]]:
        return [
            {
                "id": key,
                "name": _ATTRIBUTE_NAMES[key],
                "value_id": _value_id(key, value),
                "value_name": value,
                "value_struct": None,
            }
            for key, value in variation.attributes
        ]

    def item(self, listing: Listing) -> dict[str, Any]:
        first = listing.variations[0]
        product = self.product_of_variation.get(first.variation_number)
        family = self.products_of_parent.get(listing.parent_sku, [])
        brand = product.brand if product else (family[0].brand if family else None)
        leaf = self.tree.leaf_of_internal[listing.category]
        number = listing.listing_number
        available = sum(v.available_quantity for v in listing.variations)
        sold = sum(self.sold.get(v.variation_number, 0) for v in listing.variations)
        attributes = [_attribute("ITEM_CONDITION", "Novo", "2230284")]
        if brand:
            attributes.insert(0, _attribute("BRAND", brand))
        if product:
            weight = product.weight_g
            attributes.append(
                _attribute("PACKAGE_WEIGHT", f"{weight} g", struct={"number": weight, "unit": "g"})
            )
        variations: list[dict[str, Any]] = []
        if listing.has_variations:
            for v in listing.variations:
                variations.append(
                    {
                        "id": v.variation_number,
                        "price": money(v.price),
                        "attribute_combinations": self._combinations(v),
                        "available_quantity": v.available_quantity,
                        "sold_quantity": self.sold.get(v.variation_number, 0),
                        "sale_terms": [],
                        "picture_ids": [],
                        "seller_custom_field": v.sku,
                        "catalog_product_id": None,
                        "attributes": self._variation_attributes(v),
                        "user_product_id": f"MLBU{v.variation_number}",
                    }
                )
        else:
            attributes += [
                {k: c[k] for k in ("id", "name", "value_id", "value_name", "value_struct")}
                | {"values": [], **_GROUP}
                for c in self._combinations(first)
            ]
            attributes += self._variation_attributes(first)
        updated = self.item_updated.get(number, listing.created_at)
        price = money(max(v.price for v in listing.variations))
        return {
            "id": item_id(number),
            "site_id": SITE_ID,
            "title": listing.title,
            "subtitle": None,
            "seller_id": int(listing.seller.seller_id),
            "category_id": leaf,
            "official_store_id": None,
            "price": price,
            "base_price": price,
            "original_price": None,
            "currency_id": CURRENCY,
            "initial_quantity": available + sold,
            "available_quantity": available,
            "sold_quantity": sold,
            "sale_terms": [],
            "buying_mode": "buy_it_now",
            "listing_type_id": listing_type(listing),
            "start_time": iso_utc(listing.created_at),
            "stop_time": iso_utc(listing.created_at + timedelta(days=7300)),
            "condition": "new",
            "permalink": f"https://produto.mercadolivre.com.br/MLB-{number}-{_slug(listing.title)}-_JM",
            "thumbnail_id": None,
            "thumbnail": None,
            "pictures": [],
            "video_id": None,
            "descriptions": [],
            "accepts_mercadopago": True,
            "non_mercado_pago_payment_methods": [],
            "shipping": {
                "mode": "me2",
                "methods": [],
                "tags": [],
                "dimensions": None,
                "local_pick_up": False,
                "free_shipping": max(v.price for v in listing.variations) >= 79,
                "logistic_type": "cross_docking",
                "store_pick_up": False,
            },
            "international_delivery_mode": "none",
            "seller_address": {
                "city": {"name": "São Paulo"},
                "state": {"id": "BR-SP", "name": "São Paulo"},
                "country": {"id": "BR", "name": "Brasil"},
            },
            "seller_contact": None,
            "location": {},
            "coverage_areas": [],
            "attributes": attributes,
            "warnings": [],
            "listing_source": "",
            "variations": variations,
            "status": listing.status,
            "sub_status": [],
            "tags": ["good_quality_thumbnail", "immediate_payment", "cart_eligible"],
            "warranty": "Garantia do vendedor: 90 dias",
            "catalog_product_id": None,
            "domain_id": self.tree.by_id[leaf].domain_id,
            "seller_custom_field": None if listing.has_variations else first.sku,
            "parent_item_id": None,
            "differential_pricing": None,
            "deal_ids": [],
            "automatic_relist": False,
            "date_created": iso_utc(listing.created_at),
            "last_updated": iso_utc(updated),
            "health": None,
            "catalog_listing": False,
            "channels": ["marketplace"],
            "user_product_id": None if listing.has_variations else f"MLBU{first.variation_number}",
        }

    # --- orders --------------------------------------------------------------------------

    def _line_json(self, line: OrderLine) -> str:
        """One order_items entry; lines repeat a lot across orders, so each renders once."""
        cached = self._lines.get(line)
        if cached is not None:
            return cached
        listing, variation = self.variation_index[line.variation_number]
        kind = listing_type(listing)
        price = money(line.unit_price)
        body = dumps(
            {
                "item": {
                    "id": item_id(line.listing_number),
                    "title": line.title,
                    "category_id": self.tree.leaf_of_internal[listing.category],
                    "variation_id": line.variation_number if listing.has_variations else None,
                    "seller_custom_field": line.sku,
                    "variation_attributes": (
                        self._combinations(variation) if listing.has_variations else []
                    ),
                    "warranty": "Garantia do vendedor: 90 dias",
                    "condition": "new",
                    "seller_sku": line.sku,
                    "global_price": None,
                    "net_weight": None,
                },
                "quantity": line.quantity,
                "requested_quantity": {"value": line.quantity, "measure": "unit"},
                "picked_quantity": None,
                "unit_price": price,
                "full_unit_price": price,
                "currency_id": CURRENCY,
                "manufacturing_days": None,
                "sale_fee": money(sale_fee(line.unit_price, kind)),
                "listing_type_id": kind,
            }
        ).decode()
        self._lines[line] = body
        return body

    def order_json(self, order: Order, step: int) -> bytes:
        """The order as ML shows it while `order.timeline[step]` is the step in force.

        Written as a template rather than a dict for json.dumps: a backfill renders every
        order once, and this is that hot path (about 3x cheaper). Free text goes through
        json's own string encoder; every other value is a number, null or a fixed token.
        """
        tz = ZoneInfo(order.seller.timezone)
        status, when = order.timeline[step]
        ml_status, tags = _ORDER_STATUS[status]
        paid_at = next((w for s, w in order.timeline[: step + 1] if s == "paid"), None)
        number = order.order_number
        seller_id = int(order.seller.seller_id)
        buyer = order.buyer
        total = order.total
        local_created = order.created_at.astimezone(tz)
        created = local_created.isoformat(timespec="milliseconds")
        expires = (local_created + timedelta(days=28)).isoformat(timespec="milliseconds")
        updated = iso_local(when, tz)
        paid_total = money(total + order.shipping_cost)
        payments = closed = ""
        if paid_at is not None:
            paid = iso_local(paid_at, tz)
            closed = f'"{paid}"'
            refunded = status == "cancelled"
            payments = (
                f'{{"id":{_PAYMENT_BASE + number - _ORDER_BASE},"order_id":{number},'
                f'"payer_id":{buyer.buyer_id},"collector":{{"id":{seller_id}}},"card_id":null,'
                f'"site_id":"{SITE_ID}","reason":{_string(order.lines[0].title)},'
                '"payment_method_id":"pix","currency_id":"BRL","installments":1,'
                '"issuer_id":null,"coupon_id":null,"operation_type":"regular_payment",'
                '"payment_type":"bank_transfer",'
                f'"status":"{"refunded" if refunded else "approved"}","status_code":null,'
                f'"status_detail":"{"refunded" if refunded else "accredited"}",'
                f'"transaction_amount":{money(total)},'
                f'"shipping_cost":{money(order.shipping_cost)},"coupon_amount":0,'
                f'"overpaid_amount":0,"total_paid_amount":{paid_total},'
                '"installment_amount":null,"deferred_period":null,'
                f'"date_approved":"{paid}","authorization_code":null,'
                f'"transaction_order_id":null,"date_created":"{created}",'
                f'"date_last_modified":"{updated if refunded else paid}"}}'
            )
        pack_id = _PACK_BASE + number if len(order.lines) > 1 else None
        tag_list = _TAGS_JSON[(tags, pack_id is not None)]
        mediations = (
            f'{{"id":{_MEDIATION_BASE + number % 1_000_000_000}}}' if status == "returned" else ""
        )
        fulfilled = "true" if status in {"shipped", "delivered", "returned"} else "null"
        lines = ",".join(self._line_json(line) for line in order.lines)
        text = (
            f'{{"id":{number},"date_created":"{created}","date_closed":{closed or "null"},'
            f'"last_updated":"{updated}","manufacturing_ending_date":null,"comment":null,'
            f'"pack_id":{pack_id or "null"},"pickup_id":null,"fulfilled":{fulfilled},'
            f'"total_amount":{money(total)},"paid_amount":{paid_total if closed else 0},'
            f'"coupon":{{"id":null,"amount":0}},"expiration_date":"{expires}",'
            f'"order_items":[{lines}],"currency_id":"{CURRENCY}","payments":[{payments}],'
            f'"shipping":{{"id":{shipment_id(number)}}},"status":"{ml_status}",'
            f'"status_detail":null,"tags":{tag_list},"mediations":[{mediations}],'
            f'"buyer":{{"id":{buyer.buyer_id},"nickname":{_string(buyer.nickname)},'
            f'"first_name":{_string(buyer.first_name)},"last_name":{_string(buyer.last_name)}}},'
            f'"seller":{{"id":{seller_id}}},"taxes":{{"amount":null,"currency_id":null,"id":null}},'
            f'"context":{{"channel":"marketplace","site":"{SITE_ID}","flows":[]}}}}'
        )
        return text.encode()

    def shipment(self, order: Order, step: int) -> dict[str, Any]:
        tz = ZoneInfo(order.seller.timezone)
        status, when = order.timeline[step]
        history = dict(order.timeline[: step + 1])
        state = order.buyer.state
        return {
            "id": shipment_id(order.order_number),
            "order_id": order.order_number,
            "mode": "me2",
            "logistic_type": "cross_docking",
            "status": _SHIPMENT_STATUS[status],
            "substatus": None,
            "date_created": iso_local(order.created_at, tz),
            "last_updated": iso_local(when, tz),
            "status_history": {
                "date_ready_to_ship": iso_local(history["paid"], tz) if "paid" in history else None,
                "date_shipped": iso_local(history["shipped"], tz) if "shipped" in history else None,
                "date_delivered": (
                    iso_local(history["delivered"], tz) if "delivered" in history else None
                ),
                "date_cancelled": (
                    iso_local(history["cancelled"], tz) if "cancelled" in history else None
                ),
            },
            "shipping_option": {
                "id": 1000 + order.order_number % 7,
                "name": "Normal",
                "cost": money(order.shipping_cost),
                "list_cost": money(order.shipping_cost),
                "currency_id": CURRENCY,
            },
            "receiver_address": {
                "city": {"name": order.buyer.city},
                "state": {"id": f"BR-{state}", "name": _STATE_NAMES.get(state, state)},
                "country": {"id": "BR", "name": "Brasil"},
            },
            "sender_id": int(order.seller.seller_id),
            "receiver_id": order.buyer.buyer_id,
        }
