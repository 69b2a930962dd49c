"""Mercado Livre (MLB) API client: OAuth, items, orders, shipments, money and questions, in
the canonical model.

Protocol facts this module relies on: bearer token in the `Authorization` header; access
tokens last 6 h and refresh tokens are single-use (refresh under the store lock, see
`tokens.py`); item search pages by offset up to 1000 results, beyond that by `scroll_id`
(search_type=scan); orders/search pages by offset with a capped reach, so wide windows are
split until each fits; errors come as {"message", "error", "status", "cause"}.

Money (docs/orders.md has the table): ML states an exact `unit_price` per line, so a line
is unit × quantity; `sale_fee` is per unit (× quantity per line: it matches
`payments[].marketplace_fee` and ML's per-unit fixed fee); the buyer's payments say what
was paid, for shipping and after the `coupon`. Fees and logistics come back from
`get_order_facts`: the order, its shipment (`x-format-new: true`), the shipment's costs
(`senders[]` is what the seller pays) and, once the sale can have settled, the Mercado
Pago payments, whose `money_release_status` is the only settlement flag ML offers.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, NotRequired, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BeforeValidator, Field, SecretStr, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic wants this one before Python 3.12

from synchub_pipelines.marketplaces.base import (
    ApiShape,
    Page,
    TimeField,
    blank_to_none,
    chunked,
    describe_validation_error,
    in_flight,
    parse_records,
    reject,
)
from synchub_pipelines.marketplaces.brazil import state_code
from synchub_pipelines.marketplaces.errors import AuthError, MarketplaceError, NotFoundError
from synchub_pipelines.marketplaces.http import ApiHttp, HttpSettings, classify_by_status
from synchub_pipelines.marketplaces.mercadolivre_writes import MercadoLivreWrites
from synchub_pipelines.marketplaces.ratelimit import shared_limiter
from synchub_pipelines.marketplaces.tokens import TokenManager, TokenSet, TokenStore
from synchub_pipelines.models import (
    Listing,
    ListingStatus,
    LogisticMode,
    Marketplace,
    Order,
    OrderFacts,
    OrderRef,
    OrderSettlement,
    OrderStatus,
    Question,
    Rejected,
    Shipment,
    ShipmentStatus,
    Store,
    hash_buyer,
)

log = logging.getLogger(__name__)

MARKETPLACE = Marketplace.MERCADOLIVRE.value
PRODUCTION_API_URL = "https://api.mercadolibre.com"
PRODUCTION_AUTH_URL = "https://auth.mercadolivre.com.br"
PRODUCTION_PAYMENTS_URL = "https://api.mercadopago.com"

ITEMS_PAGE = 100
ITEMS_OFFSET_REACH = 1000
MULTIGET_MAX = 20
ORDERS_PAGE = 50
ORDERS_OFFSET_REACH = 10_000
MIN_WINDOW = timedelta(seconds=1)
# Questions: `limit` 50 is what integrators use and the commonly cited maximum, and offset
# paging reaches 1000 results (secondhand, like the items search); past it, per-item searches.
QUESTIONS_PAGE = 50
QUESTIONS_OFFSET_REACH = 1000

# Mercado Pago payment states in which the buyer's money was taken (and may since have gone
# back): they say what the buyer paid. pending, in_process, authorized, rejected and
# cancelled never moved money.
COLLECTED = frozenset({"approved", "in_mediation", "refunded", "charged_back"})
CANCELLED = frozenset({"cancelled", "invalid"})
SALE_FEE = "sale_fee"
COMPENSATION = "compensation"
T = TypeVar("T")


def classify(response: httpx.Response, operation: str) -> MarketplaceError | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or response.reason_phrase or "error")
    code = body.get("error")
    # A validation error names what to fix in its causes (warnings do not block): the first
    # error's code and every error's message, so a refused write says which field failed.
    causes = [
        c
        for c in body.get("cause") or []
        if isinstance(c, dict) and c.get("type", "error") != "warning" and c.get("message")
    ]
    if causes:
        code = causes[0].get("code") or code
        message = f"{message}: " + "; ".join(str(c["message"]) for c in causes)
    return classify_by_status(
        MARKETPLACE, response, operation, message, str(code) if code else None
    )


# --- the API's own shapes (only the fields the pipeline reads) ---------------------------

Text = Annotated[str | None, BeforeValidator(blank_to_none)]


class MLAttribute(ApiShape):
    id: str | None = None
    value_name: str | None = None


class MLVariation(ApiShape):
    id: int
    price: Decimal | None = None
    available_quantity: int | None = None
    seller_custom_field: str | None = None
    attributes: list[MLAttribute] = Field(default_factory=list)


class MLItem(ApiShape):
    id: str
    title: str
    seller_id: int | None = None
    category_id: str | None = None
    price: Decimal | None = None
    currency_id: str = "BRL"
    available_quantity: int | None = None
    status: str
    sub_status: list[str] = Field(default_factory=list)
    permalink: str | None = None
    last_updated: datetime | None = None
    seller_custom_field: str | None = None
    attributes: list[MLAttribute] = Field(default_factory=list)
    variations: list[MLVariation] = Field(default_factory=list)


# Orders arrive by the hundred thousand in a backfill, so their shapes are TypedDicts:
# pydantic validates them as strictly as models but builds plain dicts, which halves the
# cost of reading an orders/search page (pydantic's own performance advice for nested data).
# Like every ApiShape, keys the pipeline does not read are ignored.


class MLOrderItemRef(TypedDict):
    id: str
    title: NotRequired[str | None]
    variation_id: NotRequired[int | None]
    seller_sku: NotRequired[str | None]
    seller_custom_field: NotRequired[str | None]


class MLOrderItem(TypedDict):
    item: MLOrderItemRef
    quantity: int
    unit_price: Decimal
    sale_fee: NotRequired[Decimal | None]


class MLPayment(TypedDict):
    id: NotRequired[int | None]
    status: NotRequired[str | None]
    transaction_amount: NotRequired[Decimal | None]
    total_paid_amount: NotRequired[Decimal | None]
    shipping_cost: NotRequired[Decimal | None]
    coupon_amount: NotRequired[Decimal | None]
    transaction_amount_refunded: NotRequired[Decimal | None]
    date_approved: NotRequired[datetime | None]


class MLBuyer(TypedDict):
    id: NotRequired[int | None]


class MLCoupon(TypedDict):
    amount: NotRequired[Decimal | None]


class MLCancelDetail(TypedDict):
    date: NotRequired[datetime | None]


class MLShippingRef(TypedDict):
    id: NotRequired[int | None]


class MLOrder(TypedDict):
    id: int
    status: str
    date_created: datetime
    date_closed: NotRequired[datetime | None]
    last_updated: NotRequired[datetime | None]
    total_amount: Decimal
    currency_id: NotRequired[str]
    coupon: NotRequired[MLCoupon | None]
    order_items: Annotated[list[MLOrderItem], Field(min_length=1)]
    payments: NotRequired[list[MLPayment]]
    shipping: NotRequired[MLShippingRef | None]
    cancel_detail: NotRequired[MLCancelDetail | None]
    tags: NotRequired[list[str]]
    mediations: NotRequired[list[dict[str, Any]]]
    buyer: NotRequired[MLBuyer | None]


ML_ORDER = TypeAdapter(MLOrder)


class MLPlace(ApiShape):
    id: Text = None
    name: Text = None


class MLAddress(ApiShape):
    city: MLPlace | None = None
    state: MLPlace | None = None


class MLDestination(ApiShape):
    shipping_address: MLAddress | None = None


class MLLogistic(ApiShape):
    mode: Text = None
    type: Text = None


class MLDated(ApiShape):
    date: datetime | None = None


class MLDeadlines(ApiShape):
    """`lead_time` (new format) or `shipping_option` (legacy): the promised instants."""

    estimated_handling_limit: MLDated | None = None


class MLStatusHistory(ApiShape):
    date_shipped: datetime | None = None
    date_delivered: datetime | None = None
    date_returned: datetime | None = None
    date_not_delivered: datetime | None = None
    date_cancelled: datetime | None = None


class MLShipment(ApiShape):
    """GET /shipments/{id} with `x-format-new: true`; the legacy spellings (top-level
    `logistic_type`, `receiver_address`, `shipping_option`, `order_id`) are read too."""

    id: int
    status: str
    substatus: Text = None
    last_updated: datetime | None = None
    tracking_number: Text = None
    tracking_method: Text = None
    logistic: MLLogistic | None = None
    logistic_type: Text = None
    status_history: MLStatusHistory | None = None
    lead_time: MLDeadlines | None = None
    shipping_option: MLDeadlines | None = None
    destination: MLDestination | None = None
    receiver_address: MLAddress | None = None
    order_id: int | None = None


class MLShipmentItem(ApiShape):
    item_id: str | None = None
    order_id: int


ML_SHIPMENT_ITEMS = TypeAdapter(list[MLShipmentItem])


class MLCompensation(ApiShape):
    amount: Decimal
    reason: Text = None


class MLSenderCost(ApiShape):
    user_id: int | None = None
    cost: Decimal | None = None
    compensations: list[MLCompensation] = Field(default_factory=list)


class MLReceiverCost(ApiShape):
    user_id: int | None = None
    cost: Decimal | None = None


class MLShipmentCosts(ApiShape):
    gross_amount: Decimal | None = None
    receiver: MLReceiverCost | None = None
    senders: list[MLSenderCost] = Field(default_factory=list)


class MPPayment(ApiShape):
    """A Mercado Pago payment (GET api.mercadopago.com/v1/payments/{id})."""

    id: int | str
    status: str
    date_approved: datetime | None = None
    date_last_updated: datetime | None = None
    money_release_date: datetime | None = None
    money_release_status: Text = None
    transaction_amount: Decimal | None = None
    transaction_amount_refunded: Decimal | None = None


class MLAnswer(ApiShape):
    text: str | None = None
    status: Text = None
    date_created: datetime | None = None


class MLQuestion(ApiShape):
    id: int
    item_id: str
    status: str
    date_created: datetime
    deleted_from_listing: bool = False
    hold: bool = False
    answer: MLAnswer | None = None


class MLQuestionSearch(ApiShape):
    total: int
    questions: list[Any]


# --- mapping to the canonical model ------------------------------------------------------


def _seller_sku(attributes: Sequence[MLAttribute], custom_field: str | None) -> str | None:
    for attribute in attributes:
        if attribute.id == "SELLER_SKU" and attribute.value_name:
            return attribute.value_name.strip()
    return custom_field.strip() if custom_field else None


def _gtin(attributes: Sequence[MLAttribute]) -> str | None:
    for attribute in attributes:
        if attribute.id == "GTIN" and attribute.value_name:
            return attribute.value_name.strip()
    return None


_LISTING_STATUS = {
    "active": ListingStatus.ACTIVE,
    "paused": ListingStatus.PAUSED,
    "closed": ListingStatus.CLOSED,
    "under_review": ListingStatus.UNDER_REVIEW,
    "inactive": ListingStatus.SUPPRESSED,
    "not_yet_active": ListingStatus.DRAFT,
    "payment_required": ListingStatus.DRAFT,
}


def listing_status(raw: str) -> ListingStatus:
    # A status we do not know is not buyable as far as we can tell.
    return _LISTING_STATUS.get(raw, ListingStatus.SUPPRESSED)


def listing_reason(item: MLItem) -> str | None:
    """Why the item is not active, in ML's words: its `sub_status` (out_of_stock,
    waiting_for_patch, …), or the bare status when ML gives no sub-status."""
    if item.status == "active":
        return None
    return ",".join(item.sub_status) if item.sub_status else None


def listings_from_item(item: MLItem, store_id: str) -> list[Listing]:
    """One canonical listing per variation (or one for an item without variations)."""
    common = {
        "store_id": store_id,
        "listing_id": item.id,
        "title": item.title,
        "status": listing_status(item.status),
        "raw_status": item.status,
        "status_reason": listing_reason(item),
        "currency": item.currency_id,
        "category_id": item.category_id,
        "permalink": item.permalink,
        "updated_at": item.last_updated,
    }
    if not item.variations:
        return [
            Listing(
                **common,
                variation_id="",
                seller_sku=_seller_sku(item.attributes, item.seller_custom_field),
                gtin=_gtin(item.attributes),
                price=item.price,
                available_quantity=item.available_quantity,
            )
        ]
    return [
        Listing(
            **common,
            variation_id=str(variation.id),
            seller_sku=_seller_sku(variation.attributes, variation.seller_custom_field),
            gtin=_gtin(variation.attributes) or _gtin(item.attributes),
            price=variation.price if variation.price is not None else item.price,
            available_quantity=variation.available_quantity,
        )
        for variation in item.variations
    ]


def normalize_status(order: MLOrder) -> OrderStatus:
    """ML keeps `paid` through shipping; delivery and returns show in tags and mediations."""
    status = order["status"]
    if status in CANCELLED:
        return OrderStatus.CANCELLED
    if status in {"partially_refunded", "refunded"}:
        return OrderStatus.RETURNED
    if status == "paid":
        tags = order.get("tags") or ()
        if "delivered" in tags:
            return OrderStatus.RETURNED if order.get("mediations") else OrderStatus.DELIVERED
        if "shipped" in tags:
            return OrderStatus.SHIPPED
        return OrderStatus.PAID
    return OrderStatus.PENDING  # confirmed, payment_required, payment_in_process, …


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))


def line_ref(ref: MLOrderItemRef) -> str:
    """ML's own key of an order line: the item, and the variation when there is one."""
    variation = ref.get("variation_id")
    return f"{ref['id']}:{variation}" if variation else ref["id"]


