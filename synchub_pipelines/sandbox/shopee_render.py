"""Shopee Open Platform v2 shapes of the sandbox World: ids, items, models, orders, categories.

Everything here is a pure function of the World (and of the status step an order is in), so
`shopee.py` keeps the protocol (signing, tokens, paging, caching) and this module keeps the
payload shapes of the official doc samples (`congminh1254/shopee-sdk:schemas/v2.*.json`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from synchub_pipelines.sandbox.world import (
    Buyer,
    Listing,
    ListingVariation,
    Order,
    OrderLine,
    Product,
    World,
)

REGION = "BR"
CURRENCY = "BRL"
LOCATION_ID = "BRZ"  # the one seller warehouse of a local BR shop
DAYS_TO_SHIP = 2
LOGISTICS_CHANNEL = (90024, "Shopee Xpress")
# Instant delivery appends its service code to the carrier (v2.order.get_order_detail).
TURBO_CHANNEL = (90026, "Entrega Turbo - M1020")
# Fulfilled by Shopee (BR): logistic_id 91007, fulfillment_flag fulfilled_by_shopee.
FBS_CHANNEL = (91007, "Shopee Xpress")
# BR Seller Logistics: the seller ships and types the tracking number (ship_order's
# non_integrated); the order turns PROCESSED once arranged (v2.logistics.ship_order doc).
SELLER_CHANNEL = (90021, "Entrega pelo Vendedor")
COMMISSION_RATE = Decimal("0.14")
SERVICE_FEE_RATE = Decimal("0.06")
AFFILIATE_RATE = Decimal("0.05")
SHIPPING_PROTECTION_FEE = Decimal("0.99")
SELLER_VOUCHER = Decimal("5.00")
SHOPEE_VOUCHER = Decimal("8.00")
COINS = Decimal("1.50")
# Shopee's shipping subsidy caps at this much per order.
MAX_SHIPPING_REBATE = Decimal("20.00")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The escrow is released when the buyer confirms receipt, at the latest 7 days after
# delivery (jittered by up to 2 days here), or 3 days after a return is resolved.
RELEASE_DAYS = 7
RELEASE_JITTER_HOURS = 48
RETURN_RESOLUTION_DAYS = 3

# Item ids are 11 digits like real ones; the listing number stays readable inside.
ITEM_ID_BASE = 20_000_000_000

SHOPEE_STATUS = {
    "pending": "UNPAID",
    "paid": "READY_TO_SHIP",
    "shipped": "SHIPPED",
    "delivered": "COMPLETED",
    "cancelled": "CANCELLED",
    "returned": "TO_RETURN",
}
ORDER_STATUSES = frozenset(
    {
        "UNPAID",
        "READY_TO_SHIP",
        "PROCESSED",
        "SHIPPED",
        "TO_CONFIRM_RECEIVE",
        "COMPLETED",
        "IN_CANCEL",
        "CANCELLED",
        "TO_RETURN",
        "INVOICE_PENDING",
        "RETRY_SHIP",
    }
)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _digest(text: str, size: int = 8) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def _pick(key: str, count: int) -> int:
    return zlib.crc32(key.encode()) % count


# --- ids -------------------------------------------------------------------------------


def item_id_of(listing: Listing) -> int:
    return ITEM_ID_BASE + listing.listing_number


# An order_sn is YYMMDD (creation day, shop time zone) + 8 base-36 characters. The body is
# the order number times a unit mod 36**8, so it looks random yet decodes without a table.
_SN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SN_MODULUS = 36**8
_SN_MULTIPLIER = 2_654_435_761  # coprime to 36
_SN_INVERSE = pow(_SN_MULTIPLIER, -1, _SN_MODULUS)
_SN_PATTERN = re.compile(r"^\d{6}[0-9A-Z]{8}$")


def order_sn(order: Order) -> str:
    local = order.created_at.astimezone(ZoneInfo(order.seller.timezone))
    day = f"{local.year % 100:02d}{local.month:02d}{local.day:02d}"
    body = order.order_number * _SN_MULTIPLIER % _SN_MODULUS
    chars = []
    for _ in range(8):
        body, digit = divmod(body, 36)
        chars.append(_SN_ALPHABET[digit])
    return day + "".join(reversed(chars))


def order_number_candidates(sn: str) -> tuple[int, ...]:
    """Order numbers whose order_sn could be `sn` (the caller confirms by re-deriving it)."""
    if not _SN_PATTERN.match(sn):
        return ()
    body = 0
    for char in sn[6:]:
        body = body * 36 + _SN_ALPHABET.index(char)
    residue = body * _SN_INVERSE % _SN_MODULUS
    return (residue, residue + _SN_MODULUS)


# --- categories and attributes -----------------------------------------------------------

_ENGLISH = {
    "Moda": "Fashion",
    "Camisetas": "T-Shirts",
    "Moletons": "Hoodies & Sweatshirts",
    "Meias": "Socks",
    "Calçados": "Shoes",
    "Tênis": "Sneakers",
    "Casa": "Home & Living",
    "Garrafas": "Bottles & Flasks",
    "Cozinha": "Cookware",
    "Iluminação": "Lighting",
    "Eletroportáteis": "Small Appliances",
    "Eletrônicos": "Electronics",
    "Fones": "Earphones & Headsets",
    "Carregadores": "Chargers",
    "Acessórios": "Accessories",
    "Mochilas": "Backpacks",
    "Esporte": "Sports & Outdoors",
    "Yoga": "Yoga & Pilates",
}

# input_type / input_validation_type / format_type codes as v2.product.get_attribute_tree
# documents them.
SINGLE_DROP_DOWN, SINGLE_COMBO_BOX, FREE_TEXT_FILED, MULTI_DROP_DOWN, MULTI_COMBO_BOX = (
    1,
    2,
    3,
    4,
    5,
)
NO_VALIDATE, INT_TYPE, STRING_TYPE, FLOAT_TYPE = 0, 1, 2, 3
FORMAT_NORMAL, FORMAT_QUANTITATIVE_WITH_UNIT = 1, 2


@dataclass(frozen=True)
class AttributeSpec:
    attribute_id: int
    name_en: str
    name_pt: str
    input_type: int
    validation: int = NO_VALIDATE
    units: tuple[str, ...] = ()
    values: tuple[tuple[str, str], ...] = ()  # (english, portuguese)
    max_value_count: int = 1
    sample: str = ""  # what a seller types into a free-text attribute
    children: dict[int, tuple[AttributeSpec, ...]] = field(default_factory=dict)  # by value idx

    def value_id(self, index: int) -> int:
        return self.attribute_id * 100 + index + 1


_OTHER_ORIGIN = AttributeSpec(
    100012, "Specify Country", "Especificar País", FREE_TEXT_FILED, STRING_TYPE, sample="Vietnã"
)
ORIGIN = AttributeSpec(
    100011,
    "Country of Origin",
    "País de Origem",
    SINGLE_DROP_DOWN,
    values=(
        ("Brazil", "Brasil"),
        ("China", "China"),
        ("United States", "Estados Unidos"),
        ("Other", "Outro"),
    ),
    children={3: (_OTHER_ORIGIN,)},
)
NET_WEIGHT = AttributeSpec(
    100020, "Net Weight", "Peso Líquido", FREE_TEXT_FILED, FLOAT_TYPE, units=("g", "kg")
)
WARRANTY = AttributeSpec(
    100030,
    "Warranty Duration",
    "Prazo de Garantia",
    SINGLE_COMBO_BOX,
    values=(("3 months", "3 meses"), ("6 months", "6 meses"), ("12 months", "12 meses")),
)
GENDER = AttributeSpec(
    100041,
    "Gender",
    "Gênero",
    SINGLE_DROP_DOWN,
    values=(("Male", "Masculino"), ("Female", "Feminino"), ("Unisex", "Unissex")),
)
STYLE = AttributeSpec(
    100042,
    "Style",
    "Estilo",
    MULTI_COMBO_BOX,
    values=(("Casual", "Casual"), ("Sporty", "Esportivo"), ("Basic", "Básico")),
    max_value_count=3,
)
CLOSURE = AttributeSpec(
    100043,
    "Closure Type",
    "Tipo de Fechamento",
    SINGLE_DROP_DOWN,
    values=(("Lace-up", "Cadarço"), ("Velcro", "Velcro"), ("Slip-on", "Sem fecho")),
)
VOLTAGE = AttributeSpec(
    100050,
    "Voltage",
    "Voltagem",
    SINGLE_DROP_DOWN,
    values=(("Bivolt", "Bivolt"), ("110V", "110V"), ("220V", "220V")),
)
POWER = AttributeSpec(
    100051, "Power Output", "Potência", FREE_TEXT_FILED, INT_TYPE, units=("W",), sample="20"
)
CONNECTIVITY = AttributeSpec(
    100052,
    "Connectivity",
    "Conectividade",
    MULTI_DROP_DOWN,
    values=(("Bluetooth", "Bluetooth"), ("USB-C", "USB-C"), ("3.5mm Jack", "P2")),
    max_value_count=3,
)
CAPACITY = AttributeSpec(
    100060, "Capacity", "Capacidade", FREE_TEXT_FILED, FLOAT_TYPE, units=("ml", "L"), sample="500"
)
THICKNESS = AttributeSpec(
    100071, "Thickness", "Espessura", FREE_TEXT_FILED, FLOAT_TYPE, units=("mm", "cm"), sample="6"
)


def _material(attribute_id: int, values: tuple[tuple[str, str], ...]) -> AttributeSpec:
    return AttributeSpec(
        attribute_id, "Material", "Material", MULTI_DROP_DOWN, values=values, max_value_count=3
    )


_TEXTILE = _material(
    100040,
    (
        ("Cotton", "Algodão"),
        ("Polyester", "Poliéster"),
        ("Spandex", "Elastano"),
        ("Viscose", "Viscose"),
    ),
)
_SHOE = _material(
    100044, (("Fabric", "Tecido"), ("Synthetic Leather", "Couro Sintético"), ("Rubber", "Borracha"))
)
_HOME = _material(
    100061,
    (
        ("Stainless Steel", "Aço Inox"),
        ("Aluminium", "Alumínio"),
        ("Plastic", "Plástico"),
        ("Glass", "Vidro"),
    ),
)
_BAG = _material(
    100070,
    (("Polyester", "Poliéster"), ("Nylon", "Nylon"), ("Synthetic Leather", "Couro Sintético")),
)
_SPORT = _material(100072, (("EVA", "EVA"), ("Rubber", "Borracha"), ("TPE", "TPE")))

# (attribute, mandatory) by top-level category, then extra ones by leaf.
_BY_TOP: dict[str, tuple[tuple[AttributeSpec, bool], ...]] = {
    "Moda": ((_TEXTILE, True), (GENDER, True), (STYLE, False)),
    "Calçados": ((_SHOE, True), (GENDER, True), (CLOSURE, False)),
    "Eletrônicos": ((WARRANTY, True),),
    "Casa": ((_HOME, False),),
    "Acessórios": ((_BAG, True), (GENDER, False)),
    "Esporte": ((_SPORT, True),),
}
_BY_LEAF: dict[str, tuple[tuple[AttributeSpec, bool], ...]] = {
    "Fones": ((CONNECTIVITY, True),),
    "Carregadores": ((POWER, True),),
    "Eletroportáteis": ((VOLTAGE, True), (WARRANTY, True)),
    "Iluminação": ((VOLTAGE, True), (WARRANTY, False)),
    "Garrafas": ((CAPACITY, False),),
    "Cozinha": ((CAPACITY, False),),
    "Yoga": ((THICKNESS, False),),
}


@dataclass(frozen=True)
class Category:
    category_id: int
    parent_category_id: int
    name_pt: str
    name_en: str
    has_children: bool
    attributes: tuple[tuple[AttributeSpec, bool], ...] = ()


def _words(text: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return {w for w in re.findall(r"[a-z0-9]+", plain) if len(w) > 2}


class CategoryTree:
    """A two-level Shopee category tree built from the World's internal category paths."""

    def __init__(self, paths: Iterable[str], keywords: dict[str, set[str]]) -> None:
        taken: set[int] = set()

        def claim(first: int, span: int, key: str) -> int:
            # Ids hash the name (stable across world sizes); collisions probe onward.
            candidate = first + zlib.crc32(key.encode()) % span
            while candidate in taken:
                candidate += 1
            taken.add(candidate)
            return candidate

        self.categories: list[Category] = []
        self.leaf_by_path: dict[str, Category] = {}
        self._keywords: dict[int, set[str]] = {}
        tops: dict[str, int] = {}
        for path in sorted(set(paths)):
            top, _, leaf = (part.strip() for part in path.partition(">"))
            if top not in tops:
                tops[top] = claim(100_000, 900, top)
                self.categories.append(
                    Category(tops[top], 0, top, _ENGLISH.get(top, top), has_children=True)
                )
            leaf = leaf or top
            attributes = ((ORIGIN, True), *_BY_TOP.get(top, ()), *_BY_LEAF.get(leaf, ()))
            attributes += ((NET_WEIGHT, False),)
            category = Category(
                claim(101_000, 99_000, path),
                tops[top],
                leaf,
                _ENGLISH.get(leaf, leaf),
                has_children=False,
                attributes=attributes,
            )
            self.categories.append(category)
            self.leaf_by_path[path] = category
            self._keywords[category.category_id] = _words(
                f"{leaf} {category.name_en}"
            ) | keywords.get(path, set())
        self.by_id = {c.category_id: c for c in self.categories}

    def render_list(self, language: str) -> list[dict[str, Any]]:
        return [
            {
                "category_id": c.category_id,
                "parent_category_id": c.parent_category_id,
                "original_category_name": c.name_en,
                "display_category_name": c.name_pt if language == "pt-br" else c.name_en,
                "has_children": c.has_children,
            }
            for c in self.categories
        ]

    def render_attribute_tree(self, category: Category, language: str) -> list[dict[str, Any]]:
        return [
            _attribute_node(spec, mandatory, language) for spec, mandatory in category.attributes
        ]

    def recommend(self, item_name: str) -> list[int]:
        words = _words(item_name)
        scored = sorted(
            ((len(words & kw), cid) for cid, kw in self._keywords.items() if words & kw),
            key=lambda pair: (-pair[0], pair[1]),
        )
        return [cid for _, cid in scored[:3]]


