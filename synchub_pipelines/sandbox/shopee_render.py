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
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from synchub_pipelines.sandbox.world import Buyer, Listing, ListingVariation, Order, Product, World

REGION = "BR"
CURRENCY = "BRL"
LOCATION_ID = "BRZ"  # the one seller warehouse of a local BR shop
DAYS_TO_SHIP = 2
LOGISTICS_CHANNEL = (90024, "Shopee Xpress")
COMMISSION_RATE = Decimal("0.14")
SERVICE_FEE_RATE = Decimal("0.06")
CENT = Decimal("0.01")

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
_LOGISTICS_STATUS = {
    "pending": "LOGISTICS_NOT_START",
    "paid": "LOGISTICS_READY",
    "shipped": "LOGISTICS_PICKUP_DONE",
    "delivered": "LOGISTICS_DELIVERY_DONE",
    "cancelled": "LOGISTICS_INVALID",
    "returned": "LOGISTICS_DELIVERY_DONE",
}


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
        return "NORMAL" if listing.status == "active" else "UNLIST"

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


def _reached(order: Order, step: int) -> dict[str, int]:
    return {status: ts(moment) for status, moment in order.timeline[: step + 1]}


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


class OrderRenderer:
    """Renders one order as it stands at a given step of its timeline."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _lines(self, order: Order) -> tuple[list[dict[str, Any]], int]:
        """The order's item_list and its total weight in grams."""
        rendered = []
        grams = 0
        for line in order.lines:
            listing, variation = self.catalog.variation(line.variation_number)
            grams += self.catalog.product_of(variation).weight_g * line.quantity
            price = money(line.unit_price)
            item_id = item_id_of(listing)
            rendered.append(
                {
                    "item_id": item_id,
                    "item_name": line.title,
                    "item_sku": "" if listing.has_variations else (line.sku or ""),
                    "model_id": line.variation_number if listing.has_variations else 0,
                    "model_name": self.catalog.model_name(listing, variation),
                    "model_sku": (line.sku or "") if listing.has_variations else "",
                    "model_quantity_purchased": line.quantity,
                    "model_original_price": price,
                    "model_discounted_price": price,
                    "wholesale": False,
                    "weight": self.catalog.product_of(variation).weight_g / 1000,
                    "add_on_deal": False,
                    "main_item": False,
                    "add_on_deal_id": 0,
                    "promotion_type": "",
                    "promotion_id": 0,
                    "order_item_id": item_id,
                    "promotion_group_id": 0,
                    "image_info": {"image_url": self.catalog.cover_url(listing)},
                    "product_location_id": [LOCATION_ID],
                    "is_prescription_item": False,
                    "is_b2c_owned_item": False,
                }
            )
        return rendered, grams

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
        shipping = money(order.shipping_cost)
        lines: list[tuple[list[dict[str, Any]], int]] = []

        def items() -> tuple[list[dict[str, Any]], int]:
            if not lines:
                lines.append(self._lines(order))
            return lines[0]

        def packages() -> list[dict[str, Any]]:
            rendered, grams = items()
            return [
                {
                    "package_number": f"OFG{order.order_number * 7919 % 10**15:015d}",
                    "logistics_status": _LOGISTICS_STATUS[status],
                    "logistics_channel_id": LOGISTICS_CHANNEL[0],
                    "shipping_carrier": LOGISTICS_CHANNEL[1],
                    "allow_self_design_awb": False,
                    "item_list": [
                        {
                            "item_id": line["item_id"],
                            "model_id": line["model_id"],
                            "model_quantity": line["model_quantity_purchased"],
                            "order_item_id": line["order_item_id"],
                            "promotion_group_id": 0,
                            "product_location_id": LOCATION_ID,
                        }
                        for line in rendered
                    ],
                    "parcel_chargeable_weight_gram": grams,
                    "group_shipment_id": None,
                }
            ]

        optional: dict[str, Callable[[], Any]] = {
            "buyer_user_id": lambda: order.buyer.buyer_id,
            "buyer_username": lambda: order.buyer.nickname.lower(),
            "estimated_shipping_fee": lambda: shipping,
            "recipient_address": lambda: _address(order.buyer),
            "actual_shipping_fee": lambda: shipping if shipped else 0.0,
            "goods_to_declare": lambda: False,
            "note": lambda: "",
            "note_update_time": lambda: 0,
            "item_list": lambda: items()[0],
            "pay_time": lambda: paid,
            "dropshipper": lambda: None,
            "dropshipper_phone": lambda: None,
            "split_up": lambda: False,
            "buyer_cancel_reason": lambda: "",
            "cancel_by": lambda: cancel_by,
            "cancel_reason": lambda: cancel_reason,
            "actual_shipping_fee_confirmed": lambda: delivered is not None,
            "buyer_cpf_id": lambda: _cpf(order.buyer.buyer_id),
            "fulfillment_flag": lambda: "fulfilled_by_local_seller",
            "pickup_done_time": lambda: shipped or 0,
            "package_list": packages,
            "shipping_carrier": lambda: LOGISTICS_CHANNEL[1],
            "payment_method": lambda: _PAYMENT_METHODS[order.order_number % len(_PAYMENT_METHODS)],
            "total_amount": lambda: money(order.total + order.shipping_cost),
            "invoice_data": lambda: None,
            "order_chargeable_weight_gram": lambda: items()[1],
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
            if name in wanted:
                rendered[name] = value()
        return rendered

    def escrow(self, order: Order, step: int, sn: str) -> dict[str, Any]:
        status, _ = order.timeline[step]
        items_total = order.total
        shipping = order.shipping_cost
        charged = status not in {"cancelled", "returned"}
        commission = (
            (items_total * COMMISSION_RATE).quantize(CENT, ROUND_HALF_UP) if charged else Decimal(0)
        )
        service = (
            (items_total * SERVICE_FEE_RATE).quantize(CENT, ROUND_HALF_UP)
            if charged
            else Decimal(0)
        )
        escrow = items_total - commission - service if charged else Decimal(0)
        items = []
        lines, grams = self._lines(order)
        for line in lines:
            subtotal = Decimal(str(line["model_original_price"])) * line["model_quantity_purchased"]
            items.append(
                {
                    "item_id": line["item_id"],
                    "item_name": line["item_name"],
                    "item_sku": line["item_sku"],
                    "model_id": line["model_id"],
                    "model_name": line["model_name"],
                    "model_sku": line["model_sku"],
                    "original_price": money(subtotal),
                    "selling_price": money(subtotal),
                    "discounted_price": money(subtotal),
                    "seller_discount": 0.0,
                    "shopee_discount": 0.0,
                    "discount_from_coin": 0.0,
                    "discount_from_voucher_shopee": 0.0,
                    "discount_from_voucher_seller": 0.0,
                    "activity_type": "",
                    "activity_id": 0,
                    "is_main_item": False,
                    "quantity_purchased": line["model_quantity_purchased"],
                }
            )
        return {
            "order_sn": sn,
            "buyer_user_name": order.buyer.nickname.lower(),
            "return_order_sn_list": [f"{order.order_number}01"] if status == "returned" else [],
            "order_income": {
                "escrow_amount": money(escrow),
                "buyer_total_amount": money(items_total + shipping),
                "order_original_price": money(items_total),
                "original_price": money(items_total),
                "order_discounted_price": money(items_total),
                "order_selling_price": money(items_total),
                "order_seller_discount": 0.0,
                "seller_discount": 0.0,
                "shopee_discount": 0.0,
                "voucher_from_seller": 0.0,
                "voucher_from_shopee": 0.0,
                "coins": 0.0,
                "buyer_paid_shipping_fee": money(shipping),
                "buyer_transaction_fee": 0.0,
                "commission_fee": money(commission),
                "service_fee": money(service),
                "seller_transaction_fee": 0.0,
                "estimated_shipping_fee": money(shipping),
                "final_shipping_fee": 0.0,
                "actual_shipping_fee": money(shipping),
                "shopee_shipping_rebate": 0.0,
                "cost_of_goods_sold": money(items_total),
                "original_cost_of_goods_sold": money(items_total),
                "seller_return_refund": money(-items_total) if status == "returned" else 0.0,
                "net_commission_fee": money(commission),
                "net_service_fee": money(service),
                "order_chargeable_weight": grams,
                "items": items,
            },
            "buyer_payment_info": {
                "buyer_payment_method": _PAYMENT_METHODS[
                    order.order_number % len(_PAYMENT_METHODS)
                ],
                "buyer_total_amount": money(items_total + shipping),
                "merchant_subtotal": money(items_total),
                "shipping_fee": money(shipping),
                "seller_voucher": 0.0,
                "shopee_voucher": 0.0,
                "discount_pix": 0.0,
            },
        }