def collected(order: MLOrder) -> list[MLPayment]:
    return [p for p in order.get("payments") or () if p.get("status") in COLLECTED]


def paid_total(payment: MLPayment) -> Decimal:
    """What the buyer paid: items after the coupon, plus shipping (and any financing)."""
    total = payment.get("total_paid_amount")
    if total is not None:
        return total
    items = payment.get("transaction_amount") or Decimal(0)
    coupon = payment.get("coupon_amount") or Decimal(0)
    return items - coupon + (payment.get("shipping_cost") or Decimal(0))


def refunded(payment: MLPayment) -> Decimal:
    amount = payment.get("transaction_amount_refunded")
    if amount is not None:
        return amount
    if payment.get("status") == "refunded":
        return payment.get("transaction_amount") or Decimal(0)
    return Decimal(0)


@dataclass(frozen=True, slots=True)
class Takings:
    """Sums over the payments taken: items (`transaction_amount`), what the buyer paid,
    the buyer's shipping, and what went back."""

    items: Decimal
    paid: Decimal
    shipping: Decimal
    refund: Decimal

    @classmethod
    def of(cls, payments: Sequence[MLPayment]) -> Takings:
        items = paid = shipping = refund = Decimal(0)
        for payment in payments:
            items += payment.get("transaction_amount") or Decimal(0)
            paid += paid_total(payment)
            shipping += payment.get("shipping_cost") or Decimal(0)
            refund += refunded(payment)
        return cls(items, paid, shipping, refund)