def _translations(english: str, portuguese: str, language: str) -> list[dict[str, str]]:
    return [] if language == "en" else [{"language": language, "value": portuguese}]


def _attribute_node(spec: AttributeSpec, mandatory: bool, language: str) -> dict[str, Any]:
    values = []
    for index, (english, portuguese) in enumerate(spec.values):
        values.append(
            {
                "value_id": spec.value_id(index),
                "name": english,
                "value_unit": "",
                "child_attribute_list": [
                    _attribute_node(child, True, language) for child in spec.children.get(index, ())
                ],
                "multi_lang": _translations(english, portuguese, language),
            }
        )
    return {
        "attribute_id": spec.attribute_id,
        "mandatory": mandatory,
        "name": spec.name_en,
        "attribute_value_list": values,
        "attribute_info": {
            "input_type": spec.input_type,
            "input_validation_type": spec.validation,
            "format_type": FORMAT_QUANTITATIVE_WITH_UNIT if spec.units else FORMAT_NORMAL,
            "date_format_type": 0,
            "attribute_unit_list": list(spec.units),
            "max_value_count": spec.max_value_count,
            "introduction": "",
            "is_oem": False,
            "support_search_value": False,
        },
        "multi_lang": _translations(spec.name_en, spec.name_pt, language),
    }


