"""How the TikTok Shop simulator turns the World into 202309-version JSON shapes.

Kept apart from `tiktok.py` (routing, auth, signing, paging) so each file stays readable.
Shapes follow the saved samples in `shared/reference/payloads/tiktok/`; ids are derived
from the World's numbers by fixed offsets so they look like TikTok's 18-19 digit ids and
stay stable across runs for a seed.

Order status mapping (World lifecycle → TikTok `status`):

    pending   → UNPAID
    paid      → AWAITING_SHIPMENT
    shipped   → IN_TRANSIT
    delivered → DELIVERED, then COMPLETED seven days later (TikTok's auto-confirmation)
    cancelled → CANCELLED (initiator SYSTEM when never paid, BUYER after payment)
    returned  → COMPLETED, with every line item marked as refunded to the buyer

ON_HOLD, PARTIALLY_SHIPPING and AWAITING_COLLECTION are valid filter values but the World
never produces them. A returned order's line items carry `display_status: "CANCELLED"`,
`cancel_user: "BUYER"` and `cancel_reason: "Return and refund"`: the real API reports
returns through the separate return/refund API, so this in-order return marker is a
sandbox choice ([U] in the notes).

Money (see `order_money`): the World's unit price is a line item's `original_price`; some
orders get a seller promotion, a TikTok coupon, seller- or TikTok-funded shipping
discounts, a marketplace-facilitator tax on top, FBT fulfilment, affiliate commissions or
an adjustment, each decided by a crc32 of the order number. `sale_price` is the unit's
price after both discounts and `payment.sub_total` their sum, as on the real API.

Settlement: TikTok settles an order a few days (3–8 here; 1–31 on the real platform) after
its last step — delivery, the return that follows it, or a cancellation after payment — in
the statement that closes at the next midnight in São Paulo. Before that, the order's
`statement_transactions` list is empty ("only settled orders are included"). A settled
transaction adds up, per SKU and in total, as:

    net_sales     = gross_sales + gross_sales_refund + seller_discount + seller_discount_refund
    revenue       = net_sales + platform_discount + platform_discount_refund
    fee_amount    = Σ fee fields (commission, transaction, affiliate, FBT, refund admin)
    shipping_fee  = actual_shipping_fee + platform_shipping_fee_discount
                    + actual_return_shipping_fee + signature_confirmation_fee
    shipping_cost = shipping_fee + customer_paid_shipping_fee (+ its refund) + fbt_shipping_cost
                    + shipping_cost_discount (TikTok's shipping incentive)
    settlement    = revenue + fee_amount + shipping_cost + adjustment

Amounts are signed from the seller's side (fees and costs negative). Order-level amounts
(shipping, adjustment) sit on the first SKU. Taxes are collected and remitted by TikTok:
`sales_tax_payment_amount` shows them, and they stay out of revenue ([U]: the real API
documents sales tax "only for US").
"""

from __future__ import annotations

import hashlib
import operator
import re
import unicodedata
import zlib
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from synchub_pipelines.sandbox.world import (
    Listing,
    ListingVariation,
    Order,
    OrderLine,
    Product,
    Seller,
    World,
)

ORDER_STATUSES = (
    "UNPAID",
    "ON_HOLD",
    "AWAITING_SHIPMENT",
    "PARTIALLY_SHIPPING",
    "AWAITING_COLLECTION",
    "IN_TRANSIT",
    "DELIVERED",
    "COMPLETED",
    "CANCELLED",
)
PRODUCT_STATUSES = (
    "DRAFT",
    "PENDING",
    "FAILED",
    "ACTIVATE",
    "SELLER_DEACTIVATED",
    "PLATFORM_DEACTIVATED",
    "FREEZE",
    "DELETED",
)
AUTO_COMPLETE_AFTER = timedelta(days=7)
CURRENCY = "BRL"

_ORDER_ID_BASE = 576_400_000_000_000_000
_LINE_ITEM_ID_BASE = 577_000_000_000_000_000
_PACKAGE_ID_BASE = 1_153_000_000_000_000_000
_PRODUCT_ID_BASE = 1_729_580_000_000_000_000
_SKU_ID_BASE = 1_729_590_000_000_000_000
_USER_ID_BASE = 7_021_000_000_000_000_000
_BRAND_ID_BASE = 7_082_427_000_000_000_000
_WAREHOUSE_ID_BASE = 7_300_000_000_000_000_000
_TRANSACTION_ID_BASE = 1_636_700_000_000_000_000
_STATEMENT_ID_BASE = 7_238_800_000_000_000_000
_PAYMENT_ID_BASE = 3_459_270_000_000_000_000
# Statement and payment ids: base + shop index × this + the statement's day number.
_PER_SHOP = 10_000_000
# record_sale puts one line item per unit; this bounds units per order so ids never collide.
MAX_UNITS_PER_ORDER = 999

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
_STREETS = ("Rua das Flores", "Avenida Brasil", "Rua XV de Novembro", "Rua São João")
_PAYMENT_METHODS = ("PIX", "CCDC", "BOLETO")
_CARRIERS = (
    ("7117858858072016686", "J&T Express Brasil"),
    ("7208502187360372482", "Correios"),
    ("7129736283356808965", "Loggi"),
)
# TikTok's label (the carrier collects) or the seller's own carrier (SEND_BY_SELLER): only
# the latter takes a tracking number through the ship call.
TIKTOK_DELIVERY_OPTION = ("7091146663229654785", "Envio padrão")
SELLER_DELIVERY_OPTION = ("7091146663229654786", "Envio pelo vendedor")
SHIPPING_PROVIDERS = _CARRIERS


def money(value: Decimal) -> str:
    """TikTok sends amounts as decimal strings without padding ("59.9", "100", "-2")."""
    return "0" if value == 0 else format(value.normalize(), "f")


def order_id(order_number: int) -> str:
    return str(_ORDER_ID_BASE + order_number)


def order_number_of(tiktok_id: str) -> int | None:
    if not tiktok_id.isdigit():
        return None
    return int(tiktok_id) - _ORDER_ID_BASE


def product_id(listing_number: int) -> str:
    return str(_PRODUCT_ID_BASE + listing_number)


def listing_number_of(tiktok_id: str) -> int | None:
    return int(tiktok_id) - _PRODUCT_ID_BASE if tiktok_id.isdigit() else None


def sku_id(variation_number: int) -> str:
    return str(_SKU_ID_BASE + variation_number)


def variation_number_of(tiktok_id: str) -> int | None:
    return int(tiktok_id) - _SKU_ID_BASE if tiktok_id.isdigit() else None


def warehouse_id(shop_index: int) -> str:
    return str(_WAREHOUSE_ID_BASE + shop_index + 1)


def package_id(order_number: int) -> str:
    return str(_PACKAGE_ID_BASE + order_number)


