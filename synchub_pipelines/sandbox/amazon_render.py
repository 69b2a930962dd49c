"""How the Amazon simulator sees the World: ids, payloads, money, per-seller indices, patch checks.

Shapes follow `amzn/selling-partner-api-models` (ordersV0.json, orders_2026-01-01.json,
financesV0.json, listingsItems_2021-08-01.json): Orders v0 speaks PascalCase with Money as
`{CurrencyCode, Amount}` (Amount a string); Finances v0 PascalCase with `{CurrencyCode,
CurrencyAmount}` (a JSON number); Orders 2026-01-01 and Listings 2021-08-01 camelCase with
`{currencyCode, amount}`. Ids and payloads are pure functions of the World, so a seed always
renders the same bytes. The HTTP side (auth, quotas, envelopes) lives in `amazon.py`.

Money the World does not hold is derived from the order number (zlib.crc32), the same way
on every endpoint, by `order_money`: one order in five is fulfilled by Amazon (FBA), some
multi-unit lines are sold at a quantity price one cent under price × quantity (so the unit
price does not divide the line), some orders carry a 10 % promotion, a 5 % tax or free
shipping. Fees follow Amazon's shapes (Commission on what the buyer paid for the line,
FixedClosingFee on cheap seller-fulfilled units, FBAPerUnitFulfillmentFee per FBA unit,
RefundCommission on refunds). The sale is posted when the order ships and deferred until
seven days after delivery (Amazon's DD+7): "Deferred events don't appear … until they are
released", so recent orders show no fees yet. A returned order is refunded in full when it
comes back.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from synchub_pipelines.sandbox.world import Listing, ListingVariation, Order, Product, Seller, World

MARKETPLACE_ID = "A2Q3Y263D00KWC"  # Amazon.com.br
SALES_CHANNEL = "Amazon.com.br"
CURRENCY = "BRL"
LANGUAGE_TAG = "pt_BR"
CENT = Decimal("0.01")
DAY = 86_400.0
HOUR = 3_600.0
# Amazon holds a sale's funds until seven days after delivery (DD+7).
DEFERRAL_SECONDS = 7 * DAY
# The label is bought a few hours before the carrier collects the package.
LABEL_LEAD_SECONDS = 3 * HOUR
COMMISSION_RATES = (Decimal("0.10"), Decimal("0.12"), Decimal("0.15"))
FIXED_CLOSING_FEE = Decimal("2.00")  # per unit priced under CHEAP_UNIT, seller-fulfilled
CHEAP_UNIT = Decimal("79.00")
FBA_UNIT_FEES = (Decimal("8.45"), Decimal("9.95"), Decimal("12.40"))
REFUND_COMMISSION_SHARE = Decimal("0.20")  # of the refunded commission, capped
REFUND_COMMISSION_CAP = Decimal("30.00")
PROMOTION_SHARE = Decimal("0.10")
TAX_RATE = Decimal("0.05")
PROMOTION_ID = "BR-PROMO-10"
FREE_SHIPPING_ID = "BR-FRETE-GRATIS"
# Every list a FinancialEvents object carries (financesV0.json), rendered empty when unused.
FINANCIAL_EVENT_LISTS = (
    "ShipmentEventList",
    "ShipmentSettleEventList",
    "RefundEventList",
    "GuaranteeClaimEventList",
    "EBTRefundReimbursementOnlyEventList",
    "ChargebackEventList",
    "PayWithAmazonEventList",
    "ServiceProviderCreditEventList",
    "RetrochargeEventList",
    "RentalTransactionEventList",
    "ProductAdsPaymentEventList",
    "ServiceFeeEventList",
    "SellerDealPaymentEventList",
    "DebtRecoveryEventList",
    "LoanServicingEventList",
    "AdjustmentEventList",
    "SAFETReimbursementEventList",
    "SellerReviewEnrollmentPaymentEventList",
    "FBALiquidationEventList",
    "CouponPaymentEventList",
    "ImagingServicesFeeEventList",
    "NetworkComminglingTransactionEventList",
    "AffordabilityExpenseEventList",
    "AffordabilityExpenseReversalEventList",
    "RemovalShipmentEventList",
    "RemovalShipmentAdjustmentEventList",
    "TrialShipmentEventList",
    "TDSReimbursementEventList",
    "AdhocDisbursementEventList",
    "TaxWithholdingEventList",
    "ChargeRefundEventList",
    "FailedAdhocDisbursementEventList",
    "ValueAddedServiceChargeEventList",
    "CapacityReservationBillingEventList",
)
SALE, REFUND = 0, 1  # kinds of posting, in the order they happen
ORDER_2026_INCLUDED = frozenset(
    {
        "BUYER",
        "RECIPIENT",
        "PROCEEDS",
        "EXPENSE",
        "PROMOTION",
        "CANCELLATION",
        "FULFILLMENT",
        "PACKAGES",
        "TAX",
        "PAYMENT",
        "FULFILLMENT_ORDERS",
    }
)
FULFILLMENT_STATUS = {
    "Pending": "PENDING",
    "Unshipped": "UNSHIPPED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
}
# (carrier, shipping service, tracking number prefix or None for digits only)
CARRIERS = (
    ("Correios", "SEDEX", "AD"),
    ("Jadlog", "Jadlog .Package", None),
    ("Loggi", "Loggi Express", "LG"),
)

# Orders API has no Delivered or Returned status for merchant-fulfilled orders: delivery and
# returns live in other APIs (Reports, Returns), so the order simply stays Shipped.
ORDER_STATUS = {
    "pending": "Pending",
    "paid": "Unshipped",
    "shipped": "Shipped",
    "delivered": "Shipped",
    "cancelled": "Canceled",
    "returned": "Shipped",
}
ORDER_STATUSES = frozenset(
    {
        "PendingAvailability",
        "Pending",
        "Unshipped",
        "PartiallyShipped",
        "Shipped",
        "Canceled",
        "Unfulfillable",
        "InvoiceUnconfirmed",
    }
)

_PRODUCT_TYPES = {
    "Moda > Camisetas": "SHIRT",
    "Moda > Moletons": "SWEATSHIRT",
    "Calçados > Tênis": "SHOES",
    "Moda > Meias": "SOCKS",
    "Casa > Garrafas": "BOTTLE",
    "Casa > Cozinha": "COOKWARE",
    "Eletrônicos > Fones": "HEADPHONES",
    "Eletrônicos > Carregadores": "CHARGING_ADAPTER",
    "Acessórios > Mochilas": "BACKPACK",
    "Casa > Iluminação": "LAMP",
    "Esporte > Yoga": "EXERCISE_MAT",
    "Casa > Eletroportáteis": "COFFEE_MAKER",
}

_POSTAL_PREFIX = {
    "São Paulo": "01310",
    "Campinas": "13010",
    "Rio de Janeiro": "20040",
    "Belo Horizonte": "30130",
    "Curitiba": "80010",
    "Porto Alegre": "90010",
    "Salvador": "40020",
    "Recife": "50010",
    "Fortaleza": "60060",
    "Goiânia": "74003",
}

# Odd multipliers not divisible by 5 are invertible modulo 10**14, so these ids are bijective
# in the order number while still looking scattered like Amazon's.
_ORDER_ID_MULTIPLIER = 73_687_877
_ITEM_ID_MULTIPLIER = 91_733_613
_ID_MODULUS = 10**14
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_UNPARSABLE = "Request has missing or invalid parameters and cannot be parsed."
_ATTRIBUTE_PATH = re.compile(r"^/attributes/([A-Za-z0-9_]+)$")
_FULFILLMENT = "fulfillment_availability"
_PATCH_OPS = frozenset({"add", "replace", "merge", "delete"})


# Finances v0 amounts are JSON numbers: `number()` marks a Decimal's text in the body and
# `dumps` writes it bare, so no amount ever passes through a float on its way out.
_RAW = "\x01"
_RAW_NUMBER = re.compile(r'"\\u0001(-?\d+\.\d+)\\u0001"')


def dumps(body: object) -> str:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return _RAW_NUMBER.sub(r"\1", text) if "\\u0001" in text else text


def number(amount: Decimal) -> str:
    """A JSON number with exactly this Decimal's cents (see `dumps`)."""
    # A zero may carry a sign (0 × −1), which would print as -0.00.
    return f"{_RAW}{amount if amount else abs(amount):.2f}{_RAW}"