# --- items and models ----------------------------------------------------------------------

_TIER_NAMES = {"COLOR": "Cor", "SIZE": "Tamanho"}


def _image(key: str) -> tuple[str, str]:
    image_id = f"br-11134207-7r98o-{_digest(key, 12)}"
    return image_id, f"https://down-br.img.susercontent.com/file/{image_id}"


def _dimension(product: Product) -> dict[str, int]:
    grams = product.weight_g
    return {
        "package_length": 12 + grams // 80 % 40,
        "package_width": 10 + grams // 150 % 25,
        "package_height": 3 + grams // 300 % 20,
    }


def _kg(grams: int) -> str:
    return f"{grams / 1000:.2f}"


def _stock_info(quantity: int) -> dict[str, Any]:
    return {
        "summary_info": {"total_reserved_stock": 0, "total_available_stock": quantity},
        "seller_stock": [{"location_id": LOCATION_ID, "stock": quantity, "if_saleable": True}],
        "shopee_stock": [],
    }


def _price_info(price: Decimal) -> list[dict[str, Any]]:
    value = money(price)
    return [
        {
            "currency": CURRENCY,
            "original_price": value,
            "current_price": value,
            "inflated_price_of_original_price": value,
            "inflated_price_of_current_price": value,
        }
    ]


# get_item_violation_info's words (violation types as the doc lists them).
_VIOLATIONS = (
    ("Prohibited Listing", "License Reason", "Upload license"),
    (
        "Counterfeit and IP Infringement",
        "Brand authorization missing",
        "Upload the brand authorization letter",
    ),
    ("Insufficient Information", "Missing product specifications", "Complete the attributes"),
)
_REVIEW = ("Other Listing Improvement", "Listing under review", "Wait for the review result")