def sale_undone(order: MLOrder, taken: bool, items: Decimal, refund: Decimal) -> bool:
    """A sale that did not happen: the order cancelled, or every taken payment refunded.
    ML keeps no selling fee on it."""
    return order["status"] in CANCELLED or (taken and refund >= items)


# The mapping builds plain dicts, validated once by the canonical model they end in: one
# validation of a whole order in pydantic-core is a third cheaper than a model per fee line
# and status event, and the backfill parses every order.
Row = dict[str, Any]


def _fee(amount: Decimal, ref: str | None = None, fee_type: str = SALE_FEE) -> Row:
    return {"fee_type": fee_type, "amount": amount, "line_ref": ref}


def _event(status: OrderStatus, at: datetime, raw: str | None = None) -> Row:
    return {"status": status, "at": at, "raw_status": raw}


def sale_fee_lines(order: MLOrder) -> tuple[list[Row], bool]:
    """One `sale_fee` line per order line (per-unit fee × quantity), and whether every
    line stated its fee."""
    lines = []
    complete = True
    for line in order["order_items"]:
        fee = line.get("sale_fee")
        if fee is None:
            complete = False
            continue
        lines.append(_fee(fee * line["quantity"], line_ref(line["item"])))
    return lines, complete


def _paid_at(order: MLOrder, payments: Sequence[MLPayment]) -> datetime | None:
    approved = [p["date_approved"] for p in payments if p.get("date_approved")]
    if approved:
        return min(approved)  # type: ignore[type-var]
    return order.get("date_closed") if order["status"] == "paid" else None


def order_events(order: MLOrder, payments: Sequence[MLPayment]) -> list[Row]:
    """The instants the order itself states: created, paid, cancelled."""
    events = [_event(OrderStatus.PENDING, order["date_created"])]
    paid_at = _paid_at(order, payments)
    if paid_at is not None:
        events.append(_event(OrderStatus.PAID, paid_at, "paid"))
    detail = order.get("cancel_detail")
    cancelled_at = detail.get("date") if detail else None
    if order["status"] in CANCELLED and cancelled_at is not None:
        events.append(_event(OrderStatus.CANCELLED, cancelled_at, order["status"]))
    return events