class MalformedPatch(ValueError):
    """A patch request Amazon cannot even parse: answered 400, not as a submission."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message, self.details = message, details


_ISO = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z"


def iso(ts: float) -> str:
    # gmtime + str.format: several times faster than datetime.strftime on the drain path.
    return _ISO.format(*time.gmtime(ts))


def money(amount: Decimal) -> dict[str, str]:
    return {"CurrencyCode": CURRENCY, "Amount": f"{amount:.2f}"}


def fin_money(amount: Decimal) -> dict[str, str]:
    return {"CurrencyCode": CURRENCY, "CurrencyAmount": number(amount)}


def money_2026(amount: Decimal) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currencyCode": CURRENCY}


def roll(order_number: int, purpose: str) -> int:
    """A deterministic draw for one purpose of one order (or listing, SKU…)."""
    return zlib.crc32(f"{purpose}:{order_number}".encode())


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def fulfilled_by_amazon(order_number: int) -> bool:
    """One order in five is fulfilled by Amazon (FBA): no label, no tracking for the seller."""
    return roll(order_number, "afn") % 5 == 0


def amazon_order_id(order_number: int) -> str:
    digits = f"{order_number * _ORDER_ID_MULTIPLIER % _ID_MODULUS:014d}"
    return f"701-{digits[:7]}-{digits[7:]}"


def order_item_id(order_number: int, line_index: int) -> str:
    return f"{(order_number * 8 + line_index) * _ITEM_ID_MULTIPLIER % _ID_MODULUS:014d}"


def adjustment_item_id(order_number: int, line_index: int) -> str:
    """The OrderAdjustmentItemId a refund gives a line (refunds name no OrderItemId)."""
    return f"{(order_number * 8 + line_index + 4) * _ITEM_ID_MULTIPLIER % _ID_MODULUS:014d}"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


def asin_for(parent_sku: str, attributes: tuple[tuple[str, str], ...]) -> str:
    """The catalog item's ASIN: shared by every seller offering the same product."""
    number = int.from_bytes(_digest("asin", parent_sku, attributes)[:8], "big")
    chars = []
    for _ in range(8):
        number, rest = divmod(number, 36)
        chars.append(_BASE36[rest])
    return "B0" + "".join(chars)


def product_type_for(category: str) -> str:
    return _PRODUCT_TYPES.get(category, "PRODUCT")


@dataclass(frozen=True, slots=True)
class LineMoney:
    """One order line's money as Amazon states it, and the fees Amazon charges on it.

    Amounts are magnitudes; fees are what the seller is charged (positive)."""

    index: int
    item_price: Decimal  # the line total (ItemPrice), not always unit × quantity
    item_tax: Decimal
    promotion: Decimal
    shipping: Decimal
    shipping_tax: Decimal
    shipping_discount: Decimal
    commission: Decimal
    closing_fee: Decimal
    fba_fee: Decimal

    @property
    def paid(self) -> Decimal:
        """What the buyer paid for the line (its share of OrderTotal)."""
        return (
            self.item_price
            + self.item_tax
            + self.shipping
            + self.shipping_tax
            - self.promotion
            - self.shipping_discount
        )

    @property
    def fees(self) -> Decimal:
        return self.commission + self.closing_fee + self.fba_fee

    @property
    def refund_commission(self) -> Decimal:
        """Amazon keeps part of the commission it gives back on a refund."""
        return min(_cents(self.commission * REFUND_COMMISSION_SHARE), REFUND_COMMISSION_CAP)