def package_order_number(tiktok_id: str) -> int | None:
    return int(tiktok_id) - _PACKAGE_ID_BASE if tiktok_id.isdigit() else None


def statement_id(shop_index: int, statement_time: int) -> str:
    return str(_STATEMENT_ID_BASE + shop_index * _PER_SHOP + statement_time // 86_400)


def payment_id(shop_index: int, statement_time: int) -> str:
    return str(_PAYMENT_ID_BASE + shop_index * _PER_SHOP + statement_time // 86_400)


def statement_of(tiktok_id: str) -> tuple[int, int] | None:
    """(shop index, statement time) of a statement id, None when it is not one of ours."""
    if not tiktok_id.isdigit() or int(tiktok_id) < _STATEMENT_ID_BASE:
        return None
    shop_index, day = divmod(int(tiktok_id) - _STATEMENT_ID_BASE, _PER_SHOP)
    return shop_index, day * 86_400 + STATEMENT_CLOSES_AT


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()


def _cpf(seed: int) -> str:
    """A CPF with valid check digits (mod 11), formatted as Brazilian documents show it."""
    body = f"{seed % 10**9:09d}"
    digits = [ord(c) - 48 for c in body]
    first = sum(map(operator.mul, digits, _CPF_WEIGHTS[1:])) * 10 % 11 % 10
    digits.append(first)
    second = sum(map(operator.mul, digits, _CPF_WEIGHTS)) * 10 % 11 % 10
    return f"{body[:3]}.{body[3:6]}.{body[6:]}-{first}{second}"


_CPF_WEIGHTS = (11, 10, 9, 8, 7, 6, 5, 4, 3, 2)


# --- order status timeline -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    status: str
    at: int
    returned: bool = False


class OrderSteps:
    """An order's TikTok status history, with step times ready for bisect."""

    __slots__ = ("steps", "times")

    def __init__(self, order: Order) -> None:
        steps: list[Step] = []
        timeline = order.timeline
        for index, (status, when) in enumerate(timeline):
            at = epoch(when)
            if status == "pending":
                steps.append(Step("UNPAID", at))
            elif status == "paid":
                steps.append(Step("AWAITING_SHIPMENT", at))
            elif status == "shipped":
                steps.append(Step("IN_TRANSIT", at))
            elif status == "cancelled":
                steps.append(Step("CANCELLED", at))
            elif status == "delivered":
                steps.append(Step("DELIVERED", at))
                following = timeline[index + 1] if index + 1 < len(timeline) else None
                completes = when + AUTO_COMPLETE_AFTER
                if following is None or following[1] > completes:
                    steps.append(Step("COMPLETED", epoch(completes)))
            elif status == "returned":
                steps.append(Step("COMPLETED", at, returned=True))
        self.steps = tuple(steps)
        self.times = [s.at for s in steps]

    def index_at(self, now: int) -> int:
        """Index of the step visible at `now` (the first step if none has happened yet)."""
        return max(0, bisect_right(self.times, now) - 1)

    def first_at(self, status: str) -> int | None:
        return next((s.at for s in self.steps if s.status == status), None)


# --- catalog: categories, attributes, products -----------------------------------------


@dataclass(frozen=True)
class Category:
    id: str
    parent_id: str
    local_name: str
    is_leaf: bool
    path: str  # the World's internal category path ("Moda > Camisetas") or top name


def _words(text: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return {w for w in re.split(r"[^a-z0-9]+", plain) if len(w) >= 3}


_COLOR_ATTR = ("100000", "Cor")
_SIZE_ATTR = ("100007", "Tamanho")
_MATERIAL_ATTR = ("100157", "Material")
_WARRANTY_ATTR = ("100347", "Tipo de garantia")
_VOLTAGE_ATTR = ("100398", "Voltagem")
_POWER_ATTR = ("100401", "Potência (W)")
_QUANTITY_ATTR = ("101610", "Quantidade por embalagem")
_MATERIALS = ("Algodão", "Poliéster", "Couro sintético", "Aço inoxidável", "Plástico ABS")
_WARRANTIES = ("Garantia do fabricante", "Garantia do vendedor", "Sem garantia")
_VOLTAGES = ("110V", "220V", "Bivolt")


def _value_id(attribute_id: str, name: str) -> str:
    return str(6_000_000_000 + int.from_bytes(_digest(attribute_id, name)[:4], "big") % 10**9)


class Catalog:
    """TikTok's view of the World's catalog: category tree, attributes and products."""

    def __init__(self, world: World) -> None:
        self.world = world
        paths = sorted(
            {p.category for p in world.products} | {lst.category for lst in world.listings}
        )
        tops = sorted({path.split(" > ")[0] for path in paths})
        self.categories: list[Category] = []
        top_ids = {name: str(600_000 + 1000 * (i + 1)) for i, name in enumerate(tops)}
        for name in tops:
            self.categories.append(Category(top_ids[name], "0", name, False, name))
        self.leaf_by_path: dict[str, Category] = {}
        for j, path in enumerate(paths):
            top, _, leaf_name = path.partition(" > ")
            category = Category(str(850_000 + j + 1), top_ids[top], leaf_name or top, True, path)
            self.categories.append(category)
            self.leaf_by_path[path] = category
        self.by_id = {c.id: c for c in self.categories}
        self.colors = sorted({p.color for p in world.products if p.color})
        self.sizes = sorted({p.size for p in world.products if p.size}, key=_size_order)
        self._vocab: dict[str, set[str]] = {}
        for product in world.products:
            if product.is_kit:  # a kit's name mixes two families' words
                continue
            leaf = self.leaf_by_path[product.category]
            vocab = self._vocab.setdefault(leaf.id, _words(leaf.path))
            vocab |= _words(product.name.split(" Linha ")[0]) - {
                w for c in self.colors for w in _words(c)
            }
        self.brand_ids = {
            name: str(_BRAND_ID_BASE + i)
            for i, name in enumerate(sorted({p.brand for p in world.products}))
        }
        by_parent: dict[str, list[Product]] = {}
        for product in world.products:
            by_parent.setdefault(product.parent_sku, []).append(product)
        self._products_by_parent = by_parent
        self.reviews = _review_outcomes(world)

    # The World builds each listing's variations in the order of its parent's products.
    def product_of(self, listing: Listing, variation: ListingVariation) -> Product:
        index = listing.variations.index(variation)
        return self._products_by_parent[listing.parent_sku][index]

    def chain(self, path: str) -> list[Category]:
        leaf = self.leaf_by_path[path]
        return [self.by_id[leaf.parent_id], leaf]

    def render_category(self, category: Category) -> dict[str, Any]:
        return {
            "id": category.id,
            "parent_id": category.parent_id,
            "local_name": category.local_name,
            "is_leaf": category.is_leaf,
            "permission_statuses": ["AVAILABLE"],
        }

    def attributes(self, category: Category) -> list[dict[str, Any]]:
        top = category.path.split(" > ")[0]
        fashion = top in {"Moda", "Calçados"}
        attrs = [
            _attribute(_COLOR_ATTR, "SALES_PROPERTY", False, self.colors, customizable=True),
        ]
        if fashion:
            attrs.append(
                _attribute(_SIZE_ATTR, "SALES_PROPERTY", False, self.sizes, customizable=True)
            )
            attrs.append(_attribute(_MATERIAL_ATTR, "PRODUCT_PROPERTY", True, _MATERIALS))
        if top == "Eletrônicos":
            attrs.append(_attribute(_WARRANTY_ATTR, "PRODUCT_PROPERTY", True, _WARRANTIES))
        if top == "Casa":
            attrs.append(_attribute(_MATERIAL_ATTR, "PRODUCT_PROPERTY", False, _MATERIALS))
            voltage = _attribute(_VOLTAGE_ATTR, "PRODUCT_PROPERTY", False, _VOLTAGES)
            attrs.append(voltage)
            power = _attribute(
                _POWER_ATTR, "PRODUCT_PROPERTY", False, (), customizable=True, numeric=True
            )
            bivolt = next(v for v in voltage["values"] if v["name"] == "Bivolt")
            # Required only when the seller picks "Bivolt", like TikTok's conditional rules.
            power["requirement_conditions"] = [
                {
                    "condition_type": "VALUE_ID_MATCH",
                    "attribute_id": _VOLTAGE_ATTR[0],
                    "attribute_value_id": bivolt["id"],
                }
            ]
            attrs.append(power)
        attrs.append(
            _attribute(
                _QUANTITY_ATTR, "PRODUCT_PROPERTY", False, (), customizable=True, numeric=True
            )
        )
        return attrs

    def rules(self, category: Category) -> dict[str, Any]:
        top = category.path.split(" > ")[0]
        fashion = top in {"Moda", "Calçados"}
        certifications = []
        if top == "Eletrônicos":
            certifications.append(
                {
                    "id": str(7_182_427_000_000_000_000 + int(category.id)),
                    "name": "Certificado de homologação Anatel",
                    "is_required": True,
                    "sample_image_url": "https://p16-oec-va.ibyteimg.com/sandbox/anatel.jpeg",
                    "expiration_date": {"is_required": False},
                }
            )
        return {
            "product_certifications": certifications,
            "size_chart": {"is_supported": fashion, "is_required": False},
            "cod": {"is_supported": False},
            "package_dimension": {"is_required": True},
            "epr": {"is_required": False},
            "responsible_person": {"is_required": False},
            "manufacturer": {"is_required": False},
        }

    def recommend(self, title: str) -> Category | None:
        wanted = _words(title)
        best: tuple[int, str] | None = None
        for leaf_id, vocab in self._vocab.items():
            score = len(wanted & vocab)
            if score and (best is None or (-score, leaf_id) < (-best[0], best[1])):
                best = (score, leaf_id)
        return self.by_id[best[1]] if best else None

    # --- products ----------------------------------------------------------------------

    def status_of(self, listing: Listing) -> str:
        """TikTok's status of a product: its review outcome, else the World's status."""
        review = self.reviews.get(listing.listing_number)
        if review is not None:
            return review.status
        return "ACTIVATE" if listing.status == "active" else "SELLER_DEACTIVATED"

    def product_summary(
        self, listing: Listing, shop_index: int, update_time: int
    ) -> dict[str, Any]:
        return {
            "id": product_id(listing.listing_number),
            "title": listing.title,
            "status": self.status_of(listing),
            "skus": [
                {
                    "id": sku_id(v.variation_number),
                    "seller_sku": v.sku or "",
                    "price": {
                        "currency": CURRENCY,
                        "sale_price": money(v.price),
                        "tax_exclusive_price": money(v.price),
                    },
                    "inventory": [
                        {"warehouse_id": warehouse_id(shop_index), "quantity": v.available_quantity}
                    ],
                }
                for v in listing.variations
            ],
            "sales_regions": ["BR"],
            "is_not_for_sale": False,
            "create_time": epoch(listing.created_at),
            "update_time": update_time,
        }

    def product_detail(self, listing: Listing, shop_index: int, update_time: int) -> dict[str, Any]:
        first = self.product_of(listing, listing.variations[0])
        grams = Decimal(first.weight_g) / 1000
        images = [
            {
                "uri": f"tos-maliva-i-sandbox-br/{listing.parent_sku.lower()}-{n}",
                "urls": [f"https://p16-oec-va.ibyteimg.com/sandbox/{listing.parent_sku}-{n}.jpeg"],
                "width": 800,
                "height": 800,
            }
            for n in (1, 2)
        ]
        material = _MATERIALS[_digest(listing.parent_sku)[0] % len(_MATERIALS)]
        skus = []
        for v in listing.variations:
            product = self.product_of(listing, v)
            sales_attributes = []
            for key, value in v.attributes:
                attr_id, name = _COLOR_ATTR if key == "COLOR" else _SIZE_ATTR
                sales_attributes.append(
                    {
                        "id": attr_id,
                        "name": name,
                        "value_id": _value_id(attr_id, value),
                        "value_name": value,
                    }
                )
            skus.append(
                {
                    "id": sku_id(v.variation_number),
                    "seller_sku": v.sku or "",
                    "price": {
                        "currency": CURRENCY,
                        "sale_price": money(v.price),
                        "tax_exclusive_price": money(v.price),
                    },
                    "inventory": [
                        {"warehouse_id": warehouse_id(shop_index), "quantity": v.available_quantity}
                    ],
                    "sales_attributes": sales_attributes,
                    "identifier_code": {"code": product.gtin, "type": "GTIN"},
                }
            )
        return {
            "id": product_id(listing.listing_number),
            "title": listing.title,
            "description": f"<p>{listing.title}. Marca {first.brand}.</p>",
            "status": self.status_of(listing),
            "category_chains": [
                {
                    "id": c.id,
                    "parent_id": c.parent_id,
                    "local_name": c.local_name,
                    "is_leaf": c.is_leaf,
                }
                for c in self.chain(listing.category)
            ],
            "brand": {"id": self.brand_ids[first.brand], "name": first.brand},
            "main_images": images,
            "skus": skus,
            "product_attributes": [
                {
                    "id": _MATERIAL_ATTR[0],
                    "name": _MATERIAL_ATTR[1],
                    "values": [{"id": _value_id(_MATERIAL_ATTR[0], material), "name": material}],
                }
            ],
            "package_weight": {"value": money(grams), "unit": "KILOGRAM"},
            "package_dimensions": {
                "length": "30",
                "width": "20",
                "height": "10",
                "unit": "CENTIMETER",
            },
            "is_cod_allowed": False,
            "is_not_for_sale": False,
            "sales_regions": ["BR"],
            "create_time": epoch(listing.created_at),
            "update_time": update_time,
        } | self._audit(listing)

    def _audit(self, listing: Listing) -> dict[str, Any]:
        review = self.reviews.get(listing.listing_number)
        if review is None:
            return {}
        return {
            "audit_failed_reasons": [
                {
                    "listing_platform": "TIKTOK_SHOP",
                    "position": review.position,
                    "reasons": [review.reason],
                    "suggestions": [review.suggestion],
                }
            ]
        }


@dataclass(frozen=True)
class Review:
    """A product TikTok's review refused, froze or took down, and why (product detail's
    `audit_failed_reasons`)."""

    status: str
    position: str
    reason: str
    suggestion: str


_REVIEWS = (
    Review(
        "FREEZE",
        "product",
        "Suspected intellectual property infringement",
        "Upload the brand authorization and submit the product for review again.",
    ),
    Review(
        "FAILED",
        "main_images",
        "The main image contains a watermark or promotional text",
        "Replace the main image with a clean product photo and resubmit.",
    ),
    Review(
        "PLATFORM_DEACTIVATED",
        "product",
        "Product information is inconsistent with the actual product",
        "Correct the title and attributes so they match the product, then resubmit.",
    ),
)


def _review_outcomes(world: World) -> dict[int, Review]:
    """A few of each shop's active products with a review outcome: frozen and refused in
    every shop, taken down too in shops with fifteen products or more."""
    by_seller: dict[Seller, list[Listing]] = {}
    for listing in world.listings:
        if listing.seller.marketplace == "tiktok" and listing.status == "active":
            by_seller.setdefault(listing.seller, []).append(listing)
    outcomes: dict[int, Review] = {}
    for listings in by_seller.values():
        ranked = sorted(listings, key=lambda lst: _roll(lst.listing_number, "review"))
        reviews = _REVIEWS if len(listings) >= 15 else _REVIEWS[:2]
        for listing, review in zip(ranked, reviews, strict=False):
            outcomes[listing.listing_number] = review
    return outcomes


def _size_order(size: str) -> tuple[int, str]:
    letters = ("P", "M", "G", "GG")
    return (letters.index(size), size) if size in letters else (len(letters) + int(size), size)


def _attribute(
    ident: tuple[str, str],
    kind: str,
    required: bool,
    values: tuple[str, ...] | list[str],
    *,
    customizable: bool = False,
    numeric: bool = False,
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "id": ident[0],
        "name": ident[1],
        "type": kind,
        "is_requried": required,  # sic: the real API spells it this way
        "values": [{"id": _value_id(ident[0], v), "name": v} for v in values],
        "is_multiple_selection": False,
        "is_customizable": customizable,
        "requirement_conditions": [],
    }
    if numeric:
        attribute["value_data_format"] = "POSITIVE_INT_OR_DECIMAL"
    return attribute


# --- money: discounts, taxes, fees --------------------------------------------------------

CENT = Decimal("0.01")
SELLER_PROMO_RATE = Decimal("0.10")
PLATFORM_COUPON_RATE = Decimal("0.05")
TAX_RATE = Decimal("0.05")
PLATFORM_SHIPPING_DISCOUNT = Decimal("10.00")
SHIPPING_INCENTIVE = Decimal("5.00")
COMMISSION_RATE = Decimal("0.06")  # on the price after the seller's discount
TRANSACTION_FEE_RATE = Decimal("0.02")  # on what the buyer paid for the items; kept on refunds
AFFILIATE_RATE = Decimal("0.10")
AFFILIATE_ADS_RATE = Decimal("0.03")
REFUND_ADMIN_SHARE = Decimal("0.20")  # of the commission refunded on a return
FBT_FEE_PER_UNIT = Decimal("3.50")
ADJUSTMENT = Decimal("2.50")  # a logistics compensation TikTok adds to a few settlements
SETTLE_AFTER_DAYS = (3, 8)
# Statements close at midnight in São Paulo (UTC−3, no daylight saving since 2019).
STATEMENT_CLOSES_AT = 3 * 3600
FULFILLED_BY_TIKTOK = "FULFILLMENT_BY_TIKTOK"


def _roll(number: int, purpose: str) -> int:
    return zlib.crc32(f"tiktok:{purpose}:{number}".encode())


def _chance(number: int, purpose: str, percent: int) -> bool:
    return _roll(number, purpose) % 100 < percent


def _share(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineMoney:
    """One World line's units: the same price, discounts and tax on every unit."""

    line: OrderLine
    seller_discount: Decimal
    platform_discount: Decimal
    tax: Decimal

    @property
    def original(self) -> Decimal:
        return self.line.unit_price

    @property
    def sale(self) -> Decimal:
        return self.original - self.seller_discount - self.platform_discount


@dataclass(frozen=True)
class OrderMoney:
    lines: tuple[LineMoney, ...]
    shipping: Decimal  # the World's shipping price, before discounts
    shipping_seller_discount: Decimal
    shipping_platform_discount: Decimal
    tax_rate: Decimal
    by_tiktok: bool  # FBT: TikTok's warehouse ships it
    by_seller: bool  # the seller's own carrier (SEND_BY_SELLER), not TikTok's label
    carrier: tuple[str, str]
    carrier_cost: Decimal  # what the carrier charges for the trip
    affiliate: bool
    affiliate_ads: bool
    shipping_incentive: Decimal
    seller_pays_return: bool
    adjustment: Decimal
    settle_after: int  # seconds after the order's last step

    def _units(self, unit: Any) -> Decimal:
        return sum((unit(m) * m.line.quantity for m in self.lines), Decimal(0))

    @property
    def gross(self) -> Decimal:
        return self._units(lambda m: m.original)

    @property
    def seller_discount(self) -> Decimal:
        return self._units(lambda m: m.seller_discount)

    @property
    def platform_discount(self) -> Decimal:
        return self._units(lambda m: m.platform_discount)

    @property
    def sub_total(self) -> Decimal:
        return self._units(lambda m: m.sale)

    @property
    def product_tax(self) -> Decimal:
        return self._units(lambda m: m.tax)

    @property
    def shipping_fee(self) -> Decimal:
        return self.shipping - self.shipping_seller_discount - self.shipping_platform_discount

    @property
    def shipping_tax(self) -> Decimal:
        return _share(self.shipping_fee, self.tax_rate)

    @property
    def total(self) -> Decimal:
        return self.sub_total + self.shipping_fee + self.product_tax + self.shipping_tax


def order_money(order: Order) -> OrderMoney:
    """The order's money, decided per order number (stable for a seed and across runs)."""
    n = order.order_number
    seller_rate = SELLER_PROMO_RATE if _chance(n, "seller-promotion", 30) else Decimal(0)
    coupon_rate = PLATFORM_COUPON_RATE if _chance(n, "platform-coupon", 20) else Decimal(0)
    tax_rate = TAX_RATE if _chance(n, "tax", 10) else Decimal(0)
    lines = []
    for line in order.lines:
        seller = _share(line.unit_price, seller_rate)
        platform = _share(line.unit_price, coupon_rate)
        tax = _share(line.unit_price - seller - platform, tax_rate)
        lines.append(LineMoney(line, seller, platform, tax))
    shipping = order.shipping_cost
    who_pays_shipping = _roll(n, "shipping-discount") % 10
    low, high = SETTLE_AFTER_DAYS
    return OrderMoney(
        lines=tuple(lines),
        shipping=shipping,
        shipping_seller_discount=shipping if shipping and who_pays_shipping < 3 else Decimal(0),
        shipping_platform_discount=(
            min(shipping, PLATFORM_SHIPPING_DISCOUNT)
            if shipping and 3 <= who_pays_shipping < 5
            else Decimal(0)
        ),
        tax_rate=tax_rate,
        by_tiktok=_chance(n, "fbt", 10),
        by_seller=not _chance(n, "fbt", 10) and _chance(n, "seller-shipping", 25),
        carrier=_CARRIERS[_roll(n, "carrier") % len(_CARRIERS)],
        # Free shipping for the buyer still costs the trip (charged to the seller).
        carrier_cost=shipping or Decimal(1290 + 200 * (_roll(n, "carrier-cost") % 5)) / 100,
        affiliate=_chance(n, "affiliate", 30),
        affiliate_ads=_chance(n, "affiliate-ads", 10),
        shipping_incentive=SHIPPING_INCENTIVE if _chance(n, "incentive", 15) else Decimal(0),
        seller_pays_return=_chance(n, "return-shipping", 50),
        adjustment=ADJUSTMENT if _chance(n, "adjustment", 5) else Decimal(0),
        settle_after=86_400 * (low + _roll(n, "settlement") % (high - low + 1)),
    )


# --- settlement: Finance statement transactions -------------------------------------------


@dataclass(frozen=True)
class Settlement:
    kind: str  # "sale" (delivered and kept), "return" or "cancel" (after payment)
    statement_time: int


def statement_close(instant: int) -> int:
    """The statement that settles something due at `instant`: the next São Paulo midnight."""
    return ((instant - STATEMENT_CLOSES_AT) // 86_400 + 1) * 86_400 + STATEMENT_CLOSES_AT


def settlement_of(steps: OrderSteps, money: OrderMoney) -> Settlement | None:
    """When and how TikTok settles the order; None when it never will (never paid) or its
    last step has not been planned yet."""
    if steps.first_at("AWAITING_SHIPMENT") is None:
        return None
    returned = next((s.at for s in steps.steps if s.returned), None)
    delivered = steps.first_at("DELIVERED")
    cancelled = steps.first_at("CANCELLED")
    if returned is not None:
        kind, end = "return", returned
    elif delivered is not None:
        kind, end = "sale", delivered
    elif cancelled is not None:
        kind, end = "cancel", cancelled
    else:
        return None
    return Settlement(kind, statement_close(end + money.settle_after))


# The SKU rows' and the transaction's money fields, as in the SKIT 202309 sample.
MONEY_FIELDS = (
    "actual_return_shipping_fee_amount",
    "actual_shipping_fee_amount",
    "adjustment_amount",
    "affiliate_ads_commission_amount",
    "affiliate_commission_amount",
    "affiliate_commission_before_pit",
    "affiliate_partner_commission_amount",
    "after_seller_discounts_subtotal_amount",
    "customer_order_refund_amount",
    "customer_paid_shipping_fee_amount",
    "customer_paid_shipping_fee_refund_amount",
    "customer_payment_amount",
    "customer_refund_amount",
    "customer_shipping_fee_amount",
    "customer_shipping_fee_offset_amount",
    "fbm_shipping_cost_amount",
    "fbt_fulfillment_fee_amount",
    "fbt_shipping_cost_amount",
    "fee_amount",
    "gross_sales_amount",
    "gross_sales_refund_amount",
    "net_sales_amount",
    "pit_amount",
    "platform_commission_amount",
    "platform_discount_amount",
    "platform_discount_refund_amount",
    "platform_refund_subsidy_amount",
    "platform_shipping_fee_discount_amount",
    "promo_shipping_incentive_amount",
    "referral_fee_amount",
    "refund_administration_fee_amount",
    "refund_shipping_cost_discount_amount",
    "retail_delivery_fee_amount",
    "retail_delivery_fee_payment_amount",
    "retail_delivery_fee_refund_amount",
    "return_shipping_fee_amount",
    "revenue_amount",
    "sales_tax_amount",
    "sales_tax_payment_amount",
    "sales_tax_refund_amount",
    "seller_discount_amount",
    "seller_discount_refund_amount",
    "settlement_amount",
    "shipping_cost_amount",
    "shipping_cost_discount_amount",
    "shipping_fee_amount",
    "shipping_fee_subsidy_amount",
    "shipping_insurance_fee_amount",
    "signature_confirmation_fee_amount",
    "transaction_fee_amount",
)
CHARGES = (
    "platform_commission_amount",
    "referral_fee_amount",
    "transaction_fee_amount",
    "affiliate_commission_amount",
    "affiliate_ads_commission_amount",
    "affiliate_partner_commission_amount",
    "fbt_fulfillment_fee_amount",
    "refund_administration_fee_amount",
)
SHIPPING_FEE_PARTS = (
    "actual_shipping_fee_amount",
    "platform_shipping_fee_discount_amount",
    "actual_return_shipping_fee_amount",
    "signature_confirmation_fee_amount",
)
SHIPPING_COST_PARTS = (
    "shipping_fee_amount",
    "customer_paid_shipping_fee_amount",
    "customer_paid_shipping_fee_refund_amount",
    "fbt_shipping_cost_amount",
    "fbm_shipping_cost_amount",
    "shipping_cost_discount_amount",
    "refund_shipping_cost_discount_amount",
    "shipping_insurance_fee_amount",
    "return_shipping_fee_amount",
    "promo_shipping_incentive_amount",
    "customer_shipping_fee_offset_amount",
)

Amounts = dict[str, Decimal]


def _items(a: Amounts, m: LineMoney, refunded: bool) -> None:
    q = m.line.quantity
    gross, seller, platform, tax = (
        m.original * q,
        m.seller_discount * q,
        m.platform_discount * q,
        m.tax * q,
    )
    a["gross_sales_amount"] = gross
    a["seller_discount_amount"] = -seller
    a["platform_discount_amount"] = platform
    a["after_seller_discounts_subtotal_amount"] = gross - seller
    a["sales_tax_payment_amount"] += tax
    if refunded:
        a["gross_sales_refund_amount"] = -gross
        a["seller_discount_refund_amount"] = seller
        a["platform_discount_refund_amount"] = -platform
        a["customer_order_refund_amount"] = -(gross - seller - platform)
        a["sales_tax_refund_amount"] += tax
        a["customer_refund_amount"] -= gross - seller - platform + tax


def _charges(a: Amounts, m: LineMoney, money: OrderMoney, kind: str) -> None:
    q = m.line.quantity
    paid = (m.original - m.seller_discount - m.platform_discount) * q
    commission = _share((m.original - m.seller_discount) * q, COMMISSION_RATE)
    a["transaction_fee_amount"] = -_share(paid, TRANSACTION_FEE_RATE)
    if money.by_tiktok:
        a["fbt_fulfillment_fee_amount"] = -FBT_FEE_PER_UNIT * q
    if kind == "return":  # commissions are given back, less the administration fee
        a["refund_administration_fee_amount"] = -_share(commission, REFUND_ADMIN_SHARE)
        return
    a["platform_commission_amount"] = -commission
    if money.affiliate:
        a["affiliate_commission_amount"] = -_share(paid, AFFILIATE_RATE)
        a["affiliate_commission_before_pit"] = a["affiliate_commission_amount"]
    if money.affiliate_ads:
        a["affiliate_ads_commission_amount"] = -_share(paid, AFFILIATE_ADS_RATE)


def _shipping(a: Amounts, money: OrderMoney, kind: str) -> None:
    a["customer_shipping_fee_amount"] = money.shipping_fee
    a["customer_paid_shipping_fee_amount"] = money.shipping_fee
    a["sales_tax_payment_amount"] += money.shipping_tax
    if kind == "cancel":  # nothing was sent: the buyer gets the shipping back
        a["customer_paid_shipping_fee_refund_amount"] = -money.shipping_fee
        a["sales_tax_refund_amount"] += money.shipping_tax
        a["customer_refund_amount"] -= money.shipping_fee + money.shipping_tax
        return
    trip = "fbt_shipping_cost_amount" if money.by_tiktok else "actual_shipping_fee_amount"
    a[trip] = -money.carrier_cost
    a["platform_shipping_fee_discount_amount"] = money.shipping_platform_discount
    a["shipping_cost_discount_amount"] = money.shipping_incentive
    if kind == "return" and money.seller_pays_return:
        a["actual_return_shipping_fee_amount"] = -money.carrier_cost
    if kind == "sale":
        a["adjustment_amount"] = money.adjustment


def _totals(a: Amounts) -> Amounts:
    a["net_sales_amount"] = (
        a["gross_sales_amount"]
        + a["gross_sales_refund_amount"]
        + a["seller_discount_amount"]
        + a["seller_discount_refund_amount"]
    )
    a["revenue_amount"] = (
        a["net_sales_amount"] + a["platform_discount_amount"] + a["platform_discount_refund_amount"]
    )
    a["customer_payment_amount"] = (
        a["after_seller_discounts_subtotal_amount"]
        + a["customer_shipping_fee_amount"]
        - a["platform_discount_amount"]
        + a["sales_tax_payment_amount"]
    )
    a["sales_tax_amount"] = a["sales_tax_refund_amount"] - a["sales_tax_payment_amount"]
    a["fee_amount"] = sum((a[k] for k in CHARGES), Decimal(0))
    a["shipping_fee_amount"] = sum((a[k] for k in SHIPPING_FEE_PARTS), Decimal(0))
    a["shipping_cost_amount"] = sum((a[k] for k in SHIPPING_COST_PARTS), Decimal(0))
    a["settlement_amount"] = (
        a["revenue_amount"] + a["fee_amount"] + a["shipping_cost_amount"] + a["adjustment_amount"]
    )
    return a


def sku_amounts(money: OrderMoney, kind: str) -> list[tuple[LineMoney, Amounts]]:
    """Each SKU's side of the settlement; order-level amounts ride on the first SKU."""
    rows = []
    for index, m in enumerate(money.lines):
        a: Amounts = dict.fromkeys(MONEY_FIELDS, Decimal(0))
        _items(a, m, refunded=kind != "sale")
        if kind != "cancel":
            _charges(a, m, money, kind)
        if index == 0:
            _shipping(a, money, kind)
        rows.append((m, _totals(a)))
    return rows


def _rendered(amounts: Amounts) -> dict[str, Any]:
    return {k: money(amounts[k]) for k in MONEY_FIELDS}


# --- orders ----------------------------------------------------------------------------

_PACKAGE_STATUS = {
    "UNPAID": "TO_FULFILL",
    "AWAITING_SHIPMENT": "TO_FULFILL",
    "IN_TRANSIT": "FULFILLING",
    "DELIVERED": "COMPLETED",
    "COMPLETED": "COMPLETED",
    "CANCELLED": "CANCELLED",
}
# The seller marks a package ready to ship a few hours before the carrier collects it.
READY_BEFORE_COLLECTION = 3 * 3600


@dataclass(frozen=True)
class Moment:
    """Where an order stands at one of its steps: the instants reached so far."""

    step: Step
    created: int
    paid: int | None
    shipped: int | None
    delivered: int | None
    reached: frozenset[str]

    @classmethod
    def of(cls, steps: OrderSteps, index: int) -> Moment:
        seen = steps.steps[: index + 1]
        first = {s.status: s.at for s in reversed(seen)}
        return cls(
            step=steps.steps[index],
            created=steps.times[0],
            paid=first.get("AWAITING_SHIPMENT"),
            shipped=first.get("IN_TRANSIT"),
            delivered=first.get("DELIVERED"),
            reached=frozenset(first),
        )

    @property
    def ready(self) -> int | None:
        if self.shipped is None or self.paid is None:
            return None
        return max(self.paid, self.shipped - READY_BEFORE_COLLECTION)


def _tracking_number(order_number: int) -> str:
    digest = _digest("tiktok-order", order_number)
    return f"BR{int.from_bytes(digest[:6], 'big') % 10**12:012d}TT"


class OrderRenderer:
    """Renders an order as TikTok shows it at one of its status steps."""

    def __init__(self, world: World, catalog: Catalog, shop_index: dict[Seller, int]) -> None:
        self.catalog = catalog
        self.shop_index = shop_index
        # Packages the seller shipped through the API: (tracking number, provider id, name).
        self.seller_shipments: dict[int, tuple[str, str, str]] = {}
        # Package weights of variations the Catalog cannot derive (created or edited ones).
        self.weights: dict[int, int] = {}
        self.variations: dict[int, tuple[Listing, ListingVariation]] = {}
        for listing in world.listings:
            if listing.seller in shop_index:
                for v in listing.variations:
                    self.variations[v.variation_number] = (listing, v)

    def shipping_of(self, order: Order, m: OrderMoney) -> tuple[str, tuple[str, str]]:
        """The package's tracking number and carrier once it left."""
        sent = self.seller_shipments.get(order.order_number)
        if sent is not None:
            return sent[0], (sent[1], sent[2])
        return _tracking_number(order.order_number), m.carrier

    def weight_g(self, variation_number: int) -> int:
        if variation_number in self.weights:
            return self.weights[variation_number]
        return self.catalog.product_of(*self.variations[variation_number]).weight_g

    def render(self, order: Order, steps: OrderSteps, index: int) -> dict[str, Any]:
        at = Moment.of(steps, index)
        step = at.step
        number = order.order_number
        digest = _digest("tiktok-order", number)
        m = order_money(order)
        buyer = order.buyer
        cancelled = step.status == "CANCELLED"
        body: dict[str, Any] = {
            "id": order_id(number),
            "status": step.status,
            "create_time": at.created,
            "update_time": step.at,
            "user_id": str(_USER_ID_BASE + buyer.buyer_id),
            "buyer_email": f"{digest[6:12].hex()}@chat.seller.tiktok.com",
            "buyer_message": "",
            "cpf": _cpf(buyer.buyer_id),
            "commerce_platform": "TIKTOK_SHOP",
            "order_type": "NORMAL",
            "fulfillment_type": FULFILLED_BY_TIKTOK if m.by_tiktok else "FULFILLMENT_BY_SELLER",
            "shipping_type": "SELLER" if m.by_seller else "TIKTOK",
            "delivery_type": "HOME_DELIVERY",
            "delivery_option_id": (
                SELLER_DELIVERY_OPTION if m.by_seller else TIKTOK_DELIVERY_OPTION
            )[0],
            "delivery_option_name": (
                SELLER_DELIVERY_OPTION if m.by_seller else TIKTOK_DELIVERY_OPTION
            )[1],
            "warehouse_id": warehouse_id(self.shop_index[order.seller]),
            "payment_method_name": _PAYMENT_METHODS[number % len(_PAYMENT_METHODS)],
            "is_cod": False,
            "is_on_hold_order": False,
            "is_sample_order": False,
            "is_replacement_order": False,
            "is_buyer_request_cancel": False,
            "has_updated_recipient_address": False,
            "payment": _payment(m),
            "recipient_address": self._address(order, digest),
            "line_items": self._line_items(order, m, at),
        }
        if at.paid is None and not cancelled:
            body["cancel_order_sla_time"] = at.created + 2 * 86400
        if at.paid is not None:
            body["paid_time"] = at.paid
            body["packages"] = [{"id": package_id(number)}]
            body["rts_sla_time"] = at.paid + 2 * 86400
            body["shipping_due_time"] = at.paid + 2 * 86400
            body["tts_sla_time"] = at.paid + 3 * 86400
            body["delivery_due_time"] = at.paid + 10 * 86400
        if at.shipped is not None:
            body["rts_time"] = at.ready
            body["collection_time"] = at.shipped
            tracking, carrier = self.shipping_of(order, m)
            body["tracking_number"] = tracking
            body["shipping_provider_id"], body["shipping_provider"] = carrier
        if at.delivered is not None:
            body["delivery_time"] = at.delivered
        if cancelled:
            paid_first = "AWAITING_SHIPMENT" in at.reached
            body["cancel_time"] = step.at
            body["cancellation_initiator"] = "BUYER" if paid_first else "SYSTEM"
            body["cancel_reason"] = "No longer needed" if paid_first else "Payment overdue"
        return body

    def _address(self, order: Order, digest: bytes) -> dict[str, Any]:
        buyer = order.buyer
        number = 10 + digest[12] * 7 % 1990
        street = _STREETS[digest[13] % len(_STREETS)]
        district = int.from_bytes(digest[14:17], "big") % 1000
        cep = f"{_CEP_PREFIX.get(buyer.city, '01')}{district:03d}-{digest[17]:03d}"
        state = _STATE_NAMES.get(buyer.state, buyer.state)
        name = f"{buyer.first_name} {buyer.last_name}"
        line1 = f"{street}, {number}"
        return {
            "name": name,
            "first_name": buyer.first_name,
            "last_name": buyer.last_name,
            "phone_number": f"(+55)11*****{int.from_bytes(digest[18:20], 'big') % 10000:04d}",
            "postal_code": cep,
            "region_code": "BR",
            "address_line1": line1,
            "address_line2": "",
            "address_line3": "",
            "address_line4": "",
            "address_detail": "Apto 12" if digest[20] % 2 else "",
            "full_address": f"{line1}, {buyer.city}, {state}, {cep}, Brasil",
            "district_info": [
                {"address_level": "L0", "address_level_name": "Country", "address_name": "Brasil"},
                {"address_level": "L1", "address_level_name": "State", "address_name": state},
                {"address_level": "L2", "address_level_name": "City", "address_name": buyer.city},
            ],
        }

    def line_item_id(self, order: Order, unit: int) -> str:
        return str(_LINE_ITEM_ID_BASE + order.order_number * 1000 + unit)

    def _line_items(self, order: Order, m: OrderMoney, at: Moment) -> list[dict[str, Any]]:
        step = at.step
        items = []
        unit = 0
        for lm in m.lines:
            line = lm.line
            listing, variation = self.variations[line.variation_number]
            template: dict[str, Any] = {
                "id": "",
                "sku_id": sku_id(line.variation_number),
                "product_id": product_id(line.listing_number),
                "product_name": line.title,
                "sku_name": ", ".join(value for _, value in variation.attributes),
                "seller_sku": line.sku or "",
                "sku_image": f"https://p16-oec-va.ibyteimg.com/sandbox/{listing.parent_sku}-1.jpeg",
                "sku_type": "NORMAL",
                "currency": CURRENCY,
                "sale_price": money(lm.sale),
                "original_price": money(lm.original),
                "seller_discount": money(lm.seller_discount),
                "platform_discount": money(lm.platform_discount),
                "display_status": step.status,
                "package_status": _PACKAGE_STATUS[step.status],
                "is_gift": False,
            }
            if lm.tax:
                template["item_tax"] = [
                    {"tax_type": "SALES_TAX", "tax_amount": money(lm.tax), "tax_rate": "0.05"}
                ]
            if at.paid is not None:
                template["package_id"] = package_id(order.order_number)
            if at.shipped is not None:
                tracking, carrier = self.shipping_of(order, m)
                template["rts_time"] = at.ready
                template["tracking_number"] = tracking
                template["shipping_provider_id"], template["shipping_provider_name"] = carrier
            if step.status == "CANCELLED":
                template["cancel_user"] = "BUYER" if at.paid is not None else "SYSTEM"
                template["cancel_reason"] = (
                    "No longer needed" if at.paid is not None else "Payment overdue"
                )
            if step.returned:
                template["display_status"] = "CANCELLED"
                template["cancel_user"] = "BUYER"
                template["cancel_reason"] = "Return and refund"
            # The real API lists one line item per unit sold, each with its own id.
            for _ in range(line.quantity):
                items.append({**template, "id": self.line_item_id(order, unit)})
                unit += 1
        return items

    # --- finance ----------------------------------------------------------------------

    def statement_transaction(
        self, order: Order, settlement: Settlement, shop_index: int
    ) -> dict[str, Any]:
        """The order's settled transaction, with its SKU rows (the per-order endpoint)."""
        rows = sku_amounts(order_money(order), settlement.kind)
        skus = []
        for m, amounts in rows:
            _, variation = self.variations[m.line.variation_number]
            skus.append(
                _rendered(amounts)
                | {
                    "currency": CURRENCY,
                    "product_name": m.line.title,
                    "quantity": m.line.quantity,
                    "sku_id": sku_id(m.line.variation_number),
                    "sku_name": ", ".join(value for _, value in variation.attributes),
                }
            )
        return _rendered(order_total(rows)) | {
            "currency": CURRENCY,
            "id": str(_TRANSACTION_ID_BASE + order.order_number),
            "sku_statement_transactions": skus,
            "statement_id": statement_id(shop_index, settlement.statement_time),
            "statement_time": settlement.statement_time,
            "status": "SETTLED",
        }

    def statement_row(self, order: Order, settlement: Settlement) -> dict[str, Any]:
        """The order's line in a statement's transaction list (no SKU rows there)."""
        rows = sku_amounts(order_money(order), settlement.kind)
        return _rendered(order_total(rows)) | {
            "currency": CURRENCY,
            "id": str(_TRANSACTION_ID_BASE + order.order_number),
            "order_create_time": epoch(order.created_at),
            "order_id": order_id(order.order_number),
            "type": "ORDER",
        }

    # --- fulfillment ------------------------------------------------------------------

    def package_detail(
        self, order: Order, steps: OrderSteps, index: int, shop_index: int
    ) -> dict[str, Any]:
        """The order's one package as the package detail shows it (SKIT sample's fields)."""
        at = Moment.of(steps, index)
        m = order_money(order)
        number = order.order_number
        address = self._address(order, _digest("tiktok-order", number))
        pickup = _roll(number, "handover") % 2 == 0
        units = sum(lm.line.quantity for lm in m.lines)
        grams = sum(
            (self.weight_g(lm.line.variation_number) * lm.line.quantity for lm in m.lines), 0
        )
        tracking, carrier = self.shipping_of(order, m)
        option = SELLER_DELIVERY_OPTION if m.by_seller else TIKTOK_DELIVERY_OPTION
        body: dict[str, Any] = {
            "create_time": at.paid,
            "delivery_option_id": option[0],
            "delivery_option_name": option[1],
            "dimension": {"height": "10", "length": "30", "unit": "CM", "width": "20"},
            "handover_method": "PICKUP" if pickup else "DROP_OFF",
            "has_multi_skus": len(m.lines) > 1,
            "note_tag": "BUYER_UNNOTED",
            "order_line_item_ids": [self.line_item_id(order, u) for u in range(units)],
            "orders": [
                {
                    "id": order_id(number),
                    "skus": [
                        {
                            "id": sku_id(lm.line.variation_number),
                            "image_url": "https://p16-oec-va.ibyteimg.com/sandbox/"
                            f"{self.variations[lm.line.variation_number][0].parent_sku}-1.jpeg",
                            "name": lm.line.title,
                            "quantity": lm.line.quantity,
                        }
                        for lm in m.lines
                    ],
                }
            ],
            "package_id": package_id(number),
            "package_status": _PACKAGE_STATUS[at.step.status],
            "recipient_address": {
                k: address[k]
                for k in (
                    "address_detail",
                    "address_line1",
                    "address_line2",
                    "address_line3",
                    "address_line4",
                    "full_address",
                    "name",
                    "phone_number",
                    "postal_code",
                    "region_code",
                )
            },
            "sender_address": _sender_address(shop_index),
            "shipping_provider_id": carrier[0],
            "shipping_provider_name": carrier[1],
            "shipping_type": "SELLER" if m.by_seller else "TIKTOK",
            "tracking_number": tracking if at.shipped is not None else "",
            "update_time": at.step.at,
            "weight": {"unit": "GRAM", "value": str(grams)},
        }
        if pickup and at.paid is not None:
            start = at.paid + 86_400
            body["pickup_slot"] = {"start_time": start, "end_time": start + 4 * 3600}
        return body

    def tracking(self, steps: OrderSteps, now: int) -> list[dict[str, Any]]:
        """The carrier's scans so far, newest first (none before the carrier collects)."""
        at = Moment.of(steps, steps.index_at(now))
        events: list[tuple[int, str]] = []
        if at.shipped is not None and at.shipped <= now:
            events.append((at.shipped, "Your package has been picked up by the carrier"))
            sorted_at = at.shipped + 12 * 3600
            if sorted_at <= now and (at.delivered is None or sorted_at < at.delivered):
                events.append((sorted_at, "Your package arrived at the sorting center"))
        if at.delivered is not None and at.delivered <= now:
            events.append((at.delivered, "Your package was delivered!"))
        return [
            {"description": text, "update_time_millis": instant * 1000}
            for instant, text in sorted(events, reverse=True)
        ]


def order_total(rows: list[tuple[LineMoney, Amounts]]) -> Amounts:
    """The transaction's amounts: each field summed over its SKU rows."""
    return {k: sum((a[k] for _, a in rows), Decimal(0)) for k in MONEY_FIELDS}


def _payment(m: OrderMoney) -> dict[str, Any]:
    return {
        "currency": CURRENCY,
        "sub_total": money(m.sub_total),
        "shipping_fee": money(m.shipping_fee),
        "seller_discount": money(m.seller_discount),
        "platform_discount": money(m.platform_discount),
        "total_amount": money(m.total),
        "original_total_product_price": money(m.gross),
        "original_shipping_fee": money(m.shipping),
        "shipping_fee_seller_discount": money(m.shipping_seller_discount),
        "shipping_fee_platform_discount": money(m.shipping_platform_discount),
        "tax": money(m.product_tax + m.shipping_tax),
        "product_tax": money(m.product_tax),
        "shipping_fee_tax": money(m.shipping_tax),
        "handling_fee": "0",
    }


def _sender_address(shop_index: int) -> dict[str, Any]:
    line1 = f"Rua do Centro de Distribuição, {100 + shop_index}"
    return {
        "address_detail": "Galpão 3",
        "address_line1": line1,
        "address_line2": "",
        "address_line3": "",
        "address_line4": "",
        "full_address": f"{line1}, Barueri, São Paulo, 06460-000, Brasil",
        "name": "Centro de distribuição",
        "phone_number": "(+55)11*****0000",
        "postal_code": "06460-000",
        "region_code": "BR",
    }