class Catalog:
    """Shopee views of the World's listings (items and models) and its category tree."""

    def __init__(self, world: World) -> None:
        self.world = world
        by_parent: dict[str, list[Product]] = {}
        for product in world.products:
            by_parent.setdefault(product.parent_sku, []).append(product)
        # A listing's variations were generated in its parent's product order.
        self._product_of: dict[int, Product] = {}
        self._variations: dict[int, tuple[Listing, ListingVariation]] = {}
        self._covers: dict[int, str] = {}
        keywords: dict[str, set[str]] = {}
        for listing in world.listings:
            for variation, product in zip(
                listing.variations, by_parent[listing.parent_sku], strict=False
            ):
                self._product_of[variation.variation_number] = product
                self._variations[variation.variation_number] = (listing, variation)
            keywords.setdefault(listing.category, set()).update(_words(listing.title))
        for product in world.products:
            keywords.setdefault(product.category, set()).update(_words(product.name))
        self.categories = CategoryTree(keywords.keys(), keywords)
        self._held = self._hold_some(world)

    def product_of(self, variation: ListingVariation) -> Product:
        return self._product_of[variation.variation_number]

    def variation(self, variation_number: int) -> tuple[Listing, ListingVariation]:
        return self._variations[variation_number]

    def cover_url(self, listing: Listing) -> str:
        url = self._covers.get(listing.listing_number)
        if url is None:
            url = self._covers[listing.listing_number] = _image(f"{listing.listing_number}:0")[1]
        return url

    def category_of(self, listing: Listing) -> Category:
        return self.categories.leaf_by_path[listing.category]

    def tiers(self, listing: Listing) -> tuple[list[dict[str, Any]], dict[int, list[int]]]:
        """tier_variation and each model's tier_index, from the variations' attributes."""
        names: list[str] = []
        options: dict[str, list[str]] = {}
        for variation in listing.variations:
            for name, value in variation.attributes:
                if name not in options:
                    names.append(name)
                    options[name] = []
                if value not in options[name]:
                    options[name].append(value)
        tier_variation = []
        for position, name in enumerate(names):
            option_list: list[dict[str, Any]] = []
            for option in options[name]:
                entry: dict[str, Any] = {"option": option}
                if position == 0:  # only the first tier carries images on Shopee
                    image_id, url = _image(f"{listing.listing_number}:{option}")
                    entry["image"] = {"image_id": image_id, "image_url": url}
                option_list.append(entry)
            tier_variation.append(
                {"name": _TIER_NAMES.get(name, name.title()), "option_list": option_list}
            )
        tier_index = {}
        for variation in listing.variations:
            values = dict(variation.attributes)
            tier_index[variation.variation_number] = [
                options[name].index(values[name]) if name in values else 0 for name in names
            ]
        return tier_variation, tier_index

    def model_name(self, listing: Listing, variation: ListingVariation) -> str:
        if not listing.has_variations:
            return ""
        return ",".join(value for _, value in variation.attributes)

    def item_status(self, listing: Listing) -> str:
        held = self._held.get(listing.listing_number)
        if held is not None:
            return held[0]
        return "NORMAL" if listing.status == "active" else "UNLIST"

    def violation(self, listing: Listing) -> tuple[str, str, str] | None:
        """(violation_type, violation_reason, suggestion) of a banned or reviewed item."""
        held = self._held.get(listing.listing_number)
        return held[1] if held is not None else None

    def _hold_some(self, world: World) -> dict[int, tuple[str, tuple[str, str, str]]]:
        """A few items per shop Shopee banned or is reviewing: the two lowest by a hash of
        the listing number, then about one in forty more."""
        held: dict[int, tuple[str, tuple[str, str, str]]] = {}
        for seller in world.sellers_of("shopee"):
            ranked = sorted(
                world.listings_of(seller),
                key=lambda lst: _pick(f"{lst.listing_number}:held", 2**31),
            )
            if len(ranked) < 5:
                continue
            for rank, listing in enumerate(ranked):
                number = listing.listing_number
                if rank == 1:
                    held[number] = ("REVIEWING", _REVIEW)
                elif rank == 0 or _pick(f"{number}:banned", 40) == 0:
                    held[number] = ("BANNED", _VIOLATIONS[_pick(f"{number}:why", len(_VIOLATIONS))])
        return held

    def _attribute_list(self, listing: Listing, category: Category) -> list[dict[str, Any]]:
        product = self.product_of(listing.variations[0])
        rendered = []
        for spec, mandatory in category.attributes:
            if not mandatory and spec is not NET_WEIGHT:
                continue
            if spec is NET_WEIGHT:
                value = {
                    "value_id": 0,
                    "original_value_name": str(product.weight_g),
                    "value_unit": "g",
                }
            elif spec.values:
                # Values with child attributes ("Other: specify") are left to real sellers.
                plain = [i for i in range(len(spec.values)) if i not in spec.children]
                index = plain[_pick(f"{listing.listing_number}:{spec.attribute_id}", len(plain))]
                value = {
                    "value_id": spec.value_id(index),
                    "original_value_name": spec.values[index][0],
                    "value_unit": "",
                }
            else:
                value = {
                    "value_id": 0,
                    "original_value_name": spec.sample,
                    "value_unit": spec.units[0] if spec.units else "",
                }
            rendered.append(
                {
                    "attribute_id": spec.attribute_id,
                    "original_attribute_name": spec.name_en,
                    "is_mandatory": mandatory,
                    "attribute_value_list": [value],
                }
            )
        return rendered

    def item_base_info(self, listing: Listing, update_time: int) -> dict[str, Any]:
        category = self.category_of(listing)
        first = listing.variations[0]
        product = self.product_of(first)
        heaviest = max((self.product_of(v) for v in listing.variations), key=lambda p: p.weight_g)
        image_ids, image_urls = zip(
            *(_image(f"{listing.listing_number}:{n}") for n in range(3)), strict=True
        )
        item: dict[str, Any] = {
            "item_id": item_id_of(listing),
            "category_id": category.category_id,
            "item_name": listing.title,
            "description": f"{listing.title}. Marca {product.brand}. Produto novo, com NF.",
            "item_sku": "" if listing.has_variations else (first.sku or ""),
            "create_time": ts(listing.created_at),
            "update_time": update_time,
            "attribute_list": self._attribute_list(listing, category),
            "image": {"image_url_list": list(image_urls), "image_id_list": list(image_ids)},
            "weight": _kg(heaviest.weight_g),
            "dimension": _dimension(heaviest),
            "logistic_info": [
                {
                    "logistic_id": LOGISTICS_CHANNEL[0],
                    "logistic_name": LOGISTICS_CHANNEL[1],
                    "enabled": True,
                    "is_free": False,
                    "estimated_shipping_fee": money(Decimal(heaviest.weight_g) / 100 + 9),
                }
            ],
            "pre_order": {"is_pre_order": False, "days_to_ship": DAYS_TO_SHIP},
            "condition": "NEW",
            "size_chart": "",
            "item_status": self.item_status(listing),
            "deboost": False,
            "has_model": listing.has_variations,
            "promotion_id": 0,
            "brand": {
                "brand_id": 1_000_000 + zlib.crc32(product.brand.encode()) % 9_000_000,
                "original_brand_name": product.brand,
            },
            "item_dangerous": 0,
            "description_type": "normal",
            "tag": {"kit": product.is_kit},
        }
        # The doc: price (and stock) of an item with models live on its models only.
        if not listing.has_variations:
            item["price_info"] = _price_info(first.price)
            item["stock_info_v2"] = _stock_info(first.available_quantity)
            item["gtin_code"] = product.gtin
        return item

    def model_list(self, listing: Listing) -> dict[str, Any]:
        if not listing.has_variations:
            return {"tier_variation": [], "model": [], "standardise_tier_variation": []}
        tier_variation, tier_index = self.tiers(listing)
        models = []
        for variation in listing.variations:
            product = self.product_of(variation)
            models.append(
                {
                    "model_id": variation.variation_number,
                    "tier_index": tier_index[variation.variation_number],
                    "promotion_id": 0,
                    "has_promotion": False,
                    "model_sku": variation.sku or "",
                    "model_status": "MODEL_NORMAL",
                    "price_info": _price_info(variation.price),
                    "stock_info_v2": _stock_info(variation.available_quantity),
                    "pre_order": {"is_pre_order": False, "days_to_ship": DAYS_TO_SHIP},
                    "gtin_code": product.gtin,
                    "weight": _kg(product.weight_g),
                    "dimension": _dimension(product),
                    "is_fulfillment_by_shopee": False,
                }
            )
        return {
            "tier_variation": tier_variation,
            "model": models,
            "standardise_tier_variation": [],
        }


# --- orders ----------------------------------------------------------------------------------

# What get_order_detail's response_optional_fields may ask for (others are ignored).
OPTIONAL_ORDER_FIELDS = frozenset(
    {
        "buyer_user_id",
        "buyer_username",
        "estimated_shipping_fee",
        "recipient_address",
        "actual_shipping_fee",
        "goods_to_declare",
        "note",
        "note_update_time",
        "item_list",
        "pay_time",
        "dropshipper",
        "dropshipper_phone",
        "split_up",
        "buyer_cancel_reason",
        "cancel_by",
        "cancel_reason",
        "actual_shipping_fee_confirmed",
        "buyer_cpf_id",
        "fulfillment_flag",
        "pickup_done_time",
        "package_list",
        "shipping_carrier",
        "payment_method",
        "total_amount",
        "invoice_data",
        "order_chargeable_weight_gram",
        "return_request_due_date",
    }
)

_PAYMENT_METHODS = ("Pix", "Credit Card", "Boleto Bancário")
_DISTRICTS = ("Centro", "Jardim América", "Vila Nova", "Boa Vista", "Santa Cecília", "Bela Vista")
_STREETS = (
    "Rua das Flores",
    "Avenida Brasil",
    "Rua XV de Novembro",
    "Rua São João",
    "Avenida Paulista",
)
_CEP_PREFIX = {
    "São Paulo": "01",
    "Campinas": "13",
    "Rio de Janeiro": "20",
    "Belo Horizonte": "30",
    "Curitiba": "80",
    "Porto Alegre": "90",
    "Salvador": "40",
    "Recife": "50",
    "Fortaleza": "60",
    "Goiânia": "74",
}