def _line_money(order: Order, index: int, afn: bool) -> LineMoney:
    line = order.lines[index]
    number = order.order_number
    price = line.unit_price * line.quantity
    if line.quantity >= 2 and roll(number, f"quantity-price:{index}") % 3 == 0:
        price -= CENT  # a quantity price: the unit no longer divides the line
    first = index == 0
    shipping = order.shipping_cost if first else Decimal(0)
    promoted = first and roll(number, "promo") % 4 == 0
    promotion = _cents(price * PROMOTION_SHARE) if promoted else Decimal(0)
    taxed = roll(number, "tax") % 5 == 0
    free_shipping = first and shipping > 0 and roll(number, "free-shipping") % 6 == 0
    shipping_discount = shipping if free_shipping else Decimal(0)
    rate = COMMISSION_RATES[roll(line.listing_number, "commission") % len(COMMISSION_RATES)]
    sold_for = price - promotion + shipping - shipping_discount
    cheap = not afn and line.unit_price < CHEAP_UNIT
    fba_unit = FBA_UNIT_FEES[roll(line.variation_number, "fba") % len(FBA_UNIT_FEES)]
    return LineMoney(
        index=index,
        item_price=price,
        item_tax=_cents(price * TAX_RATE) if taxed else Decimal(0),
        promotion=promotion,
        shipping=shipping,
        # Free shipping bears no tax (so ShippingDiscountTax stays 0).
        shipping_tax=_cents((shipping - shipping_discount) * TAX_RATE) if taxed else Decimal(0),
        shipping_discount=shipping_discount,
        commission=_cents(sold_for * rate),
        closing_fee=FIXED_CLOSING_FEE * line.quantity if cheap else Decimal(0),
        fba_fee=fba_unit * line.quantity if afn else Decimal(0),
    )


def order_money(order: Order) -> list[LineMoney]:
    """Every line's money, derived from the World's order and its number."""
    afn = fulfilled_by_amazon(order.order_number)
    return [_line_money(order, index, afn) for index in range(len(order.lines))]


def order_total(order: Order) -> Decimal:
    return sum((line.paid for line in order_money(order)), Decimal(0))


def _first(order: Order, status: str) -> float | None:
    return next((when.timestamp() for step, when in order.timeline if step == status), None)


@dataclass(frozen=True, slots=True)
class AmazonOrder:
    """An order as Amazon tracks it: status steps collapsed to the statuses Amazon shows."""

    order: Order
    amazon_order_id: str
    created_ts: float
    steps: tuple[tuple[str, float], ...]  # (OrderStatus, since), strictly increasing in time
    paid: bool  # payment was authorized at some point (Canceled orders may never have been)
    afn: bool  # fulfilled by Amazon
    paid_ts: float | None
    shipped_ts: float | None
    delivered_ts: float | None
    returned_ts: float | None

    @classmethod
    def of(cls, order: Order) -> AmazonOrder:
        steps: list[tuple[str, float]] = []
        for status, when in order.timeline:
            shown, ts = ORDER_STATUS[status], when.timestamp()
            if steps and steps[-1][0] == shown:
                continue
            if steps and steps[-1][1] == ts:
                # Two steps at the same instant: only the later one is ever observable.
                steps[-1] = (shown, ts)
            else:
                steps.append((shown, ts))
        return cls(
            order=order,
            amazon_order_id=amazon_order_id(order.order_number),
            created_ts=order.created_at.timestamp(),
            steps=tuple(steps),
            paid=any(status == "paid" for status, _ in order.timeline),
            afn=fulfilled_by_amazon(order.order_number),
            paid_ts=_first(order, "paid"),
            shipped_ts=_first(order, "shipped"),
            delivered_ts=_first(order, "delivered"),
            returned_ts=_first(order, "returned"),
        )

    def step_at(self, now_ts: float) -> int:
        """Index of the step visible at `now_ts` (-1 when the order does not exist yet)."""
        index = -1
        for i, (_, since) in enumerate(self.steps):
            if since > now_ts:
                break
            index = i
        return index

    @property
    def released_ts(self) -> float | None:
        """When the deferred sale shows in the financial events: DD+7 (or seven days after
        a parcel came back undelivered)."""
        arrived = self.delivered_ts if self.delivered_ts is not None else self.returned_ts
        return None if arrived is None else arrived + DEFERRAL_SECONDS

    def postings(self) -> list[tuple[float, int]]:
        """(PostedDate, kind) of every financial event the order will ever have."""
        found = []
        if self.shipped_ts is not None:
            found.append((self.shipped_ts, SALE))
        if self.returned_ts is not None and self.shipped_ts is not None:
            found.append((self.returned_ts, REFUND))
        return found

    def visible(self, kind: int, now_ts: float) -> bool:
        if kind == REFUND:
            return self.returned_ts is not None and self.returned_ts <= now_ts
        released = self.released_ts
        return released is not None and released <= now_ts


def ship_windows(created: float) -> dict[str, str]:
    return {
        "EarliestShipDate": iso(created + DAY),
        "LatestShipDate": iso(created + 2 * DAY),
        "EarliestDeliveryDate": iso(created + 4 * DAY),
        "LatestDeliveryDate": iso(created + 10 * DAY),
    }


def render_order(
    view: AmazonOrder, step: int, invoice_status: str = "NotRequired"
) -> dict[str, Any]:
    order = view.order
    status, since = view.steps[step]
    units = sum(line.quantity for line in order.lines)
    shipped = status == "Shipped"
    created = view.created_ts
    prime = order.order_number % 7 == 0
    payment_known = status in ("Unshipped", "Shipped") or (status == "Canceled" and view.paid)
    body: dict[str, Any] = {
        "AmazonOrderId": view.amazon_order_id,
        "PurchaseDate": iso(created),
        "LastUpdateDate": iso(since),
        "OrderStatus": status,
        "FulfillmentChannel": "AFN" if view.afn else "MFN",
        "SalesChannel": SALES_CHANNEL,
        "ShipServiceLevel": "Exp BR D2D Dom" if prime else "Std BR D2D Dom",
    }
    if payment_known:
        # Amazon omits the total until payment is authorized (see the Pending doc example).
        body["OrderTotal"] = money(order_total(order))
    body |= {
        "NumberOfItemsShipped": units if shipped else 0,
        "NumberOfItemsUnshipped": units if status == "Unshipped" else 0,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["CreditCard"] if order.order_number % 5 else ["Standard"],
        "IsReplacementOrder": False,
        "MarketplaceId": MARKETPLACE_ID,
        "ShipmentServiceLevelCategory": "Expedited" if prime else "Standard",
        "OrderType": "StandardOrder",
    }
    if not view.afn:
        # The seller's commitments: "Only returned for seller-fulfilled orders".
        body |= ship_windows(created)
    body |= {
        "IsBusinessOrder": False,
        "IsPrime": prime,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsSoldByAB": False,
        "IsIBA": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "AutomatedShippingSettings": {"HasAutomatedShippingSettings": False},
        "ElectronicInvoiceStatus": invoice_status,
    }
    if payment_known:
        buyer = order.buyer
        # Without a Restricted Data Token only the non-PII part of the address is returned.
        body["ShippingAddress"] = {
            "City": buyer.city,
            "StateOrRegion": buyer.state,
            "PostalCode": f"{_POSTAL_PREFIX.get(buyer.city, '01000')}-{buyer.buyer_id % 1000:03d}",
            "CountryCode": "BR",
        }
    return body


