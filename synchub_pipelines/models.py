"""The canonical model: what every marketplace client returns and the warehouse stores.

Money is Decimal with an explicit currency; instants are timezone-aware UTC; business dates
are the store's local date. Buyer personal data stops here: only a salted hash of the
marketplace's buyer id and the city/state survive (LGPD: keep what a purpose needs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

DEFAULT_TIMEZONE = "America/Sao_Paulo"


class Marketplace(StrEnum):
    MERCADOLIVRE = "mercadolivre"
    SHOPEE = "shopee"
    TIKTOK = "tiktok"
    AMAZON = "amazon"


class OrderStatus(StrEnum):
    """Normalized order status, the same on every marketplace (the raw one is kept beside).

    pending: placed, not paid; paid: paid, not yet handed to a carrier; shipped: handed to
    a carrier (or the marketplace's logistics); delivered: the buyer has it; cancelled:
    will not ship (before or after payment); returned: delivered, then sent back or
    refunded. The shipment, when the warehouse has one, tells shipped from delivered on
    marketplaces whose order status does not (docs/orders.md has the table per marketplace).
    """

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


# Where a status sits in an order's life: a later read never moves an order back (a stale
# page or a lagging API replica must not undo a delivery); terminal states share the top.
STATUS_RANK: dict[str, int] = {
    "pending": 0,
    "paid": 1,
    "shipped": 2,
    "delivered": 3,
    "cancelled": 4,
    "returned": 4,
}


class ShipmentStatus(StrEnum):
    """Normalized shipment (package) status, the same on every marketplace."""

    PENDING = "pending"  # not ready: awaiting payment, invoice or a label
    READY_TO_SHIP = "ready_to_ship"  # label ready, waiting for the carrier (handling)
    SHIPPED = "shipped"  # handed to the carrier, in transit
    DELIVERED = "delivered"
    NOT_DELIVERED = "not_delivered"  # delivery failed, lost, or on its way back
    RETURNED = "returned"  # back with the seller
    CANCELLED = "cancelled"


# A package's progress; like an order's, a later read never moves it back (an order page
# that only knows "shipped" must not undo a delivery a tracking read found).
SHIPMENT_RANK: dict[str, int] = {
    "pending": 0,
    "ready_to_ship": 1,
    "shipped": 2,
    "not_delivered": 3,
    "delivered": 4,
    "returned": 5,
    "cancelled": 5,
}


class LogisticMode(StrEnum):
    """Who moves the package: the marketplace's own fulfilment (ML Full, FBA, Fulfilled
    by Shopee, TikTok FBT) or the seller (including drop-off with the marketplace's label)."""

    MARKETPLACE = "marketplace"
    SELLER = "seller"


class ListingStatus(StrEnum):
    """Normalized listing status: the marketplace's verdict, with the raw status beside."""

    ACTIVE = "active"  # buyable
    PAUSED = "paused"  # the seller paused or unlisted it (or it ran out of stock)
    UNDER_REVIEW = "under_review"  # the marketplace is reviewing it
    SUPPRESSED = "suppressed"  # the marketplace blocks it: banned, frozen, incomplete…
    CLOSED = "closed"  # ended or deleted
    DRAFT = "draft"  # not yet submitted


class LinkMethod(StrEnum):
    SELLER_SKU = "seller_sku"
    GTIN = "gtin"
    MANUAL = "manual"
    PUBLISHED = "published"  # we created the listing for this SKU (publishing domain)


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def store_id_for(marketplace: Marketplace | str, seller_id: str) -> str:
    return f"{Marketplace(marketplace).value}-{seller_id}"


def parse_store_id(store_id: str) -> tuple[Marketplace, str]:
    marketplace, sep, seller_id = store_id.partition("-")
    if not sep or not seller_id:
        raise ValueError(f"store id {store_id!r} is not of the form <marketplace>-<seller id>")
    try:
        return Marketplace(marketplace), seller_id
    except ValueError:
        known = ", ".join(m.value for m in Marketplace)
        raise ValueError(
            f"store id {store_id!r} names an unknown marketplace (known: {known})"
        ) from None


class Store(_Model):
    """One connected marketplace account."""

    store_id: str
    marketplace: Marketplace
    seller_id: str
    name: str
    tenant: str = "default"
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def of(cls, marketplace: Marketplace | str, seller_id: str, name: str, **kw: Any) -> Store:
        return cls(
            store_id=store_id_for(marketplace, seller_id),
            marketplace=Marketplace(marketplace),
            seller_id=seller_id,
            name=name,
            **kw,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def business_date(self, instant: datetime) -> date:
        """The store's local calendar date of an instant (an order at 23:30 stays that day)."""
        return instant.astimezone(self.zone).date()


class CentralProduct(_Model):
    sku: str = Field(min_length=1)
    parent_sku: str | None = None
    name: str = Field(min_length=1)
    brand: str | None = None
    category: str | None = None
    color: str | None = None
    size: str | None = None
    gtin: str | None = None
    price: Decimal | None = None
    cost: Decimal | None = None
    currency: str = "BRL"
    weight_g: int | None = None
    is_kit: bool = False
    source: str = "catalog_file"
    description: str | None = None
    images: tuple[str, ...] = ()  # picture URLs, in order
    status: Literal["active", "inactive", "discontinued"] = "active"


class ProductComponent(_Model):
    kit_sku: str
    component_sku: str
    quantity: int = Field(gt=0)


class CentralStock(_Model):
    sku: str
    warehouse: str
    on_hand: int
    updated_at: UtcDatetime


class Listing(_Model):
    """One sellable unit on a marketplace: store × listing × variation ('' when none)."""

    store_id: str
    listing_id: str
    variation_id: str = ""
    title: str
    seller_sku: str | None = None
    gtin: str | None = None
    status: ListingStatus
    raw_status: str
    status_reason: str | None = None  # why it is not active, in the marketplace's words
    price: Decimal | None = None
    currency: str = "BRL"
    available_quantity: int | None = None
    category_id: str | None = None
    permalink: str | None = None
    updated_at: UtcDatetime | None = None


class ListingLink(_Model):
    store_id: str
    listing_id: str
    variation_id: str
    sku: str
    method: LinkMethod


class OrderItem(_Model):
    """One order line. `line_amount` is the line's money exactly as the API states it (or,
    where the API states only an exact unit price, unit × quantity): never rebuilt from a
    rounded unit price. Discounts are not taken off `line_amount`; they are beside it."""

    line_no: int
    line_ref: str | None = None  # the marketplace's own id of the line (matches fee lines)
    listing_id: str | None
    variation_id: str = ""
    seller_sku: str | None = None
    title: str | None = None
    quantity: int
    unit_price: Decimal
    line_amount: Decimal
    discount_amount: Decimal | None = None
    tax_amount: Decimal | None = None
    fee: Decimal | None = None


class FeeLine(_Model):
    """One charge of the marketplace on an order, under the API's own name for it.

    Positive is charged to the seller; negative is a rebate or credit. `line_ref` names
    the order line it belongs to when the API says (else the whole order)."""

    fee_type: str = Field(min_length=1)
    amount: Decimal
    line_ref: str | None = None


class StatusEvent(_Model):
    """An order reached a normalized status at an instant the API states."""

    status: OrderStatus
    at: UtcDatetime
    raw_status: str | None = None


class Shipment(_Model):
    """One shipment (package) of an order, as the marketplace's logistics see it."""

    store_id: str
    shipment_id: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    status: ShipmentStatus
    raw_status: str
    logistic_mode: LogisticMode | None = None
    logistic_type: str | None = None  # the marketplace's own word (cross_docking, AFN, …)
    carrier: str | None = None
    tracking_number: str | None = None
    ship_by: UtcDatetime | None = None  # handling deadline: ship before this
    shipped_at: UtcDatetime | None = None
    delivered_at: UtcDatetime | None = None
    buyer_city: str | None = None
    buyer_state: str | None = None
    updated_at: UtcDatetime | None = None


def _sum_exact(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))


class Order(_Model):
    """One order, with money that means the same on every marketplace (docs/orders.md).

    Every amount is a non-negative magnitude in `currency` unless said otherwise:
    items_amount — Σ of the lines' `line_amount`, exactly (checked here);
    discount_amount — every discount on the order (= seller + marketplace share when the
      API splits it); shipping_paid_by_buyer; tax_amount — taxes the buyer paid on top;
    total_amount — what the buyer paid; fee_amount — every marketplace charge (commission,
      service, transaction, fulfilment, campaign, affiliate…; rebates net); seller_shipping_cost
      — what shipping cost the seller; refund_amount — refunded to the buyer;
    payout_amount — what the marketplace pays the seller (may be negative);
    fees_final — the marketplace has settled the order (None: this read does not say).
    Fee-side amounts left None are unknown to this read and never erase a stored value.
    """

    store_id: str
    order_id: str
    status: OrderStatus
    raw_status: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    business_date: date
    currency: str = "BRL"
    items_amount: Decimal
    discount_amount: Decimal | None = None
    seller_discount_amount: Decimal | None = None
    marketplace_discount_amount: Decimal | None = None
    shipping_paid_by_buyer: Decimal | None = None
    tax_amount: Decimal | None = None
    total_amount: Decimal
    fee_amount: Decimal | None = None
    seller_shipping_cost: Decimal | None = None
    refund_amount: Decimal | None = None
    payout_amount: Decimal | None = None
    fees_final: bool | None = None
    settled_at: UtcDatetime | None = None
    buyer_hash: str | None = None
    buyer_city: str | None = None
    buyer_state: str | None = None
    items: tuple[OrderItem, ...] = ()
    fees: tuple[FeeLine, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    status_events: tuple[StatusEvent, ...] = ()

    @model_validator(mode="after")
    def _lines_add_up(self) -> Order:
        if self.items:
            lines = _sum_exact(i.line_amount for i in self.items)
            if lines != self.items_amount:
                raise ValueError(
                    f"items_amount {self.items_amount} is not the sum of the lines ({lines})"
                )
        if self.fees and self.fee_amount is not None:
            charged = _sum_exact(f.amount for f in self.fees)
            if charged != self.fee_amount:
                raise ValueError(
                    f"fee_amount {self.fee_amount} is not the sum of the fee lines ({charged})"
                )
        return self


class OrderRef(_Model):
    """What the warehouse knows of an order, handed to a client that re-reads its facts."""

    order_id: str
    created_at: UtcDatetime
    status: OrderStatus
    raw_status: str
    currency: str = "BRL"
    items_amount: Decimal | None = None
    total_amount: Decimal | None = None
    shipping_paid_by_buyer: Decimal | None = None
    fee_amount: Decimal | None = None
    shipment_ids: tuple[str, ...] = ()


class OrderSettlement(_Model):
    """The marketplace's money verdict on one order: fees, shipping cost, refunds, payout.

    Amounts as on `Order`; `fees` is the breakdown (its sum is `fee_amount`, checked)."""

    store_id: str
    order_id: str
    currency: str = "BRL"
    fee_amount: Decimal | None = None
    seller_shipping_cost: Decimal | None = None
    refund_amount: Decimal | None = None
    payout_amount: Decimal | None = None
    fees_final: bool = False
    settled_at: UtcDatetime | None = None
    fees: tuple[FeeLine, ...] = ()

    @model_validator(mode="after")
    def _fees_add_up(self) -> OrderSettlement:
        if self.fees and self.fee_amount is not None:
            charged = _sum_exact(f.amount for f in self.fees)
            if charged != self.fee_amount:
                raise ValueError(
                    f"fee_amount {self.fee_amount} is not the sum of the fee lines ({charged})"
                )
        return self


class OrderFacts(_Model):
    """What a re-read of an order's money and logistics found (any part may be missing)."""

    store_id: str
    order_id: str
    settlement: OrderSettlement | None = None
    shipments: tuple[Shipment, ...] = ()
    status_events: tuple[StatusEvent, ...] = ()


class Question(_Model):
    """A buyer's question on a listing (Mercado Livre). No text and no buyer: only what the
    service-level figures need (LGPD: keep what a purpose needs)."""

    store_id: str
    question_id: str = Field(min_length=1)
    listing_id: str
    status: str  # the API's own (ANSWERED, UNANSWERED, CLOSED_UNANSWERED, UNDER_REVIEW, …)
    asked_at: UtcDatetime
    answered_at: UtcDatetime | None = None
    answer_length: int | None = None
    answer_status: str | None = None
    deleted_from_listing: bool = False
    hold: bool = False


class StockSnapshot(_Model):
    store_id: str
    listing_id: str
    variation_id: str
    seller_sku: str | None
    available_quantity: int
    snapshot_at: UtcDatetime


class Rejected(_Model):
    """A record that failed validation: kept with the reason, never silently dropped."""

    source: str  # e.g. "mercadolivre.orders"
    store_id: str | None
    record_key: str
    reason: str
    payload: str  # the raw record, as received (JSON text)


def hash_buyer(marketplace: str, buyer_id: object, salt: str) -> str | None:
    """A stable pseudonymous buyer key: repeat buyers stay countable, identities do not leak."""
    if buyer_id in (None, ""):
        return None
    digest = hashlib.sha256(f"{salt}:{marketplace}:{buyer_id}".encode()).hexdigest()
    return digest[:32]
