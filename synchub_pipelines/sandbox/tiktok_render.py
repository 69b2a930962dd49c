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
"""

from __future__ import annotations

import hashlib
import operator
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from synchub_pipelines.sandbox.world import (
    Listing,
    ListingVariation,
    Order,
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
_SHIPPING_PROVIDER = ("7117858858072016686", "J&T Express Brasil")


def money(value: Decimal) -> str:
    """TikTok sends amounts as decimal strings without padding ("59.9", "100")."""
    return format(value.normalize(), "f")


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

    def product_summary(
        self, listing: Listing, shop_index: int, update_time: int
    ) -> dict[str, Any]:
        return {
            "id": product_id(listing.listing_number),
            "title": listing.title,
            "status": product_status(listing),
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
            "status": product_status(listing),
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
        }


def product_status(listing: Listing) -> str:
    return "ACTIVATE" if listing.status == "active" else "SELLER_DEACTIVATED"


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


# --- orders ----------------------------------------------------------------------------


class OrderRenderer:
    """Renders an order as TikTok shows it at one of its status steps."""

    def __init__(self, world: World, catalog: Catalog, shop_index: dict[Seller, int]) -> None:
        self.catalog = catalog
        self.shop_index = shop_index
        self.variations: dict[int, tuple[Listing, ListingVariation]] = {}
        for listing in world.listings:
            if listing.seller in shop_index:
                for v in listing.variations:
                    self.variations[v.variation_number] = (listing, v)

    def render(self, order: Order, steps: OrderSteps, index: int) -> dict[str, Any]:
        step = steps.steps[index]
        seen = steps.steps[: index + 1]
        reached = {s.status for s in seen}
        number = order.order_number
        digest = _digest("tiktok-order", number)
        created = steps.times[0]
        paid = next((s.at for s in seen if s.status == "AWAITING_SHIPMENT"), None)
        shipped = next((s.at for s in seen if s.status == "IN_TRANSIT"), None)
        delivered = next((s.at for s in seen if s.status == "DELIVERED"), None)
        warehouse = warehouse_id(self.shop_index[order.seller])
        package = str(_PACKAGE_ID_BASE + number)
        tracking = f"BR{int.from_bytes(digest[:6], 'big') % 10**12:012d}TT"
        subtotal = order.total
        total = subtotal + order.shipping_cost
        buyer = order.buyer
        cancelled = step.status == "CANCELLED"
        body: dict[str, Any] = {
            "id": order_id(number),
            "status": step.status,
            "create_time": created,
            "update_time": step.at,
            "user_id": str(_USER_ID_BASE + buyer.buyer_id),
            "buyer_email": f"{digest[6:12].hex()}@chat.seller.tiktok.com",
            "buyer_message": "",
            "cpf": _cpf(buyer.buyer_id),
            "commerce_platform": "TIKTOK_SHOP",
            "order_type": "NORMAL",
            "fulfillment_type": "FULFILLMENT_BY_SELLER",
            "shipping_type": "TIKTOK",
            "delivery_type": "HOME_DELIVERY",
            "delivery_option_id": "7091146663229654785",
            "delivery_option_name": "Envio padrão",
            "warehouse_id": warehouse,
            "payment_method_name": _PAYMENT_METHODS[number % len(_PAYMENT_METHODS)],
            "is_cod": False,
            "is_on_hold_order": False,
            "is_sample_order": False,
            "is_replacement_order": False,
            "is_buyer_request_cancel": False,
            "has_updated_recipient_address": False,
            "payment": {
                "currency": CURRENCY,
                "sub_total": money(subtotal),
                "shipping_fee": money(order.shipping_cost),
                "seller_discount": "0",
                "platform_discount": "0",
                "total_amount": money(total),
                "original_total_product_price": money(subtotal),
                "original_shipping_fee": money(order.shipping_cost),
                "shipping_fee_seller_discount": "0",
                "shipping_fee_platform_discount": "0",
                "tax": "0",
                "product_tax": "0",
                "shipping_fee_tax": "0",
                "handling_fee": "0",
            },
            "recipient_address": self._address(order, digest),
            "line_items": self._line_items(order, step, paid, shipped, package, tracking),
        }
        if paid is None and not cancelled:
            body["cancel_order_sla_time"] = created + 2 * 86400
        if paid is not None:
            body["paid_time"] = paid
            body["packages"] = [{"id": package}]
            body["rts_sla_time"] = paid + 2 * 86400
            body["shipping_due_time"] = paid + 2 * 86400
            body["tts_sla_time"] = paid + 3 * 86400
            body["delivery_due_time"] = paid + 10 * 86400
        if shipped is not None:
            body["rts_time"] = shipped
            body["collection_time"] = shipped
            body["tracking_number"] = tracking
            body["shipping_provider_id"], body["shipping_provider"] = _SHIPPING_PROVIDER
        if delivered is not None:
            body["delivery_time"] = delivered
        if cancelled:
            body["cancel_time"] = step.at
            body["cancellation_initiator"] = "BUYER" if "AWAITING_SHIPMENT" in reached else "SYSTEM"
            body["cancel_reason"] = (
                "No longer needed" if "AWAITING_SHIPMENT" in reached else "Payment overdue"
            )
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

    def _line_items(
        self,
        order: Order,
        step: Step,
        paid: int | None,
        shipped: int | None,
        package: str,
        tracking: str,
    ) -> list[dict[str, Any]]:
        package_status = {
            "UNPAID": "TO_FULFILL",
            "AWAITING_SHIPMENT": "TO_FULFILL",
            "IN_TRANSIT": "FULFILLING",
            "DELIVERED": "COMPLETED",
            "COMPLETED": "COMPLETED",
            "CANCELLED": "CANCELLED",
        }[step.status]
        items = []
        unit = 0
        for line in order.lines:
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
                "sale_price": money(line.unit_price),
                "original_price": money(line.unit_price),
                "seller_discount": "0",
                "platform_discount": "0",
                "display_status": step.status,
                "package_status": package_status,
                "is_gift": False,
            }
            if paid is not None:
                template["package_id"] = package
            if shipped is not None:
                template["rts_time"] = shipped
                template["tracking_number"] = tracking
                template["shipping_provider_id"], template["shipping_provider_name"] = (
                    _SHIPPING_PROVIDER
                )
            if step.status == "CANCELLED":
                template["cancel_user"] = "BUYER" if paid is not None else "SYSTEM"
                template["cancel_reason"] = (
                    "No longer needed" if paid is not None else "Payment overdue"
                )
            if step.returned:
                template["display_status"] = "CANCELLED"
                template["cancel_user"] = "BUYER"
                template["cancel_reason"] = "Return and refund"
            # The real API lists one line item per unit sold, each with its own id.
            for _ in range(line.quantity):
                items.append(
                    {**template, "id": str(_LINE_ITEM_ID_BASE + order.order_number * 1000 + unit)}
                )
                unit += 1
        return items