def render_order_items(view: AmazonOrder, step: int, asins: dict[int, str]) -> list[dict[str, Any]]:
    """One OrderItem per order line; the order's shipping is charged on the first item."""
    order = view.order
    status = view.steps[step][0]
    items = []
    for line, cash in zip(order.lines, order_money(order), strict=True):
        item: dict[str, Any] = {"ASIN": asins[line.variation_number]}
        if line.sku is not None:
            item["SellerSKU"] = line.sku
        item |= {
            "OrderItemId": order_item_id(order.order_number, cash.index),
            "Title": line.title,
            "QuantityOrdered": line.quantity,
            "QuantityShipped": line.quantity if status == "Shipped" else 0,
            "ProductInfo": {"NumberOfItems": "1"},
            "ItemPrice": money(cash.item_price),
            "ShippingPrice": money(cash.shipping),
            "ItemTax": money(cash.item_tax),
            "ShippingTax": money(cash.shipping_tax),
            "ShippingDiscount": money(cash.shipping_discount),
            "ShippingDiscountTax": money(Decimal(0)),
            "PromotionDiscount": money(cash.promotion),
            "PromotionDiscountTax": money(Decimal(0)),
            "PromotionIds": _promotion_ids(cash),
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": False,
            "SerialNumberRequired": False,
        }
        items.append(item)
    return items


def _promotion_ids(cash: LineMoney) -> list[str]:
    return [
        promotion_id
        for promotion_id, amount in (
            (PROMOTION_ID, cash.promotion),
            (FREE_SHIPPING_ID, cash.shipping_discount),
        )
        if amount
    ]


# --- Finances v0 ------------------------------------------------------------------------


def _charges(cash: LineMoney, sign: int) -> list[dict[str, Any]]:
    return [
        {"ChargeType": kind, "ChargeAmount": fin_money(sign * amount)}
        for kind, amount in (
            ("Principal", cash.item_price),
            ("Tax", cash.item_tax),
            ("ShippingCharge", cash.shipping),
            ("ShippingTax", cash.shipping_tax),
        )
    ]


def _promotions(cash: LineMoney, sign: int) -> list[dict[str, Any]]:
    return [
        {
            "PromotionType": "PromotionMetaDataDefinitionValue",
            "PromotionId": promotion_id,
            "PromotionAmount": fin_money(sign * amount),
        }
        for promotion_id, amount in (
            (PROMOTION_ID, cash.promotion),
            (FREE_SHIPPING_ID, cash.shipping_discount),
        )
        if amount
    ]


def _fee(kind: str, amount: Decimal) -> dict[str, Any]:
    return {"FeeType": kind, "FeeAmount": fin_money(amount)}


def _sale_item(order: Order, cash: LineMoney, afn: bool) -> dict[str, Any]:
    line = order.lines[cash.index]
    item: dict[str, Any] = {"SellerSKU": line.sku} if line.sku is not None else {}
    fees = [_fee("Commission", -cash.commission)]
    if afn:
        fees.append(_fee("FBAPerUnitFulfillmentFee", -cash.fba_fee))
    else:
        fees.append(_fee("FixedClosingFee", -cash.closing_fee))
    item |= {
        "OrderItemId": order_item_id(order.order_number, cash.index),
        "QuantityShipped": line.quantity,
        "ItemChargeList": _charges(cash, 1),
        "ItemFeeList": fees,
    }
    promotions = _promotions(cash, -1)
    if promotions:
        item["PromotionList"] = promotions
    return item


def _refund_item(order: Order, cash: LineMoney) -> dict[str, Any]:
    line = order.lines[cash.index]
    item: dict[str, Any] = {"SellerSKU": line.sku} if line.sku is not None else {}
    item |= {
        "OrderAdjustmentItemId": adjustment_item_id(order.order_number, cash.index),
        "QuantityShipped": line.quantity,
        "ItemChargeAdjustmentList": _charges(cash, -1),
        "ItemFeeAdjustmentList": [
            _fee("Commission", cash.commission),
            _fee("RefundCommission", -cash.refund_commission),
        ],
    }
    promotions = _promotions(cash, 1)
    if promotions:
        item["PromotionAdjustmentList"] = promotions
    return item


def render_financial_event(view: AmazonOrder, kind: int) -> dict[str, Any]:
    """The order's sale (ShipmentEvent, posted at shipment) or refund (posted when the
    return came back), field for field as financesV0.json's ShipmentEvent."""
    order = view.order
    cash = order_money(order)
    posted = view.shipped_ts if kind == SALE else view.returned_ts
    body: dict[str, Any] = {
        "AmazonOrderId": view.amazon_order_id,
        "SellerOrderId": view.amazon_order_id,
        "MarketplaceName": SALES_CHANNEL,
        "PostedDate": iso(posted or 0.0),
    }
    if kind == SALE:
        body["ShipmentItemList"] = [_sale_item(order, line, view.afn) for line in cash]
    else:
        body["ShipmentItemAdjustmentList"] = [_refund_item(order, line) for line in cash]
    return body


def render_financial_events(found: Iterable[tuple[AmazonOrder, int]]) -> dict[str, Any]:
    """A FinancialEvents object: every list of the model, the unused ones empty."""
    events: dict[str, Any] = {name: [] for name in FINANCIAL_EVENT_LISTS}
    for view, kind in found:
        target = "ShipmentEventList" if kind == SALE else "RefundEventList"
        events[target].append(render_financial_event(view, kind))
    return events


# --- Orders 2026-01-01 ------------------------------------------------------------------