def order_from_ml(order: MLOrder, store: Store, buyer_salt: str) -> Order:
    payments = collected(order)
    taken = Takings.of(payments)
    waived = sale_undone(order, bool(payments), taken.items, taken.refund)
    items = []
    fees = []
    items_amount = Decimal(0)
    complete = True
    for index, line in enumerate(order["order_items"], start=1):
        ref = line["item"]
        quantity, unit_price = line["quantity"], line["unit_price"]
        sale_fee = line.get("sale_fee")
        amount = unit_price * quantity
        items_amount += amount
        variation = ref.get("variation_id")
        key = line_ref(ref)
        fee = None
        if sale_fee is None:
            complete = False
        elif waived:
            fee = Decimal(0)
        else:
            fee = sale_fee * quantity
            fees.append(_fee(fee, key))
        items.append(
            {
                "line_no": index,
                "line_ref": key,
                "listing_id": ref["id"],
                "variation_id": str(variation) if variation else "",
                "seller_sku": ref.get("seller_sku") or ref.get("seller_custom_field"),
                "title": ref.get("title"),
                "quantity": quantity,
                "unit_price": unit_price,
                "line_amount": amount,
                "fee": fee,
            }
        )
    fee_amount = None
    if waived:
        fee_amount = Decimal(0)
    elif complete:
        fee_amount = _sum(f["amount"] for f in fees)
    coupon = order.get("coupon")
    discount = coupon.get("amount") if coupon else None
    created = order["date_created"]
    created_at = created.astimezone(UTC)
    buyer = order.get("buyer")
    return Order.model_validate(
        {
            "store_id": store.store_id,
            "order_id": str(order["id"]),
            "status": normalize_status(order),
            "raw_status": order["status"],
            "created_at": created_at,
            "updated_at": (order.get("last_updated") or created).astimezone(UTC),
            "business_date": store.business_date(created_at),
            "currency": order.get("currency_id", "BRL"),
            "items_amount": items_amount,
            "discount_amount": discount,
            # What the buyer paid is on the payments taken: none taken, no shipping known yet.
            "shipping_paid_by_buyer": taken.shipping if payments else None,
            "total_amount": taken.paid
            if payments
            else order["total_amount"] - (discount or Decimal(0)),
            "fee_amount": fee_amount,
            "fees": fees if fee_amount is not None else (),
            "refund_amount": taken.refund if payments else None,
            "buyer_hash": hash_buyer(MARKETPLACE, buyer.get("id") if buyer else None, buyer_salt),
            "items": items,
            "status_events": order_events(order, payments),
        }
    )


# Shipment status → normalized; substatuses (printed, out_for_delivery, receiver_absent,
# returning_to_sender, …) refine a status and stay in `raw_status`.
_SHIPMENT_STATUS = {
    "pending": ShipmentStatus.PENDING,
    "handling": ShipmentStatus.PENDING,
    "to_be_agreed": ShipmentStatus.PENDING,
    "ready_to_ship": ShipmentStatus.READY_TO_SHIP,
    "shipped": ShipmentStatus.SHIPPED,
    "delivered": ShipmentStatus.DELIVERED,
    "not_delivered": ShipmentStatus.NOT_DELIVERED,
    "returned": ShipmentStatus.RETURNED,
    "cancelled": ShipmentStatus.CANCELLED,
}
# Shipments past these can no longer move money: ML releases the seller's money only after.
_SHIPMENT_SETTLES = frozenset({"delivered", "not_delivered", "returned", "cancelled"})


def shipment_status(raw: str) -> ShipmentStatus:
    # A status we do not know yet is treated as not yet moving (the raw one is kept).
    return _SHIPMENT_STATUS.get(raw, ShipmentStatus.PENDING)


def _uf(place: MLPlace | None) -> str | None:
    if place is None:
        return None
    if place.id and place.id.upper().startswith("BR-"):
        return place.id[3:].upper()
    return state_code(place.name)


def _handling_limit(deadlines: MLDeadlines | None) -> datetime | None:
    limit = deadlines.estimated_handling_limit if deadlines else None
    return limit.date if limit else None


def shipment_from_ml(shipment: MLShipment, store_id: str, order_id: str) -> Shipment:
    logistic_type = (shipment.logistic.type if shipment.logistic else None) or (
        shipment.logistic_type
    )
    mode = None
    if logistic_type is not None:
        fulfilled = logistic_type == "fulfillment"  # Mercado Envios Full
        mode = LogisticMode.MARKETPLACE if fulfilled else LogisticMode.SELLER
    destination = shipment.destination.shipping_address if shipment.destination else None
    address = destination or shipment.receiver_address
    history = shipment.status_history or MLStatusHistory()
    raw = shipment.status + (f"/{shipment.substatus}" if shipment.substatus else "")
    return Shipment(
        store_id=store_id,
        shipment_id=str(shipment.id),
        order_id=order_id,
        status=shipment_status(shipment.status),
        raw_status=raw,
        logistic_mode=mode,
        logistic_type=logistic_type,
        carrier=shipment.tracking_method,
        tracking_number=shipment.tracking_number,
        ship_by=_handling_limit(shipment.lead_time) or _handling_limit(shipment.shipping_option),
        shipped_at=history.date_shipped,
        delivered_at=history.date_delivered,
        buyer_city=address.city.name if address and address.city else None,
        buyer_state=_uf(address.state) if address else None,
        updated_at=shipment.last_updated,
    )


def shipment_events(shipment: MLShipment) -> list[Row]:
    """The order's shipped / delivered / returned instants, from the shipment's history."""
    history = shipment.status_history
    if history is None:
        return []
    steps = (
        (OrderStatus.SHIPPED, history.date_shipped, "shipped"),
        (OrderStatus.DELIVERED, history.date_delivered, "delivered"),
        (OrderStatus.RETURNED, history.date_returned, "returned"),
    )
    return [_event(status, at, raw) for status, at, raw in steps if at]