def _cpf(seed: int) -> str:
    digits = [int(d) for d in f"{seed % 10**9:09d}"]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def _address(buyer: Buyer) -> dict[str, str]:
    prefix = _CEP_PREFIX.get(buyer.city, f"0{buyer.buyer_id % 9 + 1}")
    zipcode = f"{prefix}{buyer.buyer_id % 1_000_000:06d}"
    street = _STREETS[buyer.buyer_id % len(_STREETS)]
    district = _DISTRICTS[buyer.buyer_id // 7 % len(_DISTRICTS)]
    number = buyer.buyer_id % 2000 + 1
    return {
        "name": f"{buyer.first_name} {buyer.last_name}",
        "phone": f"******{buyer.buyer_id % 100:02d}",
        "town": "",
        "district": district,
        "city": buyer.city,
        "state": buyer.state,
        "region": REGION,
        "zipcode": zipcode,
        "full_address": f"{street}, {number}, {district}, {buyer.city} - {buyer.state}, {zipcode}",
    }


# --- money: what each order is worth to whom (deterministic from the order number) -----------


def _roll(number: int, key: str, count: int = 100) -> int:
    return zlib.crc32(f"{number}:{key}".encode()) % count


def _share(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(CENT, ROUND_HALF_UP)


def _prorate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`total` split by `weights` in cents that add up exactly (the last takes the rest)."""
    whole = sum(weights, Decimal(0))
    if not weights or not whole:
        return [Decimal(0) for _ in weights]
    parts = [(total * w / whole).quantize(CENT, ROUND_DOWN) for w in weights[:-1]]
    return [*parts, total - sum(parts, Decimal(0))]


@dataclass(frozen=True)
class LineMoney:
    line: OrderLine
    item_id: int
    model_id: int
    original_unit: Decimal  # before the seller's promotion
    discounted_unit: Decimal  # the World's price: what the buyer pays a unit
    ams: Decimal  # affiliate commission on the line

    @property
    def original(self) -> Decimal:
        return self.original_unit * self.line.quantity

    @property
    def discounted(self) -> Decimal:
        return self.discounted_unit * self.line.quantity

    @property
    def seller_discount(self) -> Decimal:
        return self.original - self.discounted


@dataclass(frozen=True)
class OrderMoney:
    """An order's money: items, who funded which discount, shipping, Shopee's charges."""

    lines: tuple[LineMoney, ...]
    seller_voucher: Decimal
    shopee_voucher: Decimal
    coins: Decimal
    buyer_shipping: Decimal  # the World's shipping cost: what the buyer paid for shipping
    carrier_cost: Decimal
    shipping_rebate: Decimal
    commission: Decimal  # gross, as the escrow formula deducts it
    service: Decimal
    commission_offset: Decimal  # the seller's share of Shopee's rebate, taken off the fees
    service_offset: Decimal
    protection_fee: Decimal
    grams: int

    @property
    def goods(self) -> Decimal:
        """What the buyer paid for the items before vouchers (original_cost_of_goods_sold)."""
        return sum((m.discounted for m in self.lines), Decimal(0))

    @property
    def original(self) -> Decimal:
        return sum((m.original for m in self.lines), Decimal(0))

    @property
    def item_refund(self) -> Decimal:
        """What a full refund takes back from the seller: the goods less its own voucher."""
        return self.goods - self.seller_voucher

    @property
    def ams(self) -> Decimal:
        return sum((m.ams for m in self.lines), Decimal(0))

    @property
    def buyer_total(self) -> Decimal:
        return (
            self.goods
            - self.seller_voucher
            - self.shopee_voucher
            - self.coins
            + self.buyer_shipping
        )


def order_money(order: Order, catalog: Catalog) -> OrderMoney:
    number = order.order_number
    lines = []
    grams = 0
    for index, line in enumerate(order.lines):
        listing, variation = catalog.variation(line.variation_number)
        grams += catalog.product_of(variation).weight_g * line.quantity
        original = line.unit_price
        if _roll(number, f"promo:{index}") < 30:
            percent = (5, 10, 15, 20)[_roll(number, f"promo-size:{index}", 4)]
            original += _share(line.unit_price, Decimal(percent) / 100)
        affiliate = _roll(number, "affiliate") < 15
        lines.append(
            LineMoney(
                line=line,
                item_id=item_id_of(listing),
                model_id=line.variation_number if listing.has_variations else 0,
                original_unit=original,
                discounted_unit=line.unit_price,
                ams=_share(line.unit_price * line.quantity, AFFILIATE_RATE) if affiliate else ZERO,
            )
        )
    goods = sum((m.discounted for m in lines), Decimal(0))
    shopee_voucher = (
        SHOPEE_VOUCHER if goods >= 60 and _roll(number, "shopee-voucher") < 20 else ZERO
    )
    carrier = (Decimal("11.90") + Decimal(grams) / 100).quantize(CENT, ROUND_HALF_UP)
    carrier = max(carrier, order.shipping_cost)
    return OrderMoney(
        lines=tuple(lines),
        seller_voucher=SELLER_VOUCHER
        if goods >= 40 and _roll(number, "seller-voucher") < 15
        else ZERO,
        shopee_voucher=shopee_voucher,
        coins=COINS if _roll(number, "coins") < 10 else ZERO,
        buyer_shipping=order.shipping_cost,
        carrier_cost=carrier,
        shipping_rebate=min(carrier - order.shipping_cost, MAX_SHIPPING_REBATE),
        commission=_share(goods, COMMISSION_RATE),
        service=_share(goods, SERVICE_FEE_RATE),
        commission_offset=_share(shopee_voucher, COMMISSION_RATE),
        service_offset=_share(shopee_voucher, SERVICE_FEE_RATE),
        protection_fee=SHIPPING_PROTECTION_FEE if _roll(number, "protection") < 10 else ZERO,
        grams=grams,
    )


# --- timing: status steps, packages, the escrow's release -------------------------------------


def _reached(order: Order, step: int) -> dict[str, int]:
    return {status: ts(moment) for status, moment in order.timeline[: step + 1]}


def release_time(order: Order) -> int | None:
    """When Shopee releases the order's escrow (get_escrow_list), whether or not that is
    past yet: RELEASE_DAYS after delivery, or a few days after a return that came first.
    A return after the release is an order adjustment instead. Never for a cancellation."""
    when = {status: ts(moment) for status, moment in order.timeline}
    returned = when.get("returned")
    if "delivered" in when:
        jitter = _roll(order.order_number, "release", RELEASE_JITTER_HOURS) * 3600
        nominal = when["delivered"] + RELEASE_DAYS * 86_400 + jitter
        if returned is None or returned >= nominal:
            return nominal
    if returned is not None:
        return returned + RETURN_RESOLUTION_DAYS * 86_400
    return None


def returned_after_release(order: Order, step: int) -> bool:
    reached = _reached(order, step)
    released = release_time(order)
    return "returned" in reached and released is not None and reached["returned"] >= released


@dataclass(frozen=True)
class Package:
    number: str
    lines: tuple[int, ...]  # indexes into order.lines
    channel: tuple[int, str]


# A package_number is OFG + 15 digits: (order number × 10 + package index) times a unit
# mod 10**15, so it looks random yet decodes without a table.
_PACKAGE_MODULUS = 10**15
_PACKAGE_MULTIPLIER = 7_919_000_003  # coprime to 10
_PACKAGE_INVERSE = pow(_PACKAGE_MULTIPLIER, -1, _PACKAGE_MODULUS)
_PACKAGE_PATTERN = re.compile(r"^OFG\d{15}$")


def package_number(order: Order, index: int) -> str:
    body = (order.order_number * 10 + index) * _PACKAGE_MULTIPLIER % _PACKAGE_MODULUS
    return f"OFG{body:015d}"


def package_owner(number: str) -> tuple[int, int] | None:
    """(order number, package index) a package_number was made from, if it is one."""
    if not _PACKAGE_PATTERN.match(number):
        return None
    order_and_index = int(number[3:]) * _PACKAGE_INVERSE % _PACKAGE_MODULUS
    return divmod(order_and_index, 10)


def channel_of(order: Order) -> tuple[int, str]:
    roll = _roll(order.order_number, "channel")
    if roll < 10:
        return FBS_CHANNEL
    if roll < 20:
        return TURBO_CHANNEL
    return SELLER_CHANNEL if roll < 35 else LOGISTICS_CHANNEL


def packages_of(order: Order) -> tuple[Package, ...]:
    """One package, or two when the seller split a multi-line order (never under FBS)."""
    channel = channel_of(order)
    indexes = tuple(range(len(order.lines)))
    split = len(indexes) > 1 and channel != FBS_CHANNEL and _roll(order.order_number, "split") < 40
    if not split:
        return (Package(package_number(order, 0), indexes, channel),)
    return (
        Package(package_number(order, 0), indexes[:1], channel),
        Package(package_number(order, 1), indexes[1:], channel),
    )


def tracking_number(order: Order, package: Package) -> str:
    digits = int(_digest(f"{order.order_number}:{package.number}:tracking"), 16) % 10**13
    return f"BR{digits:013d}"


def fulfillment_flag(order: Order) -> str:
    return (
        "fulfilled_by_shopee" if channel_of(order) == FBS_CHANNEL else "fulfilled_by_local_seller"
    )


_LOGISTICS_STATUS = {
    "pending": "LOGISTICS_NOT_START",
    "paid": "LOGISTICS_READY",
    "shipped": "LOGISTICS_PICKUP_DONE",
    "delivered": "LOGISTICS_DELIVERY_DONE",
    "cancelled": "LOGISTICS_INVALID",
    "returned": "LOGISTICS_DELIVERY_DONE",
}


def logistics_status(order: Order, step: int) -> str:
    reached = _reached(order, step)
    status = order.timeline[step][0]
    if status == "returned" and "delivered" not in reached:
        return "LOGISTICS_PICKUP_DONE"  # sent back before it arrived
    return _LOGISTICS_STATUS[status]


def has_tracking(order: Order, step: int) -> bool:
    return "shipped" in _reached(order, step)


def tracking_events(order: Order, step: int) -> list[dict[str, Any]]:
    """get_tracking_info's events so far, newest first, in its own vocabulary."""
    reached = _reached(order, step)
    events = []
    if "shipped" in reached:
        events.append((reached["shipped"], "PICKED_UP", "Pacote coletado pela transportadora"))
    if "delivered" in reached:
        events.append((reached["delivered"], "DELIVERED", "Pacote entregue ao destinatário"))
    return [
        {"update_time": when, "description": text, "logistics_status": status}
        for when, status, text in sorted(events, reverse=True)
    ]


# --- the renderer ---------------------------------------------------------------------------


class OrderRenderer:
    """Renders one order as it stands at a given step of its timeline."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._money: dict[int, OrderMoney] = {}

    def money(self, order: Order) -> OrderMoney:
        cached = self._money.get(order.order_number)
        if cached is None:
            cached = self._money[order.order_number] = order_money(order, self.catalog)
        return cached

    def _lines(self, order: Order) -> list[dict[str, Any]]:
        rendered = []
        for index, m in enumerate(self.money(order).lines):
            line = m.line
            listing, variation = self.catalog.variation(line.variation_number)
            promoted = m.original_unit != m.discounted_unit
            rendered.append(
                {
                    "item_id": m.item_id,
                    "item_name": line.title,
                    "item_sku": "" if listing.has_variations else (line.sku or ""),
                    "model_id": m.model_id,
                    "model_name": self.catalog.model_name(listing, variation),
                    "model_sku": (line.sku or "") if listing.has_variations else "",
                    "model_quantity_purchased": line.quantity,
                    "model_original_price": money(m.original_unit),
                    "model_discounted_price": money(m.discounted_unit),
                    "wholesale": False,
                    "weight": self.catalog.product_of(variation).weight_g / 1000,
                    "add_on_deal": False,
                    "main_item": False,
                    "add_on_deal_id": 0,
                    "promotion_type": "product_promotion" if promoted else "",
                    "promotion_id": _promotion_id(order, index) if promoted else 0,
                    "order_item_id": m.item_id,
                    "promotion_group_id": 0,
                    "image_info": {"image_url": self.catalog.cover_url(listing)},
                    "product_location_id": [LOCATION_ID],
                    "is_prescription_item": False,
                    "is_b2c_owned_item": False,
                }
            )
        return rendered

    def _packages(self, order: Order, step: int) -> list[dict[str, Any]]:
        status = logistics_status(order, step)
        lines = self.money(order).lines
        rendered = []
        for package in packages_of(order):
            grams = sum(
                self.catalog.product_of(
                    self.catalog.variation(lines[i].line.variation_number)[1]
                ).weight_g
                * lines[i].line.quantity
                for i in package.lines
            )
            rendered.append(
                {
                    "package_number": package.number,
                    "logistics_status": status,
                    "logistics_channel_id": package.channel[0],
                    "shipping_carrier": package.channel[1],
                    "allow_self_design_awb": False,
                    "item_list": [
                        {
                            "item_id": lines[i].item_id,
                            "model_id": lines[i].model_id,
                            "model_quantity": lines[i].line.quantity,
                            "order_item_id": lines[i].item_id,
                            "promotion_group_id": 0,
                            "product_location_id": LOCATION_ID,
                        }
                        for i in package.lines
                    ],
                    "parcel_chargeable_weight_gram": grams,
                    "group_shipment_id": None,
                }
            )
        return rendered

    def detail(
        self, order: Order, step: int, sn: str, fields: Iterable[str] = OPTIONAL_ORDER_FIELDS
    ) -> dict[str, Any]:
        """The base fields plus the requested optional ones, in the doc's order."""
        status, since = order.timeline[step]
        reached = _reached(order, step)
        paid = reached.get("paid")
        shipped = reached.get("shipped")
        delivered = reached.get("delivered")
        cancelled = reached.get("cancelled")
        if cancelled is None:
            cancel_by, cancel_reason = "", ""
        elif paid is None:
            cancel_by, cancel_reason = "system", "Unpaid Order"
        else:
            cancel_by, cancel_reason = "buyer", "Need to change delivery address"
        m = self.money(order)
        carrier = money(m.carrier_cost)
        channel = channel_of(order)
        optional: dict[str, Callable[[], Any]] = {
            "buyer_user_id": lambda: order.buyer.buyer_id,
            "buyer_username": lambda: order.buyer.nickname.lower(),
            "estimated_shipping_fee": lambda: carrier,
            "recipient_address": lambda: _address(order.buyer),
            "actual_shipping_fee": lambda: carrier if shipped else 0.0,
            "goods_to_declare": lambda: False,
            "note": lambda: "",
            "note_update_time": lambda: 0,
            "item_list": lambda: self._lines(order),
            "pay_time": lambda: paid,
            "dropshipper": lambda: None,
            "dropshipper_phone": lambda: None,
            "split_up": lambda: len(packages_of(order)) > 1,
            "buyer_cancel_reason": lambda: "",
            "cancel_by": lambda: cancel_by,
            "cancel_reason": lambda: cancel_reason,
            "actual_shipping_fee_confirmed": lambda: delivered is not None,
            "buyer_cpf_id": lambda: _cpf(order.buyer.buyer_id),
            "fulfillment_flag": lambda: fulfillment_flag(order),
            "pickup_done_time": lambda: shipped or 0,
            "package_list": lambda: self._packages(order, step),
            "shipping_carrier": lambda: channel[1],
            "payment_method": lambda: _payment_method(order),
            # "Only returned after the buyer has completed payment."
            "total_amount": lambda: money(m.buyer_total) if paid else _OMITTED,
            "invoice_data": lambda: None,
            "order_chargeable_weight_gram": lambda: m.grams,
            "return_request_due_date": lambda: delivered + 7 * 86_400 if delivered else 0,
        }
        rendered: dict[str, Any] = {
            "order_sn": sn,
            "region": REGION,
            "currency": CURRENCY,
            "cod": False,
            "order_status": SHOPEE_STATUS[status],
            "message_to_seller": "",
            "create_time": ts(order.created_at),
            "update_time": ts(since),
            "days_to_ship": DAYS_TO_SHIP,
            "ship_by_date": paid + DAYS_TO_SHIP * 86_400 if paid else 0,
        }
        wanted = set(fields)
        for name, value in optional.items():
            if name in wanted and (rendered_value := value()) is not _OMITTED:
                rendered[name] = rendered_value
        return rendered

    def escrow_amounts(self, order: Order, step: int) -> dict[str, Decimal]:
        """The escrow's money at a step, every term of Shopee's formula included.

        Before pickup the carrier has not charged yet (actual_shipping_fee 0); a
        cancellation gives the buyer everything back and leaves the seller nothing; a return
        before the release refunds the goods and waives the fees but not the shipping
        (the way back is charged too); a return after the release is an order adjustment.
        """
        status = order.timeline[step][0]
        reached = _reached(order, step)
        m = self.money(order)
        paid = "paid" in reached
        if status == "cancelled" and not paid:
            return {"escrow_amount": ZERO}
        amounts = {
            "original_cost_of_goods_sold": m.goods,
            "cost_of_goods_sold": m.goods,
            "voucher_from_seller": m.seller_voucher,
            "seller_return_refund": ZERO,
            "buyer_paid_shipping_fee": m.buyer_shipping,
            "actual_shipping_fee": ZERO,
            "shopee_shipping_rebate": ZERO,
            "reverse_shipping_fee": ZERO,
            "commission_fee": m.commission,
            "service_fee": m.service,
            "order_ams_commission_fee": m.ams,
            "shipping_seller_protection_fee_amount": m.protection_fee,
        }
        if "shipped" in reached:
            amounts["actual_shipping_fee"] = m.carrier_cost
            amounts["shopee_shipping_rebate"] = m.shipping_rebate
        refunded = status == "cancelled" or (
            status == "returned" and not returned_after_release(order, step)
        )
        if refunded:
            amounts.update(
                seller_return_refund=-m.item_refund,
                cost_of_goods_sold=ZERO,
                commission_fee=ZERO,
                service_fee=ZERO,
                order_ams_commission_fee=ZERO,
                shipping_seller_protection_fee_amount=ZERO,
            )
        if status == "cancelled":
            amounts.update(buyer_paid_shipping_fee=ZERO)
        if status == "returned" and refunded:
            amounts["reverse_shipping_fee"] = m.carrier_cost
        amounts["escrow_amount"] = (
            amounts["original_cost_of_goods_sold"]
            + amounts["seller_return_refund"]
            - amounts["voucher_from_seller"]
            + amounts["buyer_paid_shipping_fee"]
            - amounts["actual_shipping_fee"]
            + amounts["shopee_shipping_rebate"]
            - amounts["reverse_shipping_fee"]
            - amounts["commission_fee"]
            - amounts["service_fee"]
            - amounts["order_ams_commission_fee"]
            - amounts["shipping_seller_protection_fee_amount"]
        )
        if status == "returned" and not refunded:
            amounts["adjustment"] = -m.item_refund
        return amounts

    def escrow(self, order: Order, step: int, sn: str) -> dict[str, Any]:
        """get_escrow_detail's response, field for field as the doc's sample (the CB SIP
        affiliate fields, "only displayed for cb sip affiliate shops", left out)."""
        amounts = self.escrow_amounts(order, step)
        m = self.money(order)
        a = {k: money(v) for k, v in amounts.items()}
        charged = "commission_fee" in amounts and amounts["commission_fee"] > 0
        commission_offset = m.commission_offset if charged else ZERO
        service_offset = m.service_offset if charged else ZERO
        commission = amounts.get("commission_fee", ZERO)
        service = amounts.get("service_fee", ZERO)
        rebate = amounts.get("shopee_shipping_rebate", ZERO)
        actual = amounts.get("actual_shipping_fee", ZERO)
        adjustment = amounts.get("adjustment")
        status = order.timeline[step][0]
        income: dict[str, Any] = {
            "escrow_amount": a["escrow_amount"],
            "buyer_total_amount": money(m.buyer_total),
            "order_original_price": money(m.original),
            "original_price": money(m.original),
            "order_discounted_price": money(m.goods),
            "order_selling_price": money(m.original),
            "order_seller_discount": money(m.original - m.goods),
            "bcrs_deposit": 0.0,
            "seller_discount": money(m.original - m.goods),
            "shopee_discount": 0.0,
            "voucher_from_seller": a.get("voucher_from_seller", 0.0),
            "voucher_from_shopee": money(m.shopee_voucher),
            "voucher_from_external_party": 0.0,
            "coins": money(m.coins),
            "buyer_paid_shipping_fee": a.get("buyer_paid_shipping_fee", 0.0),
            "buyer_transaction_fee": 0.0,
            "cross_border_tax": 0.0,
            "payment_promotion": 0.0,
            "commission_fee": money(commission),
            "service_fee": money(service),
            "seller_transaction_fee": 0.0,
            "seller_lost_compensation": 0.0,
            "seller_coin_cash_back": 0.0,
            "escrow_tax": 0.0,
            "estimated_shipping_fee": money(m.carrier_cost),
            "final_shipping_fee": money(rebate - actual),
            "actual_shipping_fee": money(actual),
            "shipping_fee_sst": 0.0,
            "order_chargeable_weight": m.grams,
            "shopee_shipping_rebate": money(rebate),
            "shipping_fee_discount_from_3pl": 0.0,
            "seller_shipping_discount": 0.0,
            "seller_voucher_code": [_voucher_code(order)] if m.seller_voucher else [],
            "drc_adjustable_refund": 0.0,
            "cost_of_goods_sold": a.get("cost_of_goods_sold", 0.0),
            "original_cost_of_goods_sold": a.get("original_cost_of_goods_sold", 0.0),
            "original_shopee_discount": 0.0,
            "seller_return_refund": a.get("seller_return_refund", 0.0),
            "items": self._escrow_items(
                order, ams_waived=not amounts.get("order_ams_commission_fee")
            ),
            "reverse_shipping_fee": a.get("reverse_shipping_fee", 0.0),
            "reverse_shipping_fee_sst": 0.0,
            "final_product_protection": 0.0,
            "credit_card_promotion": 0.0,
            "credit_card_transaction_fee": 0.0,
            "final_product_vat_tax": 0.0,
            "final_shipping_vat_tax": 0.0,
            "campaign_fee": 0.0,
            "rsf_seller_protection_fee_claim_amount": 0.0,
            "shipping_seller_protection_fee_amount": a.get(
                "shipping_seller_protection_fee_amount", 0.0
            ),
            "final_escrow_product_gst": 0.0,
            "final_escrow_shipping_gst": 0.0,
            "delivery_seller_protection_fee_premium_amount": 0.0,
        }
        if adjustment is not None:
            income["order_adjustment"] = [
                {
                    "amount": money(adjustment),
                    "date": _reached(order, step)["returned"],
                    "currency": CURRENCY,
                    "adjustment_reason": "Return Refund deduction",
                }
            ]
        after = amounts["escrow_amount"] + (adjustment or ZERO)
        income |= {
            "total_adjustment_amount": money(adjustment or ZERO),
            "escrow_amount_after_adjustment": money(after),
            "order_ams_commission_fee": a.get("order_ams_commission_fee", 0.0),
            "buyer_payment_method": _payment_method(order),
            "instalment_plan": "N/A",
            "sales_tax_on_lvg": 0.0,
            "final_return_to_seller_shipping_fee": 0.0,
            "withholding_tax": 0.0,
            "overseas_return_service_fee": 0.0,
            "prorated_coins_value_offset_return_items": 0.0,
            "prorated_shopee_voucher_offset_return_items": 0.0,
            "prorated_seller_voucher_offset_return_items": 0.0,
            "prorated_payment_channel_promo_bank_offset_return_items": 0.0,
            "prorated_payment_channel_promo_shopee_offset_return_items": 0.0,
            "fsf_seller_protection_fee_claim_amount": 0.0,
            "vat_on_imported_goods": 0.0,
            "tenure_info_list": {
                "payment_channel_name": _payment_method(order),
                "instalment_plan": "",
            },
            "withholding_vat_tax": 0.0,
            "withholding_pit_tax": 0.0,
            "withholding_cit_tax": 0.0,
            "tax_registration_code": "",
            "seller_order_processing_fee": 0.0,
            "buyer_paid_packaging_fee": 0.0,
            "trade_in_bonus_by_seller": 0.0,
            "fbs_fee": 0.0,
            "net_commission_fee": money(commission - commission_offset),
            "net_service_fee": money(service - service_offset),
            "net_commission_fee_info_list": {
                "rule_id": 101,
                "fee_amount": money(commission - commission_offset),
                "rule_display_name": "Comissão",
            },
            "net_service_fee_info_list": {
                "rule_id": 201,
                "fee_amount": money(service - service_offset),
                "rule_display_name": "Programa de Frete Grátis",
                "category": "service",
            },
            "seller_product_rebate": {
                "amount": money(commission_offset + service_offset),
                "commission_fee_offset": money(commission_offset),
                "service_fee_offset": money(service_offset),
            },
            "pix_discount": 0.0,
            "prorated_pix_discount_offset_return_items": 0.0,
            "ads_escrow_top_up_fee_or_technical_support_fee": 0.0,
            "th_import_duty": 0.0,
            "remaining_voucher": money(m.shopee_voucher - commission_offset - service_offset),
        }
        return {
            "order_sn": sn,
            "buyer_user_name": order.buyer.nickname.lower(),
            "return_order_sn_list": [_return_sn(order)] if status == "returned" else [],
            "order_income": income,
            "buyer_payment_info": self._buyer_payment_info(order),
        }

    def _escrow_items(self, order: Order, ams_waived: bool) -> list[dict[str, Any]]:
        m = self.money(order)
        weights = [line.discounted for line in m.lines]
        coins = _prorate(m.coins, weights)
        shopee_vouchers = _prorate(m.shopee_voucher, weights)
        seller_vouchers = _prorate(m.seller_voucher, weights)
        items = []
        for index, line in enumerate(m.lines):
            listing, variation = self.catalog.variation(line.line.variation_number)
            promoted = line.original_unit != line.discounted_unit
            items.append(
                {
                    "item_id": line.item_id,
                    "item_name": line.line.title,
                    "item_sku": "" if listing.has_variations else (line.line.sku or ""),
                    "model_id": line.model_id,
                    "model_name": self.catalog.model_name(listing, variation),
                    "model_sku": (line.line.sku or "") if listing.has_variations else "",
                    "line_item_id": line.item_id * 100 + index,
                    "original_price": money(line.original),
                    "selling_price": money(line.original),
                    "discounted_price": money(line.discounted),
                    "bcrs_deposit": 0.0,
                    "seller_discount": money(line.seller_discount),
                    "shopee_discount": 0.0,
                    "discount_from_coin": money(coins[index]),
                    "discount_from_voucher_shopee": money(shopee_vouchers[index]),
                    "discount_from_voucher_seller": money(seller_vouchers[index]),
                    "activity_type": "",
                    "activity_id": 0,
                    "is_main_item": False,
                    "quantity_purchased": line.line.quantity,
                    "is_b2c_shop_item": False,
                    "ams_commission_fee": 0.0 if ams_waived else money(line.ams),
                    "is_kit": self.catalog.product_of(variation).is_kit,
                    "promotion_list": (
                        [
                            {
                                "promotion_type": "seller_discount",
                                "promotion_id": _promotion_id(order, index),
                            }
                        ]
                        if promoted
                        else []
                    ),
                }
            )
        return items

    def _buyer_payment_info(self, order: Order) -> dict[str, Any]:
        """The checkout snapshot: never updated after a cancellation or return."""
        m = self.money(order)
        method = _payment_method(order)
        return {
            "buyer_payment_method": method,
            "buyer_service_fee": 0.0,
            "buyer_tax_amount": 0.0,
            "buyer_total_amount": money(m.buyer_total),
            "shopeevip_subtotal": 0.0,
            "credit_card_promotion": 0.0,
            "icms_tax_amount": 0.0,
            "import_tax_amount": 0.0,
            "initial_buyer_txn_fee": 0.0,
            "insurance_premium": 0.0,
            "iof_tax_amount": 0.0,
            "is_paid_by_credit_card": method == "Credit Card",
            "merchant_subtotal": money(m.goods),
            "seller_voucher": money(-m.seller_voucher),
            "shipping_fee": money(m.buyer_shipping),
            "shipping_fee_sst_amount": 0.0,
            "shopee_voucher": money(-m.shopee_voucher),
            "shopee_coins_redeemed": money(-m.coins),
            "buyer_paid_packaging_fee": 0.0,
            "trade_in_bonus": 0.0,
            "bulky_handling_fee": 0.0,
            "discount_pix": 0.0,
            "bcrs_deposit": 0.0,
            "ads_voucher_discount": 0.0,
        }

    def released_payout(self, order: Order, step: int) -> float:
        """get_escrow_list's payout_amount: the escrow as it stood at the release."""
        return money(self.escrow_amounts(order, step)["escrow_amount"])


_OMITTED = object()


def _payment_method(order: Order) -> str:
    return _PAYMENT_METHODS[order.order_number % len(_PAYMENT_METHODS)]


def _promotion_id(order: Order, index: int) -> int:
    return 700_000_000_000_000 + _roll(order.order_number, f"promotion:{index}", 10**9)


def _voucher_code(order: Order) -> str:
    return f"CASA{_roll(order.order_number, 'voucher-code', 10_000):04d}"


def _return_sn(order: Order) -> str:
    return f"{order.order_number}01"