def _package_steps(view: AmazonOrder) -> list[tuple[float, str, str]]:
    """(since, status, detailedStatus) of the order's one package, in time order."""
    shipped, paid = view.shipped_ts, view.paid_ts
    if view.afn or shipped is None:
        return []
    number = view.order.order_number
    drop_off = roll(number, "drop-off") % 3 == 0
    steps = [
        (
            max(paid or view.created_ts, shipped - LABEL_LEAD_SECONDS),
            "PENDING",
            "PENDING_DROP_OFF" if drop_off else "PENDING_PICK_UP",
        ),
        (shipped, "SHIPPED", "DROPPED_OFF" if drop_off else "PICKED_UP"),
        (shipped + DAY, "IN_TRANSIT", "AT_DESTINATION_FC"),
    ]
    if view.delivered_ts is not None:
        steps.append((view.delivered_ts - 12 * HOUR, "IN_TRANSIT", "OUT_FOR_DELIVERY"))
        steps.append((view.delivered_ts, "DELIVERED", "DELIVERED"))
    elif view.returned_ts is not None:
        steps.append((view.returned_ts, "UNDELIVERABLE", "RETURNED_TO_SELLER"))
    # A fast delivery skips the middle steps: a step hides the ones it does not follow.
    kept: list[tuple[float, str, str]] = []
    for step in steps:
        while kept and kept[-1][0] >= step[0]:
            kept.pop()
        kept.append(step)
    return kept


def _tracking(number: int, prefix: str | None) -> str:
    digits = f"{roll(number, 'tracking') % 10**9:09d}"
    if prefix is None:
        return f"{roll(number, 'tracking-long') % 10**5:05d}{digits}"
    return f"{prefix}{digits}BR"


def render_package(view: AmazonOrder, now_ts: float) -> tuple[dict[str, Any], float] | None:
    """The package as getOrder (2026-01-01) shows it at `now_ts`, and when it last changed."""
    visible = [step for step in _package_steps(view) if step[0] <= now_ts]
    if not visible:
        return None
    since, status, detail = visible[-1]
    order = view.order
    carrier, service, prefix = CARRIERS[roll(order.order_number, "carrier") % len(CARRIERS)]
    package: dict[str, Any] = {
        "packageReferenceId": "1",
        "createdTime": iso(visible[0][0]),
        "packageStatus": {"status": status, "detailedStatus": detail},
        "carrier": carrier,
    }
    if view.shipped_ts is not None and view.shipped_ts <= now_ts:
        package["shipTime"] = iso(view.shipped_ts)
    package |= {
        "shippingService": service,
        "trackingNumber": _tracking(order.order_number, prefix),
        "shipFromAddress": {
            "name": order.seller.nickname,
            "city": "São Paulo",
            "stateOrRegion": "SP",
            "postalCode": "04543-000",
            "countryCode": "BR",
        },
        "packageItems": [
            {"orderItemId": order_item_id(order.order_number, index), "quantity": line.quantity}
            for index, line in enumerate(order.lines)
        ],
    }
    return package, since


def _proceeds(cash: list[LineMoney]) -> dict[str, Any]:
    def total(name: str) -> Decimal:
        return sum((getattr(line, name) for line in cash), Decimal(0))

    parts = (
        ("ITEM", total("item_price")),
        ("SHIPPING", total("shipping") - total("shipping_discount")),
        ("TAX", total("item_tax") + total("shipping_tax")),
        ("DISCOUNT", -total("promotion")),
    )
    return {
        "grandTotal": money_2026(sum((line.paid for line in cash), Decimal(0))),
        "breakdowns": [
            {"type": kind, "subtotal": money_2026(amount)} for kind, amount in parts if amount
        ],
    }


def render_order_2026(
    view: AmazonOrder,
    step: int,
    now_ts: float,
    included: frozenset[str],
    asins: dict[int, str],
    confirmed: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """getOrder of Orders API 2026-01-01 with the datasets asked for. Buyer and recipient
    personal data need a Restricted Data Token, which this app never has. `confirmed` are
    the packages the seller declared through confirmShipment (rendered as given), which
    replace the World's own label."""
    order = view.order
    status, since = view.steps[step]
    prime = order.order_number % 7 == 0
    package = render_package(view, now_ts) if "PACKAGES" in included else None
    packages = [package[0]] if package is not None else []
    updated = max(since, package[1]) if package is not None else since
    if confirmed and "PACKAGES" in included:
        packages = confirmed
        updated = max(since, *(p["_updated_ts"] for p in confirmed))
        packages = [{k: v for k, v in p.items() if not k.startswith("_")} for p in confirmed]
    body: dict[str, Any] = {
        "orderId": view.amazon_order_id,
        "createdTime": iso(view.created_ts),
        "lastUpdatedTime": iso(updated),
        "programs": ["PRIME"] if prime else [],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": MARKETPLACE_ID,
            "marketplaceName": SALES_CHANNEL,
        },
    }
    cash = order_money(order)
    if "PROCEEDS" in included and status != "Pending":
        body["proceeds"] = _proceeds(cash)
    if "FULFILLMENT" in included:
        body["fulfillment"] = _fulfillment_2026(view, status)
    shipped = status == "Shipped"
    body["orderItems"] = [
        {
            "orderItemId": order_item_id(order.order_number, line.index),
            "quantityOrdered": item.quantity,
            "product": {
                "asin": asins[item.variation_number],
                "title": item.title,
                **({"sellerSku": item.sku} if item.sku is not None else {}),
                "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                "price": {"unitPrice": money_2026(item.unit_price)},
            },
            "fulfillment": {
                "quantityFulfilled": item.quantity if shipped else 0,
                "quantityUnfulfilled": 0 if shipped or status == "Canceled" else item.quantity,
            },
        }
        for item, line in zip(order.lines, cash, strict=True)
    ]
    if packages:
        body["packages"] = packages
    return {"order": body}


def _fulfillment_2026(view: AmazonOrder, status: str) -> dict[str, Any]:
    prime = view.order.order_number % 7 == 0
    fulfillment: dict[str, Any] = {
        "fulfillmentStatus": FULFILLMENT_STATUS[status],
        "fulfilledBy": "AMAZON" if view.afn else "MERCHANT",
        "fulfillmentServiceLevel": "EXPEDITED" if prime else "STANDARD",
    }
    if not view.afn:
        windows = ship_windows(view.created_ts)
        fulfillment["shipByWindow"] = {
            "earliestDateTime": windows["EarliestShipDate"],
            "latestDateTime": windows["LatestShipDate"],
        }
        fulfillment["deliverByWindow"] = {
            "earliestDateTime": windows["EarliestDeliveryDate"],
            "latestDateTime": windows["LatestDeliveryDate"],
        }
    return fulfillment


