"""Mercado Livre shapes of the World: the MLB category tree, items, orders, shipments and
their costs, Mercado Pago payments and buyers' questions.

Package-private to the Mercado Livre simulator. Shapes follow the saved payloads in
`shared/reference/payloads/mercadolivre/` and the documented examples in
`synchub_pipelines_tests/fixtures/payloads/mercadolivre/`; the World decides the values,
and what it does not hold is derived from ids with crc32, so it is stable for a seed:

- items: per seller, the first active listings in crc32("review:<listing>") order are
  `under_review` (sub_status waiting_for_patch), then `inactive` (held); an item with no
  stock left is `paused` by ML (out_of_stock);
- orders: `sale_fee` per unit (14 % classic, 19 % premium, rounded half up); one order in
  eight (crc32("coupon:<order>") % 8 == 0) has an ML-funded coupon of R$5/10/15/20, at
  most a third of the items; the buyer pays items − coupon + shipping; a cancelled or
  returned sale's payment is refunded (its items amount);
- shipments: the logistic type comes from the first line's listing, the handling deadline
  is 24 or 48 h after payment; the seller pays the list shipping price less ML's 50 %
  discount when the buyer paid no shipping, nothing otherwise, and a few delivered
  packages carry a re-measurement compensation;
- Mercado Pago releases the money 2 or 6 days after delivery (`money_release_status`).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
import zlib
from collections.abc import Callable
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
# The tags array of each (status tags, pack order?, coupon?) triple, ready to splice into
# an order.
_TAGS_JSON = {
    (tags, pack, coupon): json.dumps(
        [*(["order_has_discount"] if coupon else []), *tags, *(["pack_order"] if pack else [])]
    )
    for _, tags in _ORDER_STATUS.values()
    for pack in (False, True)
    for coupon in (False, True)
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
    # Keep in step with `line_fee`, which reads the same rule off the order line.
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


# The verdicts ML passes on some listings, in its own words (status, sub_status).
_REVIEWS = (("under_review", ("waiting_for_patch",)), ("inactive", ("held",)))


def _reviewed(world: World) -> dict[int, tuple[str, tuple[str, ...]]]:
    """Per seller, the first active listings in a seeded shuffle get ML's verdicts."""
    verdicts: dict[int, tuple[str, tuple[str, ...]]] = {}
    for seller in world.sellers_of(MARKETPLACE):
        active = [lst for lst in world.listings_of(seller) if lst.status == "active"]
        active.sort(key=lambda lst: _crc(f"review:{lst.listing_number}"))
        for listing, verdict in zip(active, _REVIEWS, strict=False):
            verdicts[listing.listing_number] = verdict
    return verdicts


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
        self.reviewed = _reviewed(world)
        # What the seller's writes lay over a rendered item or shipment (the simulator's
        # write desks set them): pictures, attributes as sent, ME1 tracking, invoices.
        self.item_overlay: Callable[[Listing, dict[str, Any]], dict[str, Any]] | None = None
        self.shipment_overlay: (
            Callable[[Order, dict[str, Any], ZoneInfo], dict[str, Any]] | None
        ) = None

    def count_sale(self, order: Order) -> None:
        if order.timeline[-1][0] == "cancelled":
            return
        for line in order.lines:
            self.sold[line.variation_number] = (
                self.sold.get(line.variation_number, 0) + line.quantity
            )

    # --- items ---------------------------------------------------------------------------

    def item_status(self, listing: Listing) -> tuple[str, list[str]]:
        """ML's verdict on the item: a few are under review or inactive, and an item with
        nothing left to sell is paused by ML itself (sub_status out_of_stock)."""
        if listing.status == "closed":  # the seller's word is final
            return "closed", []
        reviewed = self.reviewed.get(listing.listing_number)
        if reviewed is not None:
            return reviewed[0], list(reviewed[1])
        if not any(v.available_quantity for v in listing.variations):
            return "paused", ["out_of_stock"]
        return listing.status, []

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
        status, sub_status = self.item_status(listing)
        body: dict[str, Any] = {
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
                "logistic_type": logistic_type_of(number),
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
            "status": status,
            "sub_status": sub_status,
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
        return self.item_overlay(listing, body) if self.item_overlay else body

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
        money_ = order_money(order)
        total = money_.items
        local_created = order.created_at.astimezone(tz)
        created = local_created.isoformat(timespec="milliseconds")
        expires = (local_created + timedelta(days=28)).isoformat(timespec="milliseconds")
        updated = iso_local(when, tz)
        payments = closed = ""
        if paid_at is not None:
            paid = iso_local(paid_at, tz)
            closed = f'"{paid}"'
            refunded = status in {"cancelled", "returned"}
            payments = (
                f'{{"id":{payment_id(number)},"order_id":{number},'
                f'"payer_id":{buyer.buyer_id},"collector":{{"id":{seller_id}}},"card_id":null,'
                f'"site_id":"{SITE_ID}","reason":{_string(order.lines[0].title)},'
                '"payment_method_id":"pix","currency_id":"BRL","installments":1,'
                '"issuer_id":null,"coupon_id":null,"operation_type":"regular_payment",'
                '"payment_type":"bank_transfer",'
                f'"status":"{"refunded" if refunded else "approved"}","status_code":null,'
                f'"status_detail":"{"refunded" if refunded else "accredited"}",'
                f'"transaction_amount":{money(total)},'
                f'"transaction_amount_refunded":{money(total) if refunded else 0},'
                f'"taxes_amount":0,"shipping_cost":{money(order.shipping_cost)},'
                f'"coupon_amount":{money(money_.coupon)},"overpaid_amount":0,'
                f'"total_paid_amount":{money(money_.buyer_paid)},'
                f'"marketplace_fee":{money(money_.fees)},'
                '"installment_amount":null,"deferred_period":null,'
                f'"date_approved":"{paid}","authorization_code":null,'
                f'"transaction_order_id":null,"date_created":"{created}",'
                f'"date_last_modified":"{updated if refunded else paid}"}}'
            )
        pack_id = _PACK_BASE + number if len(order.lines) > 1 else None
        tag_list = _TAGS_JSON[(tags, pack_id is not None, bool(money_.coupon))]
        mediations = (
            f'{{"id":{_MEDIATION_BASE + number % 1_000_000_000}}}' if status == "returned" else ""
        )
        fulfilled = "true" if status in {"shipped", "delivered", "returned"} else "null"
        cancel_detail = "null"
        if status == "cancelled":
            cancel_detail = _cancel_detail(number, paid_at is not None, iso_local(when, tz))
        lines = ",".join(self._line_json(line) for line in order.lines)
        # ML funds its coupons: the seller's side of the order (paid_amount) is the items and
        # the buyer's shipping; the buyer's payment is net of the coupon.
        text = (
            f'{{"id":{number},"date_created":"{created}","date_closed":{closed or "null"},'
            f'"last_updated":"{updated}","manufacturing_ending_date":null,"comment":null,'
            f'"pack_id":{pack_id or "null"},"pickup_id":null,"fulfilled":{fulfilled},'
            f'"total_amount":{money(total)},'
            f'"paid_amount":{money(total + order.shipping_cost) if closed else 0},'
            f'"coupon":{{"id":{_COUPON_ID if money_.coupon else "null"},'
            f'"amount":{money(money_.coupon)}}},"expiration_date":"{expires}",'
            f'"order_items":[{lines}],"currency_id":"{CURRENCY}","payments":[{payments}],'
            f'"shipping":{{"id":{shipment_id(number)}}},"status":"{ml_status}",'
            f'"status_detail":null,"cancel_detail":{cancel_detail},"tags":{tag_list},'
            f'"mediations":[{mediations}],'
            f'"buyer":{{"id":{buyer.buyer_id},"nickname":{_string(buyer.nickname)},'
            f'"first_name":{_string(buyer.first_name)},"last_name":{_string(buyer.last_name)}}},'
            f'"seller":{{"id":{seller_id}}},"taxes":{{"amount":null,"currency_id":null,"id":null}},'
            f'"context":{{"channel":"marketplace","site":"{SITE_ID}","flows":[]}}}}'
        )
        return text.encode()

    # --- shipments -----------------------------------------------------------------------

    def _logistics(self, order: Order) -> Logistics:
        return logistics(order, self.variation_index[order.lines[0].variation_number][0])

    def shipment(self, order: Order, step: int) -> dict[str, Any]:
        """The legacy shape (no `x-format-new` header): order id, mode and logistic type at
        the top, `receiver_address`, `shipping_option`."""
        tz = ZoneInfo(order.seller.timezone)
        view = ShipmentView(order, step, self._logistics(order))
        state = order.buyer.state
        handling = _local_or_none(view.handling_limit, tz)
        body: dict[str, Any] = {
            "id": shipment_id(order.order_number),
            "order_id": order.order_number,
            "mode": "me2",
            "logistic_type": view.logistics.logistic_type,
            "status": view.status,
            "substatus": view.substatus,
            "date_created": iso_local(order.created_at, tz),
            "last_updated": iso_local(view.when, tz),
            "tracking_number": view.tracking_number,
            "tracking_method": view.tracking_method,
            "status_history": view.history(tz),
            "shipping_option": {
                "id": 1000 + order.order_number % 7,
                "name": "Normal",
                "cost": money(order.shipping_cost),
                "list_cost": money(shipping_costs(order, step).list_cost),
                "currency_id": CURRENCY,
                "estimated_handling_limit": {"date": handling} if handling else None,
            },
            "receiver_address": {
                "city": {"name": order.buyer.city},
                "state": {"id": f"BR-{state}", "name": _STATE_NAMES.get(state, state)},
                "country": {"id": "BR", "name": "Brasil"},
            },
            "sender_id": int(order.seller.seller_id),
            "receiver_id": order.buyer.buyer_id,
        }
        return self.shipment_overlay(order, body, tz) if self.shipment_overlay else body

    def shipment_new(self, order: Order, step: int) -> dict[str, Any]:
        """The documented new format (`x-format-new: true`): `logistic{}`, `origin{}`,
        `destination{}`, `lead_time{}`; no order id since October 2025."""
        tz = ZoneInfo(order.seller.timezone)
        view = ShipmentView(order, step, self._logistics(order))
        state = order.buyer.state
        handling = _local_or_none(view.handling_limit, tz)
        number = order.order_number
        body: dict[str, Any] = {
            "id": shipment_id(number),
            "external_reference": None,
            "status": view.status,
            "substatus": view.substatus,
            "date_created": iso_local(order.created_at, tz),
            "last_updated": iso_local(view.when, tz),
            "declared_value": money(order.total),
            "dimensions": {"height": 12, "width": 20, "length": 30, "weight": 800},
            "logistic": {
                "direction": "forward",
                "mode": "me2",
                "type": view.logistics.logistic_type,
            },
            "source": {"site_id": SITE_ID, "market_place": "MELI", "application_id": None},
            "tracking_number": view.tracking_number,
            "tracking_method": view.tracking_method,
            "origin": {
                "type": "selling_address",
                "sender_id": int(order.seller.seller_id),
                "shipping_address": {
                    "city": {"id": "BR-SP-44", "name": "São Paulo"},
                    "state": {"id": "BR-SP", "name": "São Paulo"},
                    "country": {"id": "BR", "name": "Brasil"},
                },
            },
            "destination": {
                "type": "buying_address",
                "receiver_id": order.buyer.buyer_id,
                "shipping_address": {
                    "city": {"id": None, "name": order.buyer.city},
                    "state": {"id": f"BR-{state}", "name": _STATE_NAMES.get(state, state)},
                    "country": {"id": "BR", "name": "Brasil"},
                },
            },
            "lead_time": {
                "shipping_method": {"id": 100009, "name": "Normal", "type": "standard"},
                "currency_id": CURRENCY,
                "cost": money(order.shipping_cost),
                "list_cost": money(shipping_costs(order, step).list_cost),
                "estimated_handling_limit": {"date": handling} if handling else None,
            },
            "status_history": view.history(tz),
            "tags": [],
            "delay": [],
        }
        return self.shipment_overlay(order, body, tz) if self.shipment_overlay else body

    def shipment_costs(self, order: Order, step: int) -> dict[str, Any]:
        costs = shipping_costs(order, step)
        sender: dict[str, Any] = {
            "user_id": int(order.seller.seller_id),
            "cost": money(costs.sender),
            "compensations": [],
            "save": money(costs.save),
            "discounts": [],
        }
        if costs.save:
            sender["discounts"] = [
                {
                    "rate": float(SHIPPING_DISCOUNT),
                    "type": "mandatory",
                    "promoted_amount": money(costs.save),
                }
            ]
        if costs.compensation:
            sender["compensations"] = [
                {
                    "amount": money(costs.compensation),
                    "reason": "incorrect_dimensions",
                    "comment": "Incorrect package dimensions",
                }
            ]
        return {
            "gross_amount": money(costs.list_cost),
            "receiver": {"user_id": order.buyer.buyer_id, "cost": money(costs.receiver)},
            "senders": [sender],
        }

    def shipment_items(self, order: Order) -> list[dict[str, Any]]:
        return [
            {
                "item_id": item_id(line.listing_number),
                "variation_id": line.variation_number
                if self.variation_index[line.variation_number][0].has_variations
                else None,
                "description": line.title,
                "quantity": line.quantity,
                "dimensions": None,
                "order_id": order.order_number,
            }
            for line in order.lines
        ]

    # --- Mercado Pago ----------------------------------------------------------------------

    def mp_payment(self, order: Order, now: datetime) -> dict[str, Any]:
        """GET /v1/payments/{id} as Mercado Pago shows the order's payment at `now`."""
        tz = ZoneInfo(order.seller.timezone)
        steps = dict(step for step in order.timeline if step[1] <= now)
        paid_at = steps["paid"]
        money_ = order_money(order)
        refunded_at = steps.get("cancelled") or steps.get("returned")
        released_at = money_release(order, steps.get("delivered"))
        released = released_at is not None and released_at <= now
        last = max(w for w in (paid_at, refunded_at, released_at if released else None) if w)
        fees = Decimal(0) if refunded_at else money_.fees
        refunds = []
        if refunded_at is not None:
            refunds = [
                {
                    "id": payment_id(order.order_number) + 7_000_000_000,
                    "payment_id": payment_id(order.order_number),
                    "amount": money(money_.items),
                    "status": "approved",
                    "date_created": iso_local(refunded_at, tz),
                }
            ]
        return {
            "id": payment_id(order.order_number),
            "date_created": iso_local(paid_at, tz),
            "date_approved": iso_local(paid_at, tz),
            "date_last_updated": iso_local(last, tz),
            "date_of_expiration": None,
            "money_release_date": _local_or_none(released_at, tz),
            "money_release_status": "released" if released else "pending",
            "money_release_schema": None,
            "operation_type": "regular_payment",
            "issuer_id": None,
            "payment_method_id": "pix",
            "payment_type_id": "bank_transfer",
            "status": "refunded" if refunded_at else "approved",
            "status_detail": "refunded" if refunded_at else "accredited",
            "currency_id": CURRENCY,
            "description": order.lines[0].title,
            "live_mode": True,
            "collector_id": int(order.seller.seller_id),
            "order": {"id": str(order.order_number), "type": "mercadolibre"},
            "external_reference": None,
            "transaction_amount": money(money_.items),
            "transaction_amount_refunded": money(money_.items) if refunded_at else 0,
            "coupon_amount": money(money_.coupon),
            "shipping_amount": money(order.shipping_cost),
            "taxes_amount": 0,
            "installments": 1,
            "transaction_details": {
                "net_received_amount": money(money_.items - fees),
                "total_paid_amount": money(money_.buyer_paid),
                "overpaid_amount": 0,
                "installment_amount": money(money_.buyer_paid),
                "external_resource_url": None,
                "financial_institution": None,
            },
            "fee_details": [
                {"amount": money(fees), "fee_payer": "collector", "type": "application_fee"}
            ]
            if fees
            else [],
            "captured": True,
            "refunds": refunds,
        }


# --- money, logistics and settlement derived from the World's order ---------------------------

_COUPON_ID = 90_000_001
_COUPONS = (Decimal(5), Decimal(10), Decimal(15), Decimal(20))
# Share of the list shipping price ML takes off the seller's free shipping (a "mandatory"
# discount, as in the compensations page's example).
SHIPPING_DISCOUNT = Decimal("0.5")
# Mercado Pago makes the money available 2 days after delivery (reputation, new product)
# or 6 days after (otherwise); the sandbox draws one per order.
RELEASE_DAYS = (2, 6)
HANDLING_HOURS = (24, 48)
_LOGISTIC_TYPES = (
    "fulfillment",
    "fulfillment",
    "drop_off",
    "drop_off",
    "drop_off",
    "xd_drop_off",
    "xd_drop_off",
    "cross_docking",
    "cross_docking",
    "self_service",
)
_CARRIERS = {
    "fulfillment": "Mercado Envios Full",
    "drop_off": "Correios",
    "xd_drop_off": "Mercado Envios Places",
    "cross_docking": "Mercado Envios Coleta",
    "self_service": "Mercado Envios Flex",
}
_CANCEL_REASONS = (
    ("buyer", "cancel_purchase_by_buyer", "Comprador se arrependeu"),
    ("seller", "out_of_stock", "Vendedor sem estoque"),
    ("buyer", "payment_not_approved", "Pagamento não aprovado"),
)


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def payment_id(order_number: int) -> int:
    return _PAYMENT_BASE + order_number - _ORDER_BASE


def order_number_of_payment(payment: int) -> int:
    return payment - _PAYMENT_BASE + _ORDER_BASE


@dataclass(frozen=True)
class OrderMoney:
    """The money of an order, exactly as ML's order and payment state it."""

    items: Decimal  # Σ unit_price × quantity
    coupon: Decimal  # coupon.amount (funded by ML)
    buyer_paid: Decimal  # total_paid_amount: items − coupon + shipping
    fees: Decimal  # Σ sale_fee × quantity


@functools.lru_cache(maxsize=65_536)
def _coupon(order_number: int, items: Decimal) -> Decimal:
    """One order in eight carries an ML coupon of R$5–20, never over a third of the items."""
    draw = _crc(f"coupon:{order_number}")
    if draw % 8:
        return Decimal(0)
    cap = (items / 3).quantize(Decimal("0.01"))
    return min(_COUPONS[draw // 8 % len(_COUPONS)], cap)


def order_money(order: Order) -> OrderMoney:
    items = order.total
    coupon = _coupon(order.order_number, items)
    fees = Decimal(0)
    for line in order.lines:
        fees += line_fee(line)
    return OrderMoney(items, coupon, items - coupon + order.shipping_cost, fees)


def line_fee(line: OrderLine) -> Decimal:
    """sale_fee is per unit: the line pays it once per unit sold."""
    kind = "gold_pro" if line.listing_number % 3 == 0 else "gold_special"
    return sale_fee(line.unit_price, kind) * line.quantity


@dataclass(frozen=True)
class Logistics:
    logistic_type: str
    carrier: str
    handling_hours: int
    release_days: int


def logistic_type_of(listing_number: int) -> str:
    """How a listing ships: some in ML's warehouses (Full), the rest by the seller."""
    return _LOGISTIC_TYPES[_crc(f"logistic:{listing_number}") % len(_LOGISTIC_TYPES)]


def logistics(order: Order, listing: Listing) -> Logistics:
    kind = logistic_type_of(listing.listing_number)
    draw = _crc(f"shipment:{order.order_number}")
    return Logistics(
        logistic_type=kind,
        carrier=_CARRIERS[kind],
        handling_hours=HANDLING_HOURS[draw % 2],
        release_days=RELEASE_DAYS[draw // 2 % 2],
    )


def money_release(order: Order, delivered_at: datetime | None) -> datetime | None:
    if delivered_at is None:
        return None
    days = RELEASE_DAYS[_crc(f"shipment:{order.order_number}") // 2 % 2]
    return delivered_at + timedelta(days=days)


def tracking_number(order: Order, kind: str) -> str:
    draw = _crc(f"tracking:{order.order_number}")
    if kind == "drop_off":
        letters = "".join(chr(65 + (draw >> shift) % 26) for shift in (0, 5))
        return f"{letters}{order.order_number % 1_000_000_000:09d}BR"
    return f"4{(order.order_number * 7919 + draw) % 10**10:010d}"


@dataclass(frozen=True)
class ShippingCosts:
    list_cost: Decimal  # gross_amount: the list price of the shipping
    receiver: Decimal  # what the buyer paid for it
    sender: Decimal  # what the seller pays, after ML's discount
    save: Decimal  # ML's discount to the seller
    compensation: Decimal  # carrier re-measured the package: charged to the seller


def shipping_costs(order: Order, step: int) -> ShippingCosts:
    """/shipments/{id}/costs for the step in force: gross = receiver + sender + save."""
    reached = {status for status, _ in order.timeline[: step + 1]}
    if order.shipping_cost > 0:
        return ShippingCosts(
            order.shipping_cost, order.shipping_cost, Decimal(0), Decimal(0), Decimal(0)
        )
    draw = _crc(f"list:{order.order_number}")
    list_cost = Decimal(1890 + draw % 2600) / 100
    if "cancelled" in reached and "shipped" not in reached:
        # A label cancelled before the carrier took the package costs nothing.
        return ShippingCosts(list_cost, Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    save = (list_cost * SHIPPING_DISCOUNT).quantize(Decimal("0.01"), ROUND_HALF_UP)
    compensation = Decimal(0)
    if "delivered" in reached and draw % 23 == 0:
        compensation = Decimal(500 + draw // 23 % 1500) / 100
    return ShippingCosts(list_cost, Decimal(0), list_cost - save, save, compensation)


def _local_or_none(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return None if moment is None else iso_local(moment, tz)


def _cancel_detail(number: int, paid: bool, when: str) -> str:
    requested_by, code, description = _CANCEL_REASONS[
        (0 if paid else 2) if _crc(f"cancel:{number}") % 3 else 1
    ]
    return dumps(
        {
            "group": "respondent" if requested_by == "buyer" else "seller",
            "code": code,
            "description": description,
            "requested_by": requested_by,
            "date": when,
            "application_id": None,
        }
    ).decode()


# World status → (ML shipment status, substatus) while that step is in force. A return is
# a claim on a delivered package: the forward shipment stays delivered, with the return date.
_SHIPMENT_STEP = {
    "pending": ("pending", None),
    "paid": ("ready_to_ship", "ready_to_print"),
    "shipped": ("shipped", None),
    "delivered": ("delivered", None),
    "returned": ("delivered", None),
    "cancelled": ("cancelled", None),
}


class ShipmentView:
    """What an order's shipment shows while `order.timeline[step]` is in force."""

    def __init__(self, order: Order, step: int, logistics: Logistics) -> None:
        self.order = order
        self.logistics = logistics
        status, self.when = order.timeline[step]
        self.steps = dict(order.timeline[: step + 1])
        self.status, self.substatus = _SHIPMENT_STEP[status]
        if status == "paid" and logistics.logistic_type == "fulfillment":
            self.substatus = "in_warehouse"
        paid = self.steps.get("paid")
        self.handling_limit = (
            paid + timedelta(hours=logistics.handling_hours) if paid is not None else None
        )
        # A label exists once paid, unless the sale was undone before the carrier took it.
        labelled = "shipped" in self.steps or (paid is not None and "cancelled" not in self.steps)
        self.tracking_number = tracking_number(order, logistics.logistic_type) if labelled else None
        self.tracking_method = logistics.carrier if labelled else None

    def history(self, tz: ZoneInfo) -> dict[str, str | None]:
        def at(status: str) -> str | None:
            moment = self.steps.get(status)
            return None if moment is None else iso_local(moment, tz)

        return {
            "date_handling": at("paid"),
            "date_ready_to_ship": at("paid"),
            "date_shipped": at("shipped"),
            "date_first_visit": None,
            "date_delivered": at("delivered"),
            "date_not_delivered": None,
            "date_returned": at("returned"),
            "date_cancelled": at("cancelled"),
        }


# --- questions -------------------------------------------------------------------------------

_QUESTION_BASE = 13_000_000_000
_QUESTION_TEXTS = (
    "Tem pronta entrega?",
    "Qual o prazo de entrega para o meu CEP?",
    "Vem com nota fiscal?",
    "Qual é o material?",
    "Tem em outra cor?",
    "É original?",
    "Serve para presente? Vem na caixa?",
    "Qual a garantia?",
)
_ANSWER_TEXTS = (
    "Olá! Sim, temos pronta entrega. Obrigado pela pergunta!",
    "Olá, enviamos com nota fiscal. Qualquer dúvida estamos à disposição.",
    "Bom dia! O prazo aparece no anúncio ao informar o seu CEP.",
    "Olá! Temos sim, confira as variações do anúncio.",
    "Olá! A garantia é de 90 dias contra defeitos de fabricação.",
)
# How a generated question ends, by share of 100: most get an answer, some wait, a few are
# moderated (the question or the answer banned, the question held for review, deleted).
_QUESTION_PLANS = (
    (58, "answered"),
    (80, "unanswered"),
    (85, "answer_banned"),
    (90, "banned"),
    (95, "under_review"),
    (100, "deleted"),
)
# Seller response times: minutes, hours, most of a day, a few days.
_ANSWER_DELAYS = ((5, 60), (60, 360), (360, 1440), (1440, 4320))


@dataclass
class BookQuestion:
    question_id: int
    listing: Listing
    asked_at: datetime
    buyer_id: int
    text: str
    plan: str
    answered_at: datetime | None = None
    answer_text: str | None = None


def _plan(draw: int) -> str:
    share = draw % 100
    return next(plan for upper, plan in _QUESTION_PLANS if share < upper)


class QuestionBook:
    """Buyers' questions on the World's Mercado Livre listings, from the World's history
    (deterministic for a seed) plus the ones asked and answered while the sandbox runs."""

    def __init__(self, world: World) -> None:
        self.by_id: dict[int, BookQuestion] = {}
        span = max(1, world.size.days) * 24 * 60
        number = _QUESTION_BASE
        for listing in sorted(world.listings, key=lambda lst: lst.listing_number):
            if listing.seller.marketplace != MARKETPLACE:
                continue
            for index in range(_crc(f"{world.seed}:questions:{listing.listing_number}") % 7):
                draw = _crc(f"{world.seed}:question:{listing.listing_number}:{index}")
                number += 1
                asked = world.anchor - timedelta(minutes=draw % span, seconds=draw % 60)
                question = BookQuestion(
                    question_id=number,
                    listing=listing,
                    asked_at=asked,
                    buyer_id=100_000_000 + draw % 900_000_000,
                    text=_QUESTION_TEXTS[draw // 7 % len(_QUESTION_TEXTS)],
                    plan=_plan(draw // 11),
                )
                if question.plan in {"answered", "answer_banned"}:
                    low, high = _ANSWER_DELAYS[draw // 13 % len(_ANSWER_DELAYS)]
                    delay = timedelta(minutes=low + draw // 17 % (high - low))
                    question.answered_at = asked + delay
                    question.answer_text = (
                        _ANSWER_TEXTS[draw // 19 % len(_ANSWER_TEXTS)]
                        if question.plan == "answered"
                        else ""
                    )
                self.by_id[number] = question
        self.next_id = number + 1

    def of_seller(self, seller_id: int, now: datetime) -> list[BookQuestion]:
        return [
            q
            for q in self.by_id.values()
            if int(q.listing.seller.seller_id) == seller_id and q.asked_at <= now
        ]

    def ask(self, listing: Listing, text: str, buyer_id: int, now: datetime) -> BookQuestion:
        question = BookQuestion(self.next_id, listing, now, buyer_id, text, "unanswered")
        self.by_id[question.question_id] = question
        self.next_id += 1
        return question

    @staticmethod
    def answer(question: BookQuestion, text: str, now: datetime) -> None:
        question.plan = "answered"
        question.answered_at = now
        question.answer_text = text

    @staticmethod
    def status_at(question: BookQuestion, now: datetime) -> str:
        plan = question.plan
        answered = question.answered_at is not None and question.answered_at <= now
        if plan in {"answered", "answer_banned"}:
            return "ANSWERED" if answered else "UNANSWERED"
        return {
            "unanswered": "UNANSWERED",
            "banned": "BANNED",
            "under_review": "UNDER_REVIEW",
            "deleted": "DELETED",
        }[plan]

    def render(self, question: BookQuestion, now: datetime) -> dict[str, Any]:
        """A question as `api_version=4` shows it (the official example's fields)."""
        tz = ZoneInfo(question.listing.seller.timezone)
        status = self.status_at(question, now)
        answer = None
        if status == "ANSWERED" and question.answered_at is not None:
            answer = {
                "text": question.answer_text or "",
                "status": "BANNED" if question.plan == "answer_banned" else "ACTIVE",
                "date_created": iso_local(question.answered_at, tz),
            }
        return {
            "date_created": iso_local(question.asked_at, tz),
            "item_id": item_id(question.listing.listing_number),
            "seller_id": int(question.listing.seller.seller_id),
            "status": status,
            "text": "" if status == "BANNED" else question.text,
            "id": question.question_id,
            "deleted_from_listing": question.plan == "deleted",
            "hold": question.plan == "under_review",
            "suspected_spam": False,
            "answer": answer,
            "from": {"id": question.buyer_id},
        }