def seller_shipping(
    costs: MLShipmentCosts | None, seller_id: int
) -> tuple[Decimal | None, list[Row]]:
    """What shipping cost the seller (`senders[]` entry of the seller: the cost after ML's
    discounts), and the carriers' re-measurement charges (`compensations`) as fee lines."""
    if costs is None:
        return None, []
    mine = [s for s in costs.senders if s.user_id == seller_id]
    if not mine and len(costs.senders) == 1 and costs.senders[0].user_id is None:
        mine = costs.senders
    cost = _sum(s.cost or Decimal(0) for s in mine)
    charges = [
        _fee(c.amount, None, f"{COMPENSATION}:{c.reason}" if c.reason else COMPENSATION)
        for s in mine
        for c in s.compensations
    ]
    return cost, charges


def can_settle(order: MLOrder, shipment: MLShipment | None, has_shipment: bool) -> bool:
    """Whether ML may have released the money yet: it does so only once the package is
    delivered (or the sale undone), so the payments are not worth reading before."""
    if order["status"] in CANCELLED or not has_shipment:
        return True
    if shipment is None:
        return False
    history = shipment.status_history
    delivered = history is not None and history.date_delivered is not None
    return delivered or shipment.status in _SHIPMENT_SETTLES


def release(
    order: MLOrder, payments: Sequence[MLPayment], mp: Mapping[str, MPPayment] | None
) -> tuple[bool, datetime | None]:
    """Whether the sale is settled, and when.

    ML's order has no settlement flag; Mercado Pago's payment has: `money_release_status`
    'released' (the money reached the seller's balance, at `money_release_date`), or the
    payment `refunded` / `cancelled` (nothing left to release). An order never paid is
    settled once cancelled: nothing will ever be charged.
    """
    if not payments:
        detail = order.get("cancel_detail")
        settled = order["status"] in CANCELLED
        return settled, (detail.get("date") if detail and settled else None)
    if mp is None:
        return False, None
    instants: list[datetime | None] = []
    for payment in payments:
        found = mp.get(str(payment.get("id")))
        if found is None:
            return False, None
        if found.status in {"refunded", "cancelled"}:
            instants.append(found.date_last_updated)
        elif found.money_release_status == "released":
            instants.append(found.money_release_date or found.date_last_updated)
        else:
            return False, None
    known = [i for i in instants if i is not None]
    return True, (max(known) if known else None)


def settlement_from_ml(
    order: MLOrder,
    store_id: str,
    seller_id: int,
    costs: MLShipmentCosts | None,
    mp: Mapping[str, MPPayment] | None,
) -> OrderSettlement:
    """The order's money verdict: fees, the seller's shipping, refunds and payout.

    payout = Σ transaction_amount of the taken payments (the items; ML keeps the buyer's
    shipping for the carrier and, on the evidence, funds its coupons) − refunds − fees −
    seller shipping. Fees are `sale_fee` × quantity per line (nothing on an undone sale)
    plus any shipping compensation the carrier charged.
    """
    payments = collected(order)
    fresh = mp or {}

    def refund_of(payment: MLPayment) -> Decimal:
        found = fresh.get(str(payment.get("id")))
        if found is not None and found.transaction_amount_refunded is not None:
            return found.transaction_amount_refunded
        return refunded(payment)

    gross = _sum(p.get("transaction_amount") or Decimal(0) for p in payments)
    refund = _sum(refund_of(p) for p in payments)
    # Without a Mercado Envios shipment ML charges the seller no shipping.
    has_shipment = bool((order.get("shipping") or {}).get("id"))
    shipping, compensations = (
        seller_shipping(costs, seller_id) if has_shipment else (Decimal(0), [])
    )
    undone = sale_undone(order, bool(payments), gross, refund)
    sale_fees, complete = sale_fee_lines(order)
    fees = compensations if undone else sale_fees + compensations
    fee_amount = _sum(f["amount"] for f in fees) if undone or complete else None
    payout = None
    if fee_amount is not None and shipping is not None and (payments or undone):
        payout = gross - refund - fee_amount - shipping
    final, settled_at = release(order, payments, mp)
    return OrderSettlement.model_validate(
        {
            "store_id": store_id,
            "order_id": str(order["id"]),
            "currency": order.get("currency_id", "BRL"),
            "fee_amount": fee_amount,
            "seller_shipping_cost": shipping,
            "refund_amount": refund,
            "payout_amount": payout,
            "fees_final": final,
            "settled_at": settled_at,
            "fees": fees if fee_amount is not None else (),
        }
    )


def question_from_ml(question: MLQuestion, store_id: str) -> Question:
    answer = question.answer
    return Question(
        store_id=store_id,
        question_id=str(question.id),
        listing_id=question.item_id,
        status=question.status,
        asked_at=question.date_created,
        answered_at=answer.date_created if answer else None,
        answer_length=len(answer.text) if answer and answer.text is not None else None,
        answer_status=answer.status if answer else None,
        deleted_from_listing=question.deleted_from_listing,
        hold=question.hold,
    )


class MLPaging(TypedDict):
    total: int


class MLOrderSearch(TypedDict):
    results: list[MLOrder]
    paging: MLPaging


ML_ORDER_SEARCH = TypeAdapter(MLOrderSearch)


def parse_order_search(content: bytes, store: Store, buyer_salt: str) -> tuple[int, Page[Order]]:
    """One orders/search page → (total, orders). Validating straight from the JSON bytes is
    ~6x faster than from dicts; only a page with a bad record pays for record-by-record."""
    try:
        page = ML_ORDER_SEARCH.validate_json(content)
    except ValidationError:
        body = json.loads(content)
        return int(body["paging"]["total"]), parse_orders(body["results"], store, buyer_salt)
    orders = [order_from_ml(order, store, buyer_salt) for order in page["results"]]
    return page["paging"]["total"], Page(records=orders)