LISTING_PROBLEMS = {0: "incomplete", 1: "search_suppressed", 2: "warning"}
# The issues as getListingsItem's documented example words them (codes 90220 and 18027).
ISSUES: dict[str, dict[str, Any]] = {
    "incomplete": {
        "code": "90220",
        "message": "'brand' is required but not supplied.",
        "severity": "ERROR",
        "attributeNames": ["brand"],
        "categories": ["MISSING_ATTRIBUTE"],
        "enforcements": {
            "actions": [{"action": "LISTING_SUPPRESSED"}],
            "exemption": {"status": "NOT_EXEMPT"},
        },
    },
    "search_suppressed": {
        "code": "18027",
        "message": "We believe the main image has text, logo, graphic, or watermark that is "
        "not permitted for this product type. Submit a compliant image to lift the "
        "suppression. Also refer to Product image requirements.",
        "severity": "ERROR",
        "categories": ["INVALID_IMAGE"],
        "enforcements": {
            "actions": [{"action": "SEARCH_SUPPRESSED"}],
            "exemption": {"status": "NOT_EXEMPT"},
        },
    },
    "warning": {
        "code": "99022",
        "message": "The field 'bullet_point' for the attribute 'bullet_point' does not have "
        "enough values. The recommended minimum is '3' value(s).",
        "severity": "WARNING",
        "attributeNames": ["bullet_point"],
        "categories": ["MISSING_ATTRIBUTE"],
    },
}


@dataclass(slots=True)
class AmazonListing:
    """One Amazon listings item: a World variation offered under the seller's SKU."""

    sku: str
    listing: Listing
    variation: ListingVariation
    product: Product | None
    asin: str
    product_type: str
    created_ts: float
    updated_ts: float
    # Attributes written through putListingsItem / patchListingsItem, shown over the
    # World's own; price and stock stay on `variation`, so sales and stock patches see them.
    submitted: dict[str, list[Any]] = field(default_factory=dict)
    parentage: str = ""  # "parent" | "child" for variation families created through the API
    api_created: bool = False

    @classmethod
    def of(
        cls,
        sku: str,
        listing: Listing,
        variation: ListingVariation,
        product: Product | None,
        anchor: datetime,
    ) -> AmazonListing:
        created = listing.created_at
        # Last edited somewhere between creation and the World's anchor, never in the future.
        fraction = _digest("updated", sku, listing.listing_number)[0] / 256
        updated = created + timedelta(seconds=int((anchor - created).total_seconds() * fraction))
        return cls(
            sku=sku,
            listing=listing,
            variation=variation,
            product=product,
            asin=asin_for(listing.parent_sku, variation.attributes),
            product_type=product_type_for(listing.category),
            created_ts=created.timestamp(),
            updated_ts=updated.timestamp(),
        )

    @property
    def item_name(self) -> str:
        names = self.submitted.get("item_name")
        if names and isinstance(names[0], dict) and names[0].get("value"):
            return str(names[0]["value"])
        if self.product is not None:
            return self.product.name
        return " ".join([self.listing.title, *(value for _, value in self.variation.attributes)])

    @property
    def problem(self) -> str | None:
        """What Amazon holds against an active listing: one SKU in twelve is incomplete
        (suppressed for a missing attribute), one is search-suppressed for its image, and
        one carries a warning only. Listings created through the API passed its checks."""
        if self.listing.status != "active" or self.api_created:
            return None
        return LISTING_PROBLEMS.get(zlib.crc32(f"issues:{self.sku}".encode()) % 12)

    @property
    def statuses(self) -> list[str]:
        problem = self.problem
        if self.listing.status != "active" or problem == "incomplete":
            return []
        if self.parentage == "parent":
            return ["DISCOVERABLE"]  # a parent groups its children; it has no offer of its own
        in_stock = self.variation.available_quantity > 0
        if problem == "search_suppressed":
            return ["BUYABLE"] if in_stock else []  # buyable by its link, not discoverable
        return ["BUYABLE", "DISCOVERABLE"] if in_stock else ["DISCOVERABLE"]

    @property
    def issues(self) -> list[dict[str, Any]]:
        problem = self.problem
        if problem is None:
            return []
        issue = dict(ISSUES[problem])
        issue["marketplaceIds"] = [MARKETPLACE_ID]
        return [issue]


INCLUDED_DATA = frozenset(
    {
        "summaries",
        "attributes",
        "issues",
        "offers",
        "fulfillmentAvailability",
        "procurement",
        "relationships",
        "productTypes",
    }
)


def render_listing_item(item: AmazonListing, included: frozenset[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"sku": item.sku}
    quantity = item.variation.available_quantity
    if "summaries" in included:
        image = _digest("image", item.asin).hex()[:11]
        body["summaries"] = [
            {
                "marketplaceId": MARKETPLACE_ID,
                "asin": item.asin,
                "productType": item.product_type,
                "conditionType": "new_new",
                "status": item.statuses,
                "itemName": item.item_name,
                "createdDate": iso(item.created_ts),
                "lastUpdatedDate": iso(item.updated_ts),
                "mainImage": {
                    "link": f"https://m.media-amazon.com/images/I/{image}.jpg",
                    "height": 1000,
                    "width": 1000,
                },
            }
        ]
    if "attributes" in included:
        body["attributes"] = _attributes(item, quantity)
    if "issues" in included:
        body["issues"] = item.issues
    parent = item.parentage == "parent"
    if "offers" in included:
        body["offers"] = [
            {
                "marketplaceId": MARKETPLACE_ID,
                "offerType": "B2C",
                "price": {"currencyCode": CURRENCY, "amount": f"{item.variation.price:.2f}"},
            }
        ][: 0 if parent else 1]
    if "fulfillmentAvailability" in included:
        body["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": "DEFAULT", "quantity": quantity}
        ][: 0 if parent else 1]
    if "procurement" in included:
        body["procurement"] = []
    if "relationships" in included:
        related: list[dict[str, Any]] = []
        if item.parentage == "child":
            related = [{"type": "VARIATION", "parentSkus": [item.listing.parent_sku]}]
        body["relationships"] = [{"marketplaceId": MARKETPLACE_ID, "relationships": related}]
    if "productTypes" in included:
        body["productTypes"] = [{"marketplaceId": MARKETPLACE_ID, "productType": item.product_type}]
    return body


def _attributes(item: AmazonListing, quantity: int) -> dict[str, Any]:
    def text(value: str) -> list[dict[str, str]]:
        return [{"value": value, "language_tag": LANGUAGE_TAG, "marketplace_id": MARKETPLACE_ID}]

    attributes: dict[str, Any] = {
        "item_name": text(item.item_name),
        "condition_type": [{"value": "new_new", "marketplace_id": MARKETPLACE_ID}],
    }
    if item.product is not None:
        attributes["brand"] = text(item.product.brand)
        attributes["externally_assigned_product_identifier"] = [
            {"type": "ean", "value": item.product.gtin, "marketplace_id": MARKETPLACE_ID}
        ]
    for name, value in item.variation.attributes:
        attributes[name.lower()] = text(value)
    attributes |= {
        name: values
        for name, values in item.submitted.items()
        if name not in ("purchasable_offer", "fulfillment_availability")
    }
    if item.parentage == "parent":
        return attributes
    attributes["purchasable_offer"] = [
        {
            "currency": CURRENCY,
            "audience": "ALL",
            "our_price": [{"schedule": [{"value_with_tax": float(item.variation.price)}]}],
            "marketplace_id": MARKETPLACE_ID,
        }
    ]
    attributes["fulfillment_availability"] = [
        {"fulfillment_channel_code": "DEFAULT", "quantity": quantity}
    ]
    return attributes


# --- per-seller indices ---------------------------------------------------------------


def valid_orders_query(query: dict[str, Any]) -> bool:
    """Whether a decoded NextToken holds a query `OrderBook.page` understands."""

    def number(value: object) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    resume = query.get("k")
    return (
        query.get("m") in ("c", "u")
        and number(query.get("a"))
        and number(query.get("b"))
        and isinstance(query.get("s"), list)
        and isinstance(query.get("f"), list)
        and isinstance(query.get("n"), int)
        and 1 <= query["n"] <= 100
        and (
            resume is None
            or (
                isinstance(resume, list)
                and len(resume) == (2 if query["m"] == "c" else 3)
                and all(number(v) for v in resume)
            )
        )
    )


class OrderBook:
    """One selling partner's orders, indexed the two ways getOrders windows them."""

    def __init__(self, orders: Iterable[Order]) -> None:
        self.views: dict[int, AmazonOrder] = {}
        self.by_amazon_id: dict[str, AmazonOrder] = {}
        self.created: list[tuple[float, int]] = []  # (PurchaseDate, order number)
        self.updates: list[tuple[float, int, int]] = []  # (status since, order number, step)
        self._rendered: dict[int, tuple[int, str]] = {}  # order number -> (step, JSON)
        # (PostedDate, order number, kind) of every financial event, and each order's own.
        self.postings: list[tuple[float, int, int]] = []
        self._posted: dict[int, list[tuple[float, int, int]]] = {}
        # ElectronicInvoiceStatus of orders whose NF-e was submitted (submitInvoice).
        self.invoice_status: dict[int, str] = {}
        for order in orders:
            view = self._register(order)
            self.created.append((view.created_ts, order.order_number))
            self.updates.extend((ts, order.order_number, i) for i, (_, ts) in enumerate(view.steps))
            self.postings.extend(self._post(view))
        self.created.sort()
        self.updates.sort()
        self.postings.sort()

    def _register(self, order: Order) -> AmazonOrder:
        view = AmazonOrder.of(order)
        self.views[order.order_number] = view
        self.by_amazon_id[view.amazon_order_id] = view
        return view

    def _post(self, view: AmazonOrder) -> list[tuple[float, int, int]]:
        number = view.order.order_number
        entries = [(ts, number, kind) for ts, kind in view.postings()]
        self._posted[number] = entries
        return entries

    def _repost(self, view: AmazonOrder) -> None:
        for entry in self._posted.pop(view.order.order_number, []):
            del self.postings[bisect.bisect_left(self.postings, entry)]
        for entry in self._post(view):
            bisect.insort(self.postings, entry)

    def add(self, order: Order) -> AmazonOrder:
        view = self._register(order)
        bisect.insort(self.created, (view.created_ts, order.order_number))
        for i, (_, ts) in enumerate(view.steps):
            bisect.insort(self.updates, (ts, order.order_number, i))
        self._repost(view)
        return view

    def restep(self, order: Order) -> None:
        """Re-index an order whose timeline changed after it was indexed."""
        number = order.order_number
        for i, (_, ts) in enumerate(self.views[number].steps):
            del self.updates[bisect.bisect_left(self.updates, (ts, number, i))]
        self._rendered.pop(number, None)
        view = self._register(order)
        for i, (_, ts) in enumerate(view.steps):
            bisect.insort(self.updates, (ts, number, i))
        self._repost(view)

    def next_order_number(self) -> int:
        # Far above the World's own numbering when the seller has no order yet.
        return max(self.views, default=2_900_000_000_000) + 1

    def order_json(self, view: AmazonOrder, step: int) -> str:
        number = view.order.order_number
        cached = self._rendered.get(number)
        if cached is not None and cached[0] == step:
            return cached[1]
        status = self.invoice_status.get(number, "NotRequired")
        text = dumps(render_order(view, step, status))
        self._rendered[number] = (step, text)
        return text

    def forget(self, order_number: int) -> None:
        """Drop an order's cached JSON: something shown in it changed (its invoice)."""
        self._rendered.pop(order_number, None)

    def page(self, query: dict[str, Any], now_ts: float) -> tuple[list[str], list[float] | None]:
        """Up to `n` orders of the window after keyset `k`, and the keyset to resume from."""
        statuses = set(query["s"])
        channels = set(query["f"])
        size, before = query["n"], query["b"]
        by_creation = query["m"] == "c"
        index: list[Any] = self.created if by_creation else self.updates
        resume = query.get("k")
        if resume is not None:
            position = bisect.bisect_right(index, tuple(resume))
        else:
            position = bisect.bisect_left(index, (query["a"],))
        found: list[str] = []
        last: list[float] | None = None
        for i in range(position, len(index)):
            entry = index[i]
            if entry[0] > before:
                break
            view = self.views[entry[1]]
            step = view.step_at(now_ts)
            if step < 0 or (not by_creation and step != entry[2]):
                continue  # not created yet, or not the order's latest status change
            if statuses and view.steps[step][0] not in statuses:
                continue
            if channels and ("AFN" if view.afn else "MFN") not in channels:
                continue
            if len(found) == size:
                return found, last
            found.append(self.order_json(view, step))
            last = list(entry)
        return found, None

    def events(
        self,
        after: float,
        before: float,
        now_ts: float,
        resume: tuple[float, int, int] | None,
        size: int,
    ) -> tuple[list[tuple[AmazonOrder, int]], tuple[float, int, int] | None]:
        """Up to `size` events posted in [after, before) and visible at `now_ts` (a deferred
        sale is not, until released), after keyset `resume`; and the keyset to go on from."""
        start = (
            bisect.bisect_right(self.postings, resume)
            if resume is not None
            else bisect.bisect_left(self.postings, (after,))
        )
        found: list[tuple[AmazonOrder, int]] = []
        last: tuple[float, int, int] | None = None
        for index in range(start, len(self.postings)):
            entry = self.postings[index]
            if entry[0] >= before:
                break
            view = self.views[entry[1]]
            if not view.visible(entry[2], now_ts):
                continue
            if len(found) == size:
                return found, last
            found.append((view, entry[2]))
            last = entry
        return found, None

    def events_of(self, view: AmazonOrder, now_ts: float) -> list[tuple[AmazonOrder, int]]:
        number = view.order.order_number
        return [
            (view, kind)
            for _, _, kind in self._posted.get(number, [])
            if view.visible(kind, now_ts)
        ]