def parse_orders(raws: Sequence[Any], store: Store, buyer_salt: str) -> Page[Order]:
    return parse_records(
        raws,
        "mercadolivre.orders",
        store.store_id,
        key=lambda raw: raw.get("id"),
        build=lambda raw: order_from_ml(ML_ORDER.validate_python(raw), store, buyer_salt),
    )


def parse_items(raws: Sequence[Any], store_id: str) -> Page[Listing]:
    page: Page[Listing] = Page()
    for raw in raws:
        key = raw.get("id") if isinstance(raw, dict) else None
        try:
            page.records.extend(listings_from_item(MLItem.model_validate(raw), store_id))
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            page.rejects.append(reject("mercadolivre.items", store_id, key, reason, raw))
    return page


def parse_questions(raws: Sequence[Any], store_id: str) -> Page[Question]:
    return parse_records(
        raws,
        "mercadolivre.questions",
        store_id,
        key=lambda raw: raw.get("id"),
        build=lambda raw: question_from_ml(MLQuestion.model_validate(raw), store_id),
    )


def _iso(moment: datetime) -> str:
    # Keep the milliseconds: order dates carry them, and truncating a bound to the second
    # would drop orders in the last second of a window (and repeat some across split ones).
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return f"{utc.isoformat(timespec='milliseconds')}-00:00"


class BadAnswer(Exception):
    """An answer that does not have the documented shape (kept as a reject)."""

    def __init__(self, operation: str, reason: str, raw: Any) -> None:
        super().__init__(f"{operation}: {reason}")
        self.reason = f"{operation}: {reason}"
        self.raw = raw


def _raw_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace")


# --- OAuth ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MercadoLivreApp:
    """The registered application, and where its APIs live (production or sandbox).

    Mercado Pago answers the sellers' payments on its own host with the same token;
    a non-production `api_url` (the sandbox, a recording proxy) serves it under
    `<api_url>/mercadopago` unless `payments_url` says otherwise."""

    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    api_url: str = PRODUCTION_API_URL
    auth_url: str = PRODUCTION_AUTH_URL
    requests_per_second: float = 50.0
    # The burst the API grants (None: one second's worth); the budget then holds it too.
    burst: float | None = None
    http: HttpSettings = field(default_factory=HttpSettings)
    payments_url: str | None = None

    @property
    def payments_base(self) -> str:
        if self.payments_url:
            return self.payments_url.rstrip("/")
        if self.api_url.rstrip("/") == PRODUCTION_API_URL:
            return PRODUCTION_PAYMENTS_URL
        return f"{self.api_url.rstrip('/')}/mercadopago"

    def new_http(self, transport: httpx.BaseTransport | None = None) -> ApiHttp:
        limiter = shared_limiter(
            f"{MARKETPLACE}:{self.client_id}",
            self.requests_per_second,
            self.burst or self.requests_per_second,
        )
        return ApiHttp(MARKETPLACE, self.api_url, classify, limiter, self.http, transport)

    def authorization_url(self, state: str | None = None) -> tuple[str, str]:
        """Where to send the seller to grant access, and the `state` to check on return."""
        state = state or secrets.token_urlsafe(16)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "state": state,
            }
        )
        return f"{self.auth_url.rstrip('/')}/authorization?{query}", state

    def _token_call(self, http: ApiHttp, form: dict[str, str]) -> tuple[str, TokenSet]:
        form = {
            **form,
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
        }
        response = http.send(
            "oauth.token",
            lambda: http.build("POST", "/oauth/token", data=form, headers={"accept": "json"}),
        )
        body = response.json()
        expires_in = int(body["expires_in"])
        return str(body["user_id"]), TokenSet(
            access_token=SecretStr(body["access_token"]),
            refresh_token=SecretStr(body["refresh_token"]) if body.get("refresh_token") else None,
            access_expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        )

    def exchange_code(self, http: ApiHttp, code: str) -> tuple[str, TokenSet]:
        """Trade an authorization code for tokens; returns (seller id, tokens)."""
        return self._token_call(
            http,
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri},
        )

    def refresh(self, http: ApiHttp, tokens: TokenSet) -> TokenSet:
        if tokens.refresh_token is None:
            raise MarketplaceError(MARKETPLACE, "oauth.refresh", "no refresh token stored")
        _, fresh = self._token_call(
            http,
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.get_secret_value(),
            },
        )
        return fresh


# --- the client ----------------------------------------------------------------------------

NEW_FORMAT = {"x-format-new": "true"}