class Catalog:
    """One selling partner's Amazon listings: every World variation that carries a seller SKU."""

    def __init__(self, world: World, seller: Seller) -> None:
        products = {(p.parent_sku, p.color, p.size): p for p in world.products}
        self.items: list[AmazonListing] = []
        self.by_sku: dict[str, AmazonListing] = {}
        self.asins: dict[int, str] = {}  # variation number -> ASIN, listed or not
        for listing in world.listings_of(seller):
            for variation in listing.variations:
                attrs = dict(variation.attributes)
                product = products.get((listing.parent_sku, attrs.get("COLOR"), attrs.get("SIZE")))
                item = AmazonListing.of(
                    variation.sku or "", listing, variation, product, world.anchor
                )
                self.asins[variation.variation_number] = item.asin
                if variation.sku is not None and variation.sku not in self.by_sku:
                    self.items.append(item)
                    self.by_sku[variation.sku] = item


# --- listings patches -------------------------------------------------------------------


def identifier(item: AmazonListing, kind: str) -> str | None:
    if kind == "SKU":
        return item.sku
    if kind == "ASIN":
        return item.asin
    if kind in ("EAN", "GTIN"):
        return gtin_of(item)
    return None


def gtin_of(item: AmazonListing) -> str | None:
    ids = item.submitted.get("externally_assigned_product_identifier")
    if ids and isinstance(ids[0], dict) and ids[0].get("value"):
        return str(ids[0]["value"])
    return item.product.gtin if item.product is not None else None


def listing_issue(code: str, message: str, attributes: list[str], category: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": attributes,
        "categories": [category],
    }


def read_patch(body: object) -> tuple[str, int | None, list[dict[str, Any]]]:
    """Check a ListingsItemPatchRequest: malformed requests raise (HTTP 400), while values
    Amazon would reject come back as issues (HTTP 200, status INVALID)."""
    if not isinstance(body, dict):
        raise MalformedPatch(_UNPARSABLE)
    product_type, patches = body.get("productType"), body.get("patches")
    if not isinstance(product_type, str) or not product_type:
        raise MalformedPatch(_UNPARSABLE, "productType is required.")
    if not isinstance(patches, list) or not patches:
        raise MalformedPatch(_UNPARSABLE, "patches must have at least one item.")
    quantity: int | None = None
    issues: list[dict[str, Any]] = []
    for index, patch in enumerate(patches):
        if not isinstance(patch, dict) or patch.get("op") not in _PATCH_OPS:
            raise MalformedPatch(f"Invalid op provided in patch at index of {index}.")
        matched = _ATTRIBUTE_PATH.match(str(patch.get("path", "")))
        if matched is None:
            raise MalformedPatch(f"Invalid path provided in patch at index of {index}.")
        value = patch.get("value")
        if patch["op"] != "delete" and value is None:
            raise MalformedPatch(f"Value is missing for patch at index of {index}.")
        if value is not None and not isinstance(value, list):
            raise MalformedPatch(_UNPARSABLE)
        attribute = matched.group(1)
        if attribute != _FULFILLMENT:
            # The sandbox models stock only; claiming success for other attributes would lie.
            issues.append(
                listing_issue(
                    "90000900", "The attributes are invalid.", [attribute], "INVALID_ATTRIBUTE"
                )
            )
            continue
        if patch["op"] == "delete":
            issues.append(
                listing_issue(
                    "90220",
                    f"'{_FULFILLMENT}' is required but not supplied.",
                    [_FULFILLMENT],
                    "MISSING_ATTRIBUTE",
                )
            )
            continue
        quantity, problems = _read_fulfillment(value or [], quantity)
        issues.extend(problems)
    return product_type, quantity, issues


def _read_fulfillment(
    entries: list[Any], quantity: int | None
) -> tuple[int | None, list[dict[str, Any]]]:
    def too_few(field: str) -> dict[str, Any]:
        return listing_issue(
            "99022",
            f"The field '{field}' for the attribute '{_FULFILLMENT}' does not have enough "
            "values. The required minimum is '1' value(s).",
            [_FULFILLMENT],
            "MISSING_ATTRIBUTE",
        )

    if not entries:
        return quantity, [too_few("fulfillment_channel_code")]
    problems = []
    for entry in entries:
        if not isinstance(entry, dict) or "fulfillment_channel_code" not in entry:
            problems.append(too_few("fulfillment_channel_code"))
            continue
        if entry["fulfillment_channel_code"] != "DEFAULT":
            problems.append(
                listing_issue(
                    "4000001",
                    "The provided value for 'Fulfillment Channel Code' is invalid.",
                    [_FULFILLMENT],
                    "INVALID_ATTRIBUTE",
                )
            )
            continue
        if "quantity" not in entry:
            problems.append(too_few("quantity"))
            continue
        value = entry["quantity"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(
                listing_issue(
                    "4000001",
                    "The provided value for 'Quantity' is invalid. The minimum is '0'.",
                    [_FULFILLMENT],
                    "INVALID_ATTRIBUTE",
                )
            )
            continue
        quantity = value
    return quantity, problems