class MercadoLivreClient(MercadoLivreWrites):
    """One Mercado Livre account; publishing, fulfilment and answers come from the mixin."""

    # The sale settles once Mercado Pago releases the money: 2 to 6 days after delivery
    # with Mercado Envios (22 days after payment without reputation); deliveries take up
    # to about two weeks and a claim holds the money until it is resolved.
    settlement_days = 45
    # ML publishes no quota: at the app's pace (50 requests/s), half of a 10-minute run is
    # 15,000 calls; an order's facts take three or four.
    facts_per_run = 4000

    def __init__(
        self,
        app: MercadoLivreApp,
        store: Store,
        token_store: TokenStore,
        buyer_salt: str,
        http: ApiHttp | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.http = http or app.new_http()
        self._buyer_salt = buyer_salt
        self.tokens = TokenManager(
            token_store, store.store_id, lambda stale: app.refresh(self.http, stale)
        )

    def close(self) -> None:
        self.http.close()

    def _get(self, operation: str, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._call(operation, "GET", path, params=params).json()

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        renew_on_refusal: bool = True,
        **kw: Any,
    ) -> httpx.Response:
        current: dict[str, str] = {}

        def build() -> httpx.Request:
            current["token"] = self.tokens.access_token()
            sent = {**(headers or {}), "authorization": f"Bearer {current['token']}"}
            return self.http.build(method, path, headers=sent, **kw)

        def renew() -> None:
            self.tokens.invalidate(current["token"])

        return self.http.send(operation, build, reauthenticate=renew if renew_on_refusal else None)

    def _fetch(
        self,
        operation: str,
        path: str,
        read: Callable[[bytes], T],
        headers: Mapping[str, str] | None = None,
        params: dict[str, Any] | None = None,
        renew_on_refusal: bool = True,
    ) -> T | None:
        """GET and validate one resource; None when the API does not know it."""
        try:
            content = self._call(
                operation,
                "GET",
                path,
                headers=headers,
                renew_on_refusal=renew_on_refusal,
                params=params,
            ).content
        except NotFoundError:
            return None
        try:
            return read(content)
        except ValidationError as exc:
            raise BadAnswer(operation, describe_validation_error(exc), _raw_json(content)) from None

    def me(self) -> dict[str, Any]:
        return dict(self._get("users.me", "/users/me"))

    # --- listings --------------------------------------------------------------------

    def iter_item_ids(self) -> Iterator[list[str]]:
        path = f"/users/{self.store.seller_id}/items/search"
        first = self._get("items.search", path, {"offset": 0, "limit": ITEMS_PAGE})
        total = int(first["paging"]["total"])
        if total <= ITEMS_OFFSET_REACH:
            yield list(first["results"])
            for offset in range(ITEMS_PAGE, total, ITEMS_PAGE):
                page = self._get("items.search", path, {"offset": offset, "limit": ITEMS_PAGE})
                yield list(page["results"])
            return
        # Past the offset reach only a scan (scroll) sees every item.
        params: dict[str, Any] = {"search_type": "scan", "limit": ITEMS_PAGE}
        while True:
            page = self._get("items.scan", path, params)
            if not page["results"]:
                return
            yield list(page["results"])
            params = {"search_type": "scan", "limit": ITEMS_PAGE, "scroll_id": page["scroll_id"]}

    def get_items(self, item_ids: Sequence[str]) -> Page[Listing]:
        page: Page[Listing] = Page()
        for chunk in chunked(item_ids, MULTIGET_MAX):
            answers = self._get("items.multiget", "/items", {"ids": ",".join(chunk)})
            bodies = []
            for answer in answers:
                if answer.get("code") == 200:
                    bodies.append(answer["body"])
                else:
                    body = answer.get("body") or {}
                    reason = f"multiget answered {answer.get('code')}: {body.get('message')}"
                    key = body.get("id") or "<unknown item>"
                    page.rejects.append(
                        reject("mercadolivre.items", self.store.store_id, key, reason, answer)
                    )
            parsed = parse_items(bodies, self.store.store_id)
            page.records += parsed.records
            page.rejects += parsed.rejects
        return page

    def iter_listings(self) -> Iterator[Page[Listing]]:
        for ids in self.iter_item_ids():
            yield self.get_items(ids)

    # --- orders ----------------------------------------------------------------------

    def _search_orders(
        self, start: datetime, end: datetime, by: TimeField, offset: int
    ) -> tuple[int, Page[Order]]:
        field = "date_created" if by == "created" else "date_last_updated"
        params = {
            "seller": self.store.seller_id,
            f"order.{field}.from": _iso(start),
            # The API's bound is inclusive; stop one millisecond short of `end`.
            f"order.{field}.to": _iso(end - timedelta(milliseconds=1)),
            "sort": "date_asc",
            "offset": offset,
            "limit": ORDERS_PAGE,
        }
        response = self._call("orders.search", "GET", "/orders/search", params=params)
        return parse_order_search(response.content, self.store, self._buyer_salt)

    def iter_orders(
        self, start: datetime, end: datetime, by: TimeField = "created"
    ) -> Iterator[Page[Order]]:
        """Every order created (or updated) in [start, end), a page at a time."""
        windows = [(start, end)]
        while windows:
            lo, hi = windows.pop(0)
            total, first = self._search_orders(lo, hi, by, 0)
            if total > ORDERS_OFFSET_REACH and hi - lo > MIN_WINDOW:
                middle = lo + (hi - lo) / 2
                windows[:0] = [(lo, middle), (middle, hi)]
                continue
            yield first
            for offset in range(ORDERS_PAGE, min(total, ORDERS_OFFSET_REACH), ORDERS_PAGE):
                yield self._search_orders(lo, hi, by, offset)[1]

    def get_orders(self, order_ids: Sequence[str]) -> Page[Order]:
        raws = [self._get("orders.get", f"/orders/{order_id}") for order_id in order_ids]
        return parse_orders(raws, self.store, self._buyer_salt)

    # --- money and logistics after the sale -------------------------------------------

    def get_order_facts(self, orders: Sequence[OrderRef]) -> Page[OrderFacts]:
        """Per order: GET /orders/{id} (fresh payments), its shipment (new format) and the
        shipment's costs, and — once ML may have released the money — the Mercado Pago
        payments that say whether it did."""
        page: Page[OrderFacts] = Page()
        for found in in_flight(self._facts_of, orders):
            if isinstance(found, OrderFacts):
                page.records.append(found)
            elif found is not None:
                page.rejects.append(found)
        return page

    def _facts_of(self, ref: OrderRef) -> OrderFacts | Rejected | None:
        try:
            return self._read_facts(ref)
        except BadAnswer as bad:
            return reject(
                "mercadolivre.order_facts", self.store.store_id, ref.order_id, bad.reason, bad.raw
            )

    def _read_facts(self, ref: OrderRef) -> OrderFacts | None:
        order = self._fetch("orders.get", f"/orders/{ref.order_id}", ML_ORDER.validate_json)
        if order is None:
            return None
        shipment_id = (order.get("shipping") or {}).get("id")
        shipment = costs = None
        if shipment_id:
            shipment = self._shipment(str(shipment_id))
            costs = self._fetch(
                "shipments.costs",
                f"/shipments/{shipment_id}/costs",
                MLShipmentCosts.model_validate_json,
                headers=NEW_FORMAT,
            )
        payments = collected(order)
        mp = (
            self._payments(payments)
            if payments and can_settle(order, shipment, bool(shipment_id))
            else None
        )
        store_id = self.store.store_id
        try:
            settlement = settlement_from_ml(order, store_id, int(self.store.seller_id), costs, mp)
            events = order_events(order, payments)
            shipments: tuple[Shipment, ...] = ()
            if shipment is not None:
                shipments = (shipment_from_ml(shipment, store_id, ref.order_id),)
                events += shipment_events(shipment)
            return OrderFacts.model_validate(
                {
                    "store_id": store_id,
                    "order_id": ref.order_id,
                    "settlement": settlement,
                    "shipments": shipments,
                    "status_events": events,
                }
            )
        except ValidationError as exc:
            raise BadAnswer("order_facts", describe_validation_error(exc), order) from None

    def _shipment(self, shipment_id: str) -> MLShipment | None:
        return self._fetch(
            "shipments.get",
            f"/shipments/{shipment_id}",
            MLShipment.model_validate_json,
            headers=NEW_FORMAT,
        )

    def _payments(self, payments: Sequence[MLPayment]) -> dict[str, MPPayment]:
        """The payments as Mercado Pago shows them; one it refuses to show stays unknown
        (the order is then not settled yet) rather than failing the whole refresh."""
        found: dict[str, MPPayment] = {}
        for payment in payments:
            url = f"{self.app.payments_base}/v1/payments/{payment.get('id')}"
            try:
                # Mercado Pago's refusal says nothing about the ML token: keep it.
                mp = self._fetch(
                    "payments.get", url, MPPayment.model_validate_json, renew_on_refusal=False
                )
            except AuthError as exc:
                log.warning("Mercado Pago refused a payment of %s: %s", self.store.store_id, exc)
                continue
            if mp is not None:
                found[str(payment.get("id"))] = mp
        return found

    def get_shipments(self, shipment_ids: Sequence[str]) -> Page[Shipment]:
        """Shipments by id (ML `shipments` notifications). The new format no longer names
        the order, so it comes from the shipment's items when the shipment does not."""
        page: Page[Shipment] = Page()
        for shipment_id in shipment_ids:
            try:
                shipment = self._shipment(shipment_id)
                if shipment is None:
                    continue
                order_id = shipment.order_id or self._order_of_shipment(shipment_id)
                if order_id is None:
                    raise BadAnswer("shipments.items", "the shipment lists no order", None)
                page.records.append(shipment_from_ml(shipment, self.store.store_id, str(order_id)))
            except BadAnswer as bad:
                page.rejects.append(
                    reject(
                        "mercadolivre.shipments",
                        self.store.store_id,
                        shipment_id,
                        bad.reason,
                        bad.raw,
                    )
                )
        return page

    def _order_of_shipment(self, shipment_id: str) -> int | None:
        items = self._fetch(
            "shipments.items",
            f"/shipments/{shipment_id}/items",
            ML_SHIPMENT_ITEMS.validate_json,
            headers=NEW_FORMAT,
        )
        # A pack ships several orders in one package: the first one stands for it.
        return min((i.order_id for i in items), default=None) if items else None

    # --- questions -------------------------------------------------------------------

    def iter_questions(self, since: datetime | None = None) -> Iterator[Page[Question]]:
        """Questions received by the seller, newest first, down to `since` (None: all).

        One seller-wide search while its offset reach lasts; a seller with more questions
        than that is read item by item, each item's questions being far fewer."""
        seen: set[str] = set()
        complete = yield from self._search_questions(
            {"seller_id": self.store.seller_id}, since, seen
        )
        if complete:
            return
        for item_ids in self.iter_item_ids():
            for item_id in item_ids:
                yield from self._search_questions({"item": item_id}, since, seen)

    def _search_questions(
        self, scope: dict[str, Any], since: datetime | None, seen: set[str]
    ) -> Generator[Page[Question], None, bool]:
        """Pages of one search, newest first; returns whether it reached the end (or since)."""
        offset = 0
        while offset + QUESTIONS_PAGE <= QUESTIONS_OFFSET_REACH:
            params = {
                **scope,
                "api_version": 4,
                "sort_fields": "date_created",
                "sort_types": "DESC",
                "offset": offset,
                "limit": QUESTIONS_PAGE,
            }
            found = self._fetch(
                "questions.search",
                "/questions/search",
                MLQuestionSearch.model_validate_json,
                params=params,
            )
            if found is None:
                return True
            page = parse_questions(found.questions, self.store.store_id)
            older = since is not None and any(q.asked_at < since for q in page.records)
            page.records = [
                q
                for q in page.records
                if (since is None or q.asked_at >= since) and q.question_id not in seen
            ]
            seen.update(q.question_id for q in page.records)
            yield page
            offset += QUESTIONS_PAGE
            if older or offset >= found.total or not found.questions:
                return True
        return False

    def get_questions(self, question_ids: Sequence[str]) -> Page[Question]:
        page: Page[Question] = Page()
        for question_id in question_ids:
            try:
                found = self._fetch(
                    "questions.get",
                    f"/questions/{question_id}",
                    MLQuestion.model_validate_json,
                    params={"api_version": 4},
                )
            except BadAnswer as bad:
                page.rejects.append(
                    reject(
                        "mercadolivre.questions",
                        self.store.store_id,
                        question_id,
                        bad.reason,
                        bad.raw,
                    )
                )
                continue
            if found is not None:
                page.records.append(question_from_ml(found, self.store.store_id))
        return page

    # --- stock -----------------------------------------------------------------------

    def set_available_quantity(self, listing_id: str, variation_id: str, quantity: int) -> Any:
        """Publish a quantity on an item (or one of its variations)."""
        body: dict[str, Any] = (
            {"variations": [{"id": int(variation_id), "available_quantity": quantity}]}
            if variation_id
            else {"available_quantity": quantity}
        )
        return self._call("items.update_stock", "PUT", f"/items/{listing_id}", json=body).json()
